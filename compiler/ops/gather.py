"""Gather along one axis. Indices may be constant (folded into a weight table) or computed at
run time; negative indices count from the end. Out-of-range run-time indices are clamped to
the axis (ONNX leaves them undefined; the C code must not read outside the buffer)."""
from __future__ import annotations

import numpy as np

from .common import norm_axis
from .registry import CKernel, OpDef, register


@register
class Gather(OpDef):
    name = "Gather"
    onnx_types = ("Gather",)

    def import_onnx(self, ctx, node):
        x = ctx.tensor(node.input[0])
        ax = norm_axis(int(ctx.attrs(node).get("axis", 0)), len(x.shape))
        idx = ctx.const(node.input[1])
        if idx is not None and ((idx < -x.shape[ax]) | (idx >= x.shape[ax])).any():
            raise ctx.unsupported(node, f"indices {np.ravel(idx).tolist()[:8]} are out of range for axis {ax} of size {x.shape[ax]}")
        ctx.emit("Gather", [node.input[0], node.input[1]], [node.output[0]], {"axis": ax}, node=node)

    def infer(self, node, inputs):
        x, idx = inputs
        if idx.dtype not in ("int32", "int64"):
            raise ValueError(f"indices must be int32 or int64, not {idx.dtype}")
        ax = node.attrs["axis"]
        return [(tuple(x.shape[:ax]) + tuple(idx.shape) + tuple(x.shape[ax + 1:]), x.dtype)]

    def reference(self, node, inputs):
        x, idx = inputs
        ax = node.attrs["axis"]
        return [np.take(x, np.clip(np.where(idx < 0, idx + x.shape[ax], idx), 0, x.shape[ax] - 1), axis=ax)]

    def relax(self, node, bb, args, graph):
        """Negative indices count from the end; out-of-range run-time indices clamp (take mode clip)."""
        from ..codegen.relax import const, op

        x, idx_t = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
        dim = x.shape[node.attrs["axis"]]
        if idx_t.is_const:
            idx = const(np.where(idx_t.data < 0, idx_t.data + dim, idx_t.data), idx_t.dtype)
        else:
            idx = op.where(op.less(args[1], const(0, idx_t.dtype)), op.add(args[1], const(dim, idx_t.dtype)), args[1])
        return op.take(args[0], idx, axis=node.attrs["axis"], mode="clip")

    def c_kernel(self, node, graph, ctx):
        x, idx = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
        ax = node.attrs["axis"]
        return CKernel("gather", {"outer": int(np.prod(x.shape[:ax], dtype=np.int64)), "dim": x.shape[ax],
                                  "count": idx.size, "inner": int(np.prod(x.shape[ax + 1:], dtype=np.int64)),
                                  "itype": ctx.ctype(idx.dtype)})
