"""Comparisons and logic with broadcasting (Equal, Less, LessOrEqual, Greater, GreaterOrEqual,
And, Or, Xor, Not) and Where (select). Results are bool (uint8_t 0/1 in C)."""
from __future__ import annotations

import numpy as np

from .common import broadcast_shape, index_expr, loop_nest
from .elementwise import _Broadcast
from .registry import CKernel, OpDef, register


class _Compare(_Broadcast):
    inplace = False  # the output type differs from the inputs'
    fn = staticmethod(np.equal)
    logic = False

    def infer(self, node, inputs):
        (t, _), = super().infer(node, inputs)
        if self.logic and inputs[0].dtype != "bool":
            raise ValueError(f"{self.name} needs bool inputs")
        return [(t, "bool")]

    def reference(self, node, inputs):
        return [np.asarray(self.fn(*inputs), bool)]

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import op

        return getattr(op, self.relax_op)(args[0], args[1])

    def c_kernel(self, node, graph, ctx):
        ins = [graph.tensors[i] for i in node.inputs]
        out = graph.tensors[node.outputs[0]]
        ln = loop_nest(out.shape, [t.shape for t in ins])
        a, b = (f"x{k}[{index_expr('i', st)}]" for k, st in enumerate(ln["istrides"]))
        return CKernel("loop", {"dims": ln["dims"], "body": f"y0[{index_expr('i', ln['ostrides'])}] = ({a} {self.c_op} {b});"})


def _compare(name: str, fn, c_op: str, relax_op: str, logic: bool = False):
    cls = type(name, (_Compare,), {"name": name, "onnx_types": (name,), "fn": staticmethod(fn), "c_op": c_op,
                                   "relax_op": relax_op, "logic": logic})
    return register(cls)


Equal = _compare("Equal", np.equal, "==", "equal")
Less = _compare("Less", np.less, "<", "less")
LessOrEqual = _compare("LessOrEqual", np.less_equal, "<=", "less_equal")
Greater = _compare("Greater", np.greater, ">", "greater")
GreaterOrEqual = _compare("GreaterOrEqual", np.greater_equal, ">=", "greater_equal")
And = _compare("And", np.logical_and, "&&", "logical_and", logic=True)
Or = _compare("Or", np.logical_or, "||", "logical_or", logic=True)
Xor = _compare("Xor", np.logical_xor, "!=", "logical_xor", logic=True)


@register
class Not(OpDef):
    name = "Not"
    onnx_types = ("Not",)
    inplace = True

    def infer(self, node, inputs):
        if inputs[0].dtype != "bool":
            raise ValueError("Not needs a bool input")
        return [(inputs[0].shape, "bool")]

    def reference(self, node, inputs):
        return [np.logical_not(inputs[0])]

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import op

        return op.logical_not(args[0])

    def c_kernel(self, node, graph, ctx):
        return CKernel("loop", {"dims": [graph.tensors[node.inputs[0]].size], "body": "y0[i0] = !x0[i0];"})


@register
class Where(OpDef):
    name = "Where"
    onnx_types = ("Where",)

    def infer(self, node, inputs):
        c, x, y = inputs
        if c.dtype != "bool" or x.dtype != y.dtype:
            raise ValueError(f"Where needs a bool condition and equal value types ({c.dtype}, {x.dtype}, {y.dtype})")
        return [(broadcast_shape(c.shape, x.shape, y.shape), x.dtype)]

    def reference(self, node, inputs):
        return [np.where(*inputs).astype(inputs[1].dtype)]

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import op

        return op.where(*args)

    def c_kernel(self, node, graph, ctx):
        ins = [graph.tensors[i] for i in node.inputs]
        out = graph.tensors[node.outputs[0]]
        ln = loop_nest(out.shape, [t.shape for t in ins])
        c, a, b = (f"x{k}[{index_expr('i', st)}]" for k, st in enumerate(ln["istrides"]))
        return CKernel("loop", {"dims": ln["dims"], "body": f"y0[{index_expr('i', ln['ostrides'])}] = {c} ? {a} : {b};"})
