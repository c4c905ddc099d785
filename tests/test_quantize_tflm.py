"""TFLM itself as the independent check of the integer oracle: single-op int8 models written as
.tflite with tflite-micro's model_editor, run by TFLM's interpreter (the `tflite-micro` package),
must equal convc's int8 op references bit for bit. TFLM is NHWC; convc is NCHW."""
from __future__ import annotations

import numpy as np
import pytest

from convc.compiler.ir import Node
from convc.compiler.ops.qadd import add_params
from convc.compiler.ops.registry import get_op
from convc.compiler.quantize.fixedpoint import quantize_multiplier, quantize_multipliers

from tflite_micro import runtime  # the `tflite-micro` package: pyproject's dev extra
from tflite_micro.tensorflow.lite.micro.compression import model_editor as me
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

I8, I32 = tfl.TensorType.INT8, tfl.TensorType.INT32
ACT = {None: tfl.ActivationFunctionType.NONE, "relu": tfl.ActivationFunctionType.RELU,
       "relu6": tfl.ActivationFunctionType.RELU6}


def f32(v):
    return np.float32(v).item()


def run_tflm(opcode, options_type, options, inputs, out_shape, out_q, consts=()):
    """One operator: `inputs` are (array, Quantization) fed at run time, `consts` (array, dtype,
    Quantization) are weights; returns TFLM's int8 output."""
    m = me.Model()
    sg = m.add_subgraph()
    ins = [sg.add_tensor(shape=a.shape, dtype=I8, quantization=q, name=f"in{i}") for i, (a, q) in enumerate(inputs)]
    cts = [sg.add_tensor(shape=a.shape, dtype=dt, data=a, quantization=q, name=f"c{i}") for i, (a, dt, q) in enumerate(consts)]
    out = sg.add_tensor(shape=out_shape, dtype=I8, quantization=out_q, name="out")
    op = sg.add_operator(opcode=opcode, inputs=ins + cts, outputs=[out])
    if options is not None:
        op._fb.builtinOptionsType, op._fb.builtinOptions = options_type, options
    sg.inputs, sg.outputs = ins, [out]
    interp = runtime.Interpreter.from_bytes(bytes(m.build()))
    for i, (a, _) in enumerate(inputs):
        interp.set_input(a, i)
    interp.invoke()
    return interp.get_output(0)


def act_range(act, s, zp):
    lo, hi = -128, 127
    if act in ("relu", "relu6"):
        lo = max(lo, zp)
    if act == "relu6":
        hi = min(hi, zp + int(np.round(6 / s)))
    return lo, hi


@pytest.mark.parametrize("depthwise, stride, act", [(False, 1, "relu"), (False, 2, None), (True, 1, "relu6"),
                                                     (True, 2, None)])
def test_conv_matches_tflm(depthwise, stride, act):
    rng = np.random.default_rng(stride + 2 * depthwise)
    h, w, c = 7, 7, 4
    m = c if depthwise else 5
    x = rng.integers(-128, 128, (1, h, w, c)).astype(np.int8)
    s_in, zp_in, s_out, zp_out = f32(0.04), -7, f32(0.11), 3
    sw = rng.uniform(0.002, 0.02, m).astype(np.float32)
    bias = rng.integers(-20000, 20000, m).astype(np.int32)
    if depthwise:  # TFLM: [1, kh, kw, C·mult], channel axis 3
        wt = rng.integers(-127, 128, (1, 3, 3, m)).astype(np.int8)
        w_oihw = wt[0].transpose(2, 0, 1)[:, None]
        opts = tfl.DepthwiseConv2DOptionsT()
        opts.depthMultiplier, otype, opcode, axis = 1, tfl.BuiltinOptions.DepthwiseConv2DOptions, tfl.BuiltinOperator.DEPTHWISE_CONV_2D, 3
    else:  # TFLM: [O, kh, kw, I], channel axis 0
        wt = rng.integers(-127, 128, (m, 3, 3, c)).astype(np.int8)
        w_oihw = wt.transpose(0, 3, 1, 2)
        opts, otype, opcode, axis = tfl.Conv2DOptionsT(), tfl.BuiltinOptions.Conv2DOptions, tfl.BuiltinOperator.CONV_2D, 0
    same = stride == 1
    opts.padding = tfl.Padding.SAME if same else tfl.Padding.VALID
    opts.strideH = opts.strideW = stride
    opts.dilationHFactor = opts.dilationWFactor = 1
    opts.fusedActivationFunction = ACT[act]
    oh = h if same else (h - 3) // stride + 1
    want = run_tflm(opcode, otype, opts, [(x, me.Quantization(s_in, zp_in))], (1, oh, oh, m),
                    me.Quantization(s_out, zp_out),
                    [(wt, I8, me.Quantization([f32(v) for v in sw], [0] * m, axis=axis)),
                     (bias, I32, me.Quantization([f32(s_in * v) for v in sw], [0] * m, axis=0))])
    mult, shift = quantize_multipliers(np.float64(s_in) * sw.astype(np.float64) / np.float64(s_out))
    lo, hi = act_range(act, s_out, zp_out)
    p = 1 if same else 0
    node = Node("conv", "QConv", [], [], {"kernel_shape": [3, 3], "strides": [stride] * 2, "dilations": [1, 1],
                                          "pads": [p] * 4, "group": c if depthwise else 1, "in_zp": zp_in,
                                          "out_zp": zp_out, "multiplier": mult, "shift": shift,
                                          "act_min": lo, "act_max": hi})
    got = get_op("QConv").reference(node, [x.transpose(0, 3, 1, 2), w_oihw, bias])[0]
    np.testing.assert_array_equal(got, want.transpose(0, 3, 1, 2))
    assert len(np.unique(want)) > 20  # a real spread of values, not a saturated output


def test_fully_connected_matches_tflm():
    rng = np.random.default_rng(7)
    n, k = 10, 48
    x = rng.integers(-128, 128, (3, k)).astype(np.int8)
    wt = rng.integers(-127, 128, (n, k)).astype(np.int8)
    bias = rng.integers(-3000, 3000, n).astype(np.int32)
    s_in, zp_in, s_w, s_out, zp_out = f32(0.03), 11, f32(0.007), f32(0.09), -20
    opts = tfl.FullyConnectedOptionsT()
    opts.fusedActivationFunction = ACT["relu"]
    want = run_tflm(tfl.BuiltinOperator.FULLY_CONNECTED, tfl.BuiltinOptions.FullyConnectedOptions, opts,
                    [(x, me.Quantization(s_in, zp_in))], (3, n), me.Quantization(s_out, zp_out),
                    [(wt, I8, me.Quantization(s_w, 0)), (bias, I32, me.Quantization(f32(s_in * s_w), 0))])
    m, s = quantize_multiplier(np.float64(s_in) * np.float64(s_w) / np.float64(s_out))
    node = Node("fc", "QGemm", [], [], {"in_zp": zp_in, "out_zp": zp_out, "multiplier": np.full(n, m, np.int32),
                                        "shift": np.full(n, s, np.int32), "act_min": zp_out, "act_max": 127})
    np.testing.assert_array_equal(get_op("QGemm").reference(node, [x, wt, bias])[0], want)


@pytest.mark.parametrize("op", ["add", "mul"])
def test_add_mul_match_tflm(op):
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (1, 5, 5, 8)).astype(np.int8)
    b = rng.integers(-128, 128, (1, 5, 5, 8)).astype(np.int8)
    sa, za, sb, zb, so, zo = f32(0.05), -4, f32(0.021), 9, f32(0.07 if op == "add" else 0.02), -1
    if op == "add":
        opts, otype, code = tfl.AddOptionsT(), tfl.BuiltinOptions.AddOptions, tfl.BuiltinOperator.ADD
        attrs = add_params(sa, sb, so)
    else:
        opts, otype, code = tfl.MulOptionsT(), tfl.BuiltinOptions.MulOptions, tfl.BuiltinOperator.MUL
        mm, ss = quantize_multiplier(np.float64(sa) * np.float64(sb) / np.float64(so))
        attrs = {"multiplier": mm, "shift": ss}
    opts.fusedActivationFunction = ACT[None]
    want = run_tflm(code, otype, opts, [(a, me.Quantization(sa, za)), (b, me.Quantization(sb, zb))], a.shape,
                    me.Quantization(so, zo))
    node = Node(op, "QAdd" if op == "add" else "QMul", [], [],
                {**attrs, "zp_a": za, "zp_b": zb, "out_zp": zo, "act_min": -128, "act_max": 127})
    got = get_op(node.op).reference(node, [a, b])[0]
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(want)) > 50


@pytest.mark.parametrize("same", [False, True])
def test_average_pool_matches_tflm(same):
    rng = np.random.default_rng(4)
    x = rng.integers(-128, 128, (1, 7, 7, 6)).astype(np.int8)
    s, zp = f32(0.1), -5
    opts = tfl.Pool2DOptionsT()
    opts.padding = tfl.Padding.SAME if same else tfl.Padding.VALID
    opts.strideH = opts.strideW = 2 if not same else 1
    opts.filterHeight = opts.filterWidth = 3
    opts.fusedActivationFunction = ACT[None]
    oh = 7 if same else 3
    want = run_tflm(tfl.BuiltinOperator.AVERAGE_POOL_2D, tfl.BuiltinOptions.Pool2DOptions, opts,
                    [(x, me.Quantization(s, zp))], (1, oh, oh, 6), me.Quantization(s, zp))
    node = Node("pool", "QAvgPool", [], [], {"kernel_shape": [3, 3], "strides": [opts.strideH] * 2, "dilations": [1, 1],
                                             "pads": [1] * 4 if same else [0] * 4, "ceil_mode": 0,
                                             "count_include_pad": 0, "zp": zp})
    got = get_op("QAvgPool").reference(node, [x.transpose(0, 3, 1, 2)])[0]
    np.testing.assert_array_equal(got, want.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("s_in, depth", [(0.02, 10), (0.1, 37), (0.5, 100), (0.0039, 10), (1.3, 64)])
def test_softmax_matches_tflm(s_in, depth):
    """int8 SOFTMAX (gemmlowp exp / reciprocal, output 1/256, −128) bit for bit."""
    from convc.compiler.quantize.fixedpoint import softmax_params

    rng = np.random.default_rng(depth)
    x = rng.integers(-128, 128, (16, depth)).astype(np.int8)
    x[0] = 5  # a row of ties
    s_in = f32(s_in)
    opts = tfl.SoftmaxOptionsT()
    opts.beta = 1.0
    want = run_tflm(tfl.BuiltinOperator.SOFTMAX, tfl.BuiltinOptions.SoftmaxOptions, opts,
                    [(x, me.Quantization(s_in, 3))], x.shape, me.Quantization(1 / 256, -128))
    node = Node("sm", "QSoftmax", [], [], {**softmax_params(s_in), "depth": depth})
    np.testing.assert_array_equal(get_op("QSoftmax").reference(node, [x])[0], want)
    assert len(np.unique(want)) > 3


# ---- whole networks: convc's int8 graph written as an int8 .tflite (NHWC) and run by TFLM ------------

def _int8_tflite(q) -> bytes:
    """The int8 graph (QuantizeLinear, QConv incl. depthwise, MaxPool, QAvgPool, QAdd, Reshape of
    NCHW data, QGemm, DequantizeLinear) as a TFLite flatbuffer, NHWC, with the same int8 weights,
    biases, scales and zero points. Test scaffolding: only what the networks here use."""
    from convc.compiler.ops.conv import conv_out_size  # noqa: F401 (geometry is taken from the graph)

    m = me.Model()
    sg = m.add_subgraph()
    tens = {}

    def qpar(name):
        qp = q.tensors[name].quant
        return me.Quantization(f32(qp.scale[0]), int(qp.zero_point[0]))

    def nhwc(shape):
        return (shape[0], shape[2], shape[3], shape[1]) if len(shape) == 4 else tuple(shape)

    def act(name):
        if name not in tens:
            t = q.tensors[name]
            dt = I8 if t.dtype == "int8" else tfl.TensorType.FLOAT32
            tens[name] = sg.add_tensor(shape=nhwc(t.shape), dtype=dt, name=name,
                                       quantization=qpar(name) if t.dtype == "int8" else None)
        return tens[name]

    def op(code, ins, outs, otype=None, opt=None):
        o = sg.add_operator(opcode=code, inputs=ins, outputs=outs)
        if opt is not None:
            o._fb.builtinOptionsType, o._fb.builtinOptions = otype, opt

    def padding(n, x_name, y_name):
        """(input tensor, TFLite padding): SAME/VALID when they give ONNX's windows, else an int8
        PAD (TFLM pads with the zero point, i.e. real 0) in front of a VALID op."""
        a = n.attrs
        (ih, iw), (oh, ow) = q.tensors[x_name].shape[2:], q.tensors[y_name].shape[2:]
        p, k, s = a["pads"], a["kernel_shape"], a["strides"]
        if not any(p):
            return act(x_name), tfl.Padding.VALID
        if all(o == -(-i // ss) and pb == max((-(-i // ss) - 1) * ss + kk - i, 0) // 2
               for i, o, kk, ss, pb in ((ih, oh, k[0], s[0], p[0]), (iw, ow, k[1], s[1], p[1]))):
            return act(x_name), tfl.Padding.SAME
        nn, h, w, c = nhwc(q.tensors[x_name].shape)
        padded = sg.add_tensor(shape=(nn, h + p[0] + p[2], w + p[1] + p[3], c), dtype=I8, name=x_name + "/pad",
                               quantization=qpar(x_name))
        pv = sg.add_tensor(shape=(4, 2), dtype=I32, name=x_name + "/pads" + n.name,
                           data=np.array([[0, 0], [p[0], p[2]], [p[1], p[3]], [0, 0]], np.int32))
        op(tfl.BuiltinOperator.PAD, [act(x_name), pv], [padded])
        return padded, tfl.Padding.VALID

    def act_range(n):
        return n.attrs.get("act_min", -128), n.attrs.get("act_max", 127)

    for n in q.nodes:
        x, y = n.inputs[0], n.outputs[0]
        if n.op == "QuantizeLinear":
            op(tfl.BuiltinOperator.QUANTIZE, [act(x)], [act(y)])
        elif n.op == "DequantizeLinear":
            op(tfl.BuiltinOperator.DEQUANTIZE, [act(x)], [act(y)])
        elif n.op in ("QConv", "QGemm"):
            w, b = q.tensors[n.inputs[1]], q.tensors[n.inputs[2]]
            sw = [f32(v) for v in w.quant.scale]
            s_in = f32(q.tensors[x].quant.scale[0])
            bq = me.Quantization([f32(np.float64(s_in) * v) for v in sw], [0] * len(sw), axis=0)
            assert act_range(n)[1] == 127 and act_range(n)[0] in (-128, int(q.tensors[y].quant.zero_point[0]))
            fused = tfl.ActivationFunctionType.NONE if act_range(n)[0] == -128 else tfl.ActivationFunctionType.RELU
            if n.op == "QGemm":
                wt = sg.add_tensor(shape=w.shape, dtype=I8, data=w.data, name=n.inputs[1],
                                   quantization=me.Quantization(sw, [0] * len(sw), axis=0))
                opts = tfl.FullyConnectedOptionsT()
                opts.fusedActivationFunction = fused
                op(tfl.BuiltinOperator.FULLY_CONNECTED, [act(x), wt, sg.add_tensor(
                    shape=b.shape, dtype=I32, data=b.data, name=n.inputs[2], quantization=bq)], [act(y)],
                   tfl.BuiltinOptions.FullyConnectedOptions, opts)
                continue
            g = n.attrs["group"]
            depthwise = g > 1 and g == q.tensors[x].shape[1]
            if depthwise:
                wd, axis = w.data[:, 0].transpose(1, 2, 0)[None], 3
                opts, otype, code = tfl.DepthwiseConv2DOptionsT(), tfl.BuiltinOptions.DepthwiseConv2DOptions, \
                    tfl.BuiltinOperator.DEPTHWISE_CONV_2D
                opts.depthMultiplier = w.shape[0] // g
            else:
                assert g == 1
                wd, axis = w.data.transpose(0, 2, 3, 1), 0
                opts, otype, code = tfl.Conv2DOptionsT(), tfl.BuiltinOptions.Conv2DOptions, tfl.BuiltinOperator.CONV_2D
            src, opts.padding = padding(n, x, y)
            opts.strideH, opts.strideW = n.attrs["strides"]
            opts.dilationHFactor, opts.dilationWFactor = n.attrs["dilations"]
            opts.fusedActivationFunction = fused
            wt = sg.add_tensor(shape=wd.shape, dtype=I8, data=np.ascontiguousarray(wd), name=n.inputs[1],
                               quantization=me.Quantization(sw, [0] * len(sw), axis=axis))
            bt = sg.add_tensor(shape=b.shape, dtype=I32, data=b.data, name=n.inputs[2], quantization=bq)
            op(code, [src, wt, bt], [act(y)], otype, opts)
        elif n.op in ("MaxPool", "QAvgPool"):
            assert "out_zp" not in n.attrs and n.attrs.get("count_include_pad", 0) == 0
            opts = tfl.Pool2DOptionsT()
            src, opts.padding = padding(n, x, y)
            assert src is act(x), "a pool whose pads are not TFLite's SAME has no TFLite form (PAD would pad with 0)"
            opts.strideH, opts.strideW = n.attrs["strides"]
            opts.filterHeight, opts.filterWidth = n.attrs["kernel_shape"]
            code = tfl.BuiltinOperator.MAX_POOL_2D if n.op == "MaxPool" else tfl.BuiltinOperator.AVERAGE_POOL_2D
            op(code, [src], [act(y)], tfl.BuiltinOptions.Pool2DOptions, opts)
        elif n.op == "QAdd":
            opts = tfl.AddOptionsT()
            assert act_range(n) == (-128, 127) or act_range(n)[0] == int(q.tensors[y].quant.zero_point[0])
            opts.fusedActivationFunction = tfl.ActivationFunctionType.NONE if act_range(n)[0] == -128 \
                else tfl.ActivationFunctionType.RELU
            op(tfl.BuiltinOperator.ADD, [act(x), act(n.inputs[1])], [act(y)], tfl.BuiltinOptions.AddOptions, opts)
        elif n.op == "Reshape":  # NCHW flattening: back to NCHW order first
            xs = q.tensors[x].shape
            src = act(x)
            if len(xs) == 4:
                nchw = sg.add_tensor(shape=xs, dtype=I8, name=x + "/nchw", quantization=qpar(x))
                perm = sg.add_tensor(shape=(4,), dtype=I32, data=np.array([0, 3, 1, 2], np.int32), name=x + "/perm")
                op(tfl.BuiltinOperator.TRANSPOSE, [src, perm], [nchw])
                src = nchw
            shape = sg.add_tensor(shape=(2,), dtype=I32, data=np.array(q.tensors[y].shape, np.int32), name=y + "/shape")
            op(tfl.BuiltinOperator.RESHAPE, [src, shape], [act(y)])
        else:
            raise AssertionError(f"no TFLite mapping for {n.op} in this test")
    sg.inputs = [act(i) for i in q.inputs]
    sg.outputs = [act(o) for o in q.outputs]
    return bytes(m.build())


@pytest.mark.parametrize("name", ["digits", "dscnn", "resnet_block", "mobilenetv2", "lenet"])
def test_whole_int8_network_matches_tflm(name, tmp_path):
    """convc's int8 graph of a whole network, written as an int8 .tflite (same weights and scales)
    and run by TFLM, gives exactly the outputs of convc's integer oracle and of its C build."""
    import onnx

    from convc.compiler import reference
    from convc.compiler.driver import compile_graph, load_and_optimize
    from convc.compiler.quantize.rewrite import quantize_graph
    from convc.runtime.data import random_data, sample
    from convc.runtime.host import HostModel
    from networks import ALL
    from test_quantize import DIGITS

    if name == "digits":
        g = load_and_optimize(DIGITS / "digits.onnx")
        calib = {"input": np.load(DIGITS / "digits_calib.npz")["input"]}
        test = {"input": np.load(DIGITS / "digits_test.npz")["input"][:40]}
    else:
        p = tmp_path / f"{name}.onnx"
        onnx.save(ALL[name](), p)
        g = load_and_optimize(p)
        calib, test = random_data(g, 24, seed=1), random_data(g, 8, seed=2)
    q = quantize_graph(g, calib).graph
    interp = runtime.Interpreter.from_bytes(_int8_tflite(q))
    c = compile_graph(q, "c", tmp_path / "b")
    hm = HostModel(c.out_dir)
    i, o = q.inputs[0], q.outputs[0]
    n = next(iter(test.values())).shape[0]
    for k in range(n):
        feed = sample(test, k, g)
        x = feed[i]
        interp.set_input(x.transpose(0, 2, 3, 1) if x.ndim == 4 else x, 0)
        interp.invoke()
        want = interp.get_output(0)
        ours = reference.run(q, feed)[o]
        np.testing.assert_array_equal(ours.reshape(want.shape), want)
        np.testing.assert_array_equal(hm.run(feed)[o], ours)
    # memory: convc's planned int8 arena against TFLM's planner (its head, which also holds the graph's
    # float input and output; convc's caller owns those)
    head = _tflm_head_bytes(interp)
    print(f"{name}: convc int8 arena {c.c_model.meta['arena_bytes']} B, TFLM head {head} B")
    assert c.c_model.meta["arena_bytes"] <= head


def _tflm_head_bytes(interp) -> int:
    import os
    import re
    import tempfile

    with tempfile.TemporaryFile(mode="w+b") as f:  # TFLM prints its allocation report to fd 2
        saved = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            interp.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        log = f.read().decode(errors="replace")
    return int(re.search(r"Arena allocation head (\d+) bytes", log).group(1))
