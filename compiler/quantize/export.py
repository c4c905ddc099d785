"""Export an int8 Graph (the rewrite's output) as a QDQ ONNX model that ONNX Runtime and other
tools read: every int8 activation is a QuantizeLinear output, every int8 op becomes
DequantizeLinear → the float ONNX op → QuantizeLinear, weights are int8 initializers with their
per-channel scales (axis 0) and biases int32 at scale s_in·s_w. Reshape, Transpose, MaxPool, Pad,
Concat and Identity are written the same way with equal parameters on both sides (as ONNX Runtime's
quantizer writes them). Re-importing the file gives back the same integer graph (same weights,
scales and zero points).

ONNX's QuantizeLinear rounds half to even and ORT requantizes in float, so ORT's results on the
exported file differ from convc's TFLM arithmetic by at most a step on ties, as on any QDQ model."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import UnsupportedError
from ..ir import Graph

OPSET = 19
INT8_DIRECT = ("Reshape", "Transpose", "MaxPool", "GlobalMaxPool", "Pad", "Concat", "Identity")


class _Exporter:
    def __init__(self, q: Graph):
        self.q = q
        self.nodes: list = []
        self.inits: dict[str, TensorProto] = {}
        self.dq_of: dict[str, str] = {}
        self.k = 0

    def name(self, base: str) -> str:
        self.k += 1
        return f"{base}__{self.k}"

    def init(self, base: str, arr: np.ndarray) -> str:
        n = self.name(base)
        self.inits[n] = numpy_helper.from_array(np.asarray(arr), n)
        return n

    def qparams(self, t: str) -> tuple[float, int]:
        qp = self.q.tensors[t].quant
        return float(np.float32(np.ravel(qp.scale)[0])), int(np.ravel(qp.zero_point)[0])

    def scale_zp(self, t: str) -> tuple[str, str]:
        s, zp = self.qparams(t)
        return self.init(t + "_scale", np.float32(s)), self.init(t + "_zero_point", np.int8(zp))

    def node(self, op: str, ins: list[str], outs: list[str], name: str, **attrs) -> None:
        self.nodes.append(helper.make_node(op, ins, outs, name=self.name(name), **attrs))

    def dq(self, t: str) -> str:
        """Float view of an int8 activation (or constant)."""
        if t not in self.dq_of:
            out = self.name(t + "_dq")
            self.node("DequantizeLinear", [self.int8_source(t), *self.scale_zp(t)], [out], t + "_dequantize")
            self.dq_of[t] = out
        return self.dq_of[t]

    def int8_source(self, t: str) -> str:
        tt = self.q.tensors[t]
        if tt.is_const:
            if t not in self.inits:
                self.inits[t] = numpy_helper.from_array(np.asarray(tt.data), t)
        return t

    def quantize_to(self, x_float: str, t: str, base: str) -> None:
        self.node("QuantizeLinear", [x_float, *self.scale_zp(t)], [t], base + "_quantize")

    def weights(self, w: str, b: str, s_in: float) -> tuple[str, str]:
        wt, bt = self.q.tensors[w], self.q.tensors[b]
        sw = np.asarray(wt.quant.scale, np.float32)
        wn = self.int8_source(w)
        wd = self.name(w + "_dq")
        self.node("DequantizeLinear", [wn, self.init(w + "_scale", sw), self.init(w + "_zero_point", np.zeros(sw.size, np.int8))],
                  [wd], w + "_dequantize", axis=0)
        bn = self.int8_source(b)
        bd = self.name(b + "_dq")
        bs = (np.float64(s_in) * sw.astype(np.float64)).astype(np.float32)
        self.node("DequantizeLinear", [bn, self.init(b + "_scale", bs), self.init(b + "_zero_point", np.zeros(sw.size, np.int32))],
                  [bd], b + "_dequantize", axis=0)
        return wd, bd

    def clamp(self, x: str, n, out_t: str) -> str:
        """A fused Relu6/Clip narrower than the output's int8 range, as a float Clip."""
        s, zp = self.qparams(out_t)
        lo, hi = n.attrs.get("act_min", -128), n.attrs.get("act_max", 127)
        if lo == -128 and hi == 127 or lo == zp and hi == 127:  # Relu: the quantization clamps
            return x
        y = self.name(out_t + "_clip")
        self.node("Clip", [x, self.init("clip_min", np.float32((lo - zp) * s)), self.init("clip_max", np.float32((hi - zp) * s))],
                  [y], n.name + "_clip")
        return y

    def run(self) -> onnx.ModelProto:
        q = self.q
        for n in q.nodes:
            ins = [i for i in n.inputs if i]
            y = n.outputs[0]
            f = self.name(y + "_f")
            if n.op == "QuantizeLinear":
                self.quantize_to(n.inputs[0], y, n.name)
            elif n.op == "DequantizeLinear":
                self.node("DequantizeLinear", [self.int8_source(n.inputs[0]), *self.scale_zp(n.inputs[0])], [y], n.name)
            elif n.op in ("QConv", "QGemm"):
                s_in, _ = self.qparams(n.inputs[0])
                wd, bd = self.weights(n.inputs[1], n.inputs[2], s_in)
                if n.op == "QConv":
                    a = {k: n.attrs[k] for k in ("kernel_shape", "strides", "dilations", "pads", "group")}
                    self.node("Conv", [self.dq(n.inputs[0]), wd, bd], [f], n.name, **a)
                else:
                    self.node("Gemm", [self.dq(n.inputs[0]), wd, bd], [f], n.name, transB=1)
                self.quantize_to(self.clamp(f, n, y), y, n.name)
            elif n.op in ("QAdd", "QMul"):
                self.node(n.op[1:], [self.dq(i) for i in ins], [f], n.name)
                self.quantize_to(self.clamp(f, n, y), y, n.name)
            elif n.op == "QAvgPool":
                a = {k: n.attrs[k] for k in ("kernel_shape", "strides", "pads", "ceil_mode", "count_include_pad")}
                if any(d != 1 for d in n.attrs["dilations"]):
                    a["dilations"] = n.attrs["dilations"]
                self.node("AveragePool", [self.dq(n.inputs[0])], [f], n.name, **a)
                self.quantize_to(f, y, n.name)
            elif n.op == "QLut":
                spec = dict(n.attrs["spec"])
                op = spec.pop("op")
                if op == "Clip":
                    extra = [self.init("clip_min", np.float32(spec["min"])) if spec.get("min") is not None else "",
                             self.init("clip_max", np.float32(spec["max"])) if spec.get("max") is not None else ""]
                    self.node("Clip", [self.dq(n.inputs[0]), *extra], [f], n.name)
                else:
                    self.node(op, [self.dq(n.inputs[0])], [f], n.name, **spec)
                self.quantize_to(f, y, n.name)
            elif n.op == "QSoftmax":
                if n.attrs["depth"] != q.tensors[n.inputs[0]].shape[-1]:
                    raise UnsupportedError(f"QDQ export: Softmax '{n.name}' over a flattened tail is not supported")
                self.node("Softmax", [self.dq(n.inputs[0])], [f], n.name, axis=-1)
                self.quantize_to(f, y, n.name)
            elif n.op == "QRequantize":
                self.quantize_to(self.dq(n.inputs[0]), y, n.name)
            elif n.op in INT8_DIRECT and q.tensors[y].dtype == "int8":
                self.direct(n)
            elif q.tensors[y].dtype == "int8":
                raise UnsupportedError(f"QDQ export: int8 layer '{n.name}' ({n.op}) has no QDQ form yet")
            else:
                raise UnsupportedError(f"QDQ export: layer '{n.name}' ({n.op}) runs in float; exporting mixed-precision "
                                       f"graphs is not supported yet")
        inputs = [helper.make_tensor_value_info(i, TensorProto.FLOAT, list(q.tensors[i].shape)) for i in q.inputs]
        outputs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, list(q.tensors[o].shape)) for o in q.outputs]
        g = helper.make_graph(self.nodes, q.name, inputs, outputs, initializer=list(self.inits.values()))
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="convc")
        model.ir_version = 9
        onnx.checker.check_model(model, full_check=True)
        return model

    def direct(self, n) -> None:
        a = dict(n.attrs)
        ins = [self.dq(i) for i in n.inputs if i]
        if n.op == "Reshape":
            ins.append(self.init("shape", np.asarray(a.pop("shape"), np.int64)))
        elif n.op == "Pad":
            r = len(self.q.tensors[n.inputs[0]].shape)
            pads = a.pop("pads")
            if len(pads) != 2 * r:
                raise UnsupportedError(f"QDQ export: Pad '{n.name}' with {len(pads)} pads for rank {r}")
            s, zp = self.qparams(n.inputs[0])
            ins += [self.init("pads", np.asarray(pads, np.int64)), self.init("pad_value", np.float32((a.pop("value") - zp) * s))]
        elif n.op in ("MaxPool",):
            a = {k: a[k] for k in ("kernel_shape", "strides", "pads", "dilations", "ceil_mode")}
        f = self.name(n.outputs[0] + "_f")
        self.node(n.op, ins, [f], n.name, **a)
        self.quantize_to(f, n.outputs[0], n.name)


def export_qdq(q: Graph) -> onnx.ModelProto:
    return _Exporter(q).run()


def write_qdq(q: Graph, path) -> None:
    """Write the QDQ model whole or not at all (a temporary file renamed into place)."""
    import os
    import tempfile
    from pathlib import Path

    data = export_qdq(q).SerializeToString()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
