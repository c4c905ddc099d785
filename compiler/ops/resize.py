"""Resize (opsets 10, 11, 13, 18, 19) and Upsample (opsets 7, 9): one IR op.

Modes nearest (round_prefer_floor, round_prefer_ceil, floor, ceil), linear (any number of
resized axes) and cubic (cubic_coeff_a, exclude_outside); coordinate transforms half_pixel,
half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric (and opset 11's
tf_half_pixel_for_nn); scales or sizes (constants once shapes are fixed), `axes` and
keep_aspect_ratio_policy. Upsample and Resize-10 follow ONNX Runtime (ONNX's reference has no
implementation of them beyond integer nearest): asymmetric, the legacy nearest rule ('simple':
floor when upsampling an axis, ceil when downsampling it), and a plain copy when the output
shape equals the input shape.
Refused: tf_crop_and_resize, antialias=1, non-float data.

The import normalizes everything to per-axis `scales` (the factor the coordinate transform
divides by) and `sizes` (output extents). Edge cases follow the ONNX reference implementation:
the "resized length" in align_corners, pytorch_half_pixel and half_pixel_symmetric is
scale * length_original (fractional when it comes from a scale), neighbour indices outside
the input are clamped to its border, and an axis whose size and scale stay 1 is left alone.

C kernel: Python builds, per resized axis, a table of T taps (T = 1 nearest, 2 linear,
4 cubic) for each output coordinate: the input offset (index * input stride) and the weight.
The kernel sums, for each output element, the product of per-axis weights over the taps.
The oracle (`reference`) is a separate vectorized NumPy implementation of the spec formulas.
"""
from __future__ import annotations

import math

import numpy as np

from .common import strides
from .registry import CKernel, OpDef, register

MODES = ("nearest", "linear", "cubic")
TRANSFORMS = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
              "tf_half_pixel_for_nn")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple")
POLICIES = ("stretch", "not_larger", "not_smaller")
TAPS = {"nearest": 1, "linear": 2, "cubic": 4}


def is_identity(n_in: int, n_out: int, scale: float) -> bool:
    """An axis that keeps its size with scale 1 maps every coordinate onto itself (as in ONNX's reference)."""
    return n_in == n_out and math.isclose(scale, 1.0)


# ---------------------------------------------------------------------------
# the C kernel's tables: one output coordinate at a time


def source_coord(o: int, n_in: int, n_out: int, scale: float, transform: str) -> float:
    """x_original for output coordinate `o` (the spec's formulas; `length` is scale * n_in)."""
    length = scale * n_in
    if transform == "asymmetric":
        return o / scale
    if transform == "align_corners":
        return 0.0 if length == 1 else o * (n_in - 1) / (length - 1)
    if transform == "pytorch_half_pixel":
        return -0.5 if length == 1 else (o + 0.5) / scale - 0.5
    if transform == "tf_half_pixel_for_nn":
        return (o + 0.5) / scale
    if transform == "half_pixel_symmetric":
        return (n_in / 2) * (1 - n_out / length) + (o + 0.5) / scale - 0.5
    return (o + 0.5) / scale - 0.5  # half_pixel


def axis_taps(n_in: int, n_out: int, scale: float, attrs: dict) -> tuple[np.ndarray, np.ndarray]:
    """For each output coordinate along one axis: T clamped input indices and their T weights,
    as int64 [n_out, T] and float64 [n_out, T]."""
    mode, nm = attrs["mode"], attrs["nearest_mode"]
    a = float(attrs["cubic_coeff_a"])
    t = TAPS[mode]
    idx = np.zeros((n_out, t), np.int64)
    wts = np.ones((n_out, t), np.float64)
    for o in range(n_out):
        x = source_coord(o, n_in, n_out, scale, attrs["transform"])
        fl = math.floor(x)
        # `left` is the input index just left of x, x itself counting as the right one: ratio in (0, 1]
        left, ratio = (fl - 1, 1.0) if x == fl else (fl, x - fl)
        if mode == "nearest":
            if nm == "simple":
                nm_o = "ceil" if scale < 1 else "floor"
            else:
                nm_o = nm
            right = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5,
                     "floor": ratio == 1.0, "ceil": True}[nm_o]
            taps, ws = [left + 1 if right else left], [1.0]
        elif mode == "linear":
            taps, ws = [left, left + 1], [1.0 - ratio, ratio]
        else:
            r, s = ratio, 1.0 - ratio
            taps = [left - 1, left, left + 1, left + 2]
            ws = [((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
                  ((a + 2) * r - (a + 3)) * r * r + 1,
                  ((a + 2) * s - (a + 3)) * s * s + 1,
                  ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a]
            if attrs["exclude_outside"]:
                ws = [w if 0 <= p < n_in else 0.0 for p, w in zip(taps, ws)]
                total = sum(ws) or 1.0
                ws = [w / total for w in ws]
        idx[o] = [min(max(p, 0), n_in - 1) for p in taps]
        wts[o] = ws
    return idx, wts


# ---------------------------------------------------------------------------
# the oracle: whole axes at once, written from the spec independently of `axis_taps`


def _coords(n_in: int, n_out: int, scale: float, transform: str) -> np.ndarray:
    y = np.arange(n_out, dtype=np.float64)
    length = scale * n_in
    half = (y + 0.5) / scale
    if transform == "asymmetric":
        return y / scale
    if transform == "align_corners":
        return np.zeros(n_out) if length == 1 else y * (n_in - 1) / (length - 1)
    if transform == "pytorch_half_pixel":
        return np.full(n_out, -0.5) if length == 1 else half - 0.5
    if transform == "tf_half_pixel_for_nn":
        return half
    if transform == "half_pixel_symmetric":
        return n_in / 2 * (1 - n_out / length) + half - 0.5
    return half - 0.5


def _nearest_index(xo: np.ndarray, mode: str, scale: float) -> np.ndarray:
    if mode == "simple":
        mode = "ceil" if scale < 1 else "floor"
    pick = {"round_prefer_floor": lambda v: np.ceil(v - 0.5), "round_prefer_ceil": lambda v: np.floor(v + 0.5),
            "floor": np.floor, "ceil": np.ceil}[mode]
    return pick(xo)


def _kernel(d: np.ndarray, mode: str, a: float) -> np.ndarray:
    """The interpolation kernel at signed distance d (linear: triangle; cubic: Keys with A = a)."""
    d = np.abs(d)
    if mode == "linear":
        return np.maximum(0.0, 1.0 - d)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def resize_axis(x: np.ndarray, axis: int, n_out: int, scale: float, attrs: dict) -> np.ndarray:
    n_in = x.shape[axis]
    xo = _coords(n_in, n_out, scale, attrs["transform"])
    if attrs["mode"] == "nearest":
        i = _nearest_index(xo, attrs["nearest_mode"], scale)
        return np.take(x, np.clip(i, 0, n_in - 1).astype(np.intp), axis=axis)
    lo = -1 if attrs["mode"] == "cubic" else 0
    j = np.floor(xo)[:, None] + np.arange(lo, lo + TAPS[attrs["mode"]])[None, :]  # [n_out, T]
    w = _kernel(xo[:, None] - j, attrs["mode"], float(attrs["cubic_coeff_a"]))
    if attrs["exclude_outside"]:
        w = np.where((j >= 0) & (j < n_in), w, 0.0)
        s = w.sum(axis=1, keepdims=True)
        w = w / np.where(s == 0, 1.0, s)
    g = np.take(x, np.clip(j, 0, n_in - 1).astype(np.intp), axis=axis)  # [..., n_out, T, ...]
    return (g * w.reshape((1,) * axis + w.shape + (1,) * (x.ndim - axis - 1))).sum(axis=axis + 1)


# ---------------------------------------------------------------------------


@register
class Resize(OpDef):
    name = "Resize"
    onnx_types = ("Resize", "Upsample")

    def import_onnx(self, ctx, node):
        a = ctx.attrs(node)
        x = ctx.tensor(node.input[0])
        r = len(x.shape)
        if x.dtype not in ("float32", "float64"):
            raise ctx.unsupported(node, f"element type {x.dtype} is not supported (float32 and float64 are)")
        mode = a.get("mode", "nearest")
        legacy = node.op_type == "Upsample" or ctx.opset < 11
        if mode not in (MODES[:2] if legacy else MODES):
            raise ctx.unsupported(node, f"mode {mode!r} is not supported")
        if legacy:
            transform, nearest_mode, policy, axes, sizes = "asymmetric", "simple", "stretch", list(range(r)), None
            if node.op_type == "Upsample" and ctx.opset < 9:
                if "scales" not in a:
                    raise ctx.unsupported(node, "the 'scales' attribute is missing")
                scales = np.asarray(a["scales"], np.float32)
            else:
                scales = ctx.require_const(node, 1, "scales")
        else:
            transform = a.get("coordinate_transformation_mode", "half_pixel")
            if transform == "tf_crop_and_resize":
                raise ctx.unsupported(node, "coordinate_transformation_mode 'tf_crop_and_resize' (crop to a "
                                            "region of interest) is not supported")
            if transform not in TRANSFORMS:
                raise ctx.unsupported(node, f"coordinate_transformation_mode {transform!r} is not supported")
            if int(a.get("antialias", 0)):
                raise ctx.unsupported(node, "antialias=1 (antialiased downscaling) is not supported")
            nearest_mode = a.get("nearest_mode", "round_prefer_floor")
            if nearest_mode not in NEAREST_MODES[:4]:
                raise ctx.unsupported(node, f"nearest_mode {nearest_mode!r} is not supported")
            policy = a.get("keep_aspect_ratio_policy", "stretch")
            if policy not in POLICIES:
                raise ctx.unsupported(node, f"keep_aspect_ratio_policy {policy!r} is not supported")
            axes = [int(v) for v in a.get("axes", range(r))]
            if any(not -r <= v < r for v in axes) or len({v % r for v in axes}) != len(axes):
                raise ctx.unsupported(node, f"axes {axes} are out of range or repeated for rank {r}")
            axes = [v % r for v in axes]
            scales = ctx.require_const(node, 2, "scales")
            sizes = ctx.require_const(node, 3, "sizes")
        if scales is not None and scales.size == 0:
            scales = None
        if sizes is not None and sizes.size == 0:
            sizes = None
        if (scales is None) == (sizes is None):
            raise ctx.unsupported(node, "exactly one of 'scales' and 'sizes' must be given")
        given = scales if scales is not None else sizes
        if given.ndim != 1 or given.size != len(axes):
            raise ctx.unsupported(node, f"{'scales' if sizes is None else 'sizes'} has {given.size} values "
                                        f"for {len(axes)} resized axes")
        full_scales, full_sizes = [1.0] * r, list(x.shape)
        if sizes is not None:
            for d, s in zip(axes, sizes.tolist()):
                full_sizes[d] = int(s)
            full_scales = [full_sizes[d] / x.shape[d] for d in range(r)]
            if policy != "stretch":
                pick = min if policy == "not_larger" else max
                s = pick(full_scales[d] for d in axes)
                full_scales = [s if d in axes else 1.0 for d in range(r)]
                full_sizes = [int(s * x.shape[d] + 0.5) if d in axes else x.shape[d] for d in range(r)]
        else:
            for d, s in zip(axes, np.asarray(scales, np.float32).astype(np.float64).tolist()):
                if not s > 0 or not math.isfinite(s):
                    raise ctx.unsupported(node, f"scale {s} must be positive and finite")
                full_scales[d] = s
            full_sizes = [int(math.floor(full_scales[d] * x.shape[d])) for d in range(r)]
        if any(s <= 0 for s in full_sizes):
            raise ctx.unsupported(node, f"the output shape {full_sizes} is empty; empty tensors are not supported")
        if legacy and full_sizes == list(x.shape):
            full_scales = [1.0] * r  # ONNX Runtime copies the input when the shape does not change
        exclude = int(a.get("exclude_outside", 0)) if not legacy else 0
        if exclude and mode == "nearest":
            raise ctx.unsupported(node, "exclude_outside=1 with mode 'nearest' is not supported")
        if mode == "linear":
            exclude = 0  # out-of-range linear taps clamp onto the border tap: renormalizing changes nothing
        attrs = {"mode": mode, "transform": transform, "nearest_mode": nearest_mode,
                 "cubic_coeff_a": float(a.get("cubic_coeff_a", -0.75)), "exclude_outside": exclude,
                 "scales": full_scales, "sizes": full_sizes}
        ctx.emit("Resize", [node.input[0]], [node.output[0]], attrs, node=node)

    def infer(self, node, inputs):
        x, a = inputs[0], node.attrs
        if x.dtype not in ("float32", "float64") and not (a["mode"] == "nearest" and x.dtype in ("int8", "uint8")):
            raise ValueError(f"dtype {x.dtype} is not supported (float; int8 for nearest)")
        if len(a["scales"]) != len(x.shape) or len(a["sizes"]) != len(x.shape):
            raise ValueError(f"scales/sizes do not match rank {len(x.shape)}")
        if a["mode"] not in MODES or a["transform"] not in TRANSFORMS or a["nearest_mode"] not in NEAREST_MODES:
            raise ValueError(f"bad attributes {a}")
        if any(int(s) <= 0 for s in a["sizes"]):
            raise ValueError(f"output size {list(a['sizes'])} is empty")
        return [(tuple(int(s) for s in a["sizes"]), x.dtype)]

    def resized_axes(self, node, shape) -> list[int]:
        a = node.attrs
        return [d for d in range(len(shape)) if not is_identity(shape[d], a["sizes"][d], a["scales"][d])]

    def reference(self, node, inputs):
        x, a = inputs[0], node.attrs
        y = x.astype(np.float64)
        for d in self.resized_axes(node, x.shape):
            y = resize_axis(y, d, int(a["sizes"][d]), float(a["scales"][d]), a)
        return [y.astype(x.dtype)]

    def macs(self, node, graph):
        x = graph.tensors[node.inputs[0]]
        if node.attrs["mode"] == "nearest":
            return 0
        taps = TAPS[node.attrs["mode"]] ** len(self.resized_axes(node, x.shape))
        return int(np.prod(node.attrs["sizes"], dtype=np.int64)) * taps

    def relax(self, node, bb, args, graph):
        """Axis by axis, through the C kernel's tap tables: y = sum over taps of
        take(y, tap indices, axis) * tap weights (broadcast along that axis)."""
        from ..codegen.relax import const, op

        x = graph.tensors[node.inputs[0]]
        y_shape = graph.tensors[node.outputs[0]].shape
        a = node.attrs
        y = args[0]
        for d in self.resized_axes(node, x.shape):
            idx, wts = axis_taps(x.shape[d], y_shape[d], float(a["scales"][d]), a)
            if idx.shape[1] == 1:
                y = op.take(y, const(idx[:, 0], "int64"), axis=d)
                continue
            wshape = [-1 if k == d else 1 for k in range(len(x.shape))]
            terms = [op.multiply(op.take(y, const(idx[:, t], "int64"), axis=d),
                                 const(wts[:, t].reshape(wshape), x.dtype)) for t in range(idx.shape[1])]
            y = terms[0]
            for term in terms[1:]:
                y = op.add(y, term)
            y = bb.emit(y)
        return y

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        y = graph.tensors[node.outputs[0]]
        a = node.attrs
        t = TAPS[a["mode"]]
        ist, ost = strides(x.shape), strides(y.shape)
        resized = set(self.resized_axes(node, x.shape))
        # loops over the output: resized axes keep their own loop; runs of untouched axes merge
        loops: list[dict] = []
        for d in range(len(x.shape)):
            if d in resized:
                loops.append({"axis": d, "n": y.shape[d], "ist": ist[d], "ost": ost[d]})
            elif y.shape[d] == 1:
                continue
            elif loops and loops[-1]["axis"] is None and loops[-1]["ist"] == ist[d] * x.shape[d] \
                    and loops[-1]["ost"] == ost[d] * y.shape[d]:
                loops[-1].update(n=loops[-1]["n"] * y.shape[d], ist=ist[d], ost=ost[d])
            else:
                loops.append({"axis": None, "n": y.shape[d], "ist": ist[d], "ost": ost[d]})
        if not loops:
            loops = [{"axis": None, "n": 1, "ist": 0, "ost": 0}]
        def term(i: str, stride: int) -> list[str]:
            return [] if stride == 0 else [i if stride == 1 else f"{i} * {stride}"]

        src, dst, weight, taps = [], [], [], []
        for k, l in enumerate(loops):
            i = f"i{k}"
            dst += term(i, l["ost"])
            if l["axis"] is None:
                src += term(i, l["ist"])
                continue
            d = l["axis"]
            idx, wts = axis_taps(x.shape[d], y.shape[d], float(a["scales"][d]), a)
            off = ctx.add_table(f"{node.name}_ax{d}_off", (idx * ist[d]).astype(np.int32), "int32")
            if t == 1:
                src.append(f"{off}[{i}]")
                continue
            at = f"{i} * {t} + t{k}"
            src.append(f"{off}[{at}]")
            weight.append(f"{ctx.add_table(f'{node.name}_ax{d}_w', wts, x.dtype)}[{at}]")
            taps.append({"var": f"t{k}", "n": t})
        args = {"loops": [{"var": f"i{k}", "n": l["n"]} for k, l in enumerate(loops)], "taps": taps,
                "src": " + ".join(src) or "0", "dst": " + ".join(dst) or "0", "weight": " * ".join(weight),
                "ctype": ctx.ctype(x.dtype), "zero": ctx.literal(0, x.dtype)}
        return CKernel("resize", args)
