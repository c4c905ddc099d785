"""Pooling in fixed point: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool."""
from __future__ import annotations

import numpy as np

from ...ops.registry import get_op
from .common import FxOp, Layer, PassFx, conv_out, fx_op, reciprocal


def _pool_geom(node, graph):
    x = graph.tensors[node.inputs[0]]
    ins, outs, k, s, d, p = get_op(node.op)._geom(node, x.shape)
    return {"planes": x.shape[0] * x.shape[1], "ih": ins[0], "iw": ins[1], "oh": outs[0], "ow": outs[1],
            "kh": k[0], "kw": k[1], "sh": s[0], "sw": s[1], "dh": d[0], "dw": d[1], "ph": p[0], "pw": p[1]}


def _windows(p):
    """Per output axis, the valid input indices of each window."""
    out = []
    for (n_in, n_out, k, s, d, pad) in ((p["ih"], p["oh"], p["kh"], p["sh"], p["dh"], p["ph"]),
                                        (p["iw"], p["ow"], p["kw"], p["sw"], p["dw"], p["pw"])):
        out.append([[t for t in (o * s - pad + j * d for j in range(k)) if 0 <= t < n_in] for o in range(n_out)])
    return out


@fx_op
class MaxPoolFx(PassFx):
    name = "MaxPool"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {**_pool_geom(node, graph), "init": in_fmts[0].qmin}
        return L

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        x = ins[0].reshape(S * p["planes"], p["ih"], p["iw"])
        wh, ww = _windows(p)
        y = np.empty((x.shape[0], p["oh"], p["ow"]), np.int64)
        for i, vh in enumerate(wh):
            for j, vw in enumerate(ww):
                y[:, i, j] = x[:, vh][:, :, vw].max(axis=(1, 2))
        return y.reshape((S, *L.node_out_shape)), 0


@fx_op
class AveragePoolFx(FxOp):
    name = "AveragePool"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        x = graph.tensors[node.inputs[0]]
        p = _pool_geom(node, graph)
        counts = get_op(node.op).divisors(node, x.shape).astype(np.int64)
        recip, R = reciprocal(counts, node, in_fmts[0])
        L = Layer(node, self, in_fmts, out_fmt, macs=int(np.prod(graph.tensors[node.outputs[0]].shape)) * p["kh"] * p["kw"])
        L.p = {**p, "R": R, "frac": in_fmts[0].F + R}
        L.consts = {"recip": (recip.ravel(), "int32_t")}
        return L

    def cost(self, L, reuse):
        return {"multipliers": 1, "cycles": int(np.prod(L.node_out_shape, dtype=np.int64))}

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        x = ins[0].reshape(S * p["planes"], p["ih"], p["iw"])
        wh, ww = _windows(p)
        recip = L.consts["recip"][0].reshape(p["oh"], p["ow"])
        v = np.empty((x.shape[0], p["oh"], p["ow"]), np.int64)
        for i, vh in enumerate(wh):
            for j, vw in enumerate(ww):
                v[:, i, j] = x[:, vh][:, :, vw].sum(axis=(1, 2)) * recip[i, j]
        y, nov = conv_out(v, p["frac"], L.out_fmt)
        return y.reshape((S, *L.node_out_shape)), nov


@fx_op
class GlobalAveragePoolFx(FxOp):
    name = "GlobalAveragePool"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        x = graph.tensors[node.inputs[0]]
        inner = int(np.prod(x.shape[2:], dtype=np.int64))
        recip, R = reciprocal(np.array([inner]), node, in_fmts[0])
        L = Layer(node, self, in_fmts, out_fmt, macs=x.size)
        L.p = {"planes": x.shape[0] * x.shape[1], "inner": inner, "R": R, "frac": in_fmts[0].F + R,
               "recip": int(recip[0])}
        return L

    def cost(self, L, reuse):
        return {"multipliers": 1, "cycles": L.p["planes"] * L.p["inner"]}

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        v = ins[0].reshape(S, p["planes"], p["inner"]).sum(axis=2) * np.int64(p["recip"])
        y, nov = conv_out(v, p["frac"], L.out_fmt)
        return y.reshape((S, *L.node_out_shape)), nov


@fx_op
class GlobalMaxPoolFx(PassFx):
    name = "GlobalMaxPool"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        x = graph.tensors[node.inputs[0]]
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"planes": x.shape[0] * x.shape[1], "inner": int(np.prod(x.shape[2:], dtype=np.int64)),
               "init": in_fmts[0].qmin}
        return L

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        return ins[0].reshape(S, p["planes"], p["inner"]).max(axis=2).reshape((S, *L.node_out_shape)), 0
