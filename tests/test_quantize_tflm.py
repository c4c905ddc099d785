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
