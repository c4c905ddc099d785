"""Real ConvNet architectures built directly as ONNX models with ``onnx.helper`` (no torch).

Weights are deterministic (``numpy.random.default_rng(seed)``), He-initialised so activations keep
a sane scale, and every BatchNormalization stays a separate node with plausible, non-trivial
statistics (gamma ~ U(0.5, 1.5), beta ~ N(0, 0.1), mean ~ N(0, 0.1), var ~ U(0.5, 1.5)) so the
compiler has something real to fold.  Every model: opset 13, ir_version 8, one float32 input
``input`` with batch 1, one output ``output``, unique node names.

    python examples/networks.py [folder]     # writes <name>.onnx for each network (default examples/models)
"""
from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 8

Ints = int | tuple[int, int]


def _pair(v: Ints) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """MobileNet channel rounding: nearest multiple of ``divisor``, never more than 10% below ``v``."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class GraphBuilder:
    """Accumulates nodes and initializers; names are ``<scope>/<what>`` and unique."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._used: set[str] = set()
        self._scope: list[str] = []
        self._shared: dict[str, str] = {}

    # -- naming ---------------------------------------------------------------------------------
    @contextmanager
    def scope(self, name: str) -> Iterator[None]:
        self._scope.append(name)
        try:
            yield
        finally:
            self._scope.pop()

    def _unique(self, base: str) -> str:
        full = "/".join([*self._scope, base])
        name, k = full, 1
        while name in self._used:
            name = f"{full}_{k}"
            k += 1
        self._used.add(name)
        return name

    # -- primitives -----------------------------------------------------------------------------
    def const(self, base: str, arr: np.ndarray | float) -> str:
        name = self._unique(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name))
        return name

    def shared_const(self, key: str, arr: np.ndarray | float) -> str:
        """One initializer reused by every node that needs it (e.g. Clip bounds)."""
        if key not in self._shared:
            saved, self._scope = self._scope, []
            self._shared[key] = self.const(key, arr)
            self._scope = saved
        return self._shared[key]

    def node(self, op: str, inputs: list[str], base: str | None = None, out: str | None = None,
             **attrs: object) -> str:
        name = self._unique(base or op.lower())
        output = out or name
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    # -- layers ---------------------------------------------------------------------------------
    def conv(self, x: str, cin: int, cout: int, kernel: Ints, stride: Ints = 1,
             pads: list[int] | None = None, group: int = 1, bias: bool = False,
             base: str = "conv") -> str:
        """Conv with He-normal weights; default pads = 'same' for odd kernels (k // 2 each side)."""
        kh, kw = _pair(kernel)
        if pads is None:
            pads = [kh // 2, kw // 2, kh // 2, kw // 2]
        fan_in = (cin // group) * kh * kw
        w = self.rng.standard_normal((cout, cin // group, kh, kw)) * np.sqrt(2.0 / fan_in)
        inputs = [x, self.const(f"{base}.weight", w)]
        if bias:
            inputs.append(self.const(f"{base}.bias", self.rng.normal(0.0, 0.05, cout)))
        return self.node("Conv", inputs, base=base, kernel_shape=[kh, kw],
                         strides=list(_pair(stride)), pads=list(pads), group=group)

    def bn(self, x: str, c: int, base: str = "bn") -> str:
        r = self.rng
        return self.node("BatchNormalization", [
            x,
            self.const(f"{base}.gamma", r.uniform(0.5, 1.5, c)),
            self.const(f"{base}.beta", r.normal(0.0, 0.1, c)),
            self.const(f"{base}.mean", r.normal(0.0, 0.1, c)),
            self.const(f"{base}.var", r.uniform(0.5, 1.5, c)),
        ], base=base, epsilon=1e-5)

    def relu(self, x: str) -> str:
        return self.node("Relu", [x])

    def relu6(self, x: str) -> str:
        # opset 13 Clip takes min/max as inputs, not attributes
        return self.node("Clip", [x, self.shared_const("relu6.min", 0.0),
                                  self.shared_const("relu6.max", 6.0)], base="relu6")

    def act(self, x: str, kind: str | None) -> str:
        if kind is None:
            return x
        return {"relu": self.relu, "relu6": self.relu6}[kind](x)

    def conv_bn_act(self, x: str, cin: int, cout: int, kernel: Ints, stride: Ints = 1,
                    pads: list[int] | None = None, group: int = 1, act: str | None = "relu") -> str:
        """Conv (no bias) -> BatchNormalization -> activation (relu / relu6 / None)."""
        y = self.conv(x, cin, cout, kernel, stride, pads, group)
        return self.act(self.bn(y, cout), act)

    def conv_act(self, x: str, cin: int, cout: int, kernel: Ints, stride: Ints = 1,
                 pads: list[int] | None = None) -> str:
        """Conv with bias -> Relu (the BN-free nets: LeNet, SqueezeNet)."""
        return self.relu(self.conv(x, cin, cout, kernel, stride, pads, bias=True))

    def maxpool(self, x: str, k: int, stride: int, ceil_mode: int = 0) -> str:
        return self.node("MaxPool", [x], kernel_shape=[k, k], strides=[stride, stride],
                         ceil_mode=ceil_mode)

    def global_pool_flatten(self, x: str, out: str | None = None) -> str:
        return self.node("Flatten", [self.node("GlobalAveragePool", [x], base="gap")], out=out, axis=1)

    def gemm(self, x: str, cin: int, cout: int, out: str | None = None, base: str = "fc") -> str:
        w = self.rng.standard_normal((cout, cin)) * np.sqrt(2.0 / cin)
        return self.node("Gemm", [x, self.const(f"{base}.weight", w),
                                  self.const(f"{base}.bias", self.rng.normal(0.0, 0.05, cout))],
                         base=base, out=out, transB=1)

    # -- model ----------------------------------------------------------------------------------
    def model(self, name: str, input_shape: list[int], output_shape: list[int]) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, output_shape)],
            self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              ir_version=IR_VERSION, producer_name="convc.examples.networks")
        onnx.checker.check_model(m, full_check=True)
        return m


# ---------------------------------------------------------------------------------------------
# LeNet-5 (LeCun et al. 1998), 1x28x28
# ---------------------------------------------------------------------------------------------
def lenet(seed: int = 0) -> onnx.ModelProto:
    """LeNet-5: C1 6@5x5 (pad 2) - S2 - C3 16@5x5 - S4 - F5 120 - F6 84 - output 10."""
    b = GraphBuilder(seed)
    with b.scope("c1"):
        x = b.maxpool(b.conv_act("input", 1, 6, 5, pads=[2, 2, 2, 2]), 2, 2)       # 6x14x14
    with b.scope("c3"):
        x = b.maxpool(b.conv_act(x, 6, 16, 5, pads=[0, 0, 0, 0]), 2, 2)           # 16x5x5
    x = b.node("Flatten", [x], axis=1)
    x = b.relu(b.gemm(x, 16 * 5 * 5, 120, base="f5"))
    x = b.relu(b.gemm(x, 120, 84, base="f6"))
    b.gemm(x, 84, 10, out="output", base="f7")
    return b.model("lenet", [1, 1, 28, 28], [1, 10])


# ---------------------------------------------------------------------------------------------
# ResNet basic blocks (He et al. 2016), 3x32x32
# ---------------------------------------------------------------------------------------------
def resnet_block_net(seed: int = 0) -> onnx.ModelProto:
    """Stem conv + two basic blocks (second: stride 2 with 1x1 projection shortcut) + GAP + FC."""
    b = GraphBuilder(seed)

    def basic_block(x: str, cin: int, cout: int, stride: int) -> str:
        y = b.conv_bn_act(x, cin, cout, 3, stride)
        y = b.conv_bn_act(y, cout, cout, 3, act=None)
        if stride == 1 and cin == cout:
            shortcut = x
        else:
            with b.scope("downsample"):
                shortcut = b.conv_bn_act(x, cin, cout, 1, stride, pads=[0, 0, 0, 0], act=None)
        return b.relu(b.node("Add", [y, shortcut]))

    with b.scope("stem"):
        x = b.conv_bn_act("input", 3, 16, 3)                                      # 16x32x32
    with b.scope("layer1"):
        x = basic_block(x, 16, 16, 1)                                             # 16x32x32
    with b.scope("layer2"):
        x = basic_block(x, 16, 32, 2)                                             # 32x16x16
    x = b.global_pool_flatten(x)
    b.gemm(x, 32, 10, out="output")
    return b.model("resnet_block", [1, 3, 32, 32], [1, 10])


# ---------------------------------------------------------------------------------------------
# MobileNetV2 (Sandler et al. 2018)
# ---------------------------------------------------------------------------------------------
# (expansion t, channels c, repeats n, first stride s) -- a truncated version of the paper's table
MOBILENETV2_CFG: list[tuple[int, int, int, int]] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 2, 2),
    (6, 64, 2, 2),
]


def mobilenetv2_net(seed: int = 0, width: float = 0.35, resolution: int = 96,
                    num_classes: int = 10) -> onnx.ModelProto:
    """MobileNetV2-style: stem 3x3/2, inverted residual blocks, 1x1 head conv, GAP, FC."""
    b = GraphBuilder(seed)

    def inverted_residual(x: str, cin: int, cout: int, stride: int, t: int) -> str:
        hidden = cin * t
        y = x
        if t != 1:
            with b.scope("expand"):
                y = b.conv_bn_act(y, cin, hidden, 1, pads=[0, 0, 0, 0], act="relu6")
        with b.scope("depthwise"):
            y = b.conv_bn_act(y, hidden, hidden, 3, stride, group=hidden, act="relu6")
        with b.scope("project"):
            y = b.conv_bn_act(y, hidden, cout, 1, pads=[0, 0, 0, 0], act=None)   # linear bottleneck
        return b.node("Add", [x, y]) if stride == 1 and cin == cout else y

    cin = make_divisible(32 * width)
    with b.scope("stem"):
        x = b.conv_bn_act("input", 3, cin, 3, 2, act="relu6")
    k = 0
    for t, c, n, s in MOBILENETV2_CFG:
        cout = make_divisible(c * width)
        for i in range(n):
            with b.scope(f"block{k}"):
                x = inverted_residual(x, cin, cout, s if i == 0 else 1, t)
            cin, k = cout, k + 1
    last = make_divisible(1280 * width) // 4     # small head (the paper uses 1280)
    with b.scope("head"):
        x = b.conv_bn_act(x, cin, last, 1, pads=[0, 0, 0, 0], act="relu6")
    x = b.global_pool_flatten(x)
    b.gemm(x, last, num_classes, out="output", base="classifier")
    return b.model("mobilenetv2", [1, 3, resolution, resolution], [1, num_classes])


# ---------------------------------------------------------------------------------------------
# SqueezeNet 1.1-style (Iandola et al. 2016), 3x64x64
# ---------------------------------------------------------------------------------------------
def squeezenet_net(seed: int = 0) -> onnx.ModelProto:
    """Conv 3x3/2 - MaxPool 3/2 (ceil) - Fire x2 - MaxPool - Fire - Dropout - Conv 1x1 - GAP."""
    b = GraphBuilder(seed)

    def fire(x: str, cin: int, squeeze: int, expand: int) -> str:
        with b.scope("squeeze"):
            s = b.conv_act(x, cin, squeeze, 1, pads=[0, 0, 0, 0])
        with b.scope("expand1x1"):
            e1 = b.conv_act(s, squeeze, expand, 1, pads=[0, 0, 0, 0])
        with b.scope("expand3x3"):
            e3 = b.conv_act(s, squeeze, expand, 3, pads=[1, 1, 1, 1])
        return b.node("Concat", [e1, e3], axis=1)

    with b.scope("stem"):
        # pad 1 -> 32x32, so the ceil_mode pools below really round up (32 -> 16 -> 8, not 15 -> 7)
        x = b.conv_act("input", 3, 32, 3, 2, pads=[1, 1, 1, 1])                 # 32x32x32
    x = b.maxpool(x, 3, 2, ceil_mode=1)                                          # 32x16x16
    with b.scope("fire2"):
        x = fire(x, 32, 8, 32)                                                   # 64x16x16
    with b.scope("fire3"):
        x = fire(x, 64, 8, 32)                                                   # 64x16x16
    x = b.maxpool(x, 3, 2, ceil_mode=1)                                          # 64x8x8
    with b.scope("fire4"):
        x = fire(x, 64, 16, 48)                                                  # 96x8x8
    x = b.node("Dropout", [x, b.const("dropout.ratio", 0.5)])                    # identity at inference
    with b.scope("classifier"):
        x = b.conv_act(x, 96, 10, 1, pads=[0, 0, 0, 0])                          # 10x8x8
    b.global_pool_flatten(x, out="output")
    return b.model("squeezenet", [1, 3, 64, 64], [1, 10])


# ---------------------------------------------------------------------------------------------
# DS-CNN keyword spotting (Zhang et al. 2017, "Hello Edge", small), 1x49x10 MFCC
# ---------------------------------------------------------------------------------------------
def dscnn_net(seed: int = 0) -> onnx.ModelProto:
    """Conv 64@10x4/2 - 4 x (depthwise 3x3 + pointwise 1x1) - AveragePool 25x5 - FC 12."""
    b = GraphBuilder(seed)
    with b.scope("conv1"):
        # 'SAME_UPPER' for 49x10 with k=10x4, s=2: pads (top, left, bottom, right) = (4, 1, 5, 2)
        x = b.conv_bn_act("input", 1, 64, (10, 4), 2, pads=[4, 1, 5, 2])        # 64x25x5
    for i in range(4):
        with b.scope(f"ds{i + 1}"):
            with b.scope("dw"):
                x = b.conv_bn_act(x, 64, 64, 3, group=64)
            with b.scope("pw"):
                x = b.conv_bn_act(x, 64, 64, 1, pads=[0, 0, 0, 0])
    x = b.node("AveragePool", [x], base="avgpool", kernel_shape=[25, 5], strides=[1, 1])  # 64x1x1
    x = b.node("Flatten", [x], axis=1)
    b.gemm(x, 64, 12, out="output")
    return b.model("dscnn", [1, 1, 49, 10], [1, 12])


ALL: dict[str, Callable[..., onnx.ModelProto]] = {
    "lenet": lenet,
    "resnet_block": resnet_block_net,
    "mobilenetv2": mobilenetv2_net,
    "squeezenet": squeezenet_net,
    "dscnn": dscnn_net,
}


def param_count(model: onnx.ModelProto) -> int:
    """Elements of all non-scalar initializers (weights, biases, BN statistics)."""
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer if len(t.dims) > 0)


def op_counts(model: onnx.ModelProto) -> dict[str, int]:
    return dict(sorted(Counter(n.op_type for n in model.graph.node).items()))


def save_all(folder: str | Path) -> dict[str, Path]:
    """Write ``<folder>/<name>.onnx`` for every network in ``ALL``; returns name -> path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, fn in ALL.items():
        m = fn()
        paths[name] = folder / f"{name}.onnx"
        onnx.save(m, paths[name])
        print(f"{name}: {param_count(m)} params, ops {op_counts(m)}")
    return paths


if __name__ == "__main__":
    save_all(sys.argv[1] if len(sys.argv) > 1 else "examples/models")
