"""QDQ models (quantized by another tool, e.g. onnxruntime.quantization.quantize_static):
fold each QuantizeLinear → DequantizeLinear pair on an activation into a quantization annotation
(`Tensor.quant`) on the float tensor, so the graph is a float graph whose int8 parameters are
known; the int8 rewrite then uses those scales instead of calibrating. Constant weights were
already dequantized at import and carry their per-channel parameters the same way."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, QuantParams


INT8_MOVES = ("Reshape", "Transpose", "MaxPool", "GlobalMaxPool", "Identity")  # value-preserving


def fold_qdq(graph: Graph) -> bool:
    changed = False
    while True:
        producers, consumers = graph.producers(), graph.consumers()
        for dq in graph.nodes:
            if dq.op != "DequantizeLinear" or "axis" in dq.attrs:
                continue
            if _float_move(graph, dq, producers, consumers):
                changed = True
                break
            q = producers.get(dq.inputs[0])
            qt = dq.inputs[0]
            if q is None or q.op != "QuantizeLinear" or len(consumers.get(qt, [])) != 1 or qt in graph.outputs:
                continue
            if (np.float32(q.attrs["scale"]), q.attrs["zero_point"]) != (np.float32(dq.attrs["scale"]),
                                                                           dq.attrs["zero_point"]):
                continue
            if graph.tensors[qt].dtype not in ("int8", "uint8"):
                continue
            _fold_pair(graph, q, dq, producers, consumers)
            changed = True
            break
        else:
            return changed


def _float_move(graph: Graph, dq, producers, consumers) -> bool:
    """Reshape/Transpose/MaxPool on int8 (as QOperator models have them) → DQ: dequantize first and
    run the op on floats (the op only moves or selects values, so this is exact). Repeated, the DQ
    climbs to the QuantizeLinear and the pair folds."""
    p = producers.get(dq.inputs[0])
    if p is None or p.op not in INT8_MOVES or not p.inputs or len(consumers.get(dq.inputs[0], [])) != 1:
        return False
    if graph.tensors[p.inputs[0]].dtype not in ("int8", "uint8") or dq.inputs[0] in graph.outputs:
        return False
    # a → P → b → DQ → y   becomes   a → DQ' → a' → P → y
    a, b, y = p.inputs[0], dq.inputs[0], dq.outputs[0]
    xf = graph.unique_name(a + "_f")
    at, yt = graph.tensors[a], graph.tensors[y]
    graph.add_tensor(type(yt)(xf, at.shape, "float32"))
    i = graph.nodes.index(p)
    graph.nodes[i] = Node(dq.name, "DequantizeLinear", [a], [xf], dict(dq.attrs))
    graph.nodes[graph.nodes.index(dq)] = Node(p.name, p.op, [xf] + p.inputs[1:], [y], dict(p.attrs))
    del graph.tensors[b]
    return True


def _fold_pair(graph: Graph, q, dq, producers, consumers) -> None:
    x, y = q.inputs[0], dq.outputs[0]
    zp = q.attrs["zero_point"] - (128 if q.attrs.get("dtype") == "uint8" else 0)  # int8 domain, same reals
    params = QuantParams(np.array([q.attrs["scale"]], np.float32), np.array([zp], np.int32))
    old = graph.tensors[x].quant
    if old is not None and (np.float32(np.ravel(old.scale)[0]), int(np.ravel(old.zero_point)[0])) != (
            np.float32(q.attrs["scale"]), zp):
        # x already has int8 parameters: this pair requantizes it (e.g. a Concat input brought to the
        # output's scale). Keep that as an Identity whose output carries the new parameters.
        i = graph.nodes.index(dq)
        graph.nodes[i] = Node(dq.name, "Identity", [x], [y])
        graph.nodes.remove(q)
        del graph.tensors[q.outputs[0]]
        graph.tensors[y].quant = params
        return
    pos = graph.nodes.index(dq) - 1  # where the pair's second node lands once both are gone
    graph.nodes = [n for n in graph.nodes if n is not q and n is not dq]
    del graph.tensors[q.outputs[0]]
    prod = producers.get(x)
    others = [n for n in consumers.get(x, []) if n is not q]
    if y in graph.outputs and prod is not None and x not in graph.outputs and not others:
        # keep the graph output's name: the producer writes it directly
        prod.outputs = [y if o == x else o for o in prod.outputs]
        del graph.tensors[x]
        keep = y
    elif y in graph.outputs:  # x cannot take the output's name (a graph input, or read elsewhere)
        graph.nodes.insert(pos, Node(dq.name, "Identity", [x], [y]))
        graph.tensors[y].quant = params
        keep = x
    else:
        for n in graph.nodes:
            n.inputs = [x if i == y else i for i in n.inputs]
        del graph.tensors[y]
        keep = x
    graph.tensors[keep].quant = params


def has_imported_qparams(graph: Graph) -> bool:
    """True when the graph came from a QDQ model (activations carry int8 parameters)."""
    return any(t.quant is not None and not t.is_const for t in graph.tensors.values())
