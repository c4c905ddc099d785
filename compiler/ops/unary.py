"""Unary math: Neg, Abs, Floor, Ceil, Sqrt, Exp, Log, Reciprocal (element-wise, in place)."""
from __future__ import annotations

import numpy as np

from ..codegen.cfmt import literal, math_fn
from .common import need_float
from .registry import CKernel, OpDef, register


class _Unary(OpDef):
    inplace = True
    float_only = True

    def infer(self, node, inputs):
        x = inputs[0]
        if self.float_only:
            need_float(node, x.dtype)
        return [(x.shape, x.dtype)]

    def compute(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def expr(self, v: str, dtype: str) -> str:
        raise NotImplementedError

    def reference(self, node, inputs):
        with np.errstate(all="ignore"):
            return [np.asarray(self.compute(inputs[0])).astype(inputs[0].dtype)]

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import const, op

        if self.name == "Reciprocal":
            return op.divide(const(1, graph.tensors[node.inputs[0]].dtype), args[0])
        return getattr(op, self.relax_op)(args[0])

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        return CKernel("loop", {"dims": [x.size], "body": f"y0[i0] = {self.expr('x0[i0]', x.dtype)};"})


def _unary(name: str, compute, expr, float_only: bool = True):
    cls = type(name, (_Unary,), {"name": name, "onnx_types": (name,), "float_only": float_only,
                                 "relax_op": {"Neg": "negative"}.get(name, name.lower()),
                                 "compute": lambda self, x: compute(x), "expr": lambda self, v, dt: expr(v, dt)})
    return register(cls)


Neg = _unary("Neg", np.negative, lambda v, dt: f"-{v}", float_only=False)
Abs = _unary("Abs", np.abs, lambda v, dt: f"({v} < 0 ? -{v} : {v})", float_only=False)
Floor = _unary("Floor", np.floor, lambda v, dt: f"{math_fn('floor', dt)}({v})")
Ceil = _unary("Ceil", np.ceil, lambda v, dt: f"{math_fn('ceil', dt)}({v})")
Sqrt = _unary("Sqrt", np.sqrt, lambda v, dt: f"{math_fn('sqrt', dt)}({v})")
Exp = _unary("Exp", np.exp, lambda v, dt: f"{math_fn('exp', dt)}({v})")
Log = _unary("Log", np.log, lambda v, dt: f"{math_fn('log', dt)}({v})")
Reciprocal = _unary("Reciprocal", np.reciprocal, lambda v, dt: f"({literal(1, dt)} / {v})")
