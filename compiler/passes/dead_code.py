"""eliminate_dead: remove nodes nobody reads and constants nobody uses."""
from __future__ import annotations

from ..ir import Graph


def eliminate_dead(graph: Graph) -> bool:
    live = set(graph.outputs)
    keep = []
    for n in reversed(graph.nodes):
        if any(o in live for o in n.outputs if o):
            keep.append(n)
            live.update(i for i in n.inputs if i)
    changed = len(keep) != len(graph.nodes)
    graph.nodes = keep[::-1]
    used = live | set(graph.inputs) | {o for n in graph.nodes for o in n.outputs}
    for name in [k for k in graph.tensors if k not in used]:
        del graph.tensors[name]
        changed = True
    return changed
