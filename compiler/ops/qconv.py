"""QConv: int8 convolution (1-D and 2-D; grouped and depthwise), TFLM arithmetic.

inputs: x int8, w int8 [M, C/group, k...] (per-output-channel symmetric, zp 0), bias int32 [M]
attrs:  the Conv geometry, in_zp, out_zp, multiplier[M] / shift[M] (QuantizeMultiplier of
        s_in·s_w[m]/s_out), act_min / act_max (the fused Relu/Relu6/Clip as a clamp).
acc[m] = bias[m] + Σ w · (x − in_zp)   (padding contributes 0, i.e. pads with in_zp)
y      = clamp(MultiplyByQuantizedMultiplier(acc, multiplier[m], shift[m]) + out_zp, act_min, act_max)
"""
from __future__ import annotations

import numpy as np

from ..ir import Node
from ..quantize.fixedpoint import requantize
from .conv import Conv, conv_out_size, window_2d
from .registry import CKernel, OpDef, register

GEOMETRY = ("kernel_shape", "strides", "dilations", "pads", "group")


@register
class QConv(OpDef):
    name = "QConv"
    fixedpoint = True

    def infer(self, node, inputs):
        x, w, b = inputs
        if (x.dtype, w.dtype, b.dtype) != ("int8", "int8", "int32"):
            raise ValueError(f"QConv needs int8 x, int8 w, int32 bias (got {x.dtype}, {w.dtype}, {b.dtype})")
        a = node.attrs
        g, r = a["group"], len(x.shape) - 2
        if x.shape[1] != w.shape[1] * g or w.shape[0] % g or tuple(b.shape) != (w.shape[0],):
            raise ValueError(f"x {list(x.shape)}, w {list(w.shape)}, bias {list(b.shape)} disagree with group={g}")
        p = a["pads"]
        out = [conv_out_size(x.shape[2 + i], a["kernel_shape"][i], a["strides"][i], a["dilations"][i], p[i], p[r + i])
               for i in range(r)]
        return [((x.shape[0], w.shape[0], *out), "int8")]

    def accumulate(self, node, x, w, b) -> np.ndarray:
        """int32 accumulators [N, M, ...]. The float64 sums are exact: every term is an integer
        below 2^15 in magnitude and no realistic kernel sums 2^38 of them."""
        geom = Node(node.name, "Conv", [], [], {k: node.attrs[k] for k in GEOMETRY})
        xs = x.astype(np.float64) - node.attrs["in_zp"]
        acc = Conv().reference(geom, [xs, w.astype(np.float64)])[0]
        bshape = (1, -1) + (1,) * (x.ndim - 2)
        return np.rint(acc).astype(np.int64) + b.astype(np.int64).reshape(bshape)

    def reference(self, node, inputs):
        x, w, b = inputs
        a = node.attrs
        acc = self.accumulate(node, x, w, b)
        bshape = (1, -1) + (1,) * (x.ndim - 2)
        m = np.asarray(a["multiplier"], np.int64).reshape(bshape)
        s = np.asarray(a["shift"], np.int64).reshape(bshape)
        return [requantize(acc, m, s, a["out_zp"], a["act_min"], a["act_max"])]

    def macs(self, node, graph):
        y, w = graph.tensors[node.outputs[0]], graph.tensors[node.inputs[1]]
        return int(np.prod(y.shape)) * int(np.prod(w.shape[1:]))

    def c_kernel(self, node, graph, ctx):
        x, w, y = (graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]], graph.tensors[node.outputs[0]])
        a = node.attrs
        k, s, d, p, (ih, iw), (oh, ow) = window_2d(a, x.shape, y.shape)
        g = a["group"]
        # interior outputs (the whole window inside the input) take a path without bounds checks,
        # with the input offset folded into the bias: bias[m] − in_zp · Σ w[m]
        lo = [-(-p[i] // s[i]) for i in range(2)]
        hi = [max(lo[i], min(oo, (n_in - 1 - (kk - 1) * dd + p[i]) // s[i] + 1))
              for i, (oo, n_in, kk, dd) in enumerate(((oh, ih, k[0], d[0]), (ow, iw, k[1], d[1])))]
        wsum = np.asarray(graph.tensors[node.inputs[1]].data, np.int64).reshape(w.shape[0], -1).sum(axis=1)
        bias = graph.tensors[node.inputs[2]].data
        folded = None
        if bias is not None:
            fb = bias.astype(np.int64) - int(a["in_zp"]) * wsum
            if np.all(np.abs(fb) < 2 ** 31):
                folded = ctx.add_table(node.name + "_bias_folded", fb.astype(np.int32), "int32")
        args = {"n": x.shape[0], "c": x.shape[1], "m": w.shape[0], "group": g,
                "oy_lo": lo[0], "oy_hi": hi[0], "ox_lo": lo[1], "ox_hi": hi[1],
                "fast": folded is not None and hi[0] > lo[0] and hi[1] > lo[1], "folded_bias": folded,
                "cg": x.shape[1] // g, "mg": w.shape[0] // g,
                "ih": ih, "iw": iw, "in_plane": ih * iw, "k_plane": k[0] * k[1], "oh": oh, "ow": ow,
                "kh": k[0], "kw": k[1], "sh": s[0], "sw": s[1], "dh": d[0], "dw": d[1], "ph": p[0], "pw": p[1],
                "in_offset": -int(a["in_zp"]), "out_zp": int(a["out_zp"]),
                "act_min": int(a["act_min"]), "act_max": int(a["act_max"]),
                "multiplier": ctx.add_table(node.name + "_mult", np.asarray(a["multiplier"], np.int32), "int32"),
                "shift": ctx.add_table(node.name + "_shift", np.asarray(a["shift"], np.int32), "int32")}
        return CKernel("qconv2d", args)
