"""ReduceMean / Sum / Max / Min in fixed point."""
from __future__ import annotations

import math

import numpy as np

from ...errors import UnsupportedError
from .common import FxOp, Layer, conv_out, fx_op, reciprocal


@fx_op
class ReduceFx(FxOp):
    """ReduceMean / ReduceSum / ReduceMax / ReduceMin over any axes: per output element, its K input
    elements (base offset + K fixed offsets, tables); Sum exact, Mean times round(2^R / K) as the average
    pools, Max/Min compared exactly; then converted to the output format."""

    name = "Reduce"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        from ...ops.common import strides

        kind = node.attrs["kind"]
        if kind not in ("Mean", "Sum", "Max", "Min"):
            raise UnsupportedError(f"node '{node.name}' (Reduce{kind}): no fixed-point implementation "
                                   f"(ReduceMean, ReduceSum, ReduceMax, ReduceMin have one)")
        x = graph.tensors[node.inputs[0]]
        axes = sorted(norm % len(x.shape) for norm in node.attrs["axes"]) if node.attrs["axes"] else list(range(len(x.shape)))
        st = strides(x.shape)
        kept = [d for d in range(len(x.shape)) if d not in axes]
        grid = lambda dims: np.stack(np.meshgrid(*[np.arange(x.shape[d]) for d in dims], indexing="ij"), -1).reshape(-1, len(dims)) \
            if dims else np.zeros((1, 0), np.int64)  # noqa: E731
        base = grid(kept) @ np.array([st[d] for d in kept], np.int64).reshape(-1) if kept else np.zeros(1, np.int64)
        roff = grid(axes) @ np.array([st[d] for d in axes], np.int64).reshape(-1)
        K = int(roff.size)
        L = Layer(node, self, in_fmts, out_fmt, macs=x.size if kind in ("Mean", "Sum") else 0)
        L.p = {"kind": kind, "nout": int(base.size), "k": K, "frac": in_fmts[0].F}
        if kind == "Mean":
            recip, R = reciprocal(np.array([K]), node, in_fmts[0])
            L.p.update(recip=int(recip[0]), frac=in_fmts[0].F + R)
        elif kind == "Sum" and in_fmts[0].W + math.ceil(math.log2(max(K, 2))) + 1 > 62:
            raise UnsupportedError(f"node '{node.name}' (ReduceSum): too many terms for 64-bit arithmetic")
        L.consts = {"base": (np.asarray(base, np.int64).ravel(), "int32_t"), "roff": (np.asarray(roff, np.int64).ravel(), "int32_t")}
        return L

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        x = ins[0].reshape(S, -1)
        idx = L.consts["base"][0][:, None] + L.consts["roff"][0][None, :]
        vals = x[:, idx]  # [S, nout, K]
        v = {"Mean": lambda a: a.sum(-1) * np.int64(p.get("recip", 1)), "Sum": lambda a: a.sum(-1),
             "Max": lambda a: a.max(-1), "Min": lambda a: a.min(-1)}[p["kind"]](vals)
        y, nov = conv_out(v, p["frac"], L.out_fmt)
        return y.reshape((S, *L.node_out_shape)), nov

    def cost(self, L, reuse):
        return {"multipliers": 1 if L.p["kind"] == "Mean" else 0, "cycles": L.p["nout"] * L.p["k"]}
