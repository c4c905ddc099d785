"""Resize (any mode, spatial axes) in fixed point."""
from __future__ import annotations

import math

import numpy as np

from ...errors import UnsupportedError
from ...ops.registry import get_op
from .common import FxOp, Layer, conv_out, fx_op


TAP_FRAC = 15  # fractional bits of Resize interpolation weights per resized axis (the product fits int32)


@fx_op
class ResizeFx(FxOp):
    """Resize on the spatial (last two) axes, any mode: each output pixel is Σ_t w_t · x[src_t] over the
    product of the two axes' taps (axis_taps of the float op: 1 nearest, 2 linear, 4 cubic per axis);
    w_t = round(w_h · w_w · 2^(2·TAP_FRAC)) (nearest: w = 1 exactly); the sum is exact, then converted
    from F_x + 2·TAP_FRAC fractional bits to the output format."""

    name = "Resize"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        from ...ops.resize import axis_taps

        x = graph.tensors[node.inputs[0]]
        y = graph.tensors[node.outputs[0]]
        a = node.attrs
        r = len(x.shape)
        resized = get_op(node.op).resized_axes(node, x.shape)
        if r < 2 or any(d < r - 2 for d in resized):
            raise UnsupportedError(f"node '{node.name}' (Resize): only the last two axes may be resized in fixed point")
        hw_in = [x.shape[-2], x.shape[-1]] if r >= 2 else [1, x.shape[-1]]
        hw_out = [y.shape[-2], y.shape[-1]]
        taps = []
        for k, d in enumerate((r - 2, r - 1)):
            if d in resized:
                taps.append(axis_taps(hw_in[k], hw_out[k], float(a["scales"][d]), a))
            else:
                taps.append((np.arange(hw_in[k], dtype=np.int64)[:, None], np.ones((hw_in[k], 1))))
        (ih, wh), (iw, ww) = taps
        th, tw = ih.shape[1], iw.shape[1]
        src = (ih[:, None, :, None] * hw_in[1] + iw[None, :, None, :]).reshape(hw_out[0] * hw_out[1], th * tw)
        wts = (wh[:, None, :, None] * ww[None, :, None, :]).reshape(hw_out[0] * hw_out[1], th * tw)
        frac = 0 if th * tw == 1 else 2 * TAP_FRAC
        if in_fmts[0].W + frac + 3 + math.ceil(math.log2(th * tw)) > 62:
            raise UnsupportedError(f"node '{node.name}' (Resize): {in_fmts[0].short()} is too wide for 64-bit interpolation")
        L = Layer(node, self, in_fmts, out_fmt, macs=int(y.size) * th * tw)
        L.p = {"planes": x.size // (hw_in[0] * hw_in[1]), "nin": hw_in[0] * hw_in[1], "nout": hw_out[0] * hw_out[1],
               "taps": th * tw, "frac": in_fmts[0].F + frac}
        L.consts = {"src": (src.astype(np.int64).ravel(), "int32_t"),
                    "wts": (np.floor(wts * 2.0 ** frac + 0.5).astype(np.int64).ravel(), "int32_t")}
        return L

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        x = ins[0].reshape(S, p["planes"], p["nin"])
        src = L.consts["src"][0].reshape(p["nout"], p["taps"])
        w = L.consts["wts"][0].astype(np.int64).reshape(p["nout"], p["taps"])
        v = (x[:, :, src] * w).sum(axis=-1)
        y, nov = conv_out(v, p["frac"], L.out_fmt)
        return y.reshape((S, *L.node_out_shape)), nov

    def cost(self, L, reuse):
        return {"multipliers": L.p["taps"] if L.p["taps"] > 1 else 0, "cycles": L.p["planes"] * L.p["nout"]}
