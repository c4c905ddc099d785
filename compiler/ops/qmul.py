"""QMul: int8 multiplication with broadcasting, TFLM MUL arithmetic.
attrs: zp_a, zp_b, out_zp, multiplier/shift (QuantizeMultiplier of s_a·s_b/s_out), act_min, act_max.
y = clamp(MBQM((qa − zp_a)·(qb − zp_b), multiplier, shift) + out_zp, act_min, act_max)"""
from __future__ import annotations

import numpy as np

from ..quantize.fixedpoint import multiply_by_quantized_multiplier as mbqm
from .qadd import QBinary
from .registry import register


@register
class QMul(QBinary):
    name = "QMul"
    verb = "multiplies"

    def reference(self, node, inputs):
        a = node.attrs
        raw = (inputs[0].astype(np.int64) - a["zp_a"]) * (inputs[1].astype(np.int64) - a["zp_b"])
        y = mbqm(raw, a["multiplier"], a["shift"]) + a["out_zp"]
        return [np.clip(y, a["act_min"], a["act_max"]).astype(np.int8)]

    def element(self, a, xa, xb):
        return (f"convc_clamp_i8(convc_mbqm(((int32_t){xa} - {a['zp_a']}) * ((int32_t){xb} - {a['zp_b']}), "
                f"{a['multiplier']}, {a['shift']}) + {a['out_zp']}, {a['act_min']}, {a['act_max']})")
