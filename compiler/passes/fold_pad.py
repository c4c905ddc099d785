"""fold_pad: a constant zero Pad on spatial axes in front of Conv (or AveragePool counting
padded zeros) becomes the consumer's own padding."""
from __future__ import annotations

from ..ir import Graph
from .util import single_consumer


def _spatial_pads(graph: Graph, pad) -> list[int] | None:
    a = pad.attrs
    if a.get("mode", "constant") != "constant" or float(a.get("value", 0.0)) != 0.0:
        return None
    pads = [int(p) for p in a["pads"]]
    r = len(pads) // 2
    if r < 3 or any(p < 0 for p in pads) or pads[0] or pads[1] or pads[r] or pads[r + 1]:
        return None
    return pads[2:r] + pads[r + 2:]


def fold_pad(graph: Graph) -> bool:
    changed = False
    for pad in list(graph.nodes):
        if pad.op != "Pad":
            continue
        extra = _spatial_pads(graph, pad)
        if extra is None:
            continue
        user = single_consumer(graph, pad.outputs[0])
        if user is None or user.inputs[0] != pad.outputs[0]:
            continue
        if user.op == "Conv":
            pass
        elif user.op == "AveragePool" and user.attrs.get("count_include_pad", 0) and not user.attrs.get("ceil_mode", 0):
            pass
        else:
            continue
        k = len(extra) // 2
        user.attrs["pads"] = [int(p) + e for p, e in zip(user.attrs["pads"], extra[:k] + extra[k:])]
        user.inputs[0] = pad.inputs[0]
        graph.nodes.remove(pad)
        del graph.tensors[pad.outputs[0]]
        changed = True
    return changed
