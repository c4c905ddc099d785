"""Expand (broadcast to a constant shape) and Tile (constant repeats): copies with index arithmetic."""
from __future__ import annotations

import numpy as np

from .common import broadcast_shape, index_expr, loop_nest, strides
from .registry import CKernel, OpDef, register


@register
class Expand(OpDef):
    name = "Expand"
    onnx_types = ("Expand",)

    def import_onnx(self, ctx, node):
        shape = [int(d) for d in np.ravel(ctx.require_const(node, 1, "shape"))]
        ctx.emit("Expand", [node.input[0]], [node.output[0]], {"shape": shape}, node=node)

    def infer(self, node, inputs):
        x = inputs[0]
        return [(broadcast_shape(x.shape, tuple(node.attrs["shape"])), x.dtype)]

    def reference(self, node, inputs):
        x = inputs[0]
        return [np.broadcast_to(x, broadcast_shape(x.shape, tuple(node.attrs["shape"]))).copy()]

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import op

        return op.broadcast_to(args[0], list(graph.tensors[node.outputs[0]].shape))

    def c_kernel(self, node, graph, ctx):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        ln = loop_nest(y.shape, [x.shape])
        body = f"y0[{index_expr('i', ln['ostrides'])}] = x0[{index_expr('i', ln['istrides'][0])}];"
        return CKernel("loop", {"dims": ln["dims"], "body": body})


@register
class Tile(OpDef):
    name = "Tile"
    onnx_types = ("Tile",)

    def import_onnx(self, ctx, node):
        reps = [int(d) for d in np.ravel(ctx.require_const(node, 1, "repeats"))]
        if len(reps) != len(ctx.tensor(node.input[0]).shape) or any(r < 1 for r in reps):
            raise ctx.unsupported(node, f"repeats {reps} must be positive, one per input axis")
        ctx.emit("Tile", [node.input[0]], [node.output[0]], {"repeats": reps}, node=node)

    def infer(self, node, inputs):
        x = inputs[0]
        return [(tuple(d * r for d, r in zip(x.shape, node.attrs["repeats"])), x.dtype)]

    def reference(self, node, inputs):
        return [np.tile(inputs[0], node.attrs["repeats"])]

    def relax(self, node, bb, args, graph):
        """x viewed as [1, d0, 1, d1, ...], broadcast to [r0, d0, r1, d1, ...], flattened pairwise.
        (Not relax.op.tile: TVM 0.27 miscompiles it for AVX-512 x86 CPUs, NaNs in test_tile.)"""
        from ..codegen.relax import op

        shape = graph.tensors[node.inputs[0]].shape
        reps = node.attrs["repeats"]
        pairs = [v for d in shape for v in (1, d)]
        wide = [v for r, d in zip(reps, shape) for v in (r, d)]
        y = op.broadcast_to(op.reshape(args[0], pairs), wide)
        return op.reshape(y, list(graph.tensors[node.outputs[0]].shape))

    def c_kernel(self, node, graph, ctx):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        src = " + ".join(f"(i{d} % {n}) * {s}" for d, (n, s) in enumerate(zip(x.shape, strides(x.shape))) if n > 1) or "0"
        body = f"y0[{index_expr('i', strides(y.shape))}] = x0[{src}];"
        return CKernel("loop", {"dims": list(y.shape), "body": body})
