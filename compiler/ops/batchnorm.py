"""BatchNormalization (inference): y = (x - mean) / sqrt(var + eps) * scale + B, channel axis 1.
Usually folded into the producing Conv/Gemm (passes.fold_batchnorm); this is the op for the rest."""
from __future__ import annotations

import numpy as np

from .common import need_float
from .registry import CKernel, OpDef, register


@register
class BatchNormalization(OpDef):
    name = "BatchNormalization"
    onnx_types = ("BatchNormalization",)

    def import_onnx(self, ctx, node):
        a = ctx.attrs(node)
        if a.get("training_mode", 0) or (ctx.opset < 7 and not a.get("is_test", 0)):
            raise ctx.unsupported(node, "training_mode=1 is not supported (inference only)")
        if len([o for o in node.output if o]) > 1:
            raise ctx.unsupported(node, "running mean/var outputs are training-only")
        if ctx.opset < 9 and a.get("spatial", 1) == 0:
            raise ctx.unsupported(node, "spatial=0 is not supported")
        ctx.emit(self.name, list(node.input[:5]), [node.output[0]],
                 {"epsilon": float(a.get("epsilon", 1e-5))}, node=node)

    def infer(self, node, inputs):
        x = inputs[0]
        need_float(node, x.dtype)
        c = x.shape[1] if len(x.shape) > 1 else 1
        for t in inputs[1:]:
            if t.shape != (c,):
                raise ValueError(f"parameter shape {list(t.shape)} != [{c}]")
        return [(x.shape, x.dtype)]

    def reference(self, node, inputs):
        x, scale, b, mean, var = inputs
        shape = (1, -1) + (1,) * (x.ndim - 2)
        eps = x.dtype.type(node.attrs["epsilon"])
        y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * scale.reshape(shape) + b.reshape(shape)
        return [y.astype(x.dtype)]

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import const, op

        x, scale, b, mean, var = args
        xt = graph.tensors[node.inputs[0]]
        shape = [-1] + [1] * (len(xt.shape) - 2)  # per channel, broadcast over axis 1
        r = lambda p: op.reshape(p, shape)  # noqa: E731
        inv = op.divide(r(scale), op.sqrt(op.add(r(var), const(node.attrs["epsilon"], xt.dtype))))
        return op.add(op.multiply(op.subtract(x, r(mean)), inv), r(b))

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        inner = int(np.prod(x.shape[2:], dtype=np.int64)) if len(x.shape) > 2 else 1
        args = {"outer": x.shape[0], "channels": x.shape[1] if len(x.shape) > 1 else 1, "inner": inner,
                "eps": ctx.literal(node.attrs["epsilon"], x.dtype), "sqrt": "sqrtf" if x.dtype == "float32" else "sqrt"}
        return CKernel("batchnorm", args)
