"""QGemm: int8 fully-connected layer (TFLM FULLY_CONNECTED arithmetic, per-output-channel weights).

inputs: x int8 [M, K], w int8 [N, K] (rows = output channels, symmetric, zp 0), bias int32 [N]
attrs:  in_zp, out_zp, multiplier[N], shift[N], act_min, act_max
y[i, j] = clamp(MBQM(bias[j] + Σ_p (x[i, p] − in_zp) · w[j, p], multiplier[j], shift[j]) + out_zp)
"""
from __future__ import annotations

import numpy as np

from ..quantize.fixedpoint import requantize
from .registry import CKernel, OpDef, register


@register
class QGemm(OpDef):
    name = "QGemm"
    fixedpoint = True

    def infer(self, node, inputs):
        x, w, b = inputs
        if (x.dtype, w.dtype, b.dtype) != ("int8", "int8", "int32"):
            raise ValueError(f"QGemm needs int8 x, int8 w, int32 bias (got {x.dtype}, {w.dtype}, {b.dtype})")
        if len(x.shape) != 2 or len(w.shape) != 2 or x.shape[1] != w.shape[1] or tuple(b.shape) != (w.shape[0],):
            raise ValueError(f"x {list(x.shape)}, w {list(w.shape)}, bias {list(b.shape)} disagree")
        return [((x.shape[0], w.shape[0]), "int8")]

    def reference(self, node, inputs):
        x, w, b = inputs
        a = node.attrs
        # exact in float64: |terms| < 2^15, sums far below 2^53
        acc = np.rint((x.astype(np.float64) - a["in_zp"]) @ w.astype(np.float64).T).astype(np.int64) + b.astype(np.int64)
        m = np.asarray(a["multiplier"], np.int64)[None, :]
        s = np.asarray(a["shift"], np.int64)[None, :]
        return [requantize(acc, m, s, a["out_zp"], a["act_min"], a["act_max"])]

    def macs(self, node, graph):
        x, w = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
        return x.shape[0] * w.shape[0] * w.shape[1]

    def c_kernel(self, node, graph, ctx):
        x, w = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
        a = node.attrs
        args = {"m": x.shape[0], "n": w.shape[0], "k": w.shape[1], "in_offset": -int(a["in_zp"]),
                "out_zp": int(a["out_zp"]), "act_min": int(a["act_min"]), "act_max": int(a["act_max"]),
                "multiplier": ctx.add_table(node.name + "_mult", np.asarray(a["multiplier"], np.int32), "int32"),
                "shift": ctx.add_table(node.name + "_shift", np.asarray(a["shift"], np.int32), "int32")}
        return CKernel("qgemm", args)
