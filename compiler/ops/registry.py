"""The op registry: every IR op is one `OpDef` subclass, registered with `@register`.

An op declares, in one place:
  * `onnx_types`     - the ONNX op types it imports (`import_onnx` maps attributes, with the
                       ONNX spec defaults, onto a normalized IR node; constant inputs that fix
                       structure - Reshape's shape, Slice's starts, Clip's bounds - become attrs)
  * `infer`          - output shapes and dtypes from the input tensors
  * `reference`      - float (and later integer) semantics in NumPy: the oracle
  * `macs` / `params`- for `convc inspect`
  * `c_kernel`       - the template that implements it in C and every number that template prints
  * `relax`          - its lowering to TVM Relax (compiler/codegen/relax.py walks the graph)
  * `inplace`        - the output may share input 0's buffer (element-wise ops, reshapes)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UnsupportedError

if TYPE_CHECKING:
    from ..ir import Graph, Node, Tensor

Shape = tuple[int, ...]


@dataclass
class CKernel:
    """What the C backend needs to emit one node: a template under c_templates/kernels/
    and the values it prints. The template sees `args` plus `inputs`/`outputs` (lists of
    C pointer expressions) and `ctype_in`/`ctype_out`."""

    template: str
    args: dict[str, Any] = field(default_factory=dict)


class OpDef:
    name: str = ""
    onnx_types: tuple[str, ...] = ()
    inplace: bool = False  # output 0 may alias input 0 (same byte size)
    alias: bool = False  # output 0 IS input 0 reinterpreted (reshape-like): no code, no copy

    # ---- frontend -------------------------------------------------------
    def import_onnx(self, ctx, node) -> None:  # ctx: frontend.onnx.ImportContext
        """Default: same inputs/outputs, attributes as in ONNX."""
        ctx.emit(self.name, list(node.input), list(node.output), ctx.attrs(node), node=node)

    # ---- semantics ------------------------------------------------------
    def infer(self, node: "Node", inputs: list["Tensor | None"]) -> list[tuple[Shape, str]]:
        raise NotImplementedError(self.name)

    def reference(self, node: "Node", inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        raise NotImplementedError(self.name)

    # ---- reporting ------------------------------------------------------
    def macs(self, node: "Node", graph: "Graph") -> int:
        return 0

    # ---- C backend ------------------------------------------------------
    def c_kernel(self, node: "Node", graph: "Graph", ctx) -> CKernel:
        raise UnsupportedError(f"op {self.name} has no C kernel")

    # ---- TVM backend ----------------------------------------------------
    def relax(self, node: "Node", bb, args: list, graph: "Graph"):
        """Relax expression(s) computing the node's output(s) (a list when several), built with
        `relax.op` on `args` (one relax Expr per input, None for an omitted optional input);
        `bb` is the BlockBuilder, for ops that emit intermediate values."""
        raise UnsupportedError(f"op {self.name} has no TVM lowering")


_REGISTRY: dict[str, OpDef] = {}
_ONNX: dict[str, OpDef] = {}


def register(cls: type[OpDef]) -> type[OpDef]:
    inst = cls()
    assert inst.name and inst.name not in _REGISTRY, f"duplicate or unnamed op {cls}"
    _REGISTRY[inst.name] = inst
    for t in inst.onnx_types:
        assert t not in _ONNX, f"ONNX op {t} claimed twice"
        _ONNX[t] = inst
    return cls


_loaded = False


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    import importlib

    from . import ALL_MODULES

    for m in ALL_MODULES:  # importing a module fills the registry
        importlib.import_module(f"{__package__}.{m}")
    _loaded = True


def get_op(name: str) -> OpDef:
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnsupportedError(f"unknown IR op '{name}'") from None


def onnx_op(op_type: str) -> OpDef | None:
    _load_all()
    return _ONNX.get(op_type)


def onnx_op_types() -> list[str]:
    _load_all()
    return sorted(_ONNX)


def all_ops() -> dict[str, OpDef]:
    _load_all()
    return dict(_REGISTRY)
