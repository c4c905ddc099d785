"""QSoftmax: int8 Softmax exactly as TFLM's reference_ops::Softmax (gemmlowp fixed point):
output scale 1/256, zero point −128, over the innermost `depth` elements of each row.
attrs: multiplier, left_shift, diff_min (TFLM PreprocessSoftmaxScaling / CalculateInputRadius of
the input scale, beta 1), depth."""
from __future__ import annotations

import numpy as np

from ..quantize.fixedpoint import SOFTMAX_ACCUM_INT_BITS, softmax_int8
from .registry import CKernel, OpDef, register


@register
class QSoftmax(OpDef):
    name = "QSoftmax"
    fixedpoint = True

    def infer(self, node, inputs):
        x = inputs[0]
        if x.dtype != "int8" or x.size % node.attrs["depth"]:
            raise ValueError("QSoftmax reads int8 rows of `depth` elements")
        return [(x.shape, "int8")]

    def reference(self, node, inputs):
        a = node.attrs
        x = inputs[0]
        y = softmax_int8(x.reshape(-1, a["depth"]), a["multiplier"], a["left_shift"], a["diff_min"])
        return [y.reshape(x.shape)]

    def c_kernel(self, node, graph, ctx):
        a = node.attrs
        x = graph.tensors[node.inputs[0]]
        return CKernel("qsoftmax", {"rows": x.size // a["depth"], "depth": a["depth"], "multiplier": a["multiplier"],
                                    "left_shift": a["left_shift"], "diff_min": a["diff_min"],
                                    "accum_bits": SOFTMAX_ACCUM_INT_BITS, "out_shift": 31 - 8, "out_zp": -128})
