"""Printing values for C: types, literals, identifiers. No decisions about kernels here."""
from __future__ import annotations

import re

import numpy as np

from ..errors import UnsupportedError

CTYPES = {
    "float32": "float", "float64": "double",
    "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "uint16": "uint16_t",
    "int32": "int32_t", "uint32": "uint32_t", "int64": "int64_t", "uint64": "uint64_t",
    "bool": "uint8_t",
}

_C_KEYWORDS = set("""auto break case char const continue default do double else enum extern float for goto
if inline int long register restrict return short signed sizeof static struct switch typedef union unsigned
void volatile while _Bool _Complex _Imaginary main""".split())


def ctype(dtype: str) -> str:
    try:
        return CTYPES[dtype]
    except KeyError:
        raise UnsupportedError(f"dtype {dtype} has no C type in convc") from None


def sanitize(name: str, maxlen: int = 40) -> str:
    """Any string → a safe C identifier fragment ([A-Za-z0-9_], not starting with a digit)."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    s = re.sub(r"_+", "_", s).strip("_")[:maxlen].rstrip("_")
    if not s:
        s = "t"
    if s[0].isdigit():
        s = "t" + s
    if s in _C_KEYWORDS:
        s = s + "_"
    return s


def fresh(base: str, used: set[str]) -> str:
    """`base`, or `base_2`, `base_3`, ... : the first not in `used` (which then holds it)."""
    name, k = base, 1
    while name in used:
        k += 1
        name = f"{base}_{k}"
    used.add(name)
    return name


def comment(text: str, maxlen: int = 80) -> str:
    """Text safe inside a /* */ comment on one line."""
    s = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)[:maxlen]
    return s.replace("*/", "*_/").replace("/*", "/_*").replace("\\", "/")


def literal(value, dtype: str) -> str:
    """One scalar as a C literal of `dtype` (exact: shortest round-trip repr)."""
    if dtype in ("float32", "float64"):
        v = np.float32(value) if dtype == "float32" else np.float64(value)
        if np.isnan(v):
            return "NAN" if dtype == "float32" else "((double)NAN)"
        if np.isinf(v):
            s = "INFINITY" if dtype == "float32" else "((double)INFINITY)"
            return s if v > 0 else "(-" + s + ")"
        if v == 0 or 1e-4 <= abs(v) < 1e7:
            text = np.format_float_positional(v, unique=True, trim="0")
        else:
            text = np.format_float_scientific(v, unique=True, trim="0")
        return text + ("f" if dtype == "float32" else "")
    if dtype == "bool":
        return "1" if value else "0"
    v = int(value)
    if dtype == "int64":
        return "INT64_MIN" if v == -(1 << 63) else f"INT64_C({v})"
    if dtype == "uint64":
        return f"UINT64_C({v})"
    if dtype == "int32":
        return "INT32_MIN" if v == -(1 << 31) else str(v)
    if dtype == "uint32":
        return f"{v}u"
    return str(v)


def array_body(data: np.ndarray, dtype: str, per_line: int = 8) -> str:
    flat = np.ravel(data)
    items = [literal(x, dtype) for x in flat.tolist()] if flat.size else ["0"]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n    ".join(lines)


def math_fn(base: str, dtype: str) -> str:
    """C math function for the dtype: expf/exp, tanhf/tanh, ..."""
    return base + ("f" if dtype == "float32" else "")
