"""QMul: int8 multiplication with broadcasting, TFLM MUL arithmetic.
attrs: zp_a, zp_b, out_zp, multiplier/shift (QuantizeMultiplier of s_a·s_b/s_out), act_min, act_max.
y = clamp(MBQM((qa − zp_a)·(qb − zp_b), multiplier, shift) + out_zp, act_min, act_max)"""
from __future__ import annotations

import numpy as np

from ..quantize.fixedpoint import multiply_by_quantized_multiplier as mbqm
from .common import broadcast_shape, index_expr, loop_nest
from .registry import CKernel, OpDef, register


@register
class QMul(OpDef):
    name = "QMul"
    fixedpoint = True
    inplace = True

    def infer(self, node, inputs):
        if any(t.dtype != "int8" for t in inputs) or len(inputs) != 2:
            raise ValueError("QMul multiplies two int8 tensors")
        return [(broadcast_shape(inputs[0].shape, inputs[1].shape), "int8")]

    def reference(self, node, inputs):
        a = node.attrs
        raw = (inputs[0].astype(np.int64) - a["zp_a"]) * (inputs[1].astype(np.int64) - a["zp_b"])
        y = mbqm(raw, a["multiplier"], a["shift"]) + a["out_zp"]
        return [np.clip(y, a["act_min"], a["act_max"]).astype(np.int8)]

    def c_kernel(self, node, graph, ctx):
        a = node.attrs
        sa, sb = graph.tensors[node.inputs[0]].shape, graph.tensors[node.inputs[1]].shape
        ln = loop_nest(graph.tensors[node.outputs[0]].shape, [sa, sb])
        ia, ib = index_expr("i", ln["istrides"][0]), index_expr("i", ln["istrides"][1])
        body = (f"y0[{index_expr('i', ln['ostrides'])}] = convc_clamp_i8(convc_mbqm(((int32_t)x0[{ia}] - {a['zp_a']}) * "
                f"((int32_t)x1[{ib}] - {a['zp_b']}), {a['multiplier']}, {a['shift']}) + {a['out_zp']}, "
                f"{a['act_min']}, {a['act_max']});")
        return CKernel("loop", {"dims": ln["dims"], "body": body})
