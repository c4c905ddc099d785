"""canonicalize: drop Identity/Dropout nodes and reshapes to the same shape."""
from __future__ import annotations

from ..ir import Graph
from .util import replace_uses


def canonicalize(graph: Graph) -> bool:
    changed = False
    producers = graph.producers()
    for n in list(graph.nodes):
        no_op = n.op == "Identity" or (
            n.op == "Reshape" and graph.tensors[n.inputs[0]].shape == graph.tensors[n.outputs[0]].shape)
        if not no_op:
            continue
        src, dst = n.inputs[0], n.outputs[0]
        if dst not in graph.outputs:
            graph.nodes.remove(n)
            replace_uses(graph, dst, src)
            del graph.tensors[dst]
            changed = True
        elif src in producers and src not in graph.outputs and src not in graph.inputs:
            # the graph output keeps its name: the producer of `src` writes it directly
            p = producers[src]
            graph.nodes.remove(n)
            p.outputs = [dst if o == src else o for o in p.outputs]
            for m in graph.nodes:
                m.inputs = [dst if i == src else i for i in m.inputs]
            del graph.tensors[src]
            producers = graph.producers()
            changed = True
    return changed
