"""Resource and latency estimate of the generated HLS code for a reuse factor R (as in hls4ml).

The model, per layer (what the generated pragmas ask the HLS tool for):
  Conv       one output pixel (all output channels) per pipeline iteration, II = R:
             multipliers = ceil(M · C/group · kh · kw / R), cycles = N · OH · OW · R
  Gemm/MatMul one input row per pipeline iteration, II = R:
             multipliers = ceil(n_out · n_in / R), cycles = rows · R
  AveragePool / GlobalAveragePool: one multiplier (the reciprocal), one input or output element per cycle
  other layers: no multiplier, one output element per cycle (II = 1); Reshape is free (an alias)
  weight_bits = Σ weights (and constant operands) · W_weight + Σ biases · W_accumulator
             (+ BatchNormalization offsets at the width their largest value needs)
  BRAM18K    = 0 when R = 1 (weights fully partitioned into registers), else ceil(weight_bits / 18432)
             (one 18 Kib block RAM holds 18432 bits; a lower bound: a real mapping pads widths/depths)
  latency    = Σ cycles: layers run one after another (no DATAFLOW overlap, no pipeline fill counted).
Estimates for sizing, not synthesis results.
"""
from __future__ import annotations

import math

import numpy as np

from .assign import FixedPlan

BRAM18K_BITS = 18432


def layer_costs(plan: FixedPlan) -> list[dict]:
    R = int(plan.options.reuse_factor)
    rows = []
    for L in plan.layers:
        c = L.kind.cost(L, R)
        wbits = 0  # weights (and constant operands) at the weight format, biases at the accumulator's width
        for role, (data, _) in L.consts.items():
            if role == "b":
                wbits += int(data.size) * L.acc.W
            elif role == "w" or role.startswith("k"):
                wbits += int(data.size) * L.weight_fmt.W
            elif role == "shift":  # BatchNormalization offsets: as wide as their largest value needs
                wbits += int(data.size) * (int(np.max(np.abs(data))).bit_length() + 1 if data.size else 0)
        bram = 0 if R == 1 or wbits == 0 else math.ceil(wbits / BRAM18K_BITS)
        rows.append({"layer": L.node.name, "op": L.node.op + (f"+{L.node.attrs['activation']['op']}"
                                                               if L.node.attrs.get("activation") else ""),
                     "input_format": L.in_fmts[0].short(), "output_format": L.out_fmt.short(),
                     "weight_format": L.weight_fmt.short() if L.weight_fmt else None,
                     "accumulator": f"fixed<{L.acc.W},{L.acc.W - L.acc.F}> ({L.acc.ctype})" if L.acc else None,
                     "macs": L.macs, "multipliers": int(c["multipliers"]), "cycles": int(c["cycles"]),
                     "weight_bits": wbits, "bram18k": bram})
    return rows


def totals(plan: FixedPlan, rows: list[dict] | None = None) -> dict:
    rows = rows if rows is not None else layer_costs(plan)
    return {"reuse_factor": int(plan.options.reuse_factor), "precision": plan.options.precision,
            "rounding": plan.options.rounding, "overflow": plan.options.overflow,
            "multipliers": sum(r["multipliers"] for r in rows), "latency_cycles": sum(r["cycles"] for r in rows),
            "weight_bits": sum(r["weight_bits"] for r in rows), "bram18k": sum(r["bram18k"] for r in rows),
            "macs": sum(r["macs"] for r in rows)}


def format_table(rows: list[dict], tot: dict) -> str:
    head = ("layer", "op", "in", "out", "weights", "accumulator", "MACs", "mults", "cycles", "weight bits", "BRAM18K")
    table = [head]
    for r in rows:
        table.append((r["layer"][:28], r["op"], r["input_format"], r["output_format"], r["weight_format"] or "-",
                      r["accumulator"] or "-", str(r["macs"]), str(r["multipliers"]), str(r["cycles"]),
                      str(r["weight_bits"]), str(r["bram18k"])))
    table.append(("total", "", "", "", "", "", str(tot["macs"]), str(tot["multipliers"]), str(tot["latency_cycles"]),
                  str(tot["weight_bits"]), str(tot["bram18k"])))
    widths = [max(len(t[i]) for t in table) for i in range(len(head))]
    out = []
    for k, t in enumerate(table):
        out.append("  ".join(c.ljust(w) if i < 6 else c.rjust(w) for i, (c, w) in enumerate(zip(t, widths))).rstrip())
        if k == 0 or k == len(table) - 2:
            out.append("  ".join("-" * w for w in widths))
    out.append(f"reuse factor {tot['reuse_factor']}: {tot['multipliers']} multipliers, latency {tot['latency_cycles']} "
               f"cycles (layers in sequence), weights {tot['weight_bits']} bits ({tot['bram18k']} BRAM18K)")
    return "\n".join(out)
