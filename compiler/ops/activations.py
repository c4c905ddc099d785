"""Element-wise activations: Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh.

Each activation is described by a small spec dict ({"op": "Clip", "min": 0, "max": 6}, ...)
with one NumPy implementation and one C expression. The same spec is what the activation
fusion pass attaches to Conv/Gemm, so fused and unfused code compute the same thing.
"""
from __future__ import annotations

import numpy as np

from ..codegen.cfmt import literal, math_fn
from .common import index_expr, loop_nest, need_float
from .registry import CKernel, OpDef, register

# activations the Conv/Gemm kernels accept fused (see passes.fuse_activation)
FUSABLE = ("Relu", "Clip", "LeakyRelu", "HardSwish")


def apply_activation(spec: dict | None, x: np.ndarray) -> np.ndarray:
    if not spec:
        return x
    op = spec["op"]
    if op == "Relu":
        return np.maximum(x, 0).astype(x.dtype)
    if op == "LeakyRelu":
        a = x.dtype.type(spec["alpha"])
        return np.where(x >= 0, x, x * a).astype(x.dtype)
    if op == "Clip":
        lo = spec.get("min")
        hi = spec.get("max")
        y = x
        if lo is not None:
            y = np.maximum(y, x.dtype.type(lo))
        if hi is not None:
            y = np.minimum(y, x.dtype.type(hi))
        return y.astype(x.dtype)
    if op == "Sigmoid":
        with np.errstate(over="ignore"):
            return (1 / (1 + np.exp(-x))).astype(x.dtype)
    if op == "HardSigmoid":
        a, b = x.dtype.type(spec["alpha"]), x.dtype.type(spec["beta"])
        return np.clip(x * a + b, 0, 1).astype(x.dtype)
    if op == "HardSwish":
        return (x * np.clip(x * x.dtype.type(1 / 6) + x.dtype.type(0.5), 0, 1)).astype(x.dtype)
    if op == "Tanh":
        return np.tanh(x).astype(x.dtype)
    raise KeyError(op)


def activation_expr(spec: dict | None, v: str, dtype: str) -> str:
    """C expression applying `spec` to the (side-effect free) C expression `v`."""
    if not spec:
        return v
    op = spec["op"]
    L = lambda x: literal(x, dtype)  # noqa: E731
    if op == "Relu":
        return f"({v} > {L(0)} ? {v} : {L(0)})"
    if op == "LeakyRelu":
        return f"({v} >= {L(0)} ? {v} : {v} * {L(spec['alpha'])})"
    if op == "Clip":  # bounds: numbers, or C expressions (strings) for bounds read at run time
        e = v
        for key, cmp in (("min", "<"), ("max", ">")):
            b = spec.get(key)
            if b is not None:
                b = b if isinstance(b, str) else L(b)
                e = f"({e} {cmp} {b} ? {b} : {e})"
        return e
    if op == "Sigmoid":
        return f"({L(1)} / ({L(1)} + {math_fn('exp', dtype)}(-{v})))"
    if op == "HardSigmoid":
        t = f"({v} * {L(spec['alpha'])} + {L(spec['beta'])})"
        return f"({t} < {L(0)} ? {L(0)} : ({t} > {L(1)} ? {L(1)} : {t}))"
    if op == "HardSwish":
        t = f"({v} * {L(1 / 6)} + {L(0.5)})"
        return f"({v} * ({t} < {L(0)} ? {L(0)} : ({t} > {L(1)} ? {L(1)} : {t})))"
    if op == "Tanh":
        return f"{math_fn('tanh', dtype)}({v})"
    raise KeyError(op)


def relax_activation(spec: dict | None, x, dtype: str):
    """Relax expression applying `spec` to the Relax expression `x` of element type `dtype`.
    Clip bounds are numbers or Relax expressions (bounds read at run time)."""
    if not spec:
        return x
    from ..codegen.relax import const, op

    name = spec["op"]
    C = lambda v: const(v, dtype)  # noqa: E731
    if name == "Relu":
        return op.nn.relu(x)
    if name == "LeakyRelu":
        return op.where(op.greater_equal(x, C(0)), x, op.multiply(x, C(spec["alpha"])))
    if name == "Clip":
        y = x
        for key, fn in (("min", op.maximum), ("max", op.minimum)):
            b = spec.get(key)
            if b is not None:
                y = fn(y, C(b) if isinstance(b, (int, float)) else b)
        return y
    if name == "Sigmoid":
        return op.sigmoid(x)
    if name == "HardSigmoid":
        return op.minimum(op.maximum(op.add(op.multiply(x, C(spec["alpha"])), C(spec["beta"])), C(0)), C(1))
    if name == "HardSwish":
        t = op.minimum(op.maximum(op.add(op.multiply(x, C(1 / 6)), C(0.5)), C(0)), C(1))
        return op.multiply(x, t)
    if name == "Tanh":
        return op.tanh(x)
    raise KeyError(name)


class _Activation(OpDef):
    inplace = True
    float_only = True

    def spec(self, node) -> dict:
        return {"op": self.name, **node.attrs}

    def infer(self, node, inputs):
        x = inputs[0]
        if self.float_only:
            need_float(node, x.dtype)
        return [(x.shape, x.dtype)]

    def reference(self, node, inputs):
        return [apply_activation(self.spec(node), inputs[0])]

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        ln = loop_nest(x.shape, [x.shape])
        v = f"x0[{index_expr('i', ln['istrides'][0])}]"
        body = f"y0[{index_expr('i', ln['ostrides'])}] = {activation_expr(self.spec(node), v, x.dtype)};"
        return CKernel("loop", {"dims": ln["dims"], "body": body})

    def relax(self, node, bb, args, graph):
        return relax_activation(self.spec(node), args[0], graph.tensors[node.inputs[0]].dtype)

    def import_onnx(self, ctx, node):
        ctx.emit(self.name, [node.input[0]], [node.output[0]], self.import_attrs(ctx, node), node=node)

    def import_attrs(self, ctx, node) -> dict:
        return {}


@register
class Relu(_Activation):
    name = "Relu"
    onnx_types = ("Relu",)
    float_only = False


@register
class LeakyRelu(_Activation):
    name = "LeakyRelu"
    onnx_types = ("LeakyRelu",)

    def import_attrs(self, ctx, node):
        return {"alpha": float(ctx.attrs(node).get("alpha", 0.01))}


@register
class Clip(_Activation):
    name = "Clip"
    onnx_types = ("Clip",)
    float_only = False

    def import_onnx(self, ctx, node):
        """Constant bounds become attrs; bounds computed at run time stay scalar inputs."""
        a = ctx.attrs(node)
        if ctx.opset < 11:
            attrs = {"min": float(a.get("min", -3.4028234663852886e38)), "max": float(a.get("max", 3.4028234663852886e38))}
            ctx.emit(self.name, [node.input[0]], [node.output[0]], attrs, node=node)
            return
        ins, attrs = [node.input[0]], {"min": None, "max": None}
        for k, key in ((1, "min"), (2, "max")):
            name = node.input[k] if k < len(node.input) else ""
            v = ctx.const(name)
            if v is not None:
                attrs[key] = v.item()
            elif name:
                ins += [""] * (k - len(ins)) + [name]
        ctx.emit(self.name, ins, [node.output[0]], attrs, node=node)

    def reference(self, node, inputs):
        x = inputs[0]
        spec = self.spec(node)
        for k, key in ((1, "min"), (2, "max")):
            if len(inputs) > k and inputs[k] is not None:
                spec[key] = inputs[k].item()
        return [apply_activation(spec, x)]

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        spec = self.spec(node)
        for k, key in ((1, "min"), (2, "max")):
            if len(node.inputs) > k and node.inputs[k]:
                spec[key] = f"x{k}[0]"
        v = "x0[i0]"
        return CKernel("loop", {"dims": [x.size], "body": f"y0[i0] = {activation_expr(spec, v, x.dtype)};"})

    def relax(self, node, bb, args, graph):
        spec = self.spec(node)
        for k, key in ((1, "min"), (2, "max")):
            if len(args) > k and args[k] is not None:
                spec[key] = args[k]
        return relax_activation(spec, args[0], graph.tensors[node.inputs[0]].dtype)


@register
class Sigmoid(_Activation):
    name = "Sigmoid"
    onnx_types = ("Sigmoid",)


@register
class HardSigmoid(_Activation):
    name = "HardSigmoid"
    onnx_types = ("HardSigmoid",)

    def import_attrs(self, ctx, node):
        a = ctx.attrs(node)
        return {"alpha": float(a.get("alpha", 0.2)), "beta": float(a.get("beta", 0.5))}


@register
class HardSwish(_Activation):
    name = "HardSwish"
    onnx_types = ("HardSwish",)


@register
class Tanh(_Activation):
    name = "Tanh"
    onnx_types = ("Tanh",)
