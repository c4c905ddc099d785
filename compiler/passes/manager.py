"""A small pass manager: runs passes in order, verifies the graph after each one and names
the pass that broke it."""
from __future__ import annotations

from typing import Callable

from ..errors import ConvcError
from ..ir import Graph, VerifyError
from ..quantize.qdq import fold_qdq
from .canonicalize import canonicalize
from .dead_code import eliminate_dead
from .fold_batchnorm import fold_batchnorm
from .fold_constants import fold_constants
from .fold_pad import fold_pad
from .fuse_activation import fuse_activation

Pass = Callable[[Graph], bool]  # mutates the graph in place, returns "changed"


class PassError(ConvcError):
    pass


DEFAULT_PIPELINE: list[Pass] = [
    canonicalize, fold_qdq, fold_constants, fold_batchnorm, fold_pad, fuse_activation, eliminate_dead,
]


def run_passes(graph: Graph, passes: list[Pass] | None = None, log: list[str] | None = None) -> Graph:
    for p in DEFAULT_PIPELINE if passes is None else passes:
        changed = p(graph)
        try:
            graph.verify()
        except VerifyError as e:
            raise PassError(f"internal error: pass '{p.__name__}' left an invalid graph: {e}") from None
        if log is not None:
            log.append(f"{p.__name__}: {'changed' if changed else 'no change'}")
    return graph
