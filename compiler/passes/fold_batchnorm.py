"""fold_batchnorm: BatchNormalization after Conv / ConvTranspose / Gemm becomes new weights.

y = (conv(x, W) + b - mean) / sqrt(var + eps) * gamma + beta
  = conv(x, W * s) + (b - mean) * s + beta,      s = gamma / sqrt(var + eps)
computed in float64 and stored in the weights' dtype.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Node
from .util import absorb, single_consumer

FOLDABLE = ("Conv", "ConvTranspose", "Gemm")


def _bn_scale_shift(graph: Graph, bn: Node):
    vals = [graph.const(i) for i in bn.inputs[1:5]]
    if any(v is None for v in vals):
        return None
    gamma, beta, mean, var = (v.astype(np.float64) for v in vals)
    s = gamma / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-5)))
    return s, beta - mean * s


def _fold_into(graph: Graph, prod: Node, s: np.ndarray, shift: np.ndarray) -> bool:
    w = graph.const(prod.inputs[1])
    bias_name = prod.inputs[2] if len(prod.inputs) > 2 and prod.inputs[2] else None
    bias = graph.const(bias_name) if bias_name else None
    if w is None or (bias_name and bias is None) or w.dtype.kind != "f":
        return False
    w64 = w.astype(np.float64)
    if prod.op == "Conv":
        new_w = w64 * s.reshape((-1,) + (1,) * (w.ndim - 1))
        b = np.zeros(w.shape[0]) if bias is None else bias.astype(np.float64)
        new_b = b * s + shift
    elif prod.op == "ConvTranspose":
        g = int(prod.attrs.get("group", 1))
        c, mg = w.shape[0], w.shape[1]
        ws = w64.reshape((g, c // g, mg) + w.shape[2:]) * s.reshape((g, 1, mg) + (1,) * (w.ndim - 2))
        new_w = ws.reshape(w.shape)
        b = np.zeros(g * mg) if bias is None else bias.astype(np.float64)
        new_b = b * s + shift
    else:  # Gemm: BN channel axis 1 == output column n
        if prod.attrs.get("transA", 0) not in (0, 1) or w.ndim != 2:
            return False
        new_w = w64 * (s[:, None] if prod.attrs.get("transB", 0) else s[None, :])
        n = s.shape[0]
        c = np.zeros(n) if bias is None else np.broadcast_to(bias.astype(np.float64), graph.tensors[prod.outputs[0]].shape)
        beta = float(prod.attrs.get("beta", 1.0))
        new_b = (beta * c) * s + shift
        prod.attrs["beta"] = 1.0
    dt = w.dtype
    wname = graph.add_const(graph.unique_name(prod.inputs[1] + "_bnfold"), new_w.astype(dt)).name
    bname = graph.add_const(graph.unique_name(prod.name + "_bias_bnfold"), new_b.astype(dt)).name
    prod.inputs = [prod.inputs[0], wname, bname]
    return True


def fold_batchnorm(graph: Graph) -> bool:
    changed = False
    producers = graph.producers()
    for bn in list(graph.nodes):
        if bn.op != "BatchNormalization":
            continue
        prod = producers.get(bn.inputs[0])
        if prod is None or prod.op not in FOLDABLE or prod.attrs.get("activation"):
            continue
        if single_consumer(graph, bn.inputs[0]) is not bn:
            continue
        ss = _bn_scale_shift(graph, bn)
        if ss is None or not _fold_into(graph, prod, *ss):
            continue
        absorb(graph, prod, bn)
        producers = graph.producers()
        changed = True
    return changed
