"""The oracle: a NumPy interpreter of the IR (each op's `reference`)."""
from __future__ import annotations

import numpy as np

from .errors import UsageError
from .ir import Graph
from .ops.registry import get_op


def check_inputs(graph: Graph, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for name in graph.inputs:
        t = graph.tensors[name]
        if name not in inputs:
            raise UsageError(f"missing input '{name}' ({t.dtype}{list(t.shape)})")
        a = np.asarray(inputs[name])
        if tuple(a.shape) != tuple(t.shape):
            raise UsageError(f"input '{name}': shape {list(a.shape)}, model expects {list(t.shape)}")
        out[name] = a.astype(t.dtype, copy=False)
    return out


def run(graph: Graph, inputs: dict[str, np.ndarray], keep_all: bool = False) -> dict[str, np.ndarray]:
    """Outputs by name (all tensors when keep_all)."""
    env: dict[str, np.ndarray] = dict(check_inputs(graph, inputs))
    for name, t in graph.tensors.items():
        if t.is_const:
            env[name] = t.data
    for node in graph.nodes:
        vals = get_op(node.op).reference(node, [env[i] if i else None for i in node.inputs])
        for o, v in zip(node.outputs, vals):
            if o:
                t = graph.tensors[o]
                env[o] = np.asarray(v).astype(t.dtype, copy=False).reshape(t.shape)
    if keep_all:
        return env
    return {o: env[o] for o in graph.outputs}
