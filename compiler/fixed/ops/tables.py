"""Table-driven ops in fixed point: Sigmoid, Tanh, HardSigmoid, HardSwish, Softmax."""
from __future__ import annotations

import math

import numpy as np

from ...errors import UnsupportedError
from ...ops.registry import get_op
from ..format import div_round, quantize
from .common import FxOp, Layer, conv_out, fx_op


LUT_BITS = 10  # lookup tables index the input's top 10 bits (1024 entries) or all of a narrower input


class _LutFx(FxOp):
    """An element-wise non-linearity as a table: index = (x >> s) + 2^(W-1-s), s = max(0, W - LUT_BITS),
    over the whole input format; each entry is the float op's value at the middle of its input
    interval (exact input when s = 0), quantized to the output format (its rounding and overflow)."""

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        f = in_fmts[0]
        s = max(0, f.W - LUT_BITS)
        n = 1 << (f.W - s)
        offset = n >> 1 if f.signed else 0
        lo_q = np.arange(n, dtype=np.int64) - offset  # table index k covers x in [lo_q << s, (lo_q + 1) << s)
        mid = (lo_q * (1 << s) + ((1 << s) - 1) / 2.0) * 2.0 ** -f.F
        real = get_op(node.op).reference(node, [mid.astype(np.float64)])[0]
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"size": graph.tensors[node.inputs[0]].size, "shift": s, "offset": offset}
        L.consts = {"lut": (quantize(real, out_fmt), out_fmt.ctype)}
        return L

    def simulate(self, L, ins):
        idx = (ins[0] >> L.p["shift"]) + L.p["offset"]
        return L.consts["lut"][0].astype(np.int64)[idx], 0

    def cost(self, L, reuse):
        return {"multipliers": 0, "cycles": L.p["size"]}


@fx_op
class SigmoidFx(_LutFx):
    name = "Sigmoid"


@fx_op
class TanhFx(_LutFx):
    name = "Tanh"


@fx_op
class HardSigmoidFx(_LutFx):
    name = "HardSigmoid"


@fx_op
class HardSwishFx(_LutFx):
    name = "HardSwish"


EXP_FRAC = 16  # fractional bits of Softmax's exp table


@fx_op
class SoftmaxFx(FxOp):
    """Softmax along its axis: d = max − x ≥ 0 (in input lsbs), e = EXP[min(d >> s, 1023)]: a 1024-entry
    table of exp(−d) with EXP_FRAC fractional bits spanning d up to (EXP_FRAC + 1)·ln 2 (beyond it exp
    rounds to 0; the last entry is 0), each entry the value at the middle of its interval; sum = Σ e
    exactly; y = e · 2^F_out / sum rounded with the output format's rounding, then its overflow mode."""

    name = "Softmax"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        f = in_fmts[0]
        x = graph.tensors[node.inputs[0]]
        outer, n, inner = get_op(node.op)._split(node, x.shape)
        # the table spans differences up to where exp(-d) rounds to 0 at EXP_FRAC bits, (EXP_FRAC + 1)·ln 2
        span = math.ceil((EXP_FRAC + 1) * math.log(2) * 2.0 ** f.F)
        s = max(0, math.ceil(math.log2(span / (1 << LUT_BITS)))) if span > (1 << LUT_BITS) else 0
        k = np.arange(1 << LUT_BITS, dtype=np.float64)
        mid = (k * (1 << s) + ((1 << s) - 1) / 2.0) * 2.0 ** -f.F
        table = np.floor(np.exp(-mid) * 2.0 ** EXP_FRAC + 0.5).astype(np.int64)
        table[-1] = 0  # every difference past the table's end
        if out_fmt.F + EXP_FRAC + 1 > 62:
            raise UnsupportedError(f"node '{node.name}' (Softmax): output format {out_fmt.short()} has too many "
                                   f"fractional bits for 64-bit arithmetic")
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"outer": outer, "n": n, "inner": inner, "shift": s, "scale": 1 << out_fmt.F, "last": (1 << LUT_BITS) - 1}
        L.consts = {"exp": (table, "int32_t")}
        return L

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        x = ins[0].reshape(S, p["outer"], p["n"], p["inner"])
        d = x.max(axis=2, keepdims=True) - x
        e = L.consts["exp"][0].astype(np.int64)[np.minimum(d >> p["shift"], p["last"])]
        tot = e.sum(axis=2, keepdims=True)
        v = div_round(e * np.int64(p["scale"]), tot, L.out_fmt.rounding)
        y, nov = conv_out(v, L.out_fmt.F, L.out_fmt)
        return y.reshape((S, *L.node_out_shape)), nov

    def cost(self, L, reuse):
        return {"multipliers": 1, "cycles": 3 * L.p["outer"] * L.p["n"] * L.p["inner"]}
