"""The FPGA-style fixed-point target: all-integer HLS-friendly C (compiler/codegen/hls.py), built
for the host with gcc and run in-process; judged bit for bit against the fixed-point simulator."""
from __future__ import annotations


def fpga_targets():
    from . import Target

    return [Target("fpga", "fpga", "fixed-point (ap_fixed-style) HLS C99 with per-layer formats; host build with gcc, "
                   "bit-exact vs the fixed-point simulator", tools=("cc",), packages=("gcc",), runner="host-fixed",
                   cflags=("-O2",))]
