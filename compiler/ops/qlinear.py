"""ONNX QLinearConv and QLinearMatMul (the "QOperator" form of quantized models) imported as the
QDQ form convc understands: DequantizeLinear on the inputs and weights, the float Conv / MatMul,
QuantizeLinear on the output. The int8 rewrite then turns that back into QConv / QGemm with the
model's own scales, zero points and int8 weights. These ONNX types have no IR op of their own:
`infer` and `reference` are never reached."""
from __future__ import annotations

import numpy as np
from onnx import helper

from .registry import OpDef, get_op, register


class _QLinear(OpDef):
    float_op = ""
    n_main = 2  # the two operands: (x, w) or (a, b)

    def import_onnx(self, ctx, node):
        i = list(node.input) + [""] * (9 - len(node.input))
        deq = []
        for k in range(self.n_main):  # inputs at 0/3: value, scale, zero point
            v, s, z = i[3 * k], i[3 * k + 1], i[3 * k + 2]
            out = ctx.fresh(f"{v}_dq")
            get_op("DequantizeLinear").import_onnx(ctx, helper.make_node(
                "DequantizeLinear", [v, s, z], [out], name=ctx.fresh(f"{node.name or node.op_type}_dq{k}"),
                axis=0 if k == 1 and self.float_op == "Conv" else 1))
            deq.append(out)
        ins = list(deq)
        if self.float_op == "Conv" and i[8]:  # int32 bias at scale x_scale · w_scale, zero point 0
            xs, ws = ctx.require_const(node, 1, "x_scale"), ctx.require_const(node, 4, "w_scale")
            bs = (np.float32(xs.item()) * ws.astype(np.float32)).astype(np.float32).ravel()
            bz = ctx.add_const(ctx.fresh(f"{i[8]}_zero_point"), np.zeros(bs.size, np.int32))
            bsn = ctx.add_const(ctx.fresh(f"{i[8]}_scale"), bs if bs.size > 1 else bs.reshape(()))
            out = ctx.fresh(f"{i[8]}_dq")
            get_op("DequantizeLinear").import_onnx(ctx, helper.make_node(
                "DequantizeLinear", [i[8], bsn, bz], [out], name=ctx.fresh(f"{node.name or node.op_type}_dqb"), axis=0))
            ins.append(out)
        y = ctx.fresh(f"{node.output[0]}_f")
        attrs = {k: v for k, v in ctx.attrs(node).items()}
        get_op(self.float_op).import_onnx(ctx, helper.make_node(self.float_op, ins, [y], name=node.name, **attrs))
        get_op("QuantizeLinear").import_onnx(ctx, helper.make_node(
            "QuantizeLinear", [y, i[3 * self.n_main], i[3 * self.n_main + 1]], [node.output[0]],
            name=ctx.fresh(f"{node.name or node.op_type}_q")))

    def infer(self, node, inputs):
        raise NotImplementedError(f"{self.name} is imported as DequantizeLinear / {self.float_op} / QuantizeLinear")


@register
class QLinearConv(_QLinear):
    name = "QLinearConv"
    onnx_types = ("QLinearConv",)
    float_op = "Conv"


@register
class QLinearMatMul(_QLinear):
    name = "QLinearMatMul"
    onnx_types = ("QLinearMatMul",)
    float_op = "MatMul"
