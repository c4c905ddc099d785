"""TFLM's arena for the same network: convc's optimised float graph written as a .tflite (NHWC, the
op set a TFLite converter emits: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, pools, MEAN, ADD,
CONCATENATION, RESHAPE, PAD where ONNX pads are not TF 'SAME', fused RELU/RELU6), run by TFLM's
own interpreter (the `tflite-micro` package), its outputs checked against the convc oracle, and the
arena its RecordingMicroAllocator reports.

TFLM's "head" is the planner's peak for the non-persistent tensors, graph input and output
included; convc's arena excludes them (they are the caller's buffers), so the fair comparison is
convc arena + input + output bytes vs TFLM head. The "tail" (persistent: tensor structs, node
data) is reported separately; convc has no run-time equivalent (shapes are compiled in).
"""
from __future__ import annotations

import math
import os
import re
import tempfile

import numpy as np


class NotExportable(Exception):
    pass


def _tfl():
    from tflite_micro.tensorflow.lite.micro.compression import model_editor as me
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

    return me, tfl


ACT = {None: 0, "Relu": 1, "Relu6": 3}  # tflite ActivationFunctionType NONE, RELU, RELU6


def _act(attrs: dict) -> int:
    a = attrs.get("activation")
    if not a:
        return ACT[None]
    if a["op"] == "Relu":
        return ACT["Relu"]
    if a["op"] == "Clip" and a.get("min") == 0.0 and a.get("max") == 6.0:
        return ACT["Relu6"]
    raise NotExportable(f"fused activation {a}")


def _same_or_pads(in_hw, out_hw, k, s, d, pads) -> str | list[int]:
    """'SAME' / 'VALID' when TFLite's padding computes the same windows as the ONNX pads, else
    the explicit [top, left, bottom, right] pads for a PAD op in front of a VALID op."""
    if not any(pads):
        if all(o == (i - (kk - 1) * dd - 1) // ss + 1 for i, o, kk, ss, dd in zip(in_hw, out_hw, k, s, d)):
            return "VALID"
    same = True
    for ax, (i, o, kk, ss, dd) in enumerate(zip(in_hw, out_hw, k, s, d)):
        total = max((math.ceil(i / ss) - 1) * ss + (kk - 1) * dd + 1 - i, 0)
        if o != math.ceil(i / ss) or pads[ax] != total // 2:
            same = False
    return "SAME" if same else list(pads)


def export(graph) -> bytes:
    """The float graph as a .tflite flatbuffer (raises NotExportable for what has no mapping)."""
    me, tfl = _tfl()
    sg = me.Subgraph()
    tens: dict[str, object] = {}
    nhwc_flat: dict[str, tuple[int, int, int]] = {}  # 2-D tensors flattened from NHWC (C, H, W)

    def shape_of(name):
        sh = tuple(graph.tensors[name].shape)
        return (sh[0], sh[2], sh[3], sh[1]) if len(sh) == 4 else sh

    def act_tensor(name):
        if name not in tens:
            if graph.tensors[name].dtype != "float32":
                raise NotExportable(f"tensor {name} is {graph.tensors[name].dtype}")
            tens[name] = sg.add_tensor(shape=shape_of(name), dtype=tfl.TensorType.FLOAT32, name=name)
        return tens[name]

    def const(name, arr, dtype=np.float32, tt=None):
        arr = np.ascontiguousarray(arr, dtype=dtype)
        return sg.add_tensor(shape=arr.shape, dtype=tt if tt is not None else tfl.TensorType.FLOAT32,
                             data=arr, name=name)

    def op(code, inputs, outputs, opt_type=None, opt=None):
        o = sg.add_operator(opcode=code, inputs=inputs, outputs=outputs)
        if opt is not None:
            o._fb.builtinOptionsType = opt_type
            o._fb.builtinOptions = opt
        return o

    def padding(in_name, out_name, k, s, d, pads):
        ih, iw = graph.tensors[in_name].shape[2:]
        oh, ow = graph.tensors[out_name].shape[2:]
        p = _same_or_pads((ih, iw), (oh, ow), k, s, d, [pads[0], pads[1]])
        if p in ("SAME", "VALID"):
            return act_tensor(in_name), p
        # explicit PAD (zeros) in front of a VALID op
        x = act_tensor(in_name)
        n, h, w, c = shape_of(in_name)
        padded = sg.add_tensor(shape=(n, h + pads[0] + pads[2], w + pads[1] + pads[3], c),
                               dtype=tfl.TensorType.FLOAT32, name=f"{in_name}/pad")
        pv = const(f"{in_name}/pads", [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]], np.int32,
                   tfl.TensorType.INT32)
        op(tfl.BuiltinOperator.PAD, [x, pv], [padded])
        return padded, "VALID"

    PAD = {"SAME": tfl.Padding.SAME, "VALID": tfl.Padding.VALID}
    consumers: dict[str, list] = {}
    for n in graph.nodes:
        for i in n.inputs:
            consumers.setdefault(i, []).append(n)
    fused_relu: set[str] = set()

    for n in graph.nodes:
        a = n.attrs
        if n.name in fused_relu:
            continue
        if n.op == "Conv":
            w = graph.tensors[n.inputs[1]].data
            if w is None or len(w.shape) != 4:
                raise NotExportable(f"{n.name}: Conv needs constant 2-D weights")
            cout, cin_g, kh, kw = w.shape
            group = a.get("group", 1)
            b = graph.tensors[n.inputs[2]].data if len(n.inputs) > 2 and n.inputs[2] else np.zeros(cout, np.float32)
            x, pad = padding(n.inputs[0], n.outputs[0], (kh, kw), a["strides"], a["dilations"], a["pads"])
            y = act_tensor(n.outputs[0])
            if group == 1:
                opt = tfl.Conv2DOptionsT()
                code, ot, wt = tfl.BuiltinOperator.CONV_2D, tfl.BuiltinOptions.Conv2DOptions, w.transpose(0, 2, 3, 1)
            elif cin_g == 1 and group == graph.tensors[n.inputs[0]].shape[1]:
                opt = tfl.DepthwiseConv2DOptionsT()
                opt.depthMultiplier = cout // group
                code, ot = tfl.BuiltinOperator.DEPTHWISE_CONV_2D, tfl.BuiltinOptions.DepthwiseConv2DOptions
                wt = w.reshape(cout, kh, kw).transpose(1, 2, 0)[None]
            else:
                raise NotExportable(f"{n.name}: grouped Conv (group {group}) has no TFLite op")
            opt.padding, opt.strideH, opt.strideW = PAD[pad], a["strides"][0], a["strides"][1]
            opt.dilationHFactor, opt.dilationWFactor = a["dilations"]
            opt.fusedActivationFunction = _act(a)
            op(code, [x, const(f"{n.name}/w", wt), const(f"{n.name}/b", b)], [y], ot, opt)
        elif n.op == "Gemm":
            w = graph.tensors[n.inputs[1]].data
            if w is None or a.get("transA", 0) or a.get("alpha", 1) != 1 or a.get("beta", 1) != 1:
                raise NotExportable(f"{n.name}: Gemm form without a FULLY_CONNECTED equivalent")
            w = w if a.get("transB", 0) else w.T
            if n.inputs[0] in nhwc_flat:  # the input was flattened in NHWC order: permute the columns
                c, h, ww = nhwc_flat[n.inputs[0]]
                w = w.reshape(-1, c, h, ww).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
            b = graph.tensors[n.inputs[2]].data if len(n.inputs) > 2 and n.inputs[2] else np.zeros(w.shape[0], np.float32)
            opt = tfl.FullyConnectedOptionsT()
            opt.fusedActivationFunction = _act(a)
            op(tfl.BuiltinOperator.FULLY_CONNECTED,
               [act_tensor(n.inputs[0]), const(f"{n.name}/w", w), const(f"{n.name}/b", np.ravel(b))],
               [act_tensor(n.outputs[0])], tfl.BuiltinOptions.FullyConnectedOptions, opt)
        elif n.op in ("MaxPool", "AveragePool"):
            if n.op == "AveragePool" and a.get("count_include_pad", 0) and any(a["pads"]):
                raise NotExportable(f"{n.name}: count_include_pad")
            if any(d != 1 for d in a.get("dilations", [1, 1])):
                raise NotExportable(f"{n.name}: dilated pooling")
            ih, iw = graph.tensors[n.inputs[0]].shape[2:]
            oh, ow = graph.tensors[n.outputs[0]].shape[2:]
            pad = _same_or_pads((ih, iw), (oh, ow), a["kernel_shape"], a["strides"], [1, 1], a["pads"][:2])
            if pad not in ("SAME", "VALID"):
                raise NotExportable(f"{n.name}: pooling pads {a['pads']}")
            opt = tfl.Pool2DOptionsT()
            opt.padding, (opt.strideH, opt.strideW) = PAD[pad], a["strides"]
            opt.filterHeight, opt.filterWidth = a["kernel_shape"]
            opt.fusedActivationFunction = _act(a)
            code = tfl.BuiltinOperator.MAX_POOL_2D if n.op == "MaxPool" else tfl.BuiltinOperator.AVERAGE_POOL_2D
            op(code, [act_tensor(n.inputs[0])], [act_tensor(n.outputs[0])], tfl.BuiltinOptions.Pool2DOptions, opt)
        elif n.op == "GlobalAveragePool":
            opt = tfl.ReducerOptionsT()
            opt.keepDims = True
            op(tfl.BuiltinOperator.MEAN, [act_tensor(n.inputs[0]), const(f"{n.name}/axes", [1, 2], np.int32,
                                                                          tfl.TensorType.INT32)],
               [act_tensor(n.outputs[0])], tfl.BuiltinOptions.ReducerOptions, opt)
        elif n.op == "Add":
            if any(graph.tensors[i].is_const or tuple(graph.tensors[i].shape) != tuple(graph.tensors[n.outputs[0]].shape)
                   for i in n.inputs):
                raise NotExportable(f"{n.name}: broadcasting Add")
            out = n.outputs[0]
            opt = tfl.AddOptionsT()
            cons = consumers.get(out, [])
            if len(cons) == 1 and cons[0].op == "Relu" and out not in graph.outputs:  # what a converter fuses
                opt.fusedActivationFunction = ACT["Relu"]
                fused_relu.add(cons[0].name)
                out = cons[0].outputs[0]
            op(tfl.BuiltinOperator.ADD, [act_tensor(i) for i in n.inputs], [act_tensor(out)],
               tfl.BuiltinOptions.AddOptions, opt)
        elif n.op == "Relu":
            op(tfl.BuiltinOperator.RELU, [act_tensor(n.inputs[0])], [act_tensor(n.outputs[0])])
        elif n.op == "Concat" and len(graph.tensors[n.outputs[0]].shape) == 4 and a["axis"] in (1, -3):
            opt = tfl.ConcatenationOptionsT()
            opt.axis = 3
            op(tfl.BuiltinOperator.CONCATENATION, [act_tensor(i) for i in n.inputs], [act_tensor(n.outputs[0])],
               tfl.BuiltinOptions.ConcatenationOptions, opt)
        elif n.op == "Reshape":
            src, dst = graph.tensors[n.inputs[0]].shape, graph.tensors[n.outputs[0]].shape
            if len(src) == 4 and len(dst) == 2 and dst[0] == src[0]:
                if src[2] * src[3] != 1:
                    nhwc_flat[n.outputs[0]] = (src[1], src[2], src[3])
            elif len(src) != 2 or len(dst) != 2:
                raise NotExportable(f"{n.name}: Reshape {list(src)} -> {list(dst)} across layouts")
            shp = const(f"{n.name}/shape", list(dst), np.int32, tfl.TensorType.INT32)
            op(tfl.BuiltinOperator.RESHAPE, [act_tensor(n.inputs[0]), shp], [act_tensor(n.outputs[0])])
        else:
            raise NotExportable(f"{n.name}: {n.op} is not mapped to a TFLite op here")
    sg.inputs = [act_tensor(i) for i in graph.inputs]
    sg.outputs = [act_tensor(o) for o in graph.outputs]
    for o in graph.outputs:
        if o in nhwc_flat:
            raise NotExportable(f"output {o} is a flattened NHWC tensor")
    model = me.Model(subgraphs=[sg])
    return bytes(model.build())


def _capture_stderr(fn):
    """TFLM prints its allocation report from C to fd 2."""
    with tempfile.TemporaryFile(mode="w+b") as f:
        saved = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            fn()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        return f.read().decode(errors="replace")


def tflm_arena(graph, feed: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> dict:
    """Run the exported model in TFLM; {'head_bytes', 'tail_bytes', 'total_bytes', 'max_rel_err'}."""
    from tflite_micro import runtime

    data = export(graph)
    it = runtime.Interpreter.from_bytes(data)
    for k, name in enumerate(graph.inputs):
        x = feed[name]
        it.set_input(x.transpose(0, 2, 3, 1).copy() if x.ndim == 4 else x, k)
    it.invoke()
    err = 0.0
    for k, name in enumerate(graph.outputs):
        y = np.asarray(it.get_output(k))
        y = y.transpose(0, 3, 1, 2) if y.ndim == 4 else y
        ref = np.asarray(want[name], np.float64).reshape(y.shape)
        err = max(err, float(np.max(np.abs(y - ref))) / max(float(np.max(np.abs(ref))), 1e-6))
    log = _capture_stderr(it.print_allocations)
    vals = {k: int(v) for k, v in re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", log)}
    if "head" not in vals:
        raise NotExportable(f"no TFLM allocation report: {log[:200]}")
    return {"head_bytes": vals["head"], "tail_bytes": vals.get("tail"), "total_bytes": vals.get("total"),
            "max_rel_err": err}
