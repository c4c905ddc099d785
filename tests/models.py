"""Small ONNX graphs built in tests (onnx.helper)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h


def make(nodes, inputs, outputs, inits=(), opset=13, name="g"):
    g = h.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    return h.make_model(g, opset_imports=[h.make_opsetid("", opset)], ir_version=8)


def vi(name, shape, dtype=TP.FLOAT):
    return h.make_tensor_value_info(name, dtype, shape)


def const(name, arr):
    return onnx.numpy_helper.from_array(np.asarray(arr), name)


def elementwise_chain(names=("x", "b", "t", "u", "y"), node_names=("add", "relu", "clip")):
    """x + b → Relu → Clip(0.1, 0.7), with configurable tensor and node names."""
    x, b, t, u, y = names
    rng = np.random.default_rng(0)
    return make(
        [h.make_node("Add", [x, b], [t], name=node_names[0]),
         h.make_node("Relu", [t], [u], name=node_names[1]),
         h.make_node("Clip", [u, "lo", "hi"], [y], name=node_names[2])],
        [vi(x, [1, 3, 4, 4])], [vi(y, [1, 3, 4, 4])],
        [const(b, rng.standard_normal((3, 1, 1)).astype(np.float32)),
         const("lo", np.float32(0.1)), const("hi", np.float32(0.7))])
