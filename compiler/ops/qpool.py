"""QAvgPool: int8 average pooling (AveragePool, and GlobalAveragePool as a whole-plane window),
TFLM AVERAGE_POOL_2D rounding; input and output share scale and zero point.

acc = Σ_valid q + (divisor − n_valid)·zp   (count_include_pad counts padded zeros, real 0 = zp)
y   = clamp(acc > 0 ? (acc + divisor/2) / divisor : (acc − divisor/2) / divisor)  (C division)
attrs: the AveragePool geometry (kernel_shape, strides, dilations, pads, ceil_mode, count_include_pad), zp.
With `out_zp` (the output has other parameters, as a QDQ model may give GlobalAveragePool), the mean
is requantized in one step as TFLM's MEAN does: y = clamp(MBQM(Σ_valid (q − zp), M[p], S[p]) + out_zp)
with M[p], S[p] = QuantizeMultiplier(s_in / (s_out · divisor[p])) per output position p.
MaxPool/GlobalMaxPool need no int8 op: the float ops are dtype-generic and max commutes with the
(monotonic) quantization.
"""
from __future__ import annotations

import numpy as np

from ..quantize.fixedpoint import multiply_by_quantized_multiplier
from .pool import AveragePool
from .registry import CKernel, OpDef, register


def trunc_div(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    return np.sign(a) * (np.abs(a) // d)


@register
class QAvgPool(OpDef):
    name = "QAvgPool"
    fixedpoint = True  # convc_clamp_i8

    def requant_tables(self, node, x_shape, s_in: float, s_out: float):
        """Per output position (multiplier, shift) of s_in / (s_out · divisor): for the rewrite."""
        from ..quantize.fixedpoint import quantize_multipliers

        div = AveragePool().divisors(node, x_shape).ravel()
        return quantize_multipliers(np.float64(s_in) / (np.float64(s_out) * div))

    def _tables(self, node, x_shape):
        pool = AveragePool()
        ax = pool._windows(node, x_shape)
        div = pool.divisors(node, x_shape).astype(np.int64)
        nvalid = np.array([[len(vh) * len(vw) for (vw, _) in ax[1]] for (vh, _) in ax[0]], np.int64)
        return ax, div, (div - nvalid) * int(node.attrs["zp"])

    def infer(self, node, inputs):
        x = inputs[0]
        if x.dtype != "int8":
            raise ValueError("QAvgPool reads int8")
        _, outs, *_ = AveragePool()._geom(node, x.shape)
        out = outs if len(x.shape) == 4 else outs[1:]
        return [((*x.shape[:2], *out), "int8")]

    def reference(self, node, inputs):
        x = inputs[0]
        x4 = (x if x.ndim == 4 else x[:, :, None, :]).astype(np.int64)
        ax, div, bias = self._tables(node, x.shape)
        a = node.attrs
        requant = "out_zp" in a
        acc = np.empty(x4.shape[:2] + div.shape, np.int64)
        for i, (vh, _) in enumerate(ax[0]):
            for j, (vw, _) in enumerate(ax[1]):
                win = x4[:, :, vh][:, :, :, vw]
                acc[:, :, i, j] = (win - a["zp"]).sum(axis=(2, 3)) if requant else win.sum(axis=(2, 3)) + bias[i, j]
        if requant:
            m = np.asarray(a["multiplier"], np.int64).reshape(div.shape)
            s = np.asarray(a["shift"], np.int64).reshape(div.shape)
            y = multiply_by_quantized_multiplier(acc, m, s) + a["out_zp"]
        else:
            y = np.where(acc > 0, trunc_div(acc + div // 2, div), trunc_div(acc - div // 2, div))
        y = np.clip(y, -128, 127).astype(np.int8)
        return [y if x.ndim == 4 else y[:, :, 0, :]]

    def macs(self, node, graph):
        return int(np.prod(graph.tensors[node.outputs[0]].shape)) * int(np.prod(node.attrs["kernel_shape"]))

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        ins, outs, k, s, d, p = AveragePool()._geom(node, x.shape)
        _, div, bias = self._tables(node, x.shape)
        a = node.attrs
        pos = f"oy * {outs[1]} + ox"
        if "out_zp" in a:  # centred sum, one requantization per output position
            mult = ctx.add_table(node.name + "_mult", np.asarray(a["multiplier"], np.int32), "int32")
            shift = ctx.add_table(node.name + "_shift", np.asarray(a["shift"], np.int32), "int32")
            init, offset = "0", -int(a["zp"])
            result = f"convc_mbqm(acc, {mult}[{pos}], {shift}[{pos}]) + {int(a['out_zp'])}"
        else:  # TFLM AVERAGE_POOL_2D: rounded division of the raw sum
            divs = ctx.add_table(node.name + "_div", div.ravel().astype(np.int32), "int32")
            init = f"{ctx.add_table(node.name + '_padzp', bias.ravel().astype(np.int32), 'int32')}[{pos}]"
            offset = 0
            dv = f"{divs}[{pos}]"
            result = f"acc > 0 ? (acc + {dv} / 2) / {dv} : (acc - {dv} / 2) / {dv}"
        args = {"planes": x.shape[0] * x.shape[1], "ih": ins[0], "iw": ins[1], "oh": outs[0], "ow": outs[1],
                "in_plane": ins[0] * ins[1], "out_plane": outs[0] * outs[1],
                "kh": k[0], "kw": k[1], "sh": s[0], "sw": s[1], "dh": d[0], "dw": d[1], "ph": p[0], "pw": p[1],
                "init": init, "in_offset": offset, "result": result}
        return CKernel("qavgpool2d", args)
