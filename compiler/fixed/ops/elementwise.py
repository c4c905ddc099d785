"""Element-wise ops in fixed point: Add, Sub, Mul, PRelu, unfolded BatchNormalization, unfused Relu/Clip/LeakyRelu."""
from __future__ import annotations

import numpy as np

from ...errors import UnsupportedError
from ..format import quantize, shift_round
from .common import FxOp, Layer, PassFx, apply_activation, conv_out, fx_op, lower_activation, need_const


class _BinaryFx(FxOp):
    """Element-wise Add / Sub / Mul with numpy broadcasting; an operand may be a constant, quantized
    with the layer's weight format. Add/Sub align both operands exactly to max(F_a, F_b) fractional
    bits; Mul keeps F_a + F_b; then the result is converted to the output format."""

    has_weights = True  # a constant operand, if any, takes the weight format

    def weight_input(self, node, graph):
        return next((i for i in node.inputs if i and graph.tensors[i].is_const), None)

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        y = graph.tensors[node.outputs[0]]
        computed = iter(in_fmts)
        ops, k = [], 0
        for i in node.inputs:
            t = graph.tensors[i]
            if t.is_const:
                ops.append({"const": f"k{len(ops)}", "fmt": weight_fmt, "shape": tuple(t.shape)})
            else:
                ops.append({"arg": k, "fmt": next(computed), "shape": tuple(t.shape)})
                k += 1
        fa, fb = ops[0]["fmt"], ops[1]["fmt"]
        if self.mul_like:
            F, shifts, bits = fa.F + fb.F, [0, 0], fa.W + fb.W + 1 + fb.F
        else:
            F = max(fa.F, fb.F)
            shifts = [F - fa.F, F - fb.F]
            bits = max(fa.W + shifts[0], fb.W + shifts[1]) + 2
        if bits > 63:
            raise UnsupportedError(f"node '{node.name}' ({node.op}): {fa.short()} and {fb.short()} exceed 64-bit arithmetic")
        L = Layer(node, self, in_fmts, out_fmt, weight_fmt=weight_fmt)
        L.p = {"F": F, "shifts": shifts, "ops": ops, "out_shape": tuple(y.shape), "fb": fb.F}
        for o in ops:
            if "const" in o:
                L.consts[o["const"]] = (quantize(graph.tensors[node.inputs[ops.index(o)]].data, weight_fmt), weight_fmt.ctype)
        return L

    mul_like = False  # the result keeps F_a + F_b fractional bits (Mul, PRelu) instead of max(F_a, F_b)

    def combine(self, a, b, p):
        raise NotImplementedError

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        r = len(p["out_shape"])
        vals = []
        for o, sh in zip(p["ops"], p["shifts"]):
            if "const" in o:
                v = L.consts[o["const"]][0].astype(np.int64).reshape((1,) * (r - len(o["shape"])) + o["shape"])
            else:
                v = ins[o["arg"]].reshape((S,) + (1,) * (r - len(o["shape"])) + o["shape"])
            vals.append(shift_round(v, -sh, "trn"))
        v = np.broadcast_to(self.combine(vals[0], vals[1], p), (S, *p["out_shape"]))
        return conv_out(v, p["F"], L.out_fmt)


@fx_op
class AddFx(_BinaryFx):
    name = "Add"

    def combine(self, a, b, p):
        return a + b


@fx_op
class SubFx(_BinaryFx):
    name = "Sub"

    def combine(self, a, b, p):
        return a - b


@fx_op
class MulFx(_BinaryFx):
    name = "Mul"
    mul_like = True

    def combine(self, a, b, p):
        return a * b


@fx_op
class PReluFx(_BinaryFx):
    """PRelu: x · slope below zero (at F_x + F_slope), x shifted exactly to that precision above."""

    name = "PRelu"
    mul_like = True

    def combine(self, a, b, p):
        return np.where(a < 0, a * b, a * np.int64(1 << p["fb"]))


@fx_op
class BatchNormalizationFx(FxOp):
    """Unfolded BatchNormalization: y = x · a + c per channel, a = scale / sqrt(var + eps) at the weight
    format, c = B − mean · a at F_x + F_a fractional bits (rounded half up); the sum is exact, then converted."""

    name = "BatchNormalization"
    has_weights = True

    def affine(self, node, graph):
        scale, b, mean, var = (need_const(node, graph, k, n) for k, n in ((1, "scale"), (2, "bias"), (3, "mean"), (4, "var")))
        a = scale / np.sqrt(var + float(node.attrs["epsilon"]))
        return a, b - mean * a

    def weight_values(self, node, graph):
        return self.affine(node, graph)[0]

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        x = graph.tensors[node.inputs[0]]
        a, c = self.affine(node, graph)
        F = in_fmts[0].F + weight_fmt.F
        cq = np.floor(c * 2.0 ** F + 0.5)
        if in_fmts[0].W + weight_fmt.W + 2 > 62 or (cq.size and float(np.max(np.abs(cq))) >= 2.0 ** 61):
            raise UnsupportedError(f"node '{node.name}' (BatchNormalization): formats too wide for 64-bit arithmetic")
        L = Layer(node, self, in_fmts, out_fmt, weight_fmt=weight_fmt, macs=x.size)
        inner = int(np.prod(x.shape[2:], dtype=np.int64)) if len(x.shape) > 2 else 1
        L.p = {"outer": x.shape[0], "channels": x.shape[1] if len(x.shape) > 1 else 1, "inner": inner, "F": F}
        L.consts = {"w": (quantize(a, weight_fmt), weight_fmt.ctype), "shift": (cq.astype(np.int64), "int64_t")}
        return L

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        x = ins[0].reshape(S, p["outer"], p["channels"], p["inner"])
        a = L.consts["w"][0].astype(np.int64).reshape(1, 1, -1, 1)
        c = L.consts["shift"][0].reshape(1, 1, -1, 1)
        y, nov = conv_out(x * a + c, p["F"], L.out_fmt)
        return y.reshape((S, *L.node_out_shape)), nov


class _ElementwiseActFx(PassFx):
    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        L = Layer(node, self, in_fmts, out_fmt)
        f = in_fmts[0]
        spec = {"op": node.op, **node.attrs}
        L.p = {"size": graph.tensors[node.inputs[0]].size, "act": lower_activation(node, spec, f.F, f.W)}
        return L

    def simulate(self, L, ins):
        v = apply_activation(L.p["act"], ins[0])
        return conv_out(v, L.out_fmt.F, L.out_fmt)


@fx_op
class ReluFx(_ElementwiseActFx):
    name = "Relu"


@fx_op
class ClipFx(_ElementwiseActFx):
    name = "Clip"


@fx_op
class LeakyReluFx(_ElementwiseActFx):
    name = "LeakyRelu"
