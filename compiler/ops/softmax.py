"""Softmax: opset < 13 flattens to 2-D at `axis` (default 1); opset >= 13 is per `axis` (default -1).
Both normalize to (outer, n, inner) with the max subtracted for stability."""
from __future__ import annotations

import numpy as np

from ..codegen.cfmt import math_fn
from .common import need_float, norm_axis
from .registry import CKernel, OpDef, register


@register
class Softmax(OpDef):
    name = "Softmax"
    onnx_types = ("Softmax",)

    def import_onnx(self, ctx, node):
        a = ctx.attrs(node)
        r = len(ctx.tensor(node.input[0]).shape)
        if ctx.opset < 13:
            attrs = {"axis": norm_axis(int(a.get("axis", 1)), r), "coerce_2d": 1}
        else:
            attrs = {"axis": norm_axis(int(a.get("axis", -1)), r), "coerce_2d": 0}
        ctx.emit("Softmax", [node.input[0]], [node.output[0]], attrs, node=node)

    def _split(self, node, shape):
        ax = node.attrs["axis"]
        outer = int(np.prod(shape[:ax], dtype=np.int64))
        if node.attrs["coerce_2d"]:
            return outer, int(np.prod(shape[ax:], dtype=np.int64)), 1
        return outer, shape[ax], int(np.prod(shape[ax + 1:], dtype=np.int64))

    def infer(self, node, inputs):
        need_float(node, inputs[0].dtype)
        return [(inputs[0].shape, inputs[0].dtype)]

    def reference(self, node, inputs):
        x = inputs[0]
        o, n, i = self._split(node, x.shape)
        v = x.reshape(o, n, i)
        e = np.exp(v - v.max(axis=1, keepdims=True))
        return [(e / e.sum(axis=1, keepdims=True)).astype(x.dtype).reshape(x.shape)]

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import op

        shape = graph.tensors[node.inputs[0]].shape
        if not node.attrs["coerce_2d"]:
            return op.nn.softmax(args[0], axis=node.attrs["axis"])
        o, n, _ = self._split(node, shape)
        return op.reshape(op.nn.softmax(op.reshape(args[0], [o, n]), axis=1), list(shape))

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        o, n, i = self._split(node, x.shape)
        return CKernel("softmax", {"outer": o, "n": n, "inner": i, "ctype": ctx.ctype(x.dtype),
                                   "exp": math_fn("exp", x.dtype), "zero": ctx.literal(0, x.dtype),
                                   "one": ctx.literal(1, x.dtype), "block": n * i})
