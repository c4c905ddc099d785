"""Helpers shared by op modules: broadcasting, strides, loop descriptions for templates."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError


def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError(f"shapes {[list(s) for s in shapes]} do not broadcast") from None


def strides(shape: tuple[int, ...]) -> list[int]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


def broadcast_strides(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> list[int]:
    """Element strides of `in_shape` seen through broadcasting to `out_shape` (0 on broadcast dims)."""
    pad = len(out_shape) - len(in_shape)
    full = (1,) * pad + tuple(in_shape)
    st = strides(full)
    return [0 if full[i] == 1 and out_shape[i] != 1 else st[i] for i in range(len(out_shape))]


def coalesce(shape: tuple[int, ...], stride_sets: list[list[int]]) -> tuple[list[int], list[list[int]]]:
    """Merge adjacent loop dims that are contiguous in every operand; drop size-1 dims.
    Returns (dims, strides per operand); always at least one dim."""
    dims: list[int] = []
    sets: list[list[int]] = [[] for _ in stride_sets]
    for i, d in enumerate(shape):
        if d == 1:
            continue
        if dims and all(s[i] * d == ss[-1] for s, ss in zip(stride_sets, sets)):
            dims[-1] *= d
            for s, ss in zip(stride_sets, sets):
                ss[-1] = s[i]
            continue
        dims.append(d)
        for s, ss in zip(stride_sets, sets):
            ss.append(s[i])
    if not dims:
        return [1], [[0] for _ in stride_sets]
    return dims, sets


def loop_nest(out_shape: tuple[int, ...], in_shapes: list[tuple[int, ...]]) -> dict:
    """Template args for an N-d loop over `out_shape` reading broadcast inputs:
    dims, out strides and one stride list per input (coalesced)."""
    ost = strides(out_shape)
    ists = [broadcast_strides(s, out_shape) for s in in_shapes]
    dims, sets = coalesce(out_shape, [ost] + ists)
    return {"dims": dims, "ostrides": sets[0], "istrides": sets[1:]}


def norm_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise ValueError(f"{what} {axis} out of range for rank {rank}")
    return axis % rank if rank else 0


def attr_ints(attrs: dict, key: str, default=None) -> list[int] | None:
    v = attrs.get(key, default)
    return None if v is None else [int(x) for x in v]


def need_float(node, dtype: str) -> None:
    if dtype not in ("float32", "float64"):
        raise UnsupportedError(f"node '{node.name}' ({node.op}): dtype {dtype} is not supported (float only)")


def index_expr(var: str, strides: list[int]) -> str:
    """C index expression over loop variables var0, var1, ... ('0' when all strides are 0)."""
    terms = [f"{var}{d}" if s == 1 else f"{var}{d} * {s}" for d, s in enumerate(strides) if s != 0]
    return " + ".join(terms) if terms else "0"
