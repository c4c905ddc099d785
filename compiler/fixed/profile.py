"""`convc profile --target fpga`: per-layer ranges against the representable range of each format,
as a table and a PNG (matplotlib), plus a precision sweep (accuracy / SQNR vs bit width)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import ToolchainError, UsageError
from .assign import FixedOptions, FixedPlan, assign
from .format import Fixed
from .simulate import run

SWEEP_WIDTHS = tuple(range(6, 17))


def profile_rows(plan: FixedPlan) -> list[dict]:
    """One row per weight tensor and per activation tensor: observed range vs format."""
    g = plan.graph
    rows = []

    def row(layer, what, tensor, lo, hi, f: Fixed, values=None):
        m = max(abs(lo), abs(hi))
        status = "OVERFLOW" if lo < f.lo or hi > f.hi else "ok"
        used = math.floor(math.log2(m)) + 2 if m > 0 else None  # integer bits the range needs (with sign)
        r = {"layer": layer, "what": what, "tensor": tensor, "range": [float(lo), float(hi)],
             "format": f.short(), "representable": [f.lo, f.hi], "lsb": 2.0 ** -f.F,
             "int_bits_needed": used, "status": status}
        if values is not None:  # weights: how many round to zero, and the spread of |w| (1st percentile to max)
            a = np.abs(values[values != 0])
            r["below_half_lsb"] = float(np.mean(a < r["lsb"] / 2)) if a.size else 0.0
            r["spread"] = [float(np.percentile(a, 1)), float(a.max())] if a.size else None
        rows.append(r)

    for name in g.inputs:
        if plan.ranges and name in plan.ranges:
            row("input", "input", name, *plan.ranges[name], plan.act[name])
    for L in plan.layers:
        if L.weight_values is not None:
            w = L.weight_values
            row(L.node.name, "weights", L.weight_tensor, float(w.min()), float(w.max()), L.weight_fmt, w.ravel())
        o = L.node.outputs[0]
        if plan.ranges and o in plan.ranges:
            row(L.node.name, "output", o, *plan.ranges[o], L.out_fmt)
    return rows


def format_rows(rows: list[dict]) -> str:
    head = ("layer", "tensor", "observed range", "format", "representable", "needs I", "-> 0", "status")
    t = [head] + [(r["layer"][:28], r["what"], f"[{r['range'][0]:.4g}, {r['range'][1]:.4g}]", r["format"],
                   f"[{r['representable'][0]:.4g}, {r['representable'][1]:.4g}]",
                   "-" if r["int_bits_needed"] is None else str(r["int_bits_needed"]),
                   f"{100 * r['below_half_lsb']:.1f}%" if "below_half_lsb" in r else "", r["status"]) for r in rows]
    w = [max(len(x[i]) for x in t) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w[i]) for i, c in enumerate(x)).rstrip() for x in t]
    lines.insert(1, "  ".join("-" * v for v in w))
    lines.append("needs I: integer bits (sign included) the observed range needs; -> 0: non-zero weights that "
                 "quantize to zero (below half an lsb)")
    return "\n".join(lines)


def sweep(graph, ranges, arrays: dict, labels, options: FixedOptions, widths=SWEEP_WIDTHS) -> list[dict]:
    """auto<W> for each width: accuracy (with labels) and SQNR of the first output vs the float oracle."""
    from .. import reference
    from convc.runtime.metrics import compare, top1

    n = next(iter(arrays.values())).shape[0]
    full = {k: v.reshape((n, *graph.tensors[k].shape)) for k, v in arrays.items()}
    o = graph.outputs[0]
    ref = np.stack([reference.run(graph, {k: v[i] for k, v in full.items()})[o] for i in range(n)])
    out = []
    for W in widths:
        opts = FixedOptions(f"auto<{W}>", options.rounding, options.overflow, options.reuse_factor, {})
        plan = assign(graph, opts, ranges)
        y = run(plan, full).real(plan)[o].reshape(ref.shape)
        r = {"width": W, "precision": f"auto<{W}>", "sqnr_db": compare(y, ref)["sqnr_db"]}
        if labels is not None:
            r["accuracy"] = float(np.mean(top1(y) == labels))
        out.append(r)
    if labels is not None:
        out.append({"width": None, "precision": "float", "sqnr_db": math.inf,
                    "accuracy": float(np.mean(top1(ref) == labels))})
    return out


def format_sweep(rows: list[dict]) -> str:
    has_acc = any("accuracy" in r for r in rows)
    lines = ["precision   SQNR dB" + ("  accuracy" if has_acc else ""), "----------  -------" + ("  --------" if has_acc else "")]
    for r in rows:
        s = "inf" if math.isinf(r["sqnr_db"]) else f"{r['sqnr_db']:.1f}"
        lines.append(f"{r['precision']:<10}  {s:>7}" + (f"  {100 * r['accuracy']:7.2f}%" if "accuracy" in r else ""))
    return "\n".join(lines)


def plot(rows: list[dict], path: str | Path, title: str) -> None:
    """Horizontal bars in log2 magnitude: the format's span (lsb to max) in grey, the observed
    max |x| as a marker (red when it overflows)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ToolchainError("convc profile draws with matplotlib: pip install matplotlib "
                             "(scripts/setup.sh installs it)") from None
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(rows) + 1.6))
    labels = []
    for k, r in enumerate(rows):
        y = len(rows) - 1 - k
        lo_b, hi_b = math.log2(r["lsb"]), math.log2(max(abs(r["representable"][0]), r["representable"][1]))
        ax.barh(y, hi_b - lo_b, left=lo_b, color="#cccccc", edgecolor="#888888", height=0.6)
        if r.get("spread"):
            a, b = (math.log2(v) for v in r["spread"])
            ax.plot([a, b], [y, y], color="#1f77b4", linewidth=3, alpha=0.6)
        m = max(abs(r["range"][0]), abs(r["range"][1]))
        if m > 0:
            ax.plot([math.log2(m)], [y], marker="D", color="#c0392b" if r["status"] != "ok" else "#1f77b4")
        labels.append(f"{r['layer'][:24]} {r['what']} {r['format']}")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(list(reversed(labels)), fontsize=7)
    ax.set_xlabel("log2 |value|   grey: format, lsb to max; blue line: |weights|, 1st percentile to max;\n"
                  "marker: max |x| (calibrated for activations), red = exceeds the format")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    try:
        fig.savefig(str(path), dpi=110)
    except OSError as e:
        raise UsageError(f"-o {path}: cannot write ({e.strerror})") from None
    finally:
        plt.close(fig)
