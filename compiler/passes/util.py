"""Graph surgery helpers shared by passes."""
from __future__ import annotations

from ..ir import Graph, Node


def replace_uses(graph: Graph, old: str, new: str) -> None:
    """Make every reader of `old` read `new` instead (graph outputs included)."""
    for n in graph.nodes:
        n.inputs = [new if i == old else i for i in n.inputs]
    graph.outputs = [new if o == old else o for o in graph.outputs]




def single_consumer(graph: Graph, tensor: str) -> Node | None:
    """The only node reading `tensor`, if exactly one reads it and it is not a graph output."""
    if tensor in graph.outputs:
        return None
    readers = [n for n in graph.nodes if tensor in n.inputs]
    return readers[0] if len(readers) == 1 and readers[0].inputs.count(tensor) == 1 else None


def absorb(graph: Graph, prod: Node, user: Node) -> None:
    """`prod` took over `user`'s work: drop `user`, and `prod` writes `user`'s output directly."""
    graph.nodes.remove(user)
    del graph.tensors[prod.outputs[0]]
    prod.outputs = [user.outputs[0]]
