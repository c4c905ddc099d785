"""Gemm and MatMul with constant weights in fixed point."""
from __future__ import annotations

import numpy as np

from ...errors import UnsupportedError
from ..format import Fixed, quantize
from .common import (FxOp, Layer, acc_for, accumulate, apply_activation, bias_bits, conv_out, finish_acc,
                     fx_op, lower_activation, need_const)


class _DenseFx(FxOp):
    has_weights = True
    accumulates = True

    def weights(self, node, graph) -> tuple[np.ndarray, np.ndarray | None]:
        """(W as [n, k] so that y[i, j] = Σ_p x[i, p] · W[j, p], bias [n] or None), in float."""
        raise NotImplementedError

    def weight_values(self, node, graph):
        return self.weights(node, graph)[0]  # alpha folded in

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt, accum=None):
        x = graph.tensors[node.inputs[0]]
        w, b = self.weights(node, graph)
        nout, k = w.shape
        m = int(np.prod(x.shape[:-1], dtype=np.int64))
        if b is None:
            b = np.zeros(nout)
        acc = acc_for(in_fmts[0], weight_fmt, k, bias_bits(b, in_fmts[0].F + weight_fmt.F), accum)
        L = Layer(node, self, in_fmts, out_fmt, acc=acc, weight_fmt=weight_fmt, macs=m * nout * k)
        L.p = {"m": m, "n": nout, "k": k, "terms": k,
               "act": lower_activation(node, node.attrs.get("activation"), acc.F, acc.W)}
        L.consts = {"w": (quantize(w, weight_fmt), weight_fmt.ctype),
                    "b": (quantize(b, Fixed(acc.W, acc.W - acc.F, True, "rnd", "wrap" if acc.narrowed else "sat")),
                          acc.ctype)}
        return L

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        x = ins[0].reshape(S, p["m"], p["k"])
        w = L.consts["w"][0].astype(np.int64)
        y = accumulate(L.acc, x[:, :, None, :], w[None, None], lambda a, b: np.einsum("smk,nk->smn", a[:, :, 0], b[0, 0]))
        y = finish_acc(L.acc, y + L.consts["b"][0].astype(np.int64))
        y = apply_activation(p["act"], y)
        out, nov = conv_out(y, L.acc.F, L.out_fmt)
        return out.reshape((S, *L.node_out_shape)), nov

    def cost(self, L, reuse):
        block = L.p["n"] * L.p["k"]  # multiplications for one row of outputs
        return {"multipliers": -(-block // reuse), "cycles": L.p["m"] * reuse}



@fx_op
class GemmFx(_DenseFx):
    name = "Gemm"

    def weights(self, node, graph):
        if node.attrs["transA"]:
            raise UnsupportedError(f"node '{node.name}' (Gemm): transA=1 has no fixed-point implementation")
        bmat = need_const(node, graph, 1, "B operand")
        w = (bmat if node.attrs["transB"] else bmat.T) * float(node.attrs["alpha"])
        bias = None
        if len(node.inputs) > 2 and node.inputs[2]:
            c = need_const(node, graph, 2, "C operand") * float(node.attrs["beta"])
            m = graph.tensors[node.inputs[0]].shape[0]
            full = np.broadcast_to(c, (m, w.shape[0]))
            if m != 1 and not np.all(full == full[:1]):
                raise UnsupportedError(f"node '{node.name}' (Gemm): a per-row C has no fixed-point implementation")
            bias = np.array(full[0], np.float64)
        return np.ascontiguousarray(w), bias


@fx_op
class MatMulFx(_DenseFx):
    name = "MatMul"

    def weights(self, node, graph):
        bmat = need_const(node, graph, 1, "second operand (weights)")
        if bmat.ndim != 2:
            raise UnsupportedError(f"node '{node.name}' (MatMul): only a 2-D constant second operand is supported")
        return np.ascontiguousarray(bmat.T), None
