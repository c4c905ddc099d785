"""Shared pieces of the fixed-point ops: the Layer record, the FxOp base and its registry, the
accumulator and activation arithmetic, reciprocals for averages."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import UnsupportedError, UsageError
from ...ir import Graph, Node
from ..format import Fixed, convert, out_of_range, shift_round, wrap

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
    _load_all()
    try:
        return _FX[node.op]
    except KeyError:
        raise UnsupportedError(f"node '{node.name}' ({node.op}): no fixed-point implementation for op {node.op} "
                               f"(fixed-point ops: {', '.join(sorted(_FX))})") from None


def conv_out(v: np.ndarray, frac: int, fmt: Fixed) -> tuple[np.ndarray, int]:
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


class PassFx(FxOp):
    passthrough = True


def reciprocal(counts: np.ndarray, node: Node, in_fmt: Fixed) -> tuple[np.ndarray, int]:
    growth = int(math.ceil(math.log2(max(int(counts.max()), 1))))
    R = RECIP_EXTRA + growth
    if in_fmt.W + 2 * growth + RECIP_EXTRA + 1 > 63:
        raise UnsupportedError(f"node '{node.name}' ({node.op}): a window of {int(counts.max())} values in "
                               f"{in_fmt.short()} exceeds 64-bit arithmetic; use a narrower input format")
    return np.floor(2.0 ** R / counts + 0.5).astype(np.int64), R


def _load_all() -> None:
    import importlib

    from . import MODULES

    for m in MODULES:
        importlib.import_module(f"{__package__}.{m}")


def fx_ops() -> list[str]:
    _load_all()
    return sorted(_FX)
