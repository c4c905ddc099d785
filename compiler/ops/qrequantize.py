"""QRequantize: int8 → int8 with other quantization parameters (TFLM's int8 QUANTIZE/REQUANTIZE):
y = clamp(MBQM(q − in_zp, multiplier, shift) + out_zp, −128, 127), multiplier/shift of s_in/s_out.
Used to bring Concat inputs to the output's scale."""
from __future__ import annotations

import numpy as np

from ..quantize.fixedpoint import requantize
from .registry import CKernel, OpDef, register


@register
class QRequantize(OpDef):
    name = "QRequantize"
    fixedpoint = True
    inplace = True

    def infer(self, node, inputs):
        if inputs[0].dtype != "int8":
            raise ValueError("QRequantize reads int8")
        return [(inputs[0].shape, "int8")]

    def reference(self, node, inputs):
        a = node.attrs
        return [requantize(inputs[0].astype(np.int64) - a["in_zp"], a["multiplier"], a["shift"], a["out_zp"], -128, 127)]

    def c_kernel(self, node, graph, ctx):
        a = node.attrs
        x = graph.tensors[node.inputs[0]]
        body = (f"y0[i0] = convc_clamp_i8(convc_mbqm((int32_t)x0[i0] - {a['in_zp']}, {a['multiplier']}, {a['shift']}) "
                f"+ {a['out_zp']}, -128, 127);")
        return CKernel("loop", {"dims": [x.size], "body": body})
