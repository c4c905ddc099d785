"""fuse_activation: an activation right after Conv / ConvTranspose / Gemm becomes the
producer's `activation` attribute, applied on the accumulator before the store."""
from __future__ import annotations

from ..ir import Graph
from ..ops.activations import FUSABLE
from .util import absorb, single_consumer

PRODUCERS = ("Conv", "ConvTranspose", "Gemm")


def fuse_activation(graph: Graph) -> bool:
    changed = False
    producers = graph.producers()
    for act in list(graph.nodes):
        if act.op not in FUSABLE:
            continue
        prod = producers.get(act.inputs[0])
        if prod is None or prod.op not in PRODUCERS or prod.attrs.get("activation"):
            continue
        if single_consumer(graph, act.inputs[0]) is not act:
            continue
        if graph.tensors[act.inputs[0]].dtype not in ("float32", "float64"):
            continue
        if graph.tensors[act.inputs[0]].quant is not None and act.op not in ("Relu", "Clip"):
            continue  # a QDQ model quantizes between them: int8 keeps them apart (a lookup table)
        prod.attrs["activation"] = {"op": act.op, **act.attrs}
        absorb(graph, prod, act)
        producers = graph.producers()
        changed = True
    return changed
