"""QAdd: int8 addition with broadcasting, TFLM ADD arithmetic (int8: left_shift 20).

attrs: zp_a, zp_b, out_zp, mult_a/shift_a, mult_b/shift_b (QuantizeMultiplier of s_a/(2·max(s_a,s_b))
and s_b/(2·max)), mult_out/shift_out (of 2·max/(2^20·s_out)), act_min, act_max.
a' = MBQM((qa − zp_a)·2^20, mult_a, shift_a); b' likewise;
y  = clamp(MBQM(a' + b', mult_out, shift_out) + out_zp, act_min, act_max)
"""
from __future__ import annotations

import numpy as np

from ..quantize.fixedpoint import multiply_by_quantized_multiplier as mbqm
from .common import broadcast_shape, index_expr, loop_nest
from .registry import CKernel, OpDef, register

LEFT_SHIFT = 20


def add_params(s_a: float, s_b: float, s_out: float) -> dict:
    """The multipliers TFLM's PrepareGeneralSubOp/Add computes (in double)."""
    from ..quantize.fixedpoint import quantize_multiplier

    twice_max = 2.0 * max(s_a, s_b)
    ma, sa = quantize_multiplier(s_a / twice_max)
    mb, sb = quantize_multiplier(s_b / twice_max)
    mo, so = quantize_multiplier(twice_max / ((1 << LEFT_SHIFT) * s_out))
    return {"mult_a": ma, "shift_a": sa, "mult_b": mb, "shift_b": sb, "mult_out": mo, "shift_out": so}


class QBinary(OpDef):
    """Two int8 operands with broadcasting, one int8 result; subclasses give the oracle and the
    C expression of one element (`element(attrs, a, b)`, a/b being C int8 reads)."""

    fixedpoint = True
    inplace = True
    verb = "combines"

    def infer(self, node, inputs):
        if any(t.dtype != "int8" for t in inputs) or len(inputs) != 2:
            raise ValueError(f"{self.name} {self.verb} two int8 tensors")
        return [(broadcast_shape(inputs[0].shape, inputs[1].shape), "int8")]

    def element(self, a: dict, xa: str, xb: str) -> str:
        raise NotImplementedError

    def c_kernel(self, node, graph, ctx):
        sa, sb = graph.tensors[node.inputs[0]].shape, graph.tensors[node.inputs[1]].shape
        ln = loop_nest(graph.tensors[node.outputs[0]].shape, [sa, sb])
        xa = f"x0[{index_expr('i', ln['istrides'][0])}]"
        xb = f"x1[{index_expr('i', ln['istrides'][1])}]"
        body = f"y0[{index_expr('i', ln['ostrides'])}] = {self.element(node.attrs, xa, xb)};"
        return CKernel("loop", {"dims": ln["dims"], "body": body})


@register
class QAdd(QBinary):
    name = "QAdd"
    verb = "adds"

    def reference(self, node, inputs):
        a = node.attrs
        qa = mbqm((inputs[0].astype(np.int64) - a["zp_a"]) << LEFT_SHIFT, a["mult_a"], a["shift_a"])
        qb = mbqm((inputs[1].astype(np.int64) - a["zp_b"]) << LEFT_SHIFT, a["mult_b"], a["shift_b"])
        y = mbqm(qa + qb, a["mult_out"], a["shift_out"]) + a["out_zp"]
        return [np.clip(y, a["act_min"], a["act_max"]).astype(np.int8)]

    def element(self, a, xa, xb):
        qa = f"convc_mbqm(((int32_t){xa} - {a['zp_a']}) * {1 << LEFT_SHIFT}, {a['mult_a']}, {a['shift_a']})"
        qb = f"convc_mbqm(((int32_t){xb} - {a['zp_b']}) * {1 << LEFT_SHIFT}, {a['mult_b']}, {a['shift_b']})"
        return (f"convc_clamp_i8(convc_mbqm({qa} + {qb}, {a['mult_out']}, {a['shift_out']}) + {a['out_zp']}, "
                f"{a['act_min']}, {a['act_max']})")
