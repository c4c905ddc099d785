"""Constant, Identity, Dropout (inference), Cast."""
from __future__ import annotations

import numpy as np

from ..frontend.onnx import onnx_dtype
from .registry import CKernel, OpDef, register


@register
class Constant(OpDef):
    name = "Constant"
    onnx_types = ("Constant",)

    def import_onnx(self, ctx, node):
        a = ctx.attrs(node)
        if "value" in a:
            v = np.asarray(a["value"])
        elif "value_float" in a:
            v = np.array(a["value_float"], np.float32)
        elif "value_floats" in a:
            v = np.array(a["value_floats"], np.float32)
        elif "value_int" in a:
            v = np.array(a["value_int"], np.int64)
        elif "value_ints" in a:
            v = np.array(a["value_ints"], np.int64)
        else:
            raise ctx.unsupported(node, f"attribute {sorted(a)} is not supported (sparse or string constants)")
        ctx.emit("Constant", [], [node.output[0]], {"value": v}, node=node)

    def infer(self, node, inputs):
        v = node.attrs["value"]
        return [(v.shape, v.dtype.name)]

    def reference(self, node, inputs):
        return [node.attrs["value"]]

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import const

        v = node.attrs["value"]
        return const(v, v.dtype.name)


@register
class Identity(OpDef):
    """Also Dropout at inference (mask output, if asked for, is all ones)."""

    name = "Identity"
    onnx_types = ("Identity", "Dropout")
    inplace = True

    def import_onnx(self, ctx, node):
        if node.op_type == "Dropout" and ctx.opset < 7 and not ctx.attrs(node).get("is_test", 0):
            raise ctx.unsupported(node, "is_test=0 (training-mode dropout, opset < 7) is not an inference op")
        if node.op_type == "Dropout" and len(node.input) > 2 and node.input[2]:
            training = ctx.const(node.input[2])
            ratio = ctx.const(node.input[1]) if node.input[1] else np.array(0.5)
            if training is None:
                raise ctx.unsupported(node, "training_mode is computed at run time; only inference is supported")
            if bool(training) and (ratio is None or float(ratio) != 0.0):
                raise ctx.unsupported(node, "training_mode=1 (random dropout) is not an inference op")
        ctx.emit("Identity", [node.input[0]], [node.output[0]], {}, node=node)
        if node.op_type == "Dropout" and len(node.output) > 1 and node.output[1]:
            shape = ctx.tensor(node.input[0]).shape
            ctx.add_const(node.output[1], np.ones(shape, bool))

    def infer(self, node, inputs):
        return [(inputs[0].shape, inputs[0].dtype)]

    def reference(self, node, inputs):
        return [inputs[0].copy()]

    def relax(self, node, bb, args, graph):
        return args[0]

    def c_kernel(self, node, graph, ctx):
        t = graph.tensors[node.inputs[0]]
        return CKernel("loop", {"dims": [t.size], "body": "y0[i0] = x0[i0];"})


@register
class Cast(OpDef):
    name = "Cast"
    onnx_types = ("Cast",)
    float_to_int = "trunc"

    def import_onnx(self, ctx, node):
        to = onnx_dtype(int(ctx.attrs(node)["to"]), f"node '{node.name}' (Cast)")
        ctx.emit("Cast", [node.input[0]], [node.output[0]], {"to": to}, node=node)

    def infer(self, node, inputs):
        return [(inputs[0].shape, node.attrs["to"])]

    def reference(self, node, inputs):
        x = inputs[0]
        to = np.dtype(node.attrs["to"])
        if to == np.bool_:
            return [x != 0]
        return [x.astype(to)]

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import const, op

        if node.attrs["to"] == "bool":
            return op.not_equal(args[0], const(0, graph.tensors[node.inputs[0]].dtype))
        return op.astype(args[0], node.attrs["to"])

    def c_kernel(self, node, graph, ctx):
        t = graph.tensors[node.inputs[0]]
        to = node.attrs["to"]
        expr = "(x0[i0] != 0)" if to == "bool" else f"({ctx.ctype(to)})x0[i0]"
        return CKernel("loop", {"dims": [t.size], "body": f"y0[i0] = {expr};"})
