"""Slice: static starts/ends/axes/steps (attributes before opset 10, constant inputs after),
ONNX clamping rules, negative steps. The kernel is a strided gather."""
from __future__ import annotations

import numpy as np

from .common import index_expr, norm_axis, strides
from .registry import CKernel, OpDef, register

INT64_MAX = (1 << 63) - 1


def clamp_slice(dim: int, start: int, end: int, step: int) -> tuple[int, int]:
    """(first index, element count) of one axis slice, per the ONNX spec."""
    if step == 0:
        raise ValueError("slice step 0")
    start = start + dim if start < 0 else start
    end = end + dim if end < 0 else end
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        count = max(0, -(-(end - start) // step))
    else:
        start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
        count = max(0, -(-(start - end) // -step))
    return start, count


@register
class Slice(OpDef):
    name = "Slice"
    onnx_types = ("Slice",)

    def import_onnx(self, ctx, node):
        x = ctx.tensor(node.input[0])
        r = len(x.shape)
        if ctx.opset < 10:
            a = ctx.attrs(node)
            starts, ends, axes, steps = a.get("starts"), a.get("ends"), a.get("axes"), None
        else:
            starts = ctx.require_const(node, 1, "starts")
            ends = ctx.require_const(node, 2, "ends")
            axes = ctx.require_const(node, 3, "axes")
            steps = ctx.require_const(node, 4, "steps")
        starts = [int(v) for v in np.ravel(starts)]
        ends = [int(v) for v in np.ravel(ends)]
        axes = list(range(len(starts))) if axes is None else [int(v) for v in np.ravel(axes)]
        steps = [1] * len(starts) if steps is None else [int(v) for v in np.ravel(steps)]
        if not len(starts) == len(ends) == len(axes) == len(steps):
            raise ctx.unsupported(node, "starts, ends, axes and steps differ in length")
        begin, step, count = [0] * r, [1] * r, list(x.shape)
        for s, e, ax, st in zip(starts, ends, axes, steps):
            try:
                ax = norm_axis(ax, r)
                begin[ax], count[ax] = clamp_slice(x.shape[ax], s, e, st)
            except ValueError as err:
                raise ctx.unsupported(node, str(err)) from None
            step[ax] = st
        if 0 in count and ctx.const(node.input[0]) is None:
            raise ctx.unsupported(node, f"the slice is empty (shape {count}); empty tensors are not supported")
        ctx.emit("Slice", [node.input[0]], [node.output[0]], {"begin": begin, "step": step, "shape": count}, node=node)

    def infer(self, node, inputs):
        x = inputs[0]
        a = node.attrs
        if not len(a["begin"]) == len(a["step"]) == len(a["shape"]) == len(x.shape):
            raise ValueError("slice attributes do not match the input rank")
        for d, b, s, n in zip(x.shape, a["begin"], a["step"], a["shape"]):
            if n and not (0 <= b < d and 0 <= b + s * (n - 1) < d):
                raise ValueError(f"slice {b}:{s}x{n} leaves an axis of size {d}")
        return [(tuple(a["shape"]), x.dtype)]

    def reference(self, node, inputs):
        a = node.attrs
        idx = tuple(np.arange(n) * s + b for b, s, n in zip(a["begin"], a["step"], a["shape"]))
        return [inputs[0][np.ix_(*idx)].copy()]

    def relax(self, node, bb, args, graph):
        """A gather along every axis the slice changes (any step sign), indices as in the oracle."""
        from ..codegen.relax import const, op

        x = graph.tensors[node.inputs[0]]
        a = node.attrs
        y = args[0]
        for d, (b, s, n) in enumerate(zip(a["begin"], a["step"], a["shape"])):
            idx = np.arange(n) * s + b
            if not np.array_equal(idx, np.arange(x.shape[d])):
                y = op.take(y, const(idx, "int64"), axis=d)
        return y

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        a = node.attrs
        ist = strides(x.shape)
        base = sum(b * s for b, s in zip(a["begin"], ist))
        src = index_expr("i", [st * s for st, s in zip(a["step"], ist)])
        body = f"y0[{index_expr('i', strides(tuple(a['shape'])))}] = x0[{base} + {src}];"
        return CKernel("loop", {"dims": list(a["shape"]), "body": body})
