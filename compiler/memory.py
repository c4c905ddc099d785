"""Static arena planning from tensor lifetimes.

Every activation produced by a node (not a graph input or output: those live in the caller's
buffers) gets a byte range in one arena. Tensors whose lifetimes do not overlap may share
bytes. Two rules make buffers shared outright:
  * alias ops (Reshape, Flatten, Squeeze, ...) reinterpret their input: same buffer, no code;
  * in-place ops (element-wise) write over input 0 when this node is its last reader and
    the shapes match.
Buffers are then placed greedy-by-size like TFLM's GreedyMemoryPlanner: largest first, each at
the lowest offset that does not collide with an already placed buffer alive at the same time.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .ir import Graph
from .ops.registry import get_op

ALIGN = 16


def _align(n: int, a: int = ALIGN) -> int:
    return (n + a - 1) // a * a


@dataclass
class Buffer:
    tensors: list[str]
    size: int
    first: int
    last: int
    offset: int = -1


@dataclass
class MemoryPlan:
    offsets: dict[str, int] = field(default_factory=dict)  # tensor -> byte offset in the arena
    aliases: dict[str, str] = field(default_factory=dict)  # alias-op output -> its input (no code)
    buffers: list[Buffer] = field(default_factory=list)
    arena_size: int = 0
    activations_total: int = 0  # sum of all arena tensors, the no-reuse baseline


def plan_memory(graph: Graph, align: int = ALIGN) -> MemoryPlan:
    external = set(graph.inputs) | set(graph.outputs)
    index = {}  # tensor -> producing node index
    last_use = {}
    for k, n in enumerate(graph.nodes):
        for o in n.outputs:
            if o:
                index[o] = k
                last_use.setdefault(o, k)
        for i in n.inputs:
            if i:
                last_use[i] = k
    arena_tensors = [o for n in graph.nodes for o in n.outputs
                     if o and o not in external and not graph.tensors[o].is_const]

    # union-find over shared buffers
    root: dict[str, str] = {t: t for t in arena_tensors}

    def find(t: str) -> str:
        while root[t] != t:
            root[t] = root[root[t]]
            t = root[t]
        return t

    group_last = {t: last_use[t] for t in arena_tensors}
    plan = MemoryPlan()
    for k, n in enumerate(graph.nodes):
        op = get_op(n.op)
        if not (op.alias or op.inplace) or not n.inputs or not n.outputs:
            continue
        src, dst = n.inputs[0], n.outputs[0]
        if src not in root or dst not in root:
            continue
        st, dt = graph.tensors[src], graph.tensors[dst]
        if st.nbytes != dt.nbytes or st.dtype != dt.dtype:
            continue
        r = find(src)
        if op.alias:
            if group_last[r] < k:  # never: src is read here
                continue
        else:
            if st.shape != dt.shape or group_last[r] > k:
                continue  # someone reads the input later: cannot overwrite it
            if any(i == src for i in n.inputs[1:]):
                continue
        root[dst] = r
        group_last[r] = max(group_last[r], last_use[dst])
        if op.alias:
            plan.aliases[dst] = src

    groups: dict[str, list[str]] = {}
    for t in arena_tensors:
        groups.setdefault(find(t), []).append(t)
    for r, ts in groups.items():
        first = min(index[t] for t in ts)
        last = max(last_use[t] for t in ts)
        size = _align(max(graph.tensors[t].nbytes for t in ts), align)
        plan.buffers.append(Buffer(ts, size, first, last))
    plan.activations_total = sum(_align(graph.tensors[t].nbytes, align) for t in arena_tensors)

    placed: list[Buffer] = []
    for b in sorted(plan.buffers, key=lambda b: (-b.size, b.first)):
        live = sorted((p for p in placed if p.first <= b.last and b.first <= p.last), key=lambda p: p.offset)
        off = 0
        for p in live:
            if off + b.size <= p.offset:
                break
            off = max(off, p.offset + p.size)
        b.offset = off
        placed.append(b)
        plan.arena_size = max(plan.arena_size, off + b.size)
    for b in plan.buffers:
        for t in b.tensors:
            plan.offsets[t] = b.offset
    return plan
