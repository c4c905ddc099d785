"""Fixed-point semantics of the IR ops: one `FxOp` per op kind, registered by op name.

Each op lowers a node of the optimized float graph to a `Layer` — every integer the generated C
needs (quantized weights and biases, shifts, clamp bounds, reciprocal tables, geometry) — and
simulates that layer on int64 NumPy arrays. The simulator (`simulate.py`) and the HLS backend
(`codegen/hls.py`) both read the same `Layer`, so the C prints numbers the simulator used.

Arrays in the simulator carry one extra leading axis, the sample axis: a tensor [1, C, H, W]
is simulated as [S, 1, C, H, W].

Arithmetic, per layer kind (every value is an integer with a known number of fractional bits):
  Conv / ConvTranspose / Gemm / MatMul
                        acc = bias + Σ x·w at F_x + F_w fractional bits, in an accumulator sized
                        from bit growth: W_acc = max(I_x + I_w + ceil(log2 K), I_b) + 1 + F_acc
                        (cannot overflow); fused Relu / Clip act on acc; LeakyRelu multiplies
                        negative acc by alpha (16 fractional bits, round half up); then acc is
                        converted to the output format (its rounding and overflow modes).
  Add / Sub / Mul       (broadcasting; a constant operand takes the weight format) Add/Sub align both
                        operands exactly to max(F_a, F_b), Mul keeps F_a + F_b; then converted.
  Concat                each input converted to the output format.
  AveragePool /         sum of the window (exact), times round(2^R / n) with R = 16 + ceil(log2 n_max),
  GlobalAveragePool     converted from F_x + R fractional bits: the reciprocal's relative error is
                        below 2^-17, the final rounding is the output format's.
  MaxPool, GlobalMaxPool, Reshape, Transpose, Relu, Clip, LeakyRelu (unfused), Pad (constant):
                        the output keeps the input's format.
  Sigmoid, Tanh, HardSigmoid, HardSwish (unfused): a lookup table over the input format (_LutFx).
  Softmax               an exp table on max − x, an exact sum, one rounded integer division (SoftmaxFx).
  Slice, Gather, Expand, Tile: a copy through a source-index table (_GatherFx); Split: copies.
  Resize (any mode, spatial axes): Σ taps · weights at 2·15 extra fractional bits, one rounding (ResizeFx).
  ReduceMean/Sum/Max/Min: exact sums / comparisons over index tables, Mean by reciprocal (ReduceFx).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UnsupportedError, UsageError
from ..ir import Graph, Node
from ..ops.registry import get_op
from .format import Fixed, convert, div_round, out_of_range, quantize, shift_round, wrap

ALPHA_FRAC = 16  # fractional bits of LeakyRelu slopes
RECIP_EXTRA = 16  # significant bits of average-pool reciprocals beyond log2(n)


@dataclass
class Acc:
    """Accumulator: W bits (two's complement), F fractional bits; C type int32 or int64."""

    W: int
    F: int
    # a user-narrowed accumulator (config "accum"): each product is brought from F_x + F_w to F
    # fractional bits (`term_shift` > 0: rounded with `rounding`; < 0: shifted left, exact), and the
    # sum wraps modulo 2^W (AP_WRAP; modular addition does not depend on the summation order)
    narrowed: bool = False
    term_shift: int = 0
    rounding: str = "trn"

    @property
    def ctype(self) -> str:
        return "int32_t" if self.W <= 32 and not self.narrowed else "int64_t"


@dataclass
class Layer:
    node: Node
    kind: "FxOp"
    in_fmts: list[Fixed]
    out_fmt: Fixed
    p: dict[str, Any] = field(default_factory=dict)  # geometry and integer parameters
    consts: dict[str, tuple[np.ndarray, str]] = field(default_factory=dict)  # role → (ints, C type)
    acc: Acc | None = None
    weight_fmt: Fixed | None = None
    macs: int = 0
    node_out_shape: tuple[int, ...] = ()
    weight_tensor: str | None = None  # the constant input quantized with weight_fmt
    weight_values: np.ndarray | None = None  # the real values quantized with weight_fmt (for range checks)


class FxOp:
    name = ""
    passthrough = False  # output format = input 0's format (no requantization)
    has_weights = False  # a constant input takes the layer's weight format (`weight_input`)
    accumulates = False  # a multiply-accumulate layer: its accumulator may be set in the config file

    def weight_input(self, node: Node, graph: Graph) -> str | None:
        return node.inputs[1] if self.has_weights else None

    def weight_values(self, node: Node, graph: Graph) -> np.ndarray | None:
        """The real values the weight format must hold (default: the weight input's data)."""
        t = self.weight_input(node, graph)
        return None if t is None else np.asarray(graph.tensors[t].data, np.float64)

    def lower(self, node: Node, graph: Graph, in_fmts: list[Fixed], out_fmt: Fixed,
              weight_fmt: Fixed | None) -> Layer:
        return Layer(node, self, in_fmts, out_fmt)

    def simulate(self, L: Layer, ins: list[np.ndarray]) -> tuple[np.ndarray, int]:
        """(output ints, number of elements that overflowed the output format)."""
        raise NotImplementedError

    def cost(self, L: Layer, reuse: int) -> dict:
        """Resource/latency model (see resources.py): one output element per cycle, no multipliers."""
        return {"multipliers": 0, "cycles": int(np.prod(L.node_out_shape, dtype=np.int64))}


_FX: dict[str, FxOp] = {}


def fx_op(cls):
    inst = cls()
    assert inst.name and inst.name not in _FX
    _FX[inst.name] = inst
    return cls


def get_fx(node: Node) -> FxOp:
    try:
        return _FX[node.op]
    except KeyError:
        raise UnsupportedError(f"node '{node.name}' ({node.op}): no fixed-point implementation for op {node.op} "
                               f"(fixed-point ops: {', '.join(sorted(_FX))})") from None


def _conv_out(v: np.ndarray, frac: int, fmt: Fixed) -> tuple[np.ndarray, int]:
    return convert(v, frac, fmt), int(np.count_nonzero(out_of_range(v, frac, fmt)))


def need_const(node: Node, graph: Graph, idx: int, what: str) -> np.ndarray:
    name = node.inputs[idx] if idx < len(node.inputs) else ""
    t = graph.tensors.get(name) if name else None
    if t is None or not t.is_const:
        raise UnsupportedError(f"node '{node.name}' ({node.op}): the {what} must be a constant for the fixed-point target")
    return np.asarray(t.data, np.float64)


# ---- activations on a wide integer (fused or not) -----------------------------------------

def lower_activation(node: Node, spec: dict | None, frac: int, bits: int) -> dict:
    """Integer form of an activation applied to values with `frac` fractional bits, `bits` wide."""
    if not spec:
        return {"op": None}
    op = spec["op"]
    if op == "Relu":
        return {"op": "Relu"}
    if op == "Clip":
        lo, hi = spec.get("min"), spec.get("max")
        if isinstance(lo, str) or isinstance(hi, str):
            raise UnsupportedError(f"node '{node.name}': Clip with run-time bounds has no fixed-point implementation")
        lim = (1 << (bits - 1)) - 1
        # the bounds, exactly where representable (ceil for min, floor for max: never outside [min, max])
        qlo = -lim - 1 if lo is None else int(max(-lim - 1, min(lim, math.ceil(float(lo) * 2.0 ** frac))))
        qhi = lim if hi is None else int(max(-lim - 1, min(lim, math.floor(float(hi) * 2.0 ** frac))))
        return {"op": "Clip", "lo": qlo, "hi": qhi}
    if op == "LeakyRelu":
        if bits + ALPHA_FRAC + 2 > 63:
            raise UnsupportedError(f"node '{node.name}': LeakyRelu on a {bits}-bit accumulator would overflow 64 bits; "
                                   f"narrow the layer's formats")
        return {"op": "LeakyRelu", "alpha": int(round(float(spec["alpha"]) * 2 ** ALPHA_FRAC)), "shift": ALPHA_FRAC}
    raise UnsupportedError(f"node '{node.name}': activation {op} has no fixed-point implementation "
                           f"(Relu, Clip/Relu6 and LeakyRelu do)")


def apply_activation(a: dict, v: np.ndarray) -> np.ndarray:
    op = a["op"]
    if op is None:
        return v
    if op == "Relu":
        return np.maximum(v, 0)
    if op == "Clip":
        return np.clip(v, a["lo"], a["hi"])
    if op == "LeakyRelu":
        return np.where(v < 0, shift_round(v * np.int64(a["alpha"]), a["shift"], "rnd"), v)
    raise KeyError(op)


def acc_for(in_fmt: Fixed, w_fmt: Fixed, terms: int, bias_q_max_abs_bits: int, accum: Fixed | None = None) -> Acc:
    if accum is not None:
        if accum.overflow != "wrap" or not accum.signed:
            raise UsageError(f"accumulator {accum}: a narrowed accumulator must be signed and wrap (AP_WRAP); "
                             f"saturating partial sums would depend on the summation order")
        shift = in_fmt.F + w_fmt.F - accum.F
        growth = math.ceil(math.log2(terms)) if terms > 1 else 0
        if shift < 0 and in_fmt.W + w_fmt.W - shift + growth + 1 > 63:
            raise UsageError(f"accumulator {accum.short()}: its {accum.F} fractional bits need products shifted past "
                             f"64-bit arithmetic; give it fewer fractional bits")
        return Acc(accum.W, accum.F, True, shift, accum.rounding)
    F = in_fmt.F + w_fmt.F
    growth = math.ceil(math.log2(terms)) if terms > 1 else 0
    ibits = max(in_fmt.I + w_fmt.I + growth, bias_q_max_abs_bits - F + 1) + 1
    W = ibits + F
    if W > 62:
        raise UnsupportedError(f"accumulator of {W} bits (F={F}) exceeds 64-bit arithmetic; use narrower formats")
    return Acc(W, F)


def accumulate(acc: Acc, x: np.ndarray, w: np.ndarray, xw_sum) -> np.ndarray:
    """Σ x·w over the last axis of both (broadcast), as the accumulator holds it. `xw_sum(x, w)` is the
    exact sum of products (used unless a narrowed accumulator rounds each product)."""
    if acc.term_shift > 0:
        return shift_round(x * w, acc.term_shift, acc.rounding).sum(axis=-1)
    return shift_round(xw_sum(x, w), acc.term_shift, "trn")  # exact: a left shift (or none)


def finish_acc(acc: Acc, v: np.ndarray) -> np.ndarray:
    return wrap(v, acc.W, True) if acc.narrowed else v


def bias_bits(b: np.ndarray, F: int) -> int:
    """Bits (sign excluded) of the largest bias magnitude at F fractional bits."""
    m = float(np.max(np.abs(b))) if b.size else 0.0
    return int(math.ceil(math.log2(m * 2.0 ** F + 1))) if m > 0 else 0


# ---- Conv ----------------------------------------------------------------------------------

@fx_op
class ConvFx(FxOp):
    name = "Conv"
    has_weights = True
    accumulates = True

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt, accum=None):
        x = graph.tensors[node.inputs[0]]
        y = graph.tensors[node.outputs[0]]
        w = need_const(node, graph, 1, "weight")
        b = need_const(node, graph, 2, "bias") if len(node.inputs) > 2 and node.inputs[2] else np.zeros(w.shape[0])
        a = node.attrs
        r = len(x.shape) - 2
        two = (lambda v: list(v)) if r == 2 else (lambda v: [1] + list(v))
        k, s, d = two(a["kernel_shape"]), two(a["strides"]), two(a["dilations"])
        pads = a["pads"] if r == 2 else [0, a["pads"][0], 0, a["pads"][1]]
        ih, iw = two(x.shape[2:])
        oh, ow = two(y.shape[2:])
        g = a["group"]
        terms = (x.shape[1] // g) * k[0] * k[1]
        acc = acc_for(in_fmts[0], weight_fmt, terms, bias_bits(b, in_fmts[0].F + weight_fmt.F), accum)
        wq = quantize(w, weight_fmt)
        bq = quantize(b, Fixed(acc.W, acc.W - acc.F, True, "rnd", "wrap" if acc.narrowed else "sat"))
        L = Layer(node, self, in_fmts, out_fmt, acc=acc, weight_fmt=weight_fmt, macs=int(np.prod(y.shape)) * terms)
        L.p = {"n": x.shape[0], "c": x.shape[1], "m": w.shape[0], "group": g, "cg": x.shape[1] // g,
               "mg": w.shape[0] // g, "ih": ih, "iw": iw, "oh": oh, "ow": ow, "kh": k[0], "kw": k[1],
               "sh": s[0], "sw": s[1], "dh": d[0], "dw": d[1], "ph": pads[0], "pw": pads[1], "pb": pads[2], "pr": pads[3],
               "terms": terms, "rank": r, "act": lower_activation(node, a.get("activation"), acc.F, acc.W)}
        L.consts = {"w": (wq, weight_fmt.ctype), "b": (bq, acc.ctype)}
        return L

    def cost(self, L, reuse):
        p = L.p
        block = p["m"] * p["terms"]  # multiplications for all output channels of one output pixel
        return {"multipliers": -(-block // reuse), "cycles": p["n"] * p["oh"] * p["ow"] * reuse}

    def simulate(self, L, ins):
        p = L.p
        x = ins[0]
        S = x.shape[0]
        x4 = x.reshape(S * p["n"], p["c"], p["ih"], p["iw"])
        w = L.consts["w"][0].astype(np.int64).reshape(p["m"], p["cg"], p["kh"], p["kw"])
        xp = np.pad(x4, ((0, 0), (0, 0), (p["ph"], p["pb"]), (p["pw"], p["pr"])))
        y = np.zeros((S * p["n"], p["m"], p["oh"], p["ow"]), np.int64)
        g, cg, mg = p["group"], p["cg"], p["mg"]
        for ky in range(p["kh"]):
            for kx in range(p["kw"]):
                patch = xp[:, :, ky * p["dh"]: ky * p["dh"] + p["sh"] * (p["oh"] - 1) + 1: p["sh"],
                           kx * p["dw"]: kx * p["dw"] + p["sw"] * (p["ow"] - 1) + 1: p["sw"]]
                if L.acc.term_shift > 0:  # narrowed accumulator: round every product before summing
                    for oc in range(p["m"]):
                        gi = oc // mg
                        for ci in range(cg):
                            y[:, oc] += shift_round(patch[:, gi * cg + ci] * w[oc, ci, ky, kx], L.acc.term_shift,
                                                    L.acc.rounding)
                elif g == 1:
                    y += np.tensordot(w[:, :, ky, kx], patch, axes=([1], [1])).transpose(1, 0, 2, 3)
                elif cg == 1 and mg == 1:  # depthwise
                    y += patch * w[:, 0, ky, kx].reshape(1, -1, 1, 1)
                else:
                    for gi in range(g):
                        y[:, gi * mg:(gi + 1) * mg] += np.tensordot(
                            w[gi * mg:(gi + 1) * mg, :, ky, kx], patch[:, gi * cg:(gi + 1) * cg],
                            axes=([1], [1])).transpose(1, 0, 2, 3)
        if L.acc.term_shift < 0:
            y = shift_round(y, L.acc.term_shift, "trn")
        y = finish_acc(L.acc, y + L.consts["b"][0].astype(np.int64).reshape(1, -1, 1, 1))
        y = apply_activation(p["act"], y)
        out, nov = _conv_out(y, L.acc.F, L.out_fmt)
        return out.reshape((S, *L.node_out_shape)), nov


@fx_op
class ConvTransposeFx(FxOp):
    """Transposed convolution (1-D/2-D, groups, strides, dilations, pads, output size): the exact integer
    scatter of every input pixel's weighted kernel, plus bias, fused activation, conversion (as Conv)."""

    name = "ConvTranspose"
    has_weights = True
    accumulates = True

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt, accum=None):
        if accum is not None:
            raise UsageError(f"--config '{node.name}': a ConvTranspose accumulator cannot be narrowed")
        x = graph.tensors[node.inputs[0]]
        y = graph.tensors[node.outputs[0]]
        w = need_const(node, graph, 1, "weight")
        g = node.attrs["group"]
        mg = w.shape[1]
        b = need_const(node, graph, 2, "bias") if len(node.inputs) > 2 and node.inputs[2] else np.zeros(g * mg)
        a = node.attrs
        r = len(x.shape) - 2
        two = (lambda v: list(v)) if r == 2 else (lambda v: [1] + list(v))
        k, st, d = two(a["kernel_shape"]), two(a["strides"]), two(a["dilations"])
        pads = a["pads"] if r == 2 else [0, a["pads"][0], 0, a["pads"][1]]
        ih, iw = two(x.shape[2:])
        oh, ow = two(y.shape[2:])
        cg = x.shape[1] // g
        # terms per output: at most cg · ceil(kh / sh) · ceil(kw / sw) kernel taps land on one output pixel
        terms = cg * -(-k[0] // st[0]) * -(-k[1] // st[1])
        acc = acc_for(in_fmts[0], weight_fmt, terms, bias_bits(b, in_fmts[0].F + weight_fmt.F))
        L = Layer(node, self, in_fmts, out_fmt, acc=acc, weight_fmt=weight_fmt,
                  macs=int(np.prod(x.shape)) * int(np.prod(w.shape[1:])))
        L.p = {"n": x.shape[0], "c": x.shape[1], "m": g * mg, "group": g, "cg": cg, "mg": mg, "ih": ih, "iw": iw,
               "oh": oh, "ow": ow, "kh": k[0], "kw": k[1], "sh": st[0], "sw": st[1], "dh": d[0], "dw": d[1],
               "ph": pads[0], "pw": pads[1], "terms": terms,
               "act": lower_activation(node, a.get("activation"), acc.F, acc.W)}
        L.consts = {"w": (quantize(w, weight_fmt), weight_fmt.ctype),
                    "b": (quantize(b, Fixed(acc.W, acc.W - acc.F, True, "rnd", "sat")), acc.ctype)}
        return L

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        x = ins[0].reshape(S * p["n"], p["c"], p["ih"], p["iw"])
        w = L.consts["w"][0].astype(np.int64).reshape(p["c"], p["mg"], p["kh"], p["kw"])
        full = [max(p["sh"] * (p["ih"] - 1) + (p["kh"] - 1) * p["dh"] + 1, p["ph"] + p["oh"]),
                max(p["sw"] * (p["iw"] - 1) + (p["kw"] - 1) * p["dw"] + 1, p["pw"] + p["ow"])]
        y = np.zeros((x.shape[0], p["m"], full[0], full[1]), np.int64)
        g, cg, mg = p["group"], p["cg"], p["mg"]
        for ky in range(p["kh"]):
            for kx in range(p["kw"]):
                for gi in range(g):
                    contrib = np.einsum("nchw,cm->nmhw", x[:, gi * cg:(gi + 1) * cg], w[gi * cg:(gi + 1) * cg, :, ky, kx])
                    y[:, gi * mg:(gi + 1) * mg, ky * p["dh"]: ky * p["dh"] + p["sh"] * (p["ih"] - 1) + 1: p["sh"],
                      kx * p["dw"]: kx * p["dw"] + p["sw"] * (p["iw"] - 1) + 1: p["sw"]] += contrib
        y = y[:, :, p["ph"]:p["ph"] + p["oh"], p["pw"]:p["pw"] + p["ow"]]
        y = y + L.consts["b"][0].astype(np.int64).reshape(1, -1, 1, 1)
        y = apply_activation(p["act"], y)
        out, nov = _conv_out(y, L.acc.F, L.out_fmt)
        return out.reshape((S, *L.node_out_shape)), nov

    def cost(self, L, reuse):
        p = L.p
        block = p["m"] * p["terms"]
        return {"multipliers": -(-block // reuse), "cycles": p["n"] * p["oh"] * p["ow"] * reuse}


# ---- Gemm / MatMul with a constant weight ----------------------------------------------------

class _DenseFx(FxOp):
    has_weights = True
    accumulates = True

    def weights(self, node, graph) -> tuple[np.ndarray, np.ndarray | None]:
        """(W as [n, k] so that y[i, j] = Σ_p x[i, p] · W[j, p], bias [n] or None), in float."""
        raise NotImplementedError

    def weight_values(self, node, graph):
        return self.weights(node, graph)[0]  # alpha folded in

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt, accum=None):
        x = graph.tensors[node.inputs[0]]
        y = graph.tensors[node.outputs[0]]
        w, b = self.weights(node, graph)
        nout, k = w.shape
        m = int(np.prod(x.shape[:-1], dtype=np.int64))
        if b is None:
            b = np.zeros(nout)
        acc = acc_for(in_fmts[0], weight_fmt, k, bias_bits(b, in_fmts[0].F + weight_fmt.F), accum)
        L = Layer(node, self, in_fmts, out_fmt, acc=acc, weight_fmt=weight_fmt, macs=m * nout * k)
        L.p = {"m": m, "n": nout, "k": k, "terms": k,
               "act": lower_activation(node, node.attrs.get("activation"), acc.F, acc.W)}
        L.consts = {"w": (quantize(w, weight_fmt), weight_fmt.ctype),
                    "b": (quantize(b, Fixed(acc.W, acc.W - acc.F, True, "rnd", "wrap" if acc.narrowed else "sat")),
                          acc.ctype)}
        return L

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        x = ins[0].reshape(S, p["m"], p["k"])
        w = L.consts["w"][0].astype(np.int64)
        y = accumulate(L.acc, x[:, :, None, :], w[None, None], lambda a, b: np.einsum("smk,nk->smn", a[:, :, 0], b[0, 0]))
        y = finish_acc(L.acc, y + L.consts["b"][0].astype(np.int64))
        y = apply_activation(p["act"], y)
        out, nov = _conv_out(y, L.acc.F, L.out_fmt)
        return out.reshape((S, *L.node_out_shape)), nov

    def cost(self, L, reuse):
        block = L.p["n"] * L.p["k"]  # multiplications for one row of outputs
        return {"multipliers": -(-block // reuse), "cycles": L.p["m"] * reuse}



@fx_op
class GemmFx(_DenseFx):
    name = "Gemm"

    def weights(self, node, graph):
        if node.attrs["transA"]:
            raise UnsupportedError(f"node '{node.name}' (Gemm): transA=1 has no fixed-point implementation")
        bmat = need_const(node, graph, 1, "B operand")
        w = (bmat if node.attrs["transB"] else bmat.T) * float(node.attrs["alpha"])
        bias = None
        if len(node.inputs) > 2 and node.inputs[2]:
            c = need_const(node, graph, 2, "C operand") * float(node.attrs["beta"])
            m = graph.tensors[node.inputs[0]].shape[0]
            full = np.broadcast_to(c, (m, w.shape[0]))
            if m != 1 and not np.all(full == full[:1]):
                raise UnsupportedError(f"node '{node.name}' (Gemm): a per-row C has no fixed-point implementation")
            bias = np.array(full[0], np.float64)
        return np.ascontiguousarray(w), bias


@fx_op
class MatMulFx(_DenseFx):
    name = "MatMul"

    def weights(self, node, graph):
        bmat = need_const(node, graph, 1, "second operand (weights)")
        if bmat.ndim != 2:
            raise UnsupportedError(f"node '{node.name}' (MatMul): only a 2-D constant second operand is supported")
        return np.ascontiguousarray(bmat.T), None


# ---- element-wise and data movement ------------------------------------------------------------

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
        return _conv_out(v, p["F"], L.out_fmt)


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
class ConcatFx(FxOp):
    name = "Concat"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        y = graph.tensors[node.outputs[0]]
        if any(graph.tensors[i].is_const for i in node.inputs if i):
            raise UnsupportedError(f"node '{node.name}' (Concat): constant inputs have no fixed-point implementation")
        ax = node.attrs["axis"] % len(y.shape)
        outer = int(np.prod(y.shape[:ax], dtype=np.int64))
        inner = int(np.prod(y.shape[ax + 1:], dtype=np.int64))
        parts, off = [], 0
        for i, f in zip(node.inputs, in_fmts):
            chunk = graph.tensors[i].shape[ax] * inner
            parts.append({"chunk": chunk, "offset": off, "frac": f.F})
            off += chunk
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"axis": ax, "outer": outer, "row": off, "parts": parts}
        return L

    def simulate(self, L, ins):
        outs, nov = [], 0
        for x, part in zip(ins, L.p["parts"]):
            v, n = _conv_out(x, part["frac"], L.out_fmt)
            outs.append(v)
            nov += n
        return np.concatenate(outs, axis=L.p["axis"] + 1), nov


class _PassFx(FxOp):
    passthrough = True


@fx_op
class SplitFx(_PassFx):
    """Split along an axis into several outputs, each keeping the input's format."""

    name = "Split"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        x = graph.tensors[node.inputs[0]]
        ax = node.attrs["axis"] % len(x.shape)
        inner = int(np.prod(x.shape[ax + 1:], dtype=np.int64))
        parts, off = [], 0
        for size in node.attrs["sizes"]:
            parts.append({"chunk": int(size) * inner, "offset": off})
            off += int(size) * inner
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"axis": ax, "outer": int(np.prod(x.shape[:ax], dtype=np.int64)), "row": off, "parts": parts,
               "sizes": [int(v) for v in node.attrs["sizes"]]}
        return L

    def simulate(self, L, ins):
        cuts = np.cumsum(L.p["sizes"])[:-1]
        return [p.copy() for p in np.split(ins[0], cuts, axis=L.p["axis"] + 1)], 0

    def cost(self, L, reuse):
        return {"multipliers": 0, "cycles": L.p["outer"] * L.p["row"]}


@fx_op
class ReshapeFx(_PassFx):
    name = "Reshape"

    def cost(self, L, reuse):
        return {"multipliers": 0, "cycles": 0}  # an alias of its input buffer: no hardware

    def simulate(self, L, ins):
        return ins[0].reshape((ins[0].shape[0], *L.node_out_shape)), 0


@fx_op
class IdentityFx(ReshapeFx):
    name = "Identity"


@fx_op
class TransposeFx(_PassFx):
    name = "Transpose"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        x = graph.tensors[node.inputs[0]]
        perm = list(node.attrs["perm"])
        st = [int(np.prod(x.shape[i + 1:], dtype=np.int64)) for i in range(len(x.shape))]
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"perm": perm, "dims": [{"extent": x.shape[q], "stride": st[q]} for q in perm]}
        return L

    def simulate(self, L, ins):
        return ins[0].transpose([0] + [q + 1 for q in L.p["perm"]]), 0


@fx_op
class PadFx(_PassFx):
    name = "Pad"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        if node.attrs["mode"] != "constant":
            raise UnsupportedError(f"node '{node.name}' (Pad): mode {node.attrs['mode']} has no fixed-point implementation "
                                   f"(constant does)")
        x = graph.tensors[node.inputs[0]]
        r, pads = len(x.shape), node.attrs["pads"]
        if any(v < 0 for v in pads):
            raise UnsupportedError(f"node '{node.name}' (Pad): cropping (negative pads) is not supported here")
        val = int(quantize(np.array([node.attrs["value"]]), in_fmts[0])[0])
        in_st = [int(np.prod(x.shape[i + 1:], dtype=np.int64)) for i in range(r)]
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"value": val, "pads": list(pads),
               "dims": [{"extent": x.shape[i] + pads[i] + pads[r + i], "begin": pads[i], "size": x.shape[i],
                         "stride": in_st[i]} for i in range(r)]}
        return L

    def simulate(self, L, ins):
        r = len(L.p["dims"])
        widths = [(0, 0)] + [(L.p["pads"][i], L.p["pads"][r + i]) for i in range(r)]
        return np.pad(ins[0], widths, constant_values=L.p["value"]), 0


class _GatherFx(_PassFx):
    """Pure data movement (Slice, Gather with constant indices, Expand, Tile):
    the float op's own reference, run on a tensor of element indices, gives the source index of every
    output element; the layer copies through that table (the output keeps the input's format)."""

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        x = graph.tensors[node.inputs[0]]
        if any(i and not graph.tensors[i].is_const for i in node.inputs[1:]):
            raise UnsupportedError(f"node '{node.name}' ({node.op}): only the first input may be computed")
        self.check(node)
        idx = np.arange(x.size, dtype=np.float64).reshape(x.shape)
        rest = [graph.tensors[i].data if i else None for i in node.inputs[1:]]
        src = np.asarray(get_op(node.op).reference(node, [idx, *rest])[0])
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"size": int(src.size), "in_size": x.size}
        L.consts = {"src": (src.astype(np.int64).ravel(), "int32_t")}
        return L

    def check(self, node):
        pass

    def simulate(self, L, ins):
        S = ins[0].shape[0]
        return ins[0].reshape(S, -1)[:, L.consts["src"][0]].reshape((S, *L.node_out_shape)), 0


@fx_op
class SliceFx(_GatherFx):
    name = "Slice"


@fx_op
class GatherFx(_GatherFx):
    name = "Gather"


@fx_op
class ExpandFx(_GatherFx):
    name = "Expand"


@fx_op
class TileFx(_GatherFx):
    name = "Tile"


TAP_FRAC = 15  # fractional bits of Resize interpolation weights per resized axis (the product fits int32)


@fx_op
class ResizeFx(FxOp):
    """Resize on the spatial (last two) axes, any mode: each output pixel is Σ_t w_t · x[src_t] over the
    product of the two axes' taps (axis_taps of the float op: 1 nearest, 2 linear, 4 cubic per axis);
    w_t = round(w_h · w_w · 2^(2·TAP_FRAC)) (nearest: w = 1 exactly); the sum is exact, then converted
    from F_x + 2·TAP_FRAC fractional bits to the output format."""

    name = "Resize"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        from ..ops.resize import axis_taps

        x = graph.tensors[node.inputs[0]]
        y = graph.tensors[node.outputs[0]]
        a = node.attrs
        r = len(x.shape)
        resized = get_op(node.op).resized_axes(node, x.shape)
        if r < 2 or any(d < r - 2 for d in resized):
            raise UnsupportedError(f"node '{node.name}' (Resize): only the last two axes may be resized in fixed point")
        hw_in = [x.shape[-2], x.shape[-1]] if r >= 2 else [1, x.shape[-1]]
        hw_out = [y.shape[-2], y.shape[-1]]
        taps = []
        for k, d in enumerate((r - 2, r - 1)):
            if d in resized:
                taps.append(axis_taps(hw_in[k], hw_out[k], float(a["scales"][d]), a))
            else:
                taps.append((np.arange(hw_in[k], dtype=np.int64)[:, None], np.ones((hw_in[k], 1))))
        (ih, wh), (iw, ww) = taps
        th, tw = ih.shape[1], iw.shape[1]
        src = (ih[:, None, :, None] * hw_in[1] + iw[None, :, None, :]).reshape(hw_out[0] * hw_out[1], th * tw)
        wts = (wh[:, None, :, None] * ww[None, :, None, :]).reshape(hw_out[0] * hw_out[1], th * tw)
        frac = 0 if th * tw == 1 else 2 * TAP_FRAC
        if in_fmts[0].W + frac + 3 + math.ceil(math.log2(th * tw)) > 62:
            raise UnsupportedError(f"node '{node.name}' (Resize): {in_fmts[0].short()} is too wide for 64-bit interpolation")
        L = Layer(node, self, in_fmts, out_fmt, macs=int(y.size) * th * tw)
        L.p = {"planes": x.size // (hw_in[0] * hw_in[1]), "nin": hw_in[0] * hw_in[1], "nout": hw_out[0] * hw_out[1],
               "taps": th * tw, "frac": in_fmts[0].F + frac}
        L.consts = {"src": (src.astype(np.int64).ravel(), "int32_t"),
                    "wts": (np.floor(wts * 2.0 ** frac + 0.5).astype(np.int64).ravel(), "int32_t")}
        return L

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        x = ins[0].reshape(S, p["planes"], p["nin"])
        src = L.consts["src"][0].reshape(p["nout"], p["taps"])
        w = L.consts["wts"][0].astype(np.int64).reshape(p["nout"], p["taps"])
        v = (x[:, :, src] * w).sum(axis=-1)
        y, nov = _conv_out(v, p["frac"], L.out_fmt)
        return y.reshape((S, *L.node_out_shape)), nov

    def cost(self, L, reuse):
        return {"multipliers": L.p["taps"] if L.p["taps"] > 1 else 0, "cycles": L.p["planes"] * L.p["nout"]}


@fx_op
class ReduceFx(FxOp):
    """ReduceMean / ReduceSum / ReduceMax / ReduceMin over any axes: per output element, its K input
    elements (base offset + K fixed offsets, tables); Sum exact, Mean times round(2^R / K) as the average
    pools, Max/Min compared exactly; then converted to the output format."""

    name = "Reduce"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        from ..ops.common import strides

        kind = node.attrs["kind"]
        if kind not in ("Mean", "Sum", "Max", "Min"):
            raise UnsupportedError(f"node '{node.name}' (Reduce{kind}): no fixed-point implementation "
                                   f"(ReduceMean, ReduceSum, ReduceMax, ReduceMin have one)")
        x = graph.tensors[node.inputs[0]]
        axes = sorted(norm % len(x.shape) for norm in node.attrs["axes"]) if node.attrs["axes"] else list(range(len(x.shape)))
        st = strides(x.shape)
        kept = [d for d in range(len(x.shape)) if d not in axes]
        grid = lambda dims: np.stack(np.meshgrid(*[np.arange(x.shape[d]) for d in dims], indexing="ij"), -1).reshape(-1, len(dims)) \
            if dims else np.zeros((1, 0), np.int64)  # noqa: E731
        base = grid(kept) @ np.array([st[d] for d in kept], np.int64).reshape(-1) if kept else np.zeros(1, np.int64)
        roff = grid(axes) @ np.array([st[d] for d in axes], np.int64).reshape(-1)
        K = int(roff.size)
        L = Layer(node, self, in_fmts, out_fmt, macs=x.size if kind in ("Mean", "Sum") else 0)
        L.p = {"kind": kind, "nout": int(base.size), "k": K, "frac": in_fmts[0].F}
        if kind == "Mean":
            recip, R = _recip(np.array([K]), node, in_fmts[0])
            L.p.update(recip=int(recip[0]), frac=in_fmts[0].F + R)
        elif kind == "Sum" and in_fmts[0].W + math.ceil(math.log2(max(K, 2))) + 1 > 62:
            raise UnsupportedError(f"node '{node.name}' (ReduceSum): too many terms for 64-bit arithmetic")
        L.consts = {"base": (np.asarray(base, np.int64).ravel(), "int32_t"), "roff": (np.asarray(roff, np.int64).ravel(), "int32_t")}
        return L

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        x = ins[0].reshape(S, -1)
        idx = L.consts["base"][0][:, None] + L.consts["roff"][0][None, :]
        vals = x[:, idx]  # [S, nout, K]
        v = {"Mean": lambda a: a.sum(-1) * np.int64(p.get("recip", 1)), "Sum": lambda a: a.sum(-1),
             "Max": lambda a: a.max(-1), "Min": lambda a: a.min(-1)}[p["kind"]](vals)
        y, nov = _conv_out(v, p["frac"], L.out_fmt)
        return y.reshape((S, *L.node_out_shape)), nov

    def cost(self, L, reuse):
        return {"multipliers": 1 if L.p["kind"] == "Mean" else 0, "cycles": L.p["nout"] * L.p["k"]}


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
        y, nov = _conv_out(x * a + c, p["F"], L.out_fmt)
        return y.reshape((S, *L.node_out_shape)), nov


class _ElementwiseActFx(_PassFx):
    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        L = Layer(node, self, in_fmts, out_fmt)
        f = in_fmts[0]
        spec = {"op": node.op, **node.attrs}
        L.p = {"size": graph.tensors[node.inputs[0]].size, "act": lower_activation(node, spec, f.F, f.W)}
        return L

    def simulate(self, L, ins):
        v = apply_activation(L.p["act"], ins[0])
        return _conv_out(v, L.out_fmt.F, L.out_fmt)


@fx_op
class ReluFx(_ElementwiseActFx):
    name = "Relu"


@fx_op
class ClipFx(_ElementwiseActFx):
    name = "Clip"


@fx_op
class LeakyReluFx(_ElementwiseActFx):
    name = "LeakyRelu"


LUT_BITS = 10  # lookup tables index the input's top 10 bits (1024 entries) or all of a narrower input


class _LutFx(FxOp):
    """An element-wise non-linearity as a table: index = (x >> s) + 2^(W-1-s), s = max(0, W - LUT_BITS),
    over the whole input format; each entry is the float op's value at the middle of its input
    interval (exact input when s = 0), quantized to the output format (its rounding and overflow)."""

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        f = in_fmts[0]
        s = max(0, f.W - LUT_BITS)
        n = 1 << (f.W - s)
        offset = n >> 1 if f.signed else 0
        lo_q = np.arange(n, dtype=np.int64) - offset  # table index k covers x in [lo_q << s, (lo_q + 1) << s)
        mid = (lo_q * (1 << s) + ((1 << s) - 1) / 2.0) * 2.0 ** -f.F
        real = get_op(node.op).reference(node, [mid.astype(np.float64)])[0]
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"size": graph.tensors[node.inputs[0]].size, "shift": s, "offset": offset}
        L.consts = {"lut": (quantize(real, out_fmt), out_fmt.ctype)}
        return L

    def simulate(self, L, ins):
        idx = (ins[0] >> L.p["shift"]) + L.p["offset"]
        return L.consts["lut"][0].astype(np.int64)[idx], 0

    def cost(self, L, reuse):
        return {"multipliers": 0, "cycles": L.p["size"]}


@fx_op
class SigmoidFx(_LutFx):
    name = "Sigmoid"


@fx_op
class TanhFx(_LutFx):
    name = "Tanh"


@fx_op
class HardSigmoidFx(_LutFx):
    name = "HardSigmoid"


@fx_op
class HardSwishFx(_LutFx):
    name = "HardSwish"


EXP_FRAC = 16  # fractional bits of Softmax's exp table


@fx_op
class SoftmaxFx(FxOp):
    """Softmax along its axis: d = max − x ≥ 0 (in input lsbs), e = EXP[min(d >> s, 1023)]: a 1024-entry
    table of exp(−d) with EXP_FRAC fractional bits spanning d up to (EXP_FRAC + 1)·ln 2 (beyond it exp
    rounds to 0; the last entry is 0), each entry the value at the middle of its interval; sum = Σ e
    exactly; y = e · 2^F_out / sum rounded with the output format's rounding, then its overflow mode."""

    name = "Softmax"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        f = in_fmts[0]
        x = graph.tensors[node.inputs[0]]
        outer, n, inner = get_op(node.op)._split(node, x.shape)
        # the table spans differences up to where exp(-d) rounds to 0 at EXP_FRAC bits, (EXP_FRAC + 1)·ln 2
        span = math.ceil((EXP_FRAC + 1) * math.log(2) * 2.0 ** f.F)
        s = max(0, math.ceil(math.log2(span / (1 << LUT_BITS)))) if span > (1 << LUT_BITS) else 0
        k = np.arange(1 << LUT_BITS, dtype=np.float64)
        mid = (k * (1 << s) + ((1 << s) - 1) / 2.0) * 2.0 ** -f.F
        table = np.floor(np.exp(-mid) * 2.0 ** EXP_FRAC + 0.5).astype(np.int64)
        table[-1] = 0  # every difference past the table's end
        if out_fmt.F + EXP_FRAC + 1 > 62:
            raise UnsupportedError(f"node '{node.name}' (Softmax): output format {out_fmt.short()} has too many "
                                   f"fractional bits for 64-bit arithmetic")
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"outer": outer, "n": n, "inner": inner, "shift": s, "scale": 1 << out_fmt.F, "last": (1 << LUT_BITS) - 1}
        L.consts = {"exp": (table, "int32_t")}
        return L

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        x = ins[0].reshape(S, p["outer"], p["n"], p["inner"])
        d = x.max(axis=2, keepdims=True) - x
        e = L.consts["exp"][0].astype(np.int64)[np.minimum(d >> p["shift"], p["last"])]
        tot = e.sum(axis=2, keepdims=True)
        v = div_round(e * np.int64(p["scale"]), tot, L.out_fmt.rounding)
        y, nov = _conv_out(v, L.out_fmt.F, L.out_fmt)
        return y.reshape((S, *L.node_out_shape)), nov

    def cost(self, L, reuse):
        return {"multipliers": 1, "cycles": 3 * L.p["outer"] * L.p["n"] * L.p["inner"]}


# ---- pooling -------------------------------------------------------------------------------------

def _pool_geom(node, graph):
    x = graph.tensors[node.inputs[0]]
    ins, outs, k, s, d, p = get_op(node.op)._geom(node, x.shape)
    return {"planes": x.shape[0] * x.shape[1], "ih": ins[0], "iw": ins[1], "oh": outs[0], "ow": outs[1],
            "kh": k[0], "kw": k[1], "sh": s[0], "sw": s[1], "dh": d[0], "dw": d[1], "ph": p[0], "pw": p[1]}


def _windows(p):
    """Per output axis, the valid input indices of each window."""
    out = []
    for (n_in, n_out, k, s, d, pad) in ((p["ih"], p["oh"], p["kh"], p["sh"], p["dh"], p["ph"]),
                                        (p["iw"], p["ow"], p["kw"], p["sw"], p["dw"], p["pw"])):
        out.append([[t for t in (o * s - pad + j * d for j in range(k)) if 0 <= t < n_in] for o in range(n_out)])
    return out


@fx_op
class MaxPoolFx(_PassFx):
    name = "MaxPool"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {**_pool_geom(node, graph), "init": in_fmts[0].qmin}
        return L

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        x = ins[0].reshape(S * p["planes"], p["ih"], p["iw"])
        wh, ww = _windows(p)
        y = np.empty((x.shape[0], p["oh"], p["ow"]), np.int64)
        for i, vh in enumerate(wh):
            for j, vw in enumerate(ww):
                y[:, i, j] = x[:, vh][:, :, vw].max(axis=(1, 2))
        return y.reshape((S, *L.node_out_shape)), 0


def _recip(counts: np.ndarray, node: Node, in_fmt: Fixed) -> tuple[np.ndarray, int]:
    growth = int(math.ceil(math.log2(max(int(counts.max()), 1))))
    R = RECIP_EXTRA + growth
    if in_fmt.W + 2 * growth + RECIP_EXTRA + 1 > 63:
        raise UnsupportedError(f"node '{node.name}' ({node.op}): a window of {int(counts.max())} values in "
                               f"{in_fmt.short()} exceeds 64-bit arithmetic; use a narrower input format")
    return np.floor(2.0 ** R / counts + 0.5).astype(np.int64), R


@fx_op
class AveragePoolFx(FxOp):
    name = "AveragePool"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        x = graph.tensors[node.inputs[0]]
        p = _pool_geom(node, graph)
        counts = get_op(node.op).divisors(node, x.shape).astype(np.int64)
        recip, R = _recip(counts, node, in_fmts[0])
        L = Layer(node, self, in_fmts, out_fmt, macs=int(np.prod(graph.tensors[node.outputs[0]].shape)) * p["kh"] * p["kw"])
        L.p = {**p, "R": R, "frac": in_fmts[0].F + R}
        L.consts = {"recip": (recip.ravel(), "int32_t")}
        return L

    def cost(self, L, reuse):
        return {"multipliers": 1, "cycles": int(np.prod(L.node_out_shape, dtype=np.int64))}

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        x = ins[0].reshape(S * p["planes"], p["ih"], p["iw"])
        wh, ww = _windows(p)
        recip = L.consts["recip"][0].reshape(p["oh"], p["ow"])
        v = np.empty((x.shape[0], p["oh"], p["ow"]), np.int64)
        for i, vh in enumerate(wh):
            for j, vw in enumerate(ww):
                v[:, i, j] = x[:, vh][:, :, vw].sum(axis=(1, 2)) * recip[i, j]
        y, nov = _conv_out(v, p["frac"], L.out_fmt)
        return y.reshape((S, *L.node_out_shape)), nov


@fx_op
class GlobalAveragePoolFx(FxOp):
    name = "GlobalAveragePool"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        x = graph.tensors[node.inputs[0]]
        inner = int(np.prod(x.shape[2:], dtype=np.int64))
        recip, R = _recip(np.array([inner]), node, in_fmts[0])
        L = Layer(node, self, in_fmts, out_fmt, macs=x.size)
        L.p = {"planes": x.shape[0] * x.shape[1], "inner": inner, "R": R, "frac": in_fmts[0].F + R,
               "recip": int(recip[0])}
        return L

    def cost(self, L, reuse):
        return {"multipliers": 1, "cycles": L.p["planes"] * L.p["inner"]}

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        v = ins[0].reshape(S, p["planes"], p["inner"]).sum(axis=2) * np.int64(p["recip"])
        y, nov = _conv_out(v, p["frac"], L.out_fmt)
        return y.reshape((S, *L.node_out_shape)), nov


@fx_op
class GlobalMaxPoolFx(_PassFx):
    name = "GlobalMaxPool"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        x = graph.tensors[node.inputs[0]]
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"planes": x.shape[0] * x.shape[1], "inner": int(np.prod(x.shape[2:], dtype=np.int64)),
               "init": in_fmts[0].qmin}
        return L

    def simulate(self, L, ins):
        p = L.p
        S = ins[0].shape[0]
        return ins[0].reshape(S, p["planes"], p["inner"]).max(axis=2).reshape((S, *L.node_out_shape)), 0


def fx_ops() -> list[str]:
    return sorted(_FX)
