"""Comparison metrics between a target's outputs and a reference (as in ST's validate report)."""
from __future__ import annotations

import math

import numpy as np


def compare(got: np.ndarray, want: np.ndarray) -> dict:
    g = np.asarray(got, np.float64).ravel()
    w = np.asarray(want, np.float64).ravel()
    d = g - w
    err2, ref2 = float(np.sum(d * d)), float(np.sum(w * w))
    ng, nw = float(np.linalg.norm(g)), float(np.linalg.norm(w))
    out = {
        "max_abs_err": float(np.max(np.abs(d))) if d.size else 0.0,
        "mean_abs_err": float(np.mean(np.abs(d))) if d.size else 0.0,
        "rel_l2": math.sqrt(err2 / ref2) if ref2 > 0 else (0.0 if err2 == 0 else math.inf),
        "cosine": (float(np.dot(g, w)) / (ng * nw)) if ng > 0 and nw > 0 else (1.0 if ng == nw else 0.0),
        "sqnr_db": (10 * math.log10(ref2 / err2)) if err2 > 0 else math.inf,
    }
    return out


def top1(x: np.ndarray) -> np.ndarray:
    """Arg-max over the last axis per sample (x: [N, ...])."""
    return np.asarray(x).reshape(x.shape[0], -1).argmax(axis=1)
