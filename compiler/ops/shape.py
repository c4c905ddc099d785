"""Shape, Size, ConstantOfShape, Range: the shape arithmetic PyTorch and Paddle exports feed
into Reshape/Expand/Slice. With input shapes fixed these are always constants; they are
evaluated at import (Range and ConstantOfShape need constant inputs and say so otherwise)."""
from __future__ import annotations

import numpy as np

from .registry import OpDef, register


class _FoldOnly(OpDef):
    """An op whose output is a constant computed by `import_onnx`; it never becomes an IR node."""


@register
class Shape(_FoldOnly):
    name = "Shape"
    onnx_types = ("Shape",)

    def import_onnx(self, ctx, node):
        a = ctx.attrs(node)
        shape = np.array(ctx.tensor(node.input[0]).shape, np.int64)
        r = len(shape)
        start, end = int(a.get("start", 0)), int(a.get("end", r))
        start, end = [min(max(v + r if v < 0 else v, 0), r) for v in (start, end)]
        ctx.add_const(node.output[0], shape[start:end].copy())


@register
class Size(_FoldOnly):
    name = "Size"
    onnx_types = ("Size",)

    def import_onnx(self, ctx, node):
        ctx.add_const(node.output[0], np.array(int(np.prod(ctx.tensor(node.input[0]).shape, dtype=np.int64)), np.int64))


@register
class ConstantOfShape(_FoldOnly):
    name = "ConstantOfShape"
    onnx_types = ("ConstantOfShape",)

    def import_onnx(self, ctx, node):
        shape = ctx.require_const(node, 0, "shape")
        value = ctx.attrs(node).get("value")
        value = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
        if any(int(d) <= 0 for d in np.ravel(shape)):
            raise ctx.unsupported(node, f"shape {np.ravel(shape).tolist()} is empty; empty tensors are not supported")
        ctx.add_const(node.output[0], np.full([int(d) for d in np.ravel(shape)], value[0], value.dtype))


@register
class Range(_FoldOnly):
    name = "Range"
    onnx_types = ("Range",)

    def import_onnx(self, ctx, node):
        vals = [ctx.require_const(node, i, what) for i, what in enumerate(("start", "limit", "delta"))]
        start, limit, delta = (v.reshape(()) for v in vals)
        if delta == 0:
            raise ctx.unsupported(node, "delta is 0")
        n = max(int(np.ceil((limit - start) / delta)), 0)
        if n == 0:
            raise ctx.unsupported(node, "the range is empty; empty tensors are not supported")
        ctx.add_const(node.output[0], (start + np.arange(n) * delta).astype(start.dtype))
