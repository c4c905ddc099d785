"""LRN (local response normalization across channels, AlexNet/GoogLeNet style):
y = x / (bias + alpha / size * sum_{c' in window(c)} x[c']^2) ^ beta,
window(c) = [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to the channels."""
from __future__ import annotations

import numpy as np

from ..codegen.cfmt import math_fn
from .common import need_float
from .registry import CKernel, OpDef, register


@register
class LRN(OpDef):
    name = "LRN"
    onnx_types = ("LRN",)
    inplace = False

    def import_onnx(self, ctx, node):
        a = ctx.attrs(node)
        if "size" not in a:
            raise ctx.unsupported(node, "attribute size is required")
        attrs = {"size": int(a["size"]), "alpha": float(a.get("alpha", 1e-4)), "beta": float(a.get("beta", 0.75)),
                 "bias": float(a.get("bias", 1.0))}
        ctx.emit("LRN", [node.input[0]], [node.output[0]], attrs, node=node)

    @staticmethod
    def window(size: int) -> tuple[int, int]:
        return (size - 1) // 2, -(-(size - 1) // 2)

    def infer(self, node, inputs):
        x = inputs[0]
        need_float(node, x.dtype)
        if len(x.shape) < 3:
            raise ValueError(f"LRN needs an [N, C, ...] input, got {list(x.shape)}")
        if node.attrs["size"] < 1:
            raise ValueError("size must be >= 1")
        return [(x.shape, x.dtype)]

    def reference(self, node, inputs):
        x = inputs[0]
        a = node.attrs
        lo, hi = self.window(a["size"])
        sq = x.astype(np.float64) ** 2
        c = x.shape[1]
        s = np.zeros_like(sq)
        for ch in range(c):
            s[:, ch] = sq[:, max(0, ch - lo):min(c, ch + hi + 1)].sum(axis=1)
        y = x / (a["bias"] + a["alpha"] / a["size"] * s) ** a["beta"]
        return [y.astype(x.dtype)]

    def relax(self, node, bb, args, graph):
        """The windowed channel sum of squares as a [C, C] band matrix times x^2 viewed as [N, C, plane]."""
        from ..codegen.relax import const, op

        x = graph.tensors[node.inputs[0]]
        a = node.attrs
        lo, hi = self.window(a["size"])
        n, c = x.shape[:2]
        ch = np.arange(c)
        band = ((ch[None, :] >= ch[:, None] - lo) & (ch[None, :] <= ch[:, None] + hi)).astype(x.dtype)
        sq = op.reshape(op.multiply(args[0], args[0]), [n, c, int(np.prod(x.shape[2:], dtype=np.int64))])
        s = op.reshape(op.matmul(const(band, x.dtype), sq), list(x.shape))
        base = op.add(const(a["bias"], x.dtype), op.multiply(const(a["alpha"] / a["size"], x.dtype), s))
        return op.divide(args[0], op.power(base, const(a["beta"], x.dtype)))

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        a = node.attrs
        lo, hi = self.window(a["size"])
        dt = x.dtype
        L = lambda v: ctx.literal(v, dt)  # noqa: E731
        return CKernel("lrn", {"n": x.shape[0], "c": x.shape[1], "plane": int(np.prod(x.shape[2:], dtype=np.int64)),
                               "lo": lo, "hi": hi, "ctype": ctx.ctype(dt), "zero": L(0), "bias": L(a["bias"]),
                               "scale": L(a["alpha"] / a["size"]), "beta": L(a["beta"]), "pow": math_fn("pow", dt)})
