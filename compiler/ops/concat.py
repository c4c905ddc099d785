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
