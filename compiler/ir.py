"""Graph IR: typed tensors, nodes with attributes, constants, a verifier and a text dump.

A Graph owns a dict of Tensors (by name) and a topologically ordered list of Nodes.
Tensors carry a static shape (tuple of ints), a numpy dtype name and, for constants,
their data. Quantization parameters ride on the tensor (int8 issue).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ConvcError


@dataclass
class QuantParams:
    """real = scale * (q - zero_point); per-tensor (axis None) or per-channel along `axis`."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str
    data: np.ndarray | None = None
    quant: QuantParams | None = None

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)


class VerifyError(ConvcError):
    pass


class Graph:
    def __init__(self, name: str = "model"):
        self.name = name
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self._uid = 0

    # ---- construction -------------------------------------------------
    def add_tensor(self, t: Tensor) -> Tensor:
        self.tensors[t.name] = t
        return t

    def add_const(self, name: str, data: np.ndarray) -> Tensor:
        data = np.asarray(data)
        name = self.unique_name(name) if name in self.tensors else name
        return self.add_tensor(Tensor(name, tuple(int(d) for d in data.shape), data.dtype.name, data))

    def unique_name(self, base: str) -> str:
        while True:
            self._uid += 1
            cand = f"{base}__{self._uid}"
            if cand not in self.tensors and all(n.name != cand for n in self.nodes):
                return cand

    def copy(self) -> "Graph":
        return copy.deepcopy(self)

    # ---- queries ------------------------------------------------------
    def const(self, name: str) -> np.ndarray | None:
        t = self.tensors.get(name)
        return None if t is None else t.data

    def producers(self) -> dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs if o}

    def consumers(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    out.setdefault(i, []).append(n)
        return out

    def intermediate(self) -> list[Tensor]:
        """Tensors produced by nodes (activations), in production order."""
        return [self.tensors[o] for n in self.nodes for o in n.outputs if o]

    # ---- verifier -----------------------------------------------------
    def verify(self) -> None:
        """Raise VerifyError on any inconsistency: unknown tensors, multiple producers,
        non-topological order, shapes/dtypes that disagree with the op's inference."""
        from .ops.registry import get_op

        defined = set(self.inputs) | {n for n, t in self.tensors.items() if t.is_const}
        for name in self.inputs:
            if name not in self.tensors:
                raise VerifyError(f"graph input '{name}' has no tensor")
            if self.tensors[name].is_const:
                raise VerifyError(f"graph input '{name}' is a constant")
        produced: set[str] = set()
        names: set[str] = set()
        for node in self.nodes:
            if node.name in names:
                raise VerifyError(f"duplicate node name '{node.name}'")
            names.add(node.name)
            for i in node.inputs:
                if i and i not in defined:
                    raise VerifyError(
                        f"node '{node.name}' ({node.op}) reads '{i}' before it is defined")
            op = get_op(node.op)
            ins = [self.tensors[i] if i else None for i in node.inputs]
            expected = op.infer(node, ins)
            if len(expected) != len(node.outputs):
                raise VerifyError(f"node '{node.name}' ({node.op}) has {len(node.outputs)} outputs, "
                                  f"op defines {len(expected)}")
            for o, (shape, dtype) in zip(node.outputs, expected):
                if not o:
                    continue
                if o in produced or o in defined:
                    raise VerifyError(f"tensor '{o}' has more than one producer")
                t = self.tensors.get(o)
                if t is None:
                    raise VerifyError(f"node '{node.name}' output '{o}' has no tensor")
                if tuple(t.shape) != tuple(shape) or t.dtype != dtype:
                    raise VerifyError(
                        f"node '{node.name}' ({node.op}) output '{o}': recorded {t.dtype}{list(t.shape)}, "
                        f"inferred {dtype}{list(shape)}")
                produced.add(o)
                defined.add(o)
        for name in self.outputs:
            if name not in defined:
                raise VerifyError(f"graph output '{name}' is never produced")

    # ---- text dump ----------------------------------------------------
    def dump(self) -> str:
        def ty(name: str) -> str:
            t = self.tensors[name]
            q = ""
            if t.quant is not None:
                q = f" q(scale={np.round(np.ravel(t.quant.scale)[:4], 8).tolist()}, zp={np.ravel(t.quant.zero_point)[:4].tolist()})"
            return f"{t.dtype}[{','.join(map(str, t.shape))}]{q}"

        lines = [f"graph {self.name}("]
        lines += [f"    %{i}: {ty(i)}," for i in self.inputs]
        lines.append(") {")
        consts = [t for t in self.tensors.values() if t.is_const]
        for t in consts:
            lines.append(f"  const %{t.name}: {ty(t.name)}")
        for n in self.nodes:
            attrs = ", ".join(f"{k}={_fmt_attr(v)}" for k, v in sorted(n.attrs.items()))
            outs = ", ".join(f"%{o}: {ty(o)}" for o in n.outputs if o)
            ins = ", ".join(f"%{i}" if i else "_" for i in n.inputs)
            lines.append(f"  {outs} = {n.op}({ins}){' {' + attrs + '}' if attrs else ''}  # {n.name}")
        lines.append(f"  return {', '.join('%' + o for o in self.outputs)}")
        lines.append("}")
        return "\n".join(lines)


def _fmt_attr(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"array{list(v.shape)}" if v.size > 8 else str(v.tolist())
    if isinstance(v, float):
        return f"{v:g}"
    return repr(v) if isinstance(v, str) else str(v)
