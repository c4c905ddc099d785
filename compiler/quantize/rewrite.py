"""Float Graph → int8 Graph (TFLite/TFLM scheme), from calibrated ranges.

* Activations: int8 per-tensor asymmetric, scale = (hi − lo)/255 (range widened to contain 0),
  zero point = round(−128 − lo/scale). Scales are float32 values (the C code prints them exactly).
* Weights: int8 per-output-channel symmetric in [−127, 127]; bias int32 with scale s_in·s_w[c].
* Conv/Gemm → QConv/QGemm (fused Relu/Relu6/Clip become the clamp); Add/Mul → QAdd/QMul (a Relu/Clip
  that alone follows them is fused as a clamp); AveragePool/GlobalAveragePool → QAvgPool (same
  scale in and out, TFLM rounding); Concat requantizes inputs to its output scale (QRequantize);
  Sigmoid/Tanh/HardSigmoid/HardSwish/LeakyRelu (and unfused Relu/Clip) → QLut (256-entry tables
  computed here; Sigmoid's output is 1/256, −128 and Tanh's 1/128, 0 as TFLM fixes them);
  MaxPool/GlobalMaxPool/Reshape/Transpose/Identity/Pad pass int8 through with unchanged parameters.
* Everything else stays float between DequantizeLinear/QuantizeLinear (mixed precision); those
  layers are listed in the result.
* Graph inputs and outputs stay float32, as in a TFLM model with float I/O: the graph quantizes its
  inputs with QuantizeLinear and dequantizes its outputs with DequantizeLinear, so the caller's API
  does not change; model.h carries the scales and zero points of those boundary tensors.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UsageError
from ..ir import Graph, Node, QuantParams, Tensor
from ..ops.activations import apply_activation
from .calibrate import Calibration, calibrate
from .fixedpoint import quantize_multiplier, quantize_multipliers, round_half_away

CLAMP_ACTS = ("Relu", "Clip")
LUT_OPS = ("Relu", "Clip", "LeakyRelu", "HardSwish", "HardSigmoid", "Sigmoid", "Tanh")
FIXED_OUTPUT = {"Sigmoid": (1.0 / 256, -128), "Tanh": (1.0 / 128, 0), "Softmax": (1.0 / 256, -128)}
PASS_THROUGH = ("Reshape", "Transpose", "Identity", "MaxPool", "GlobalMaxPool", "Pad", "Resize")


@dataclass
class QuantizeResult:
    graph: Graph
    calibration: Calibration
    float_layers: list[str] = field(default_factory=list)  # "name (op)" of layers left in float
    int8_layers: int = 0
    tensor_map: dict[str, str] = field(default_factory=dict)  # int8 tensor → float tensor it stands for
    source: Graph | None = None  # the float graph that was calibrated (activations unfused)


def act_qparams(lo: float, hi: float) -> tuple[float, int]:
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-30:
        hi = lo + 1e-6
    scale = float(np.float32((hi - lo) / 255.0))
    zp = int(np.clip(round_half_away(-128.0 - lo / scale), -128, 127))
    return scale, zp


def quantize_value(v: float, scale: float, zp: int) -> int:
    return int(np.clip(round_half_away(np.float64(v) / scale) + zp, -128, 127))


def quantize_weights(w: np.ndarray, scales: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel (axis 0) symmetric int8 in [−127, 127] → (int8 weights, float64 scales).
    `scales`: given ones (a QDQ model's), else max|w| / 127 per channel."""
    flat = np.asarray(w, np.float64).reshape(w.shape[0], -1)
    if scales is None:
        amax = np.abs(flat).max(axis=1)
        scales = np.where(amax > 0, amax / 127.0, 1.0)
    scales = np.asarray(scales).astype(np.float32).astype(np.float64)
    q = np.clip(round_half_away(flat / scales[:, None]), -127, 127).astype(np.int8)
    return q.reshape(w.shape), scales


def imported_weight_scales(quant: QuantParams | None, channels: int, channel_axis: int) -> np.ndarray | None:
    """A QDQ model's weight scales per output channel, when they are symmetric (zero point 0) and
    per-tensor or along the output-channel axis; None otherwise (convc derives its own)."""
    if quant is None or np.any(np.asarray(quant.zero_point) != 0):
        return None
    sc = np.ravel(np.asarray(quant.scale, np.float32))
    if sc.size == 1:
        return np.full(channels, sc[0], np.float32)
    if quant.axis == channel_axis and sc.size == channels:
        return sc
    return None


def clamp_range(spec: dict | None, scale: float, zp: int) -> tuple[int, int]:
    lo, hi = -128, 127
    if not spec:
        return lo, hi
    if spec["op"] == "Relu":
        lo = max(lo, zp)
    elif spec["op"] == "Clip":
        if spec.get("min") is not None:
            lo = max(lo, quantize_value(spec["min"], scale, zp))
        if spec.get("max") is not None:
            hi = min(hi, quantize_value(spec["max"], scale, zp))
    else:
        raise ValueError(f"{spec['op']} is not a clamp")
    return lo, hi


def _is_clamp(spec: dict | None) -> bool:
    return spec is None or (spec["op"] in CLAMP_ACTS and all(
        not isinstance(spec.get(k), str) for k in ("min", "max")))


def unfuse_activations(graph: Graph) -> Graph:
    """A copy where activations fused into Conv/Gemm that are not clamps (LeakyRelu, HardSwish)
    are separate nodes again: their input range needs calibrating and they become lookup tables."""
    g = graph.copy()
    nodes = []
    for n in g.nodes:
        nodes.append(n)
        spec = n.attrs.get("activation")
        if n.op in ("Conv", "Gemm") and spec and not _is_clamp(spec):
            out = n.outputs[0]
            pre = g.unique_name(out + "_pre")
            t = g.tensors[out]
            g.add_tensor(Tensor(pre, t.shape, t.dtype))
            n.attrs = {k: v for k, v in n.attrs.items() if k != "activation"}
            n.outputs = [pre]
            nodes.append(Node(g.unique_name(n.name + "_act"), spec["op"], [pre], [out],
                              {k: v for k, v in spec.items() if k != "op"}))
    g.nodes = nodes
    g.verify()
    return g


class _Rewriter:
    def __init__(self, g: Graph, calib: Calibration):
        self.g, self.calib = g, calib
        self.q = Graph(g.name)
        self.f: dict[str, str] = {}  # float tensors available in q (same names as in g)
        self.i8: dict[str, str] = {}  # float tensor name in g → its int8 tensor in q
        self.qp: dict[str, tuple[float, int]] = {}  # int8 tensor in q → (scale, zp)
        self.node_names: set[str] = set()
        self.float_layers: list[str] = []
        self.int8_layers = 0
        self.tensor_map: dict[str, str] = {}
        self.consumers = g.consumers()
        self.skip: set[str] = set()

    # ---- tensors ------------------------------------------------------
    def known(self, name: str) -> bool:
        """Whether int8 parameters exist for this tensor (imported, calibrated, or a constant)."""
        t = self.g.tensors[name]
        return t.is_const or name in self.i8 or (t.quant is not None and t.quant.axis is None) or \
            name in self.calib.ranges

    def range_qparams(self, name: str) -> tuple[float, int]:
        t = self.g.tensors[name]
        if t.quant is not None and t.quant.axis is None and np.size(t.quant.scale) == 1:  # imported (QDQ model)
            return float(np.float32(np.ravel(t.quant.scale)[0])), int(np.ravel(t.quant.zero_point)[0])
        if t.is_const:
            return act_qparams(float(np.min(t.data)), float(np.max(t.data)))
        if name not in self.calib.ranges:
            raise UsageError(f"internal: tensor '{name}' was not calibrated")
        return act_qparams(*self.calib.ranges[name])

    def unique_tensor(self, base: str) -> str:
        return base if base not in self.q.tensors and base not in self.g.tensors else self.q.unique_name(base)

    def node_name(self, base: str) -> str:
        name, k = base, 1
        while name in self.node_names:
            k += 1
            name = f"{base}_{k}"
        self.node_names.add(name)
        return name

    def new_int8(self, float_name: str, scale: float, zp: int, shape=None) -> str:
        qn = self.unique_tensor(float_name + "_q")
        shape = self.g.tensors[float_name].shape if shape is None else shape
        self.q.add_tensor(Tensor(qn, tuple(shape), "int8",
                                 quant=QuantParams(np.array([scale], np.float32), np.array([zp], np.int32))))
        self.i8[float_name] = qn
        self.qp[qn] = (scale, zp)
        self.tensor_map[qn] = float_name
        return qn

    def const(self, name: str, data: np.ndarray, quant: QuantParams | None = None) -> str:
        n = self.unique_tensor(name)
        self.q.add_tensor(Tensor(n, tuple(data.shape), data.dtype.name, np.ascontiguousarray(data), quant))
        return n

    def emit(self, op: str, inputs: list[str], outputs: list[str], attrs: dict, base: str) -> None:
        self.q.nodes.append(Node(self.node_name(base), op, inputs, outputs, attrs))

    def get_f(self, name: str) -> str:
        if not name or name in self.f:
            return name
        t = self.g.tensors[name]
        if t.is_const:
            self.q.add_tensor(Tensor(name, t.shape, t.dtype, t.data))
        else:
            qn = self.i8[name]
            s, zp = self.qp[qn]
            self.q.add_tensor(Tensor(name, t.shape, t.dtype))
            self.emit("DequantizeLinear", [qn], [name], {"scale": s, "zero_point": zp}, name + "_dequantize")
        self.f[name] = name
        return name

    def get_q(self, name: str) -> str:
        if name in self.i8:
            return self.i8[name]
        t = self.g.tensors[name]
        s, zp = self.range_qparams(name)
        if t.is_const:
            data = np.clip(round_half_away(np.asarray(t.data, np.float64) / s) + zp, -128, 127).astype(np.int8)
            qn = self.const(name + "_q", data, QuantParams(np.array([s], np.float32), np.array([zp], np.int32)))
            self.i8[name], self.qp[qn] = qn, (s, zp)
            return qn
        src = self.get_f(name)
        qn = self.new_int8(name, s, zp)
        self.emit("QuantizeLinear", [src], [qn], {"scale": s, "zero_point": zp}, name + "_quantize")
        return qn

    def is_float_act(self, name: str) -> bool:
        t = self.g.tensors[name]
        return not t.is_const and t.dtype == "float32"

    # ---- nodes --------------------------------------------------------
    def run(self) -> Graph:
        for i in self.g.inputs:
            t = self.g.tensors[i]
            self.q.add_tensor(Tensor(i, t.shape, t.dtype))
            self.f[i] = i
        self.q.inputs = list(self.g.inputs)
        for n in self.g.nodes:
            if n.name in self.skip:
                continue
            handler = getattr(self, "_" + n.op.lower(), None)
            done = handler(n) if handler is not None and self.quantizable(n) else False
            if done:
                self.int8_layers += 1
            else:
                self.keep_float(n)
        for o in self.g.outputs:
            self.get_f(o)
        self.q.outputs = list(self.g.outputs)
        self.q.verify()
        return self.q

    def quantizable(self, n: Node) -> bool:
        ins = [i for i in n.inputs if i]
        if not (ins and self.is_float_act(ins[0]) and all(self.g.tensors[o].dtype == "float32" for o in n.outputs if o)):
            return False
        if not all(self.known(i) for i in ins):
            return False
        derived = n.op in PASS_THROUGH + ("AveragePool", "GlobalAveragePool") or n.op in FIXED_OUTPUT
        return derived or all(self.known(o) for o in n.outputs if o)

    def keep_float(self, n: Node) -> None:
        ins = [self.get_f(i) for i in n.inputs]
        for o in n.outputs:
            if o:
                t = self.g.tensors[o]
                self.q.add_tensor(Tensor(o, t.shape, t.dtype))
                self.f[o] = o
        self.node_names.add(n.name)
        self.q.nodes.append(Node(n.name, n.op, ins, list(n.outputs), dict(n.attrs)))
        if n.op not in ("Identity",):
            self.float_layers.append(f"{n.name} ({n.op})")

    def fuse_clamp(self, n: Node) -> tuple[str, dict | None]:
        """If the only reader of n's output is a Relu/Clip with constant bounds, fuse it:
        (the tensor whose range sets the output parameters, the clamp spec)."""
        out = n.outputs[0]
        readers = self.consumers.get(out, [])
        if out in self.g.outputs or len(readers) != 1:
            return out, None
        r = readers[0]
        spec = {"op": r.op, **r.attrs} if r.op in CLAMP_ACTS else None
        if spec is None or len(r.inputs) > 1 or not _is_clamp(spec) or not self.known(r.outputs[0]):
            return out, None
        self.skip.add(r.name)
        return r.outputs[0], spec

    def _conv(self, n: Node) -> bool:
        x, w = n.inputs[0], n.inputs[1]
        b = n.inputs[2] if len(n.inputs) > 2 and n.inputs[2] else None
        spec = n.attrs.get("activation")
        if not self.g.tensors[w].is_const or (b and not self.g.tensors[b].is_const) or not _is_clamp(spec):
            return False
        wd = self.g.tensors[w].data
        bd = self.g.tensors[b].data if b else np.zeros(wd.shape[0])
        return self._dense("QConv", n, x, wd, bd, spec, {k: n.attrs[k] for k in ("kernel_shape", "strides", "dilations",
                                                                                   "pads", "group")},
                           imported_weight_scales(self.g.tensors[w].quant, wd.shape[0], 0))

    def _gemm(self, n: Node) -> bool:
        a = n.attrs
        x, w = n.inputs[0], n.inputs[1]
        c = n.inputs[2] if len(n.inputs) > 2 and n.inputs[2] else None
        if a["transA"] or not self.g.tensors[w].is_const or (c and not self.g.tensors[c].is_const):
            return False
        if not _is_clamp(a.get("activation")):
            return False
        wd = np.asarray(self.g.tensors[w].data, np.float64)
        wd = (wd if a["transB"] else wd.T) * a["alpha"]  # [N, K]
        nout = wd.shape[0]
        if c:
            cd = np.asarray(self.g.tensors[c].data, np.float64)
            if cd.size not in (1, nout) or (cd.ndim == 2 and cd.shape[0] != 1):
                return False
            bd = np.broadcast_to(cd.reshape(-1), (nout,)) * a["beta"]
        else:
            bd = np.zeros(nout)
        wscales = imported_weight_scales(self.g.tensors[w].quant, nout, 0 if a["transB"] else 1) \
            if a["alpha"] == 1.0 else None
        return self._dense("QGemm", n, x, wd, bd, a.get("activation"), {}, wscales)

    def _matmul(self, n: Node) -> bool:
        """A (M, K) activation times a constant (K, N) matrix: a fully-connected layer (QGemm)."""
        a, b = (self.g.tensors[i] for i in n.inputs)
        if len(a.shape) != 2 or b.data is None or len(b.shape) != 2:
            return False
        wd = np.asarray(b.data, np.float64).T
        return self._dense("QGemm", n, n.inputs[0], wd, np.zeros(wd.shape[0]), None, {},
                           imported_weight_scales(b.quant, wd.shape[0], 1))

    def _dense(self, op: str, n: Node, x: str, wd, bd, spec, attrs, wscales=None) -> bool:
        y = n.outputs[0]
        xq = self.get_q(x)
        s_in, zp_in = self.qp[xq]
        s_out, zp_out = self.range_qparams(y)
        wq, sw = quantize_weights(np.asarray(wd), wscales)
        bias_scale = s_in * sw
        bq = np.clip(round_half_away(np.asarray(bd, np.float64) / bias_scale), -(2 ** 31), 2 ** 31 - 1).astype(np.int32)
        mult, shift = quantize_multipliers(bias_scale / s_out)
        act_min, act_max = clamp_range(spec, s_out, zp_out)
        wn = self.const(n.inputs[1] + "_q", wq, QuantParams(sw.astype(np.float32), np.zeros(len(sw), np.int32), axis=0))
        bn = self.const((n.inputs[2] if len(n.inputs) > 2 and n.inputs[2] else y + "_bias") + "_q", bq,
                        QuantParams((bias_scale).astype(np.float32), np.zeros(len(sw), np.int32), axis=0))
        yq = self.new_int8(y, s_out, zp_out)
        self.emit(op, [xq, wn, bn], [yq], {**attrs, "in_zp": zp_in, "out_zp": zp_out, "multiplier": mult,
                                           "shift": shift, "act_min": act_min, "act_max": act_max}, n.name)
        return True

    def _binary(self, n: Node, op: str) -> bool:
        if len(n.inputs) != 2 or not all(self.g.tensors[i].dtype == "float32" for i in n.inputs):
            return False
        out_name, spec = self.fuse_clamp(n)
        aq, bq = self.get_q(n.inputs[0]), self.get_q(n.inputs[1])
        (sa, za), (sb, zb) = self.qp[aq], self.qp[bq]
        s_out, zp_out = self.range_qparams(out_name)
        act_min, act_max = clamp_range(spec, s_out, zp_out)
        attrs = {"zp_a": za, "zp_b": zb, "out_zp": zp_out, "act_min": act_min, "act_max": act_max}
        if op == "QAdd":
            from ..ops.qadd import add_params

            attrs.update(add_params(sa, sb, s_out))
        else:
            m, s = quantize_multiplier(sa * sb / s_out)
            attrs.update({"multiplier": m, "shift": s})
        yq = self.new_int8(out_name, s_out, zp_out, shape=self.g.tensors[n.outputs[0]].shape)
        self.emit(op, [aq, bq], [yq], attrs, n.name)
        return True

    def _add(self, n: Node) -> bool:
        return self._binary(n, "QAdd")

    def _mul(self, n: Node) -> bool:
        return self._binary(n, "QMul")

    def _averagepool(self, n: Node) -> bool:
        return self._avg(n, dict(n.attrs))

    def _avg(self, n: Node, attrs: dict) -> bool:
        """Same parameters in and out (TFLM AVERAGE_POOL_2D), unless a QDQ model gave the output
        its own: then the mean is requantized to them in one step (as TFLM's MEAN)."""
        xq = self.get_q(n.inputs[0])
        s, zp = self.qp[xq]
        attrs["zp"] = zp
        y = n.outputs[0]
        if self.g.tensors[y].quant is not None and self.range_qparams(y) != (s, zp):
            s_out, zp_out = self.range_qparams(y)
            m, sh = avgpool_requant(attrs, self.g.tensors[n.inputs[0]].shape, s, s_out)
            attrs.update({"out_zp": zp_out, "multiplier": m, "shift": sh})
            s, zp = s_out, zp_out
        yq = self.new_int8(y, s, zp)
        self.emit("QAvgPool", [xq], [yq], attrs, n.name)
        return True

    def _globalaveragepool(self, n: Node) -> bool:
        x = self.g.tensors[n.inputs[0]]
        if len(x.shape) not in (3, 4):
            return False
        r = len(x.shape) - 2
        return self._avg(n, {"kernel_shape": list(x.shape[2:]), "strides": [1] * r, "dilations": [1] * r,
                             "pads": [0] * (2 * r), "ceil_mode": 0, "count_include_pad": 0})

    def _pass_through(self, n: Node) -> bool:
        x = n.inputs[0]
        if len([o for o in n.outputs if o]) != 1:
            return False
        if x not in self.i8 and not (n.op == "Identity" and self.g.tensors[n.outputs[0]].quant is not None):
            return False  # only where int8 already flows (or a QDQ model asks for it): no extra quantize
        self.get_q(x)
        if n.op == "Pad" and n.attrs.get("mode") == "constant" and len(n.inputs) == 1:
            pass
        elif n.op == "Pad" or any(i for i in n.inputs[1:]) or (n.op == "Resize" and n.attrs["mode"] != "nearest"):
            return False  # (nearest Resize only gathers values; linear/cubic stay float)
        xq = self.i8[x]
        s, zp = self.qp[xq]
        attrs = dict(n.attrs)
        if n.op == "Pad":
            attrs["value"] = quantize_value(attrs["value"], s, zp)
        y = n.outputs[0]
        if self.g.tensors[y].quant is not None and self.range_qparams(y) != (s, zp):
            # a QDQ model gave the output other parameters: requantize after the op
            s_out, zp_out = self.range_qparams(y)
            if n.op != "Identity":
                mid = self.unique_tensor(xq + "_mid")
                self.q.add_tensor(Tensor(mid, self.g.tensors[y].shape, "int8", quant=self.q.tensors[xq].quant))
                self.emit(n.op, [xq], [mid], attrs, n.name)
                xq = mid
            m, sh = quantize_multiplier(s / s_out)
            yq = self.new_int8(y, s_out, zp_out)
            self.emit("QRequantize", [xq], [yq], {"in_zp": zp, "out_zp": zp_out, "multiplier": m, "shift": sh},
                      n.name + ("" if n.op == "Identity" else "_requantize"))
            return True
        yq = self.new_int8(y, s, zp)
        self.emit(n.op, [xq], [yq], attrs, n.name)
        return True

    _reshape = _transpose = _identity = _maxpool = _globalmaxpool = _pad = _resize = _pass_through

    def _concat(self, n: Node) -> bool:
        if not all(self.g.tensors[i].dtype == "float32" for i in n.inputs):
            return False
        s_out, zp_out = self.range_qparams(n.outputs[0])
        ins = []
        for i in n.inputs:
            iq = self.get_q(i)
            s, zp = self.qp[iq]
            if (s, zp) != (s_out, zp_out):
                m, sh = quantize_multiplier(s / s_out)
                rq = self.unique_tensor(iq + "_rq")
                t = self.q.tensors[iq]
                self.q.add_tensor(Tensor(rq, t.shape, "int8", quant=QuantParams(np.array([s_out], np.float32),
                                                                                np.array([zp_out], np.int32))))
                self.emit("QRequantize", [iq], [rq], {"in_zp": zp, "out_zp": zp_out, "multiplier": m, "shift": sh},
                          n.name + "_requantize")
                iq = rq
            ins.append(iq)
        yq = self.new_int8(n.outputs[0], s_out, zp_out)
        self.emit("Concat", ins, [yq], dict(n.attrs), n.name)
        return True

    def _lut(self, n: Node) -> bool:
        spec = {"op": n.op, **n.attrs}
        if len([i for i in n.inputs if i]) != 1 or not (n.op not in CLAMP_ACTS or _is_clamp(spec)):
            return False
        xq = self.get_q(n.inputs[0])
        s_in, zp_in = self.qp[xq]
        s_out, zp_out = FIXED_OUTPUT.get(n.op) or self.range_qparams(n.outputs[0])
        real = (np.arange(-128, 128, dtype=np.float64) - zp_in) * s_in
        y = apply_activation(spec, real.astype(np.float32)).astype(np.float64)
        table = np.clip(round_half_away(y / s_out) + zp_out, -128, 127).astype(np.int8)
        yq = self.new_int8(n.outputs[0], s_out, zp_out)
        self.emit("QLut", [xq], [yq], {"table": table, "function": n.op, "spec": spec}, n.name)
        return True

    _relu = _clip = _leakyrelu = _hardswish = _hardsigmoid = _sigmoid = _tanh = _lut

    def _softmax(self, n: Node) -> bool:
        """TFLM int8 Softmax over a contiguous innermost block (the last axis, or opset < 13's
        flattened tail); other axes stay float."""
        from .fixedpoint import softmax_params

        shape, ax = self.g.tensors[n.inputs[0]].shape, n.attrs["axis"]
        if not n.attrs.get("coerce_2d") and ax != len(shape) - 1:
            return False
        depth = int(np.prod(shape[ax:], dtype=np.int64))
        s_in, _ = self.qp[self.i8[n.inputs[0]]] if n.inputs[0] in self.i8 else self.range_qparams(n.inputs[0])
        try:
            params = softmax_params(s_in)
        except ValueError:
            return False
        xq = self.get_q(n.inputs[0])
        s_out, zp_out = FIXED_OUTPUT["Softmax"]
        yq = self.new_int8(n.outputs[0], s_out, zp_out)
        self.emit("QSoftmax", [xq], [yq], {**params, "depth": depth}, n.name)
        return True


def avgpool_requant(attrs: dict, x_shape, s_in: float, s_out: float):
    """Per output position (multiplier, shift) for a QAvgPool that requantizes s_in → s_out."""
    from ..ops.registry import get_op

    return get_op("QAvgPool").requant_tables(Node("pool", "QAvgPool", [], [], attrs), x_shape, s_in, s_out)


def quantize_graph(graph: Graph, calib_arrays: dict[str, np.ndarray] | None, method: str = "minmax") -> QuantizeResult:
    """Calibrate `graph` on the samples and rewrite it to int8. Without samples, only the parameters
    a QDQ model brought are used (tensors without them stay float)."""
    g = unfuse_activations(graph)
    calib = calibrate(g, calib_arrays, method) if calib_arrays is not None else Calibration("imported", 0, {})
    rw = _Rewriter(g, calib)
    q = rw.run()
    return QuantizeResult(q, calib, rw.float_layers, rw.int8_layers, rw.tensor_map, g)
