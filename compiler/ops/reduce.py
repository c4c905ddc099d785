"""ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceSumSquare, ReduceL1, ReduceL2:
one IR op `Reduce` with a `kind`. Axes come from the attribute (older opsets) or a constant
input (ReduceSum >= 13, the others >= 18); keepdims and noop_with_empty_axes as in ONNX."""
from __future__ import annotations

import numpy as np

from ..codegen.cfmt import math_fn
from .common import coalesce, index_expr, norm_axis, strides
from .registry import CKernel, OpDef, register

KINDS = ("Mean", "Sum", "Max", "Min", "Prod", "SumSquare", "L1", "L2")
_AXES_INPUT_FROM = {"ReduceSum": 13}  # others: 18


def reduce_numpy(kind: str, x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    if kind == "Mean":
        y = np.mean(x, axis=axes, keepdims=keepdims)
    elif kind == "Sum":
        y = np.sum(x, axis=axes, keepdims=keepdims)
    elif kind == "Max":
        y = np.max(x, axis=axes, keepdims=keepdims)
    elif kind == "Min":
        y = np.min(x, axis=axes, keepdims=keepdims)
    elif kind == "Prod":
        y = np.prod(x, axis=axes, keepdims=keepdims)
    elif kind == "SumSquare":
        y = np.sum(x * x, axis=axes, keepdims=keepdims)
    elif kind == "L1":
        y = np.sum(np.abs(x), axis=axes, keepdims=keepdims)
    else:  # L2
        y = np.sqrt(np.sum(x.astype(np.float64) ** 2, axis=axes, keepdims=keepdims))
    return np.asarray(y).astype(x.dtype)


def _c_parts(kind: str, dtype: str, count: int, first: str, literal) -> tuple[str, str, str]:
    """(init, update statement, final expression) in terms of `acc` and `v`."""
    zero, one = literal(0, dtype), literal(1, dtype)
    if kind in ("Max", "Min"):
        cmp = ">" if kind == "Max" else "<"
        return first, f"if (v {cmp} acc) acc = v;", "acc"
    if kind == "Prod":
        return one, "acc *= v;", "acc"
    update = {"Mean": "acc += v;", "Sum": "acc += v;", "SumSquare": "acc += v * v;",
              "L1": "acc += (v < 0 ? -v : v);", "L2": "acc += v * v;"}[kind]
    final = {"Mean": f"acc / {literal(count, dtype)}", "L2": f"{math_fn('sqrt', dtype)}(acc)"}.get(kind, "acc")
    return zero, update, final


def relax_reduce(kind: str, x, axes: list[int], keepdims: int):
    """The TVM lowering of one reduction kind on the Relax expression `x`."""
    from ..codegen.relax import op

    if kind in ("SumSquare", "L2"):
        x = op.multiply(x, x)
    elif kind == "L1":
        x = op.abs(x)
    fn = {"Mean": op.mean, "Max": op.max, "Min": op.min, "Prod": op.prod}.get(kind, op.sum)
    y = fn(x, axis=axes, keepdims=bool(keepdims))
    return op.sqrt(y) if kind == "L2" else y


@register
class Reduce(OpDef):
    name = "Reduce"
    onnx_types = tuple("Reduce" + k for k in KINDS)

    def import_onnx(self, ctx, node):
        a = ctx.attrs(node)
        x = ctx.tensor(node.input[0])
        r = len(x.shape)
        if ctx.opset >= _AXES_INPUT_FROM.get(node.op_type, 18):
            axes = ctx.require_const(node, 1, "axes")
        else:
            axes = a.get("axes")
        axes = [] if axes is None else [int(v) for v in np.ravel(axes)]
        if not axes and int(a.get("noop_with_empty_axes", 0)):
            ctx.emit("Identity", [node.input[0]], [node.output[0]], {}, node=node)
            return
        try:
            axes = sorted({norm_axis(v, r) for v in axes}) if axes else list(range(r))
        except ValueError as e:
            raise ctx.unsupported(node, str(e)) from None
        attrs = {"kind": node.op_type[len("Reduce"):], "axes": axes, "keepdims": int(a.get("keepdims", 1))}
        ctx.emit("Reduce", [node.input[0]], [node.output[0]], attrs, node=node)

    def infer(self, node, inputs):
        x = inputs[0]
        axes, keep = node.attrs["axes"], node.attrs["keepdims"]
        if node.attrs["kind"] not in KINDS:
            raise ValueError(f"unknown reduction {node.attrs['kind']}")
        if any(x.shape[a] == 0 for a in axes):
            raise ValueError("reduction over an empty axis")
        shape = tuple((1 if i in axes else d) for i, d in enumerate(x.shape) if keep or i not in axes)
        return [(shape, x.dtype)]

    def reference(self, node, inputs):
        a = node.attrs
        return [reduce_numpy(a["kind"], inputs[0], tuple(a["axes"]), bool(a["keepdims"]))]

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import op

        a = node.attrs
        if graph.tensors[node.inputs[0]].dtype == "bool":  # Max/Min of bool (any/all), through uint8
            return op.astype(relax_reduce(a["kind"], op.astype(args[0], "uint8"), a["axes"], a["keepdims"]), "bool")
        return relax_reduce(a["kind"], args[0], a["axes"], a["keepdims"])

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        axes = node.attrs["axes"]
        st = strides(x.shape)
        kept = [i for i in range(len(x.shape)) if i not in axes]
        kept_shape = [x.shape[i] for i in kept]
        kdims, (kst, ost) = coalesce(kept_shape, [[st[i] for i in kept], strides(tuple(kept_shape))])
        rdims, (rst,) = coalesce([x.shape[i] for i in axes], [[st[i] for i in axes]])
        count = int(np.prod([x.shape[i] for i in axes], dtype=np.int64))
        kidx = index_expr("k", kst)
        init, update, final = _c_parts(node.attrs["kind"], x.dtype, count, f"x0[{kidx}]", ctx.literal)
        return CKernel("reduce", {"kdims": kdims, "rdims": rdims, "ctype": ctx.ctype(x.dtype),
                                  "src": f"x0[{kidx} + {index_expr('r', rst)}]", "dst": f"y0[{index_expr('k', ost)}]",
                                  "init": init, "update": update, "final": final})
