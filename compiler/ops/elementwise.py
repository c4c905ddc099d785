"""Broadcasting element-wise arithmetic: Add, Sub, Mul, Div, PRelu, Sum (n-ary)."""
from __future__ import annotations

import numpy as np

from .common import broadcast_shape, index_expr, loop_nest
from .registry import CKernel, OpDef, register


def _int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """C semantics: truncation toward zero."""
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (b < 0), -q, q).astype(a.dtype)


def legacy_broadcast(ctx, node) -> str:
    """Opset < 7 binary ops: without `broadcast=1` both shapes must be equal; with it, B's
    dims align with A's starting at `axis` (default: trailing). Returns B reshaped so that
    numpy broadcasting means the same thing."""
    a = ctx.attrs(node)
    sa, sb = ctx.tensor(node.input[0]).shape, ctx.tensor(node.input[1]).shape
    if not a.get("broadcast", 0):
        if tuple(sa) != tuple(sb):
            raise ctx.unsupported(node, f"shapes {list(sa)} and {list(sb)} differ without broadcast=1 (opset {ctx.opset})")
        return node.input[1]
    axis = int(a.get("axis", len(sa) - len(sb)))
    axis = axis + len(sa) if axis < 0 else axis
    if not 0 <= axis <= len(sa) - len(sb):
        raise ctx.unsupported(node, f"legacy broadcast of {list(sb)} into {list(sa)} at axis {axis} is invalid")
    target = list(sb) + [1] * (len(sa) - len(sb) - axis)
    if target == list(sb):
        return node.input[1]
    out = ctx.fresh(node.input[1] + "_bcast")
    ctx.emit("Reshape", [node.input[1]], [out], {"shape": target}, name=ctx.fresh((node.name or node.op_type) + "_bcast"))
    return out


class _Broadcast(OpDef):
    """y = f(x0, x1, ...) with numpy broadcasting; `c_op` joins the C operands."""

    c_op = "+"
    relax_op = "add"  # tvm.relax.op function folding the operands left to right
    inplace = True  # the planner only aliases when input 0 has the output's shape

    def import_onnx(self, ctx, node):
        inputs = list(node.input)
        if ctx.opset < 7 and len(inputs) == 2:
            inputs[1] = legacy_broadcast(ctx, node)
        ctx.emit(self.name, inputs, [node.output[0]], {}, node=node)

    def infer(self, node, inputs):
        dts = {t.dtype for t in inputs}
        if len(dts) != 1:
            raise ValueError(f"input dtypes differ: {sorted(dts)}")
        return [(broadcast_shape(*(t.shape for t in inputs)), inputs[0].dtype)]

    def compute(self, *xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def reference(self, node, inputs):
        out = self.compute(*inputs)
        return [np.asarray(out).astype(inputs[0].dtype)]

    def expr(self, operands: list[str]) -> str:
        return f" {self.c_op} ".join(operands)

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import op

        fn = getattr(op, self.relax_op)
        acc = args[0]
        for a in args[1:]:
            acc = fn(acc, a)
        return acc

    def c_kernel(self, node, graph, ctx):
        ins = [graph.tensors[i] for i in node.inputs]
        out = graph.tensors[node.outputs[0]]
        ln = loop_nest(out.shape, [t.shape for t in ins])
        ops = [f"x{k}[{index_expr('i', st)}]" for k, st in enumerate(ln["istrides"])]
        body = f"y0[{index_expr('i', ln['ostrides'])}] = ({ctx.ctype(out.dtype)})({self.expr(ops)});"
        return CKernel("loop", {"dims": ln["dims"], "body": body})


@register
class Add(_Broadcast):
    name = "Add"
    onnx_types = ("Add",)
    c_op = "+"

    def compute(self, a, b):
        return a + b


@register
class Sub(_Broadcast):
    name = "Sub"
    onnx_types = ("Sub",)
    c_op = "-"
    relax_op = "subtract"

    def compute(self, a, b):
        return a - b


@register
class Mul(_Broadcast):
    name = "Mul"
    onnx_types = ("Mul",)
    c_op = "*"
    relax_op = "multiply"

    def compute(self, a, b):
        return a * b


@register
class Div(_Broadcast):
    name = "Div"
    onnx_types = ("Div",)
    c_op = "/"
    relax_op = "divide"  # integers: truncation toward zero, as in C

    def compute(self, a, b):
        if np.issubdtype(a.dtype, np.integer):
            return _int_div(a, b)
        return a / b


@register
class Sum(_Broadcast):
    name = "Sum"
    onnx_types = ("Sum",)
    c_op = "+"

    def compute(self, *xs):
        acc = xs[0]
        for x in xs[1:]:
            acc = acc + x
        return acc


@register
class PRelu(_Broadcast):
    name = "PRelu"
    onnx_types = ("PRelu",)

    def import_onnx(self, ctx, node):
        x, slope = ctx.tensor(node.input[0]), ctx.tensor(node.input[1])
        s = node.input[1]
        if ctx.opset < 7 and len(slope.shape) == 1 and len(x.shape) > 2 and slope.shape[0] == x.shape[1] > 1:
            # PRelu-6: a 1-D slope is per channel (axis 1), not numpy-aligned to the last axis
            s = ctx.fresh(node.input[1] + "_bcast")
            ctx.emit("Reshape", [node.input[1]], [s], {"shape": [x.shape[1]] + [1] * (len(x.shape) - 2)},
                     name=ctx.fresh((node.name or "PRelu") + "_bcast"))
        ctx.emit(self.name, [node.input[0], s], [node.output[0]], {}, node=node)

    def compute(self, x, slope):
        return np.where(x < 0, x * slope, x)

    def expr(self, operands):
        x, s = operands
        return f"{x} < 0 ? {x} * {s} : {x}"

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import const, op

        x, s = args
        return op.where(op.less(x, const(0, graph.tensors[node.inputs[0]].dtype)), op.multiply(x, s), x)


class _Extremum(_Broadcast):
    """n-ary Max / Min with broadcasting."""

    reduce = staticmethod(np.maximum.reduce)
    cmp = ">"
    relax_op = "maximum"

    def compute(self, *xs):
        return self.reduce(np.broadcast_arrays(*xs)) if len(xs) > 1 else xs[0]

    def expr(self, operands):
        e = operands[0]
        for o in operands[1:]:
            e = f"({o} {self.cmp} {e} ? {o} : {e})"
        return e


@register
class Max(_Extremum):
    name = "Max"
    onnx_types = ("Max",)


@register
class Min(_Extremum):
    name = "Min"
    onnx_types = ("Min",)
    reduce = staticmethod(np.minimum.reduce)
    cmp = "<"
    relax_op = "minimum"
