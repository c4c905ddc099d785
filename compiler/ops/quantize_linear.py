"""QuantizeLinear (float → int8) and DequantizeLinear (int8 → float) at the edges of int8 regions,
per-tensor, TFLM arithmetic: q = clamp(round(x / scale) + zp) with a float32 division and rounding
half away from zero; x = (float)(q − zp) · scale in float32."""
from __future__ import annotations

import numpy as np

from ..quantize.fixedpoint import round_half_away
from .registry import CKernel, OpDef, register


@register
class QuantizeLinear(OpDef):
    name = "QuantizeLinear"  # attrs: scale (float32 value), zero_point

    def infer(self, node, inputs):
        if inputs[0].dtype != "float32":
            raise ValueError(f"QuantizeLinear reads float32, not {inputs[0].dtype}")
        return [(inputs[0].shape, "int8")]

    def reference(self, node, inputs):
        zp = int(node.attrs["zero_point"])
        t = round_half_away(inputs[0].astype(np.float32) / np.float32(node.attrs["scale"]))
        return [(np.clip(t, -128 - zp, 127 - zp) + zp).astype(np.int8)]

    def c_kernel(self, node, graph, ctx):
        zp = int(node.attrs["zero_point"])
        x = graph.tensors[node.inputs[0]]
        body = (f"float t = roundf(x0[i0] / {ctx.literal(node.attrs['scale'], 'float32')}); "
                f"t = t < {ctx.literal(-128 - zp, 'float32')} ? {ctx.literal(-128 - zp, 'float32')} : "
                f"(t > {ctx.literal(127 - zp, 'float32')} ? {ctx.literal(127 - zp, 'float32')} : t); "
                f"y0[i0] = (int8_t)((int32_t)t + {zp});")
        return CKernel("loop", {"dims": [x.size], "body": body})


@register
class DequantizeLinear(OpDef):
    name = "DequantizeLinear"  # attrs: scale (float32 value), zero_point

    def infer(self, node, inputs):
        if inputs[0].dtype != "int8":
            raise ValueError(f"DequantizeLinear reads int8, not {inputs[0].dtype}")
        return [(inputs[0].shape, "float32")]

    def reference(self, node, inputs):
        q = inputs[0].astype(np.int32) - int(node.attrs["zero_point"])
        return [q.astype(np.float32) * np.float32(node.attrs["scale"])]

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        body = (f"y0[i0] = (float)((int32_t)x0[i0] - {int(node.attrs['zero_point'])}) * "
                f"{ctx.literal(node.attrs['scale'], 'float32')};")
        return CKernel("loop", {"dims": [x.size], "body": body})
