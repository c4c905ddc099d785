"""QuantizeLinear (float → int8) and DequantizeLinear (int8 → float) at the edges of int8 regions,
per-tensor, TFLM arithmetic: q = clamp(round(x / scale) + zp) with a float32 division and rounding
half away from zero; x = (float)(q − zp) · scale in float32.

Imported from ONNX (QDQ models quantized elsewhere): scales and zero points must be constants;
int8 and uint8 (attr `dtype`, default int8). DequantizeLinear of a constant (per-axis int8/uint8
weights, int32 bias) folds at import, and the float result keeps its quantization parameters
(`Tensor.quant`, always in the int8 domain: a uint8 zero point z is int8 z − 128, the same real
values) so the int8 rewrite reuses them instead of re-deriving.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError
from ..ir import QuantParams
from ..quantize.fixedpoint import round_half_away
from .registry import CKernel, OpDef, register


RANGE = {"int8": (-128, 127), "uint8": (0, 255)}


def _zero_point(ctx, node, index: int, what: str) -> tuple[np.ndarray, str]:
    """(zero point as an int array, its ONNX element type)."""
    zp = ctx.require_const(node, index, what)
    if zp is None:
        return np.zeros(1, np.int32), "uint8"  # ONNX default: uint8 zero point 0
    if zp.dtype in (np.uint8, np.int8, np.int32):
        return zp.astype(np.int32).ravel(), zp.dtype.name
    raise ctx.unsupported(node, f"{what} of type {zp.dtype} is not supported (int8, uint8; int32 for biases)")


@register
class QuantizeLinear(OpDef):
    name = "QuantizeLinear"  # attrs: scale (float32 value), zero_point
    onnx_types = ("QuantizeLinear",)

    def import_onnx(self, ctx, node):
        scale = ctx.require_const(node, 1, "y_scale")
        if scale is None or scale.size != 1:
            raise ctx.unsupported(node, "per-axis QuantizeLinear is not supported (activations are per-tensor)")
        zp, dtype = _zero_point(ctx, node, 2, "y_zero_point")
        if zp.size != 1 or dtype not in RANGE:
            raise ctx.unsupported(node, "the zero point must be one int8 or uint8 value")
        if ctx.attrs(node).get("saturate", 1) != 1 or ctx.attrs(node).get("output_dtype", 0):
            raise ctx.unsupported(node, "saturate=0 and output_dtype are not supported")
        attrs = {"scale": float(np.float32(scale.item())), "zero_point": int(zp[0])}
        if dtype == "uint8":
            attrs["dtype"] = "uint8"
        ctx.emit("QuantizeLinear", [node.input[0]], [node.output[0]], attrs, node=node)

    def infer(self, node, inputs):
        if inputs[0].dtype != "float32":
            raise ValueError(f"QuantizeLinear reads float32, not {inputs[0].dtype}")
        return [(inputs[0].shape, node.attrs.get("dtype", "int8"))]

    def reference(self, node, inputs):
        zp = int(node.attrs["zero_point"])
        dt = node.attrs.get("dtype", "int8")
        lo, hi = RANGE[dt]
        t = round_half_away(inputs[0].astype(np.float32) / np.float32(node.attrs["scale"]))
        return [(np.clip(t, lo - zp, hi - zp) + zp).astype(dt)]

    def c_kernel(self, node, graph, ctx):
        zp = int(node.attrs["zero_point"])
        dt = node.attrs.get("dtype", "int8")
        lo, hi = (ctx.literal(v - zp, "float32") for v in RANGE[dt])
        x = graph.tensors[node.inputs[0]]
        body = (f"float t = roundf(x0[i0] / {ctx.literal(node.attrs['scale'], 'float32')}); "
                f"t = t < {lo} ? {lo} : (t > {hi} ? {hi} : t); "
                f"y0[i0] = ({ctx.ctype(dt)})((int32_t)t + {zp});")
        return CKernel("loop", {"dims": [x.size], "body": body})


@register
class DequantizeLinear(OpDef):
    """attrs: scale, zero_point (scalars, or per-axis lists with `axis` for constant weights)."""

    name = "DequantizeLinear"
    onnx_types = ("DequantizeLinear",)

    def import_onnx(self, ctx, node):
        scale = ctx.require_const(node, 1, "x_scale")
        if scale is None:
            raise ctx.unsupported(node, "x_scale is required")
        zp, _ = _zero_point(ctx, node, 2, "x_zero_point")
        x = node.input[0]
        data = ctx.const(x)
        a = ctx.attrs(node)
        in_dt = ctx.tensor(x).dtype
        if in_dt not in ("int8", "uint8") and not (in_dt == "int32" and data is not None):
            raise ctx.unsupported(node, f"input of type {in_dt} is not supported (int8, uint8; int32 constants)")
        per_axis = scale.size > 1
        axis = int(a.get("axis", 1)) if per_axis else None
        if per_axis and data is None:
            raise ctx.unsupported(node, "per-axis DequantizeLinear of a run-time tensor is not supported")
        if int(a.get("block_size", 0)):
            raise ctx.unsupported(node, "blocked quantization is not supported")
        sc = scale.astype(np.float32).ravel()
        zps = np.broadcast_to(zp, sc.shape).astype(np.int32)
        shift = 128 if in_dt == "uint8" else 0  # the annotation is in the int8 domain
        attrs = {"scale": sc.tolist() if per_axis else float(sc[0]),
                 "zero_point": zps.tolist() if per_axis else int(zps[0])}
        if per_axis:
            rank = len(ctx.tensor(x).shape)
            attrs["axis"] = axis % rank
        ctx.emit("DequantizeLinear", [x], [node.output[0]], attrs, node=node)
        out = ctx.tensor(node.output[0])
        out.quant = QuantParams(sc, zps - shift, attrs.get("axis"))  # the float tensor remembers its int8 form

    def infer(self, node, inputs):
        if inputs[0].dtype not in ("int8", "uint8", "int32"):
            raise ValueError(f"DequantizeLinear reads int8 or uint8 (or int32 constants), not {inputs[0].dtype}")
        return [(inputs[0].shape, "float32")]

    def _bcast(self, node, v, rank):
        v = np.asarray(v)
        if v.ndim == 0 or "axis" not in node.attrs:
            return v
        return v.reshape([-1 if d == node.attrs["axis"] else 1 for d in range(rank)])

    def reference(self, node, inputs):
        x = inputs[0]
        zp = self._bcast(node, np.asarray(node.attrs["zero_point"], np.int64), x.ndim)
        sc = self._bcast(node, np.asarray(node.attrs["scale"], np.float32), x.ndim)
        return [(x.astype(np.int64) - zp).astype(np.float32) * sc]

    def c_kernel(self, node, graph, ctx):
        if "axis" in node.attrs or graph.tensors[node.inputs[0]].dtype not in RANGE:
            raise UnsupportedError(f"node '{node.name}' (DequantizeLinear): only per-tensor int8/uint8 runs in C "
                                   f"(per-axis and int32 forms fold into constants)")
        x = graph.tensors[node.inputs[0]]
        body = (f"y0[i0] = (float)((int32_t)x0[i0] - {int(node.attrs['zero_point'])}) * "
                f"{ctx.literal(node.attrs['scale'], 'float32')};")
        return CKernel("loop", {"dims": [x.size], "body": body})
