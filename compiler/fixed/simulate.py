"""The bit-exact fixed-point oracle: runs a FixedPlan's layers on int64 arrays.

Inputs are real-valued samples [S, *input shape] (quantized here with the input format, as the
host runner does: outside the top function, like the AXI-stream producer feeding the accelerator)
or integers already in the input format (`run_int`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .assign import FixedPlan
from .format import quantize, to_real


@dataclass
class SimResult:
    ints: dict[str, np.ndarray]  # graph outputs, integers of their formats, [S, *shape]
    overflows: dict[str, int]  # layer name → elements that overflowed its output format (all samples)

    def real(self, plan: FixedPlan) -> dict[str, np.ndarray]:
        return {o: to_real(v, plan.act[o]).astype(np.float32) for o, v in self.ints.items()}


def quantize_inputs(plan: FixedPlan, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: quantize(arrays[name], plan.act[name]) for name in plan.graph.inputs}


def run_int(plan: FixedPlan, ints: dict[str, np.ndarray], keep_all: bool = False) -> SimResult:
    g = plan.graph
    env: dict[str, np.ndarray] = {}
    for name in g.inputs:
        a = np.asarray(ints[name], np.int64)
        env[name] = a.reshape((a.shape[0], *g.tensors[name].shape))
    overflows = {}
    for L in plan.layers:
        ins = [env[i] for i in L.node.inputs if i and not g.tensors[i].is_const]
        y, nov = L.kind.simulate(L, ins)
        ys = y if isinstance(y, list) else [y]  # multi-output ops (Split) return one array per output
        for o, v in zip([o for o in L.node.outputs if o], ys):
            env[o] = np.asarray(v, np.int64)
        overflows[L.node.name] = int(nov)
    keep = env if keep_all else {o: env[o] for o in g.outputs}
    return SimResult(keep, overflows)


def run(plan: FixedPlan, arrays: dict[str, np.ndarray], keep_all: bool = False) -> SimResult:
    """Real samples ([S, *shape] or [S, *shape without the batch axis of 1]) through the plan."""
    g = plan.graph
    reshaped = {}
    for name in g.inputs:
        a = np.asarray(arrays[name])
        reshaped[name] = a.reshape((a.shape[0], *g.tensors[name].shape))
    return run_int(plan, quantize_inputs(plan, reshaped), keep_all)
