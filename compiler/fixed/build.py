"""The FPGA compile step: options + calibration → FixedPlan → generated HLS C in a build folder."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..ir import Graph
from ..output import write_dir
from .assign import FixedOptions, FixedPlan, assign, load_config


def calibrate_ranges(graph: Graph, calib: str | os.PathLike, method: str = "minmax") -> tuple[dict, list[str]]:
    """Per-tensor real ranges over the calibration data (the int8 calibrator: float oracle over samples)."""
    from ..quantize.calibrate import calibrate, load_calibration

    arrays, warns = load_calibration(calib, graph)
    cal = calibrate(graph, arrays, method)
    return cal.ranges, warns + list(cal.warnings)


def make_plan(graph: Graph, precision: str | None = None, rounding: str = "rnd", overflow: str = "sat",
              reuse_factor: int = 1, config: str | os.PathLike | None = None, calib: str | os.PathLike | None = None,
              calib_method: str = "minmax", warn=None) -> FixedPlan:
    opts = FixedOptions(precision or "fixed<16,6>", rounding, overflow, reuse_factor,
                        load_config(config) if config else {})
    ranges = None
    if calib:
        ranges, warns = calibrate_ranges(graph, calib, calib_method)
        for w in warns:
            (warn or _stderr)(w)
    plan = assign(graph, opts, ranges)
    for f in plan.flagged():
        (warn or _stderr)(overflow_message(f))
    return plan


def overflow_message(f: dict) -> str:
    what = f["what"] if f["what"] == "weights" else f"calibrated {f['what']}"
    return (f"layer '{f['layer']}' ({f['op']}): {what} range [{f['range'][0]:.4g}, {f['range'][1]:.4g}] "
            f"exceeds {f['format']} [{f['representable'][0]:.4g}, {f['representable'][1]:.4g}]")


def _stderr(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def compile_fpga(plan: FixedPlan, out_dir: str | os.PathLike, prefix: str = "model", target: str = "fpga"):
    from ..codegen.hls import generate_hls

    m = generate_hls(plan, prefix=prefix, target=target)
    return write_dir(Path(out_dir), m.files), m
