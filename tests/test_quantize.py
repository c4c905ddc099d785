"""int8 post-training quantization: calibration, the rewrite to integer ops, the integer oracle,
and the generated int8 C bit-exact against that oracle."""
from __future__ import annotations

import subprocess

import numpy as np
import onnx
import pytest
from onnx import helper as h

from convc.compiler import reference
from convc.compiler.driver import compile_graph, load_and_optimize
from convc.compiler.errors import UsageError
from convc.compiler.ir import Node
from convc.compiler.ops.registry import get_op
from convc.compiler.quantize.calibrate import calibrate, load_calibration
from convc.compiler.quantize.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from convc.compiler.quantize.rewrite import act_qparams, quantize_graph
from convc.runtime.data import random_data, sample
from convc.runtime.host import HostModel, build_shared, host_cc
from models import const, make, vi
from networks import ALL


def _int8_c_vs_oracle(q, feeds, tmp_path):
    """Run the int8 graph through the oracle and through its generated C: (oracle outs, C outs)."""
    c = compile_graph(q, "c", tmp_path / "int8")
    hm = HostModel(c.out_dir)
    outs_ref, outs_c = [], []
    for feed in feeds:
        outs_ref.append(reference.run(q, feed))
        outs_c.append(hm.run(feed))
    return outs_ref, outs_c, c


@pytest.mark.parametrize("name", sorted(ALL))
def test_network_int8_c_bit_exact(name, tmp_path):
    path = tmp_path / f"{name}.onnx"
    onnx.save(ALL[name](), path)
    g = load_and_optimize(path)
    res = quantize_graph(g, random_data(g, 24, seed=1), "minmax")
    q = res.graph
    assert res.float_layers == [], res.float_layers  # every layer of these networks has an int8 kernel
    ops = {n.op for n in q.nodes}
    assert "Conv" not in ops and "Gemm" not in ops and "QConv" in ops
    test = random_data(g, 6, seed=2)
    feeds = [sample(test, i, g) for i in range(6)]
    ref, got, c = _int8_c_vs_oracle(q, feeds, tmp_path)
    o = g.outputs[0]
    mismatches = sum(int(np.sum(r[o] != t[o])) for r, t in zip(ref, got))
    assert mismatches == 0
    # the int8 oracle tracks the float model
    fl = np.stack([reference.run(g, f)[o] for f in feeds]).reshape(6, -1)
    qo = np.stack([r[o] for r in ref]).reshape(6, -1)
    assert np.corrcoef(fl.ravel(), qo.ravel())[0, 1] > 0.95
    # arena: a quarter of the float build
    cf = compile_graph(g, "c", tmp_path / "float")
    assert c.c_model.meta["arena_bytes"] <= 0.3 * cf.c_model.meta["arena_bytes"]


def test_int8_c_clean_under_sanitizers(tmp_path):
    """The MobileNetV2-style network (depthwise, Relu6 clamps, residual QAdd, QAvgPool) built as the
    host test program with ASan/UBSan: no report, output identical to the integer oracle."""
    path = tmp_path / "m.onnx"
    onnx.save(ALL["mobilenetv2"](), path)
    g = load_and_optimize(path)
    q = quantize_graph(g, random_data(g, 16, seed=1)).graph
    c = compile_graph(q, "c", tmp_path / "b")
    out = c.out_dir
    exe = tmp_path / "model_test"
    r = subprocess.run([host_cc(), "-O1", "-g", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                        "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-o", str(exe),
                        str(out / "main.c"), str(out / "model.c"), str(out / "model_weights.c"), "-lm"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    x = random_data(g, 1, seed=5)[g.inputs[0]].reshape(g.tensors[g.inputs[0]].shape)
    x.tofile(tmp_path / "in.bin")
    r = subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    o = g.outputs[0]
    got = np.fromfile(tmp_path / "out.bin", np.float32).reshape(g.tensors[o].shape)
    np.testing.assert_array_equal(got, reference.run(q, {g.inputs[0]: x})[o])
