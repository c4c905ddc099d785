"""Run an FPGA-target build (generated fixed-point C) on the host through ctypes.

Real inputs are quantized to the input format by Python (compiler/fixed/format.py) before the top
function is called — outside it, as the producer of an AXI stream would — and the integer outputs
are turned back into reals (q · 2^-F)."""
from __future__ import annotations

import ctypes
import json
import platform
from pathlib import Path

import numpy as np

from convc.compiler.fixed.format import Fixed, quantize, to_real

from .artifacts import Artifact
from .host import build_shared, host_cc


def _fmt(spec: dict) -> Fixed:
    f = spec["format"]
    return Fixed(f["W"], f["I"], f["signed"], f["rounding"], f["overflow"])


class HostFixedArtifact(Artifact):
    def __init__(self, build_dir: str | Path):
        self.dir = Path(build_dir)
        self.meta = json.loads((self.dir / "convc.json").read_text())
        self.lib_path = build_shared(self.dir)
        self._lib = ctypes.CDLL(str(self.lib_path))
        self._fn = getattr(self._lib, self.meta["entry"])
        self._fn.restype = None
        self.ran_on = f"host {platform.machine()} ({Path(host_cc()).name})"

    def run_int(self, ints: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One sample: integers of the input formats → integers of the output formats."""
        args, outs = [], {}
        for spec in self.meta["inputs"]:
            a = np.asarray(ints[spec["name"]])
            f = _fmt(spec)
            if a.size and (a.min() < f.qmin or a.max() > f.qmax):
                raise ValueError(f"input '{spec['name']}': integers outside {f.short()}")
            args.append(np.ascontiguousarray(a, dtype=spec["int_dtype"]).reshape(spec["shape"]))
        for spec in self.meta["outputs"]:
            outs[spec["name"]] = np.zeros(spec["shape"], dtype=spec["int_dtype"])
        self._fn(*[a.ctypes.data_as(ctypes.c_void_p) for a in args + list(outs.values())])
        return outs

    def run(self, inputs):
        ints = {s["name"]: quantize(np.asarray(inputs[s["name"]]), _fmt(s)) for s in self.meta["inputs"]}
        res = self.run_int(ints)
        return {s["name"]: to_real(res[s["name"]], _fmt(s)).astype(s["dtype"]) for s in self.meta["outputs"]}
