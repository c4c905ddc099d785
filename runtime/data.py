"""Data files: `.npz` with one array per model input (first axis = samples, the rest = the
input's shape without its batch axis) and an optional integer `labels` array [N]."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from convc.compiler.errors import UsageError
from convc.compiler.ir import Graph


def sample_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Per-sample shape in a data file: the input's shape without a leading batch axis of 1."""
    return tuple(shape[1:]) if len(shape) >= 1 and shape[0] == 1 else tuple(shape)


def load_data(path: str | Path, graph: Graph, what: str = "--data") -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    path = Path(path)
    try:
        npz = np.load(path, allow_pickle=False)
        arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise UsageError(f"{what} {path}: not a readable .npz file ({e})") from None
    labels = arrays.pop("labels", None)
    out, n = {}, None
    for name in graph.inputs:
        t = graph.tensors[name]
        if name not in arrays:
            raise UsageError(f"{what} {path}: no array named '{name}' (model inputs: {graph.inputs}; file has {sorted(arrays)})")
        a = arrays[name]
        want = sample_shape(t.shape)
        if a.ndim == len(t.shape) and tuple(a.shape) == tuple(t.shape) and t.shape[0] != 1:
            a = a[None]
        if tuple(a.shape[1:]) != want:
            raise UsageError(f"{what} {path}: array '{name}' has shape {list(a.shape)}; expected [N, {', '.join(map(str, want))}]")
        if a.dtype.kind not in "fiub":
            raise UsageError(f"{what} {path}: array '{name}' has dtype {a.dtype}; expected numbers")
        if n is not None and a.shape[0] != n:
            raise UsageError(f"{what} {path}: arrays disagree on the number of samples ({n} vs {a.shape[0]})")
        n = a.shape[0]
        if n == 0:
            raise UsageError(f"{what} {path}: array '{name}' holds no samples")
        out[name] = a.astype(t.dtype)
    if labels is not None:
        if labels.ndim != 1 or labels.shape[0] != n or labels.dtype.kind not in "iu":
            raise UsageError(f"{what} {path}: 'labels' must be an integer array of shape [{n}]")
    return out, labels


def random_data(graph: Graph, n: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic seeded inputs: standard normal floats, small integers for integer inputs."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in graph.inputs:
        t = graph.tensors[name]
        shape = (n,) + sample_shape(t.shape)
        if np.dtype(t.dtype).kind == "f":
            out[name] = rng.standard_normal(shape).astype(t.dtype)
        else:
            out[name] = rng.integers(0, 4, shape).astype(t.dtype)
    return out


def sample(arrays: dict[str, np.ndarray], i: int, graph: Graph) -> dict[str, np.ndarray]:
    return {k: v[i].reshape(graph.tensors[k].shape) for k, v in arrays.items()}
