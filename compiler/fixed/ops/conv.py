"""Conv and ConvTranspose in fixed point."""
from __future__ import annotations

import numpy as np

from ...errors import UsageError
from ...ops.conv import window_2d
from ..format import Fixed, quantize, shift_round
from .common import (FxOp, Layer, acc_for, apply_activation, bias_bits, conv_out, finish_acc, fx_op,
                     lower_activation, need_const)


@fx_op
class ConvFx(FxOp):
    name = "Conv"
    has_weights = True
    accumulates = True

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt, accum=None):
        x = graph.tensors[node.inputs[0]]
        y = graph.tensors[node.outputs[0]]
        w = need_const(node, graph, 1, "weight")
        b = need_const(node, graph, 2, "bias") if len(node.inputs) > 2 and node.inputs[2] else np.zeros(w.shape[0])
        a = node.attrs
        r = len(x.shape) - 2
        k, s, d, pads, (ih, iw), (oh, ow) = window_2d(a, x.shape, y.shape)
        g = a["group"]
        terms = (x.shape[1] // g) * k[0] * k[1]
        acc = acc_for(in_fmts[0], weight_fmt, terms, bias_bits(b, in_fmts[0].F + weight_fmt.F), accum)
        wq = quantize(w, weight_fmt)
        bq = quantize(b, Fixed(acc.W, acc.W - acc.F, True, "rnd", "wrap" if acc.narrowed else "sat"))
        L = Layer(node, self, in_fmts, out_fmt, acc=acc, weight_fmt=weight_fmt, macs=int(np.prod(y.shape)) * terms)
        L.p = {"n": x.shape[0], "c": x.shape[1], "m": w.shape[0], "group": g, "cg": x.shape[1] // g,
               "mg": w.shape[0] // g, "ih": ih, "iw": iw, "oh": oh, "ow": ow, "kh": k[0], "kw": k[1],
               "sh": s[0], "sw": s[1], "dh": d[0], "dw": d[1], "ph": pads[0], "pw": pads[1], "pb": pads[2], "pr": pads[3],
               "terms": terms, "rank": r, "act": lower_activation(node, a.get("activation"), acc.F, acc.W)}
        L.consts = {"w": (wq, weight_fmt.ctype), "b": (bq, acc.ctype)}
        return L

    def cost(self, L, reuse):
        p = L.p
        block = p["m"] * p["terms"]  # multiplications for all output channels of one output pixel
        return {"multipliers": -(-block // reuse), "cycles": p["n"] * p["oh"] * p["ow"] * reuse}

    def simulate(self, L, ins):
        p = L.p
        x = ins[0]
        S = x.shape[0]
        x4 = x.reshape(S * p["n"], p["c"], p["ih"], p["iw"])
        w = L.consts["w"][0].astype(np.int64).reshape(p["m"], p["cg"], p["kh"], p["kw"])
        xp = np.pad(x4, ((0, 0), (0, 0), (p["ph"], p["pb"]), (p["pw"], p["pr"])))
        y = np.zeros((S * p["n"], p["m"], p["oh"], p["ow"]), np.int64)
        g, cg, mg = p["group"], p["cg"], p["mg"]
        for ky in range(p["kh"]):
            for kx in range(p["kw"]):
                patch = xp[:, :, ky * p["dh"]: ky * p["dh"] + p["sh"] * (p["oh"] - 1) + 1: p["sh"],
                           kx * p["dw"]: kx * p["dw"] + p["sw"] * (p["ow"] - 1) + 1: p["sw"]]
                if L.acc.term_shift > 0:  # narrowed accumulator: round every product before summing
                    for oc in range(p["m"]):
                        gi = oc // mg
                        for ci in range(cg):
                            y[:, oc] += shift_round(patch[:, gi * cg + ci] * w[oc, ci, ky, kx], L.acc.term_shift,
                                                    L.acc.rounding)
                elif g == 1:
                    y += np.tensordot(w[:, :, ky, kx], patch, axes=([1], [1])).transpose(1, 0, 2, 3)
                elif cg == 1 and mg == 1:  # depthwise
                    y += patch * w[:, 0, ky, kx].reshape(1, -1, 1, 1)
                else:
                    for gi in range(g):
                        y[:, gi * mg:(gi + 1) * mg] += np.tensordot(
                            w[gi * mg:(gi + 1) * mg, :, ky, kx], patch[:, gi * cg:(gi + 1) * cg],
                            axes=([1], [1])).transpose(1, 0, 2, 3)
        if L.acc.term_shift < 0:
            y = shift_round(y, L.acc.term_shift, "trn")
        y = finish_acc(L.acc, y + L.consts["b"][0].astype(np.int64).reshape(1, -1, 1, 1))
        y = apply_activation(p["act"], y)
        out, nov = conv_out(y, L.acc.F, L.out_fmt)
        return out.reshape((S, *L.node_out_shape)), nov


@fx_op
class ConvTransposeFx(FxOp):
    """Transposed convolution (1-D/2-D, groups, strides, dilations, pads, output size): the exact integer
    scatter of every input pixel's weighted kernel, plus bias, fused activation, conversion (as Conv)."""

    name = "ConvTranspose"
    has_weights = True
    accumulates = True

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt, accum=None):
        if accum is not None:
            raise UsageError(f"--config '{node.name}': a ConvTranspose accumulator cannot be narrowed")
        x = graph.tensors[node.inputs[0]]
        y = graph.tensors[node.outputs[0]]
        w = need_const(node, graph, 1, "weight")
        g = node.attrs["group"]
        mg = w.shape[1]
        b = need_const(node, graph, 2, "bias") if len(node.inputs) > 2 and node.inputs[2] else np.zeros(g * mg)
        a = node.attrs
        k, st, d, pads, (ih, iw), (oh, ow) = window_2d(a, x.shape, y.shape)
        cg = x.shape[1] // g
        # terms per output: at most cg · ceil(kh / sh) · ceil(kw / sw) kernel taps land on one output pixel
        terms = cg * -(-k[0] // st[0]) * -(-k[1] // st[1])
        acc = acc_for(in_fmts[0], weight_fmt, terms, bias_bits(b, in_fmts[0].F + weight_fmt.F))
        L = Layer(node, self, in_fmts, out_fmt, acc=acc, weight_fmt=weight_fmt,
                  macs=int(np.prod(x.shape)) * int(np.prod(w.shape[1:])))
        L.p = {"n": x.shape[0], "c": x.shape[1], "m": g * mg, "group": g, "cg": cg, "mg": mg, "ih": ih, "iw": iw,
               "oh": oh, "ow": ow, "kh": k[0], "kw": k[1], "sh": st[0], "sw": st[1], "dh": d[0], "dw": d[1],
               "ph": pads[0], "pw": pads[1], "terms": terms,
               "act": lower_activation(node, a.get("activation"), acc.F, acc.W)}
        L.consts = {"w": (quantize(w, weight_fmt), weight_fmt.ctype),
                    "b": (quantize(b, Fixed(acc.W, acc.W - acc.F, True, "rnd", "sat")), acc.ctype)}
        return L

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        x = ins[0].reshape(S * p["n"], p["c"], p["ih"], p["iw"])
        w = L.consts["w"][0].astype(np.int64).reshape(p["c"], p["mg"], p["kh"], p["kw"])
        full = [max(p["sh"] * (p["ih"] - 1) + (p["kh"] - 1) * p["dh"] + 1, p["ph"] + p["oh"]),
                max(p["sw"] * (p["iw"] - 1) + (p["kw"] - 1) * p["dw"] + 1, p["pw"] + p["ow"])]
        y = np.zeros((x.shape[0], p["m"], full[0], full[1]), np.int64)
        g, cg, mg = p["group"], p["cg"], p["mg"]
        for ky in range(p["kh"]):
            for kx in range(p["kw"]):
                for gi in range(g):
                    contrib = np.einsum("nchw,cm->nmhw", x[:, gi * cg:(gi + 1) * cg], w[gi * cg:(gi + 1) * cg, :, ky, kx])
                    y[:, gi * mg:(gi + 1) * mg, ky * p["dh"]: ky * p["dh"] + p["sh"] * (p["ih"] - 1) + 1: p["sh"],
                      kx * p["dw"]: kx * p["dw"] + p["sw"] * (p["iw"] - 1) + 1: p["sw"]] += contrib
        y = y[:, :, p["ph"]:p["ph"] + p["oh"], p["pw"]:p["pw"] + p["ow"]]
        y = y + L.consts["b"][0].astype(np.int64).reshape(1, -1, 1, 1)
        y = apply_activation(p["act"], y)
        out, nov = conv_out(y, L.acc.F, L.out_fmt)
        return out.reshape((S, *L.node_out_shape)), nov

    def cost(self, L, reuse):
        p = L.p
        block = p["m"] * p["terms"]
        return {"multipliers": -(-block // reuse), "cycles": p["n"] * p["oh"] * p["ow"] * reuse}
