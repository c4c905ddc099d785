"""Concat along one axis (any dtype): contiguous block copies."""
from __future__ import annotations

import numpy as np

from .common import norm_axis
from .registry import CKernel, OpDef, register


@register
class Concat(OpDef):
    name = "Concat"
    onnx_types = ("Concat",)

    def import_onnx(self, ctx, node):
        a = ctx.attrs(node)
        if "axis" not in a:
            raise ctx.unsupported(node, "attribute axis is required")
        r = len(ctx.tensor(node.input[0]).shape)
        ctx.emit("Concat", list(node.input), [node.output[0]], {"axis": norm_axis(int(a["axis"]), r)}, node=node)

    def infer(self, node, inputs):
        ax = node.attrs["axis"]
        first = inputs[0]
        for t in inputs[1:]:
            if t.dtype != first.dtype or len(t.shape) != len(first.shape) or any(
                    a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != ax):
                raise ValueError(f"inputs {[list(t.shape) for t in inputs]} do not concatenate on axis {ax}")
        shape = list(first.shape)
        shape[ax] = sum(t.shape[ax] for t in inputs)
        return [(tuple(shape), first.dtype)]

    def reference(self, node, inputs):
        return [np.concatenate(inputs, axis=node.attrs["axis"])]

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import op

        return op.concat(args, axis=node.attrs["axis"])

    def c_kernel(self, node, graph, ctx):
        ax = node.attrs["axis"]
        ins = [graph.tensors[i] for i in node.inputs]
        outer = int(np.prod(ins[0].shape[:ax], dtype=np.int64))
        inner = int(np.prod(ins[0].shape[ax + 1:], dtype=np.int64))
        total = sum(t.shape[ax] for t in ins) * inner
        parts, off = [], 0
        for k, t in enumerate(ins):
            parts.append({"src": f"x{k}", "chunk": t.shape[ax] * inner, "offset": off})
            off += t.shape[ax] * inner
        return CKernel("concat", {"outer": outer, "total": total, "parts": parts})


@register
class Split(OpDef):
    """Split along one axis into static chunk sizes (`split` attr/input, or `num_outputs`, or equal)."""

    name = "Split"
    onnx_types = ("Split",)

    def import_onnx(self, ctx, node):
        a = ctx.attrs(node)
        x = ctx.tensor(node.input[0])
        ax = norm_axis(int(a.get("axis", 0)), len(x.shape))
        n_out = len(node.output)
        split = a.get("split") if ctx.opset < 13 else ctx.require_const(node, 1, "split")
        if split is not None and len(split):
            sizes = [int(v) for v in split]
        else:
            n = int(a.get("num_outputs", n_out))
            chunk = -(-x.shape[ax] // n)
            sizes = [chunk] * (n - 1) + [x.shape[ax] - chunk * (n - 1)]
        if sum(sizes) != x.shape[ax] or len(sizes) != n_out or any(s < 0 for s in sizes):
            raise ctx.unsupported(node, f"split sizes {sizes} do not cover axis {ax} of {list(x.shape)} in {n_out} outputs")
        ctx.emit("Split", [node.input[0]], list(node.output), {"axis": ax, "sizes": sizes}, node=node)

    def infer(self, node, inputs):
        x = inputs[0]
        ax = node.attrs["axis"]
        return [(tuple(s if i == ax else d for i, d in enumerate(x.shape)), x.dtype) for s in node.attrs["sizes"]]

    def reference(self, node, inputs):
        cuts = np.cumsum(node.attrs["sizes"])[:-1]
        return [p.copy() for p in np.split(inputs[0], cuts, axis=node.attrs["axis"])]

    def relax(self, node, bb, args, graph):
        from tvm import relax

        from ..codegen.relax import op

        cuts = [int(c) for c in np.cumsum(node.attrs["sizes"])[:-1]]
        parts = bb.emit(op.split(args[0], cuts, axis=node.attrs["axis"]))
        return [relax.TupleGetItem(parts, k) for k in range(len(node.attrs["sizes"]))]

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        ax = node.attrs["axis"]
        outer = int(np.prod(x.shape[:ax], dtype=np.int64))
        inner = int(np.prod(x.shape[ax + 1:], dtype=np.int64))
        parts, off = [], 0
        for k, s in enumerate(node.attrs["sizes"]):
            if node.outputs[k]:
                parts.append({"dst": f"y{k}", "chunk": s * inner, "offset": off})
            off += s * inner
        return CKernel("split", {"outer": outer, "total": x.shape[ax] * inner, "parts": parts})
