"""Per-tensor fixed-point formats and the lowered layers of a graph.

Formats come from, in order of precedence:
  1. the per-layer config file (JSON): {"layer name": "fixed<12,4>", ...} sets the layer's output
     format; {"layer name": {"output": "fixed<12,4>", "weight": "fixed<8,1>", "accum": "fixed<20,8>"}} sets
     any of them (a narrowed accumulator wraps, AP_WRAP, and rounds each product to its precision);
     the key "input" (or the model input's name) sets the format of the model's input; "auto<W>" in
     place of a format picks the integer bits for W bits from the range (needs calibration for outputs);
  2. `--precision fixed<W,I>`: every activation and weight tensor (the default is fixed<16,6>);
  3. `--precision auto` / `auto<W>` (W = 16 by default): W bits everywhere, the integer bits from the
     largest magnitude — of the weights themselves for weights, of the calibrated range for activations;
     outputs that cannot be negative (fused or plain Relu, Clip with min >= 0, Sigmoid, HardSigmoid,
     Softmax) get an unsigned format (ufixed, W <= 16), which gains a bit.
Layers that move data without arithmetic (MaxPool, Reshape, Transpose, Pad, unfused Relu/Clip/LeakyRelu)
keep their input's format. Accumulators are sized in ops/common.py from bit growth.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..ir import Graph
from .format import OVERFLOW, ROUNDING, Fixed, int_bits_for, parse_fixed
from .ops import Layer, get_fx

DEFAULT_PRECISION = "fixed<16,6>"
_AUTO = re.compile(r"^\s*auto\s*(?:<\s*(\d+)\s*>)?\s*$", re.I)


@dataclass
class FixedOptions:
    precision: str = DEFAULT_PRECISION
    rounding: str = "rnd"
    overflow: str = "sat"
    reuse_factor: int = 1
    overrides: dict = field(default_factory=dict)  # layer name → format text or {"output", "weight"}

    def __post_init__(self):
        if self.rounding not in ROUNDING:
            raise UsageError(f"--rounding {self.rounding}: choose from {', '.join(ROUNDING)}")
        if self.overflow not in OVERFLOW:
            raise UsageError(f"--overflow {self.overflow}: choose from {', '.join(OVERFLOW)}")
        if int(self.reuse_factor) < 1:
            raise UsageError(f"--reuse-factor {self.reuse_factor}: must be a positive integer")

    @property
    def auto_width(self) -> int | None:
        m = _AUTO.match(self.precision)
        if not m:
            return None
        w = int(m.group(1) or 16)
        if not 2 <= w <= 32:
            raise UsageError(f"--precision {self.precision}: width must be 2..32")
        return w

    def fixed(self, text: str, what: str) -> Fixed:
        return parse_fixed(text, self.rounding, self.overflow, what)


def load_config(path: str | Path) -> dict:
    path = Path(path)
    try:
        cfg = json.loads(path.read_text())
    except OSError as e:
        raise UsageError(f"--config {path}: cannot read ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"--config {path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(cfg, dict):
        raise UsageError(f"--config {path}: expected a JSON object {{\"layer name\": \"fixed<W,I>\", ...}}")
    return cfg


@dataclass
class FixedPlan:
    options: FixedOptions
    act: dict[str, Fixed]  # every activation tensor: graph inputs and node outputs
    layers: list[Layer]
    ranges: dict[str, tuple[float, float]] | None  # calibrated (None without calibration data)
    graph: Graph

    def flagged(self) -> list[dict]:
        """Layers whose calibrated output range, or whose weights, exceed their format."""
        out = []
        producer = {o: L for L in self.layers for o in L.node.outputs}
        if self.ranges:
            for t, (lo, hi) in self.ranges.items():
                f = self.act.get(t)
                L = producer.get(t)
                if L is not None and L.kind.passthrough:
                    continue  # keeps its producer's format: the producer is the layer to flag
                if f is not None and (lo < f.lo or hi > f.hi):
                    out.append({"layer": L.node.name if L else t, "op": L.node.op if L else "input", "tensor": t,
                                "what": "output" if L else "input", "range": [lo, hi], "format": f.short(),
                                "representable": [f.lo, f.hi]})
        for L in self.layers:
            if L.weight_values is not None:
                w = L.weight_values
                f = L.weight_fmt
                lo, hi = float(w.min()), float(w.max())
                if lo < f.lo or hi > f.hi:
                    out.append({"layer": L.node.name, "op": L.node.op, "tensor": L.weight_tensor, "what": "weights",
                                "range": [lo, hi], "format": f.short(), "representable": [f.lo, f.hi]})
        return out


NONNEGATIVE_OPS = ("Relu", "Sigmoid", "HardSigmoid", "Softmax")


def nonnegative(node) -> bool:
    """Whether the node's output cannot be negative whatever its input (structurally, not from calibration)."""
    spec = node.attrs.get("activation") or ({"op": node.op, **node.attrs} if node.op in ("Relu", "Clip") else None)
    if node.op in NONNEGATIVE_OPS or (spec and spec["op"] == "Relu"):
        return True
    return bool(spec and spec["op"] == "Clip" and isinstance(spec.get("min"), (int, float)) and spec["min"] >= 0)


def _max_abs(lo: float, hi: float) -> float:
    return max(abs(lo), abs(hi))


def assign(graph: Graph, options: FixedOptions, ranges: dict | None = None) -> FixedPlan:
    auto_w = options.auto_width
    default = None if auto_w else options.fixed(options.precision, "--precision")
    if auto_w and not ranges:
        raise UsageError(f"--precision {options.precision} chooses formats from calibrated ranges: pass --calib data.npz")
    names = {n.name: n for n in graph.nodes}
    overrides = dict(options.overrides)
    for key in overrides:
        if key not in names and key != "input" and key not in graph.inputs:
            raise UsageError(f"--config: no layer named '{key}' (layers: {', '.join(list(names)[:12])}"
                             f"{', ...' if len(names) > 12 else ''})")

    def spec(v, what: str) -> Fixed | int:
        """A format, or the width W of `auto<W>` (integer bits from the range)."""
        if not isinstance(v, str):
            raise UsageError(f"{what}: expected a string like \"fixed<12,4>\" or \"auto<8>\"")
        m = _AUTO.match(v)
        if m:
            w = int(m.group(1) or 16)
            if not 2 <= w <= 32:
                raise UsageError(f"{what} '{v}': width must be 2..32")
            return w
        return options.fixed(v, what)

    def parse_override(key: str) -> tuple:
        v = overrides.get(key)
        if v is None:
            return None, None, None
        if isinstance(v, str):
            return spec(v, f"--config '{key}'"), None, None
        if isinstance(v, dict) and set(v) <= {"output", "weight", "accum"}:
            o, w, a = v.get("output"), v.get("weight"), v.get("accum")
            return (spec(o, f"--config '{key}' output") if o else None,
                    spec(w, f"--config '{key}' weight") if w else None,
                    parse_fixed(a, options.rounding, "wrap", f"--config '{key}' accum", 62) if a else None)
        raise UsageError(f"--config '{key}': expected \"fixed<W,I>\" / \"auto<W>\" or "
                         f"{{\"output\": ..., \"weight\": ..., \"accum\": ...}}")

    def act_format(t: str, nonneg: bool = False, override=None, label: str | None = None) -> Fixed:
        if isinstance(override, Fixed):
            return override
        if override is None and default is not None:
            return default
        width = override or auto_w
        if not ranges:
            raise UsageError(f"auto<{width}> for '{label or t}' chooses its format from calibrated ranges: "
                             f"pass --calib data.npz")
        lo, hi = ranges.get(t, (0.0, 0.0))
        signed = not (nonneg and width <= 16)  # ufixed for outputs that cannot be negative (one more bit)
        return Fixed(width, int_bits_for(_max_abs(lo, hi), width, signed), signed, options.rounding, options.overflow)

    def weight_format(w: np.ndarray, override) -> Fixed:
        if isinstance(override, Fixed):
            return override
        if override is None and default is not None:
            return default
        width = override or auto_w
        return Fixed(width, int_bits_for(float(np.max(np.abs(w))) if w.size else 0.0, width), True,
                     options.rounding, options.overflow)

    act: dict[str, Fixed] = {}
    for i, name in enumerate(graph.inputs):
        o, _, _ = parse_override(name) if name in overrides else parse_override("input") if i == 0 else (None,) * 3
        act[name] = act_format(name, False, o)

    layers: list[Layer] = []
    for node in graph.nodes:
        fx = get_fx(node)
        out_o, w_o, acc_o = parse_override(node.name)
        in_fmts = [act[i] for i in node.inputs if i and not graph.tensors[i].is_const]
        if fx.passthrough:
            if out_o is not None or w_o is not None or acc_o is not None:
                raise UsageError(f"--config '{node.name}': a {node.op} keeps its input's format; "
                                 f"set the format on the layer that produces its input")
            out_fmt = in_fmts[0]
        else:
            out_fmt = act_format(node.outputs[0], nonnegative(node), out_o, f"layer {node.name}")
        wt = fx.weight_input(node, graph)
        if w_o is not None and wt is None:
            raise UsageError(f"--config '{node.name}': this {node.op} has no constant input (weights)")
        wv = fx.weight_values(node, graph) if wt else None
        w_fmt = weight_format(wv, w_o) if wt else None
        if acc_o is not None and not fx.accumulates:
            raise UsageError(f"--config '{node.name}': only Conv/ConvTranspose/Gemm/MatMul layers have an accumulator to set")
        L = fx.lower(node, graph, in_fmts, out_fmt, w_fmt, accum=acc_o) if fx.accumulates else \
            fx.lower(node, graph, in_fmts, out_fmt, w_fmt)
        L.weight_tensor, L.weight_values = wt, wv
        L.node_out_shape = tuple(graph.tensors[node.outputs[0]].shape)
        for o in node.outputs:
            if o:
                act[o] = out_fmt
        layers.append(L)
    return FixedPlan(options, act, layers, ranges, graph)
