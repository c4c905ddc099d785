"""Calibration: run the float oracle over sample inputs and choose a real range per activation tensor.

Methods: `minmax` (observed extremes), `percentile` (0.01 / 99.99 percentiles, robust to outliers),
`mse` (the clipped range whose int8 quantize→dequantize error is smallest on the observed values).
Data: an `.npz` keyed by input name (as `--data`), or a folder holding one `<input name>.npy` per input.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import reference
from ..errors import UsageError
from ..ir import Graph

METHODS = ("minmax", "percentile", "mse")
MIN_SAMPLES = 16  # fewer than this gives ranges that rarely generalize: warn
RESERVOIR = 400_000  # values kept per tensor (spread evenly over samples) for percentile / mse
PERCENTILE = 99.99


@dataclass
class Calibration:
    method: str
    samples: int
    ranges: dict[str, tuple[float, float]]  # tensor name → (lo, hi), lo <= 0 <= hi
    warnings: list[str] = field(default_factory=list)


def load_calibration(path: str | Path, graph: Graph) -> tuple[dict[str, np.ndarray], list[str]]:
    """Calibration arrays by input name ([N, *sample shape], the input's dtype) and warnings."""
    from convc.runtime.data import load_data, sample_shape

    path = Path(path)
    if path.is_dir():
        arrays = {}
        for name in graph.inputs:
            f = path / f"{name}.npy"
            if not f.is_file():
                raise UsageError(f"--calib {path}: no file '{name}.npy' for model input '{name}'")
            try:
                a = np.load(f, allow_pickle=False)
            except (OSError, ValueError) as e:
                raise UsageError(f"--calib {f}: not a readable .npy file ({e})") from None
            want = sample_shape(graph.tensors[name].shape)
            if tuple(a.shape[1:]) != want:
                raise UsageError(f"--calib {f}: shape {list(a.shape)}; expected [N, {', '.join(map(str, want))}] "
                                 f"for input '{name}'")
            arrays[name] = a
        ns = {a.shape[0] for a in arrays.values()}
        if len(ns) != 1 or 0 in ns:
            raise UsageError(f"--calib {path}: the .npy files disagree on the number of samples or hold none")
    elif path.is_file():
        arrays, _ = load_data(path, graph, what="--calib")  # names, shapes, sample counts
        with np.load(path, allow_pickle=False) as raw:  # load_data casts: check the stored dtypes first
            for name in graph.inputs:
                dt, want = raw[name].dtype, graph.tensors[name].dtype
                if np.dtype(want).kind == "f" and dt.kind != "f":
                    raise UsageError(f"--calib {path}: array '{name}' has dtype {dt}; the model input is {want} "
                                     f"(give real-valued samples as the model sees them)")
    else:
        raise UsageError(f"--calib {path}: no such file or folder")
    for name, a in arrays.items():
        t = graph.tensors[name]
        if np.dtype(t.dtype).kind == "f" and a.dtype.kind != "f":
            raise UsageError(f"--calib {path}: array '{name}' has dtype {a.dtype}; the model input is {t.dtype}")
        if np.dtype(t.dtype).kind == "f" and not np.all(np.isfinite(a)):
            raise UsageError(f"--calib {path}: array '{name}' contains NaN or infinity")
        arrays[name] = a.astype(t.dtype)
    n = next(iter(arrays.values())).shape[0]
    warns = []
    if n < MIN_SAMPLES:
        warns.append(f"calibrating on only {n} sample(s) (fewer than {MIN_SAMPLES}): ranges may not generalize")
    return arrays, warns


def _int8_qdq_error(vals: np.ndarray, lo: float, hi: float) -> float:
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    zp = np.clip(np.round(-128 - lo / scale), -128, 127)
    q = np.clip(np.round(vals / scale) + zp, -128, 127)
    d = (q - zp) * scale - vals
    return float(np.mean(d * d))


def choose_range(vals: np.ndarray, lo: float, hi: float, method: str) -> tuple[float, float]:
    if method == "minmax" or vals.size == 0:
        return lo, hi
    if method == "percentile":
        plo, phi = np.percentile(vals, [100 - PERCENTILE, PERCENTILE])
        return max(lo, float(plo)), min(hi, float(phi))
    if method == "mse":
        vals = vals[:: max(1, vals.size // 65536)]
        best, best_err = (lo, hi), _int8_qdq_error(vals, lo, hi)
        for a in np.geomspace(0.01, 1.0, 48)[:-1]:  # shrink both ends, or one (one-sided tails)
            for cand in ((lo * a, hi * a), (lo, hi * a), (lo * a, hi)):
                err = _int8_qdq_error(vals, *cand)
                if err < best_err:
                    best, best_err = cand, err
        return float(best[0]), float(best[1])
    raise UsageError(f"unknown calibration method '{method}' (choose from {', '.join(METHODS)})")


def calibrate(graph: Graph, arrays: dict[str, np.ndarray], method: str = "minmax") -> Calibration:
    """Ranges of every float activation tensor (graph inputs and node outputs) over the samples."""
    if method not in METHODS:
        raise UsageError(f"unknown calibration method '{method}' (choose from {', '.join(METHODS)})")
    from convc.runtime.data import sample

    names = [i for i in graph.inputs] + [o for n in graph.nodes for o in n.outputs if o]
    names = [t for t in dict.fromkeys(names) if np.dtype(graph.tensors[t].dtype).kind == "f"]
    n = next(iter(arrays.values())).shape[0]
    lo = {t: np.inf for t in names}
    hi = {t: -np.inf for t in names}
    keep: dict[str, list[np.ndarray]] = {t: [] for t in names}
    for i in range(n):
        env = reference.run(graph, sample(arrays, i, graph), keep_all=True)
        for t in names:
            v = np.asarray(env[t], np.float64).ravel()
            lo[t] = min(lo[t], float(v.min()))
            hi[t] = max(hi[t], float(v.max()))
            if method != "minmax":
                per = max(1, RESERVOIR // n)
                keep[t].append(v[:: max(1, v.size // per)])
    ranges = {}
    for t in names:
        vals = np.concatenate(keep[t]) if keep[t] else np.zeros(0)
        a, b = choose_range(vals, lo[t], hi[t], method)
        ranges[t] = (min(a, 0.0), max(b, 0.0))
    return Calibration(method, n, ranges)
