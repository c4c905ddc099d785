"""Real ConvNet architectures built directly as ONNX (onnx.helper), with seeded He-style weights
and separate BatchNormalization nodes carrying plausible statistics (the compiler folds them).

    python examples/networks.py [folder]     # writes <name>.onnx for each network
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper


class Builder:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.k = 0

    def _name(self, base: str) -> str:
        self.k += 1
        return f"{base}{self.k}"

    def const(self, base: str, arr: np.ndarray) -> str:
        name = self._name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        name = self._name(op.lower())
        self.nodes.append(h.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def conv(self, x, cin, cout, k, stride=1, pad=None, group=1, bias=False):
        kh, kw = (k, k) if isinstance(k, int) else k
        pads = pad if pad is not None else [kh // 2, kw // 2, kh // 2, kw // 2]
        fan_in = cin // group * kh * kw
        w = self.const("w", self.rng.standard_normal((cout, cin // group, kh, kw)) * np.sqrt(2.0 / fan_in))
        ins = [x, w] + ([self.const("b", self.rng.normal(0, 0.05, cout))] if bias else [])
        return self.node("Conv", ins, kernel_shape=[kh, kw], strides=[stride, stride], pads=pads, group=group)

    def bn(self, x, c):
        r = self.rng
        return self.node("BatchNormalization", [x, self.const("gamma", r.uniform(0.5, 1.5, c)),
                                                self.const("beta", r.normal(0, 0.1, c)),
                                                self.const("mean", r.normal(0, 0.1, c)),
                                                self.const("var", r.uniform(0.5, 1.5, c))], epsilon=1e-5)

    def relu(self, x):
        return self.node("Relu", [x])

    def relu6(self, x):
        return self.node("Clip", [x, self.const("lo", np.float32(0)), self.const("hi", np.float32(6))])

    def gemm(self, x, cin, cout):
        w = self.const("fc_w", self.rng.standard_normal((cout, cin)) * np.sqrt(2.0 / cin))
        return self.node("Gemm", [x, w, self.const("fc_b", self.rng.normal(0, 0.05, cout))], transB=1)

    def model(self, name: str, shape: list[int], out: str, classes: int) -> onnx.ModelProto:
        self.nodes.append(h.make_node("Identity", [out], ["output"], name="output_identity"))
        g = h.make_graph(self.nodes, name, [h.make_tensor_value_info("input", TP.FLOAT, shape)],
                         [h.make_tensor_value_info("output", TP.FLOAT, [1, classes])], self.inits)
        m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)], ir_version=8)
        onnx.checker.check_model(m, full_check=True)
        return m


def lenet(seed: int = 0) -> onnx.ModelProto:
    """LeNet-5 on 1x28x28."""
    b = Builder(seed)
    x = b.node("MaxPool", [b.relu(b.conv("input", 1, 6, 5, pad=[2, 2, 2, 2], bias=True))], kernel_shape=[2, 2], strides=[2, 2])
    x = b.node("MaxPool", [b.relu(b.conv(x, 6, 16, 5, pad=[0, 0, 0, 0], bias=True))], kernel_shape=[2, 2], strides=[2, 2])
    x = b.node("Flatten", [x])
    x = b.relu(b.gemm(x, 16 * 5 * 5, 120))
    x = b.relu(b.gemm(x, 120, 84))
    return b.model("lenet", [1, 1, 28, 28], b.gemm(x, 84, 10), 10)


def resnet_block_net(seed: int = 0) -> onnx.ModelProto:
    """Stem + two ResNet basic blocks (the second downsampling with a 1x1 projection), 3x32x32."""
    b = Builder(seed)

    def block(x, cin, cout, stride):
        y = b.relu(b.bn(b.conv(x, cin, cout, 3, stride), cout))
        y = b.bn(b.conv(y, cout, cout, 3), cout)
        sc = x if stride == 1 and cin == cout else b.bn(b.conv(x, cin, cout, 1, stride, pad=[0, 0, 0, 0]), cout)
        return b.relu(b.node("Add", [y, sc]))

    x = b.relu(b.bn(b.conv("input", 3, 16, 3), 16))
    x = block(x, 16, 16, 1)
    x = block(x, 16, 32, 2)
    x = b.node("Flatten", [b.node("GlobalAveragePool", [x])])
    return b.model("resnet_block", [1, 3, 32, 32], b.gemm(x, 32, 10), 10)


def _div8(c: float) -> int:
    return max(8, int(c + 4) // 8 * 8)


def mobilenetv2_net(seed: int = 0, width: float = 0.35, resolution: int = 96, num_classes: int = 10) -> onnx.ModelProto:
    """MobileNetV2-style: inverted residual blocks with depthwise 3x3 and ReLU6."""
    b = Builder(seed)

    def inverted(x, cin, cout, stride, expand):
        hid = cin * expand
        y = b.relu6(b.bn(b.conv(x, cin, hid, 1, pad=[0, 0, 0, 0]), hid)) if expand != 1 else x
        y = b.relu6(b.bn(b.conv(y, hid, hid, 3, stride, group=hid), hid))
        y = b.bn(b.conv(y, hid, cout, 1, pad=[0, 0, 0, 0]), cout)
        return b.node("Add", [x, y]) if stride == 1 and cin == cout else y

    c0 = _div8(32 * width)
    x = b.relu6(b.bn(b.conv("input", 3, c0, 3, 2), c0))
    cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 2, 2), (6, 64, 1, 2)]
    cin = c0
    for t, c, n, s in cfg:
        cout = _div8(c * width)
        for i in range(n):
            x = inverted(x, cin, cout, s if i == 0 else 1, t)
            cin = cout
    last = 128
    x = b.relu6(b.bn(b.conv(x, cin, last, 1, pad=[0, 0, 0, 0]), last))
    x = b.node("Flatten", [b.node("GlobalAveragePool", [x])])
    return b.model("mobilenetv2", [1, 3, resolution, resolution], b.gemm(x, last, num_classes), num_classes)


def dscnn_net(seed: int = 0) -> onnx.ModelProto:
    """DS-CNN (Hello Edge, small) keyword spotting on 49x10 MFCC frames."""
    b = Builder(seed)
    x = b.relu(b.bn(b.conv("input", 1, 64, (10, 4), 2, pad=[4, 1, 5, 2]), 64))
    for _ in range(4):
        x = b.relu(b.bn(b.conv(x, 64, 64, 3, group=64), 64))
        x = b.relu(b.bn(b.conv(x, 64, 64, 1, pad=[0, 0, 0, 0]), 64))
    x = b.node("AveragePool", [x], kernel_shape=[25, 5])
    x = b.node("Flatten", [x])
    return b.model("dscnn", [1, 1, 49, 10], b.gemm(x, 64, 12), 12)


def squeezenet_net(seed: int = 0) -> onnx.ModelProto:
    """SqueezeNet-style: fire modules (squeeze 1x1, expand 1x1 + 3x3, concatenated), 3x64x64."""
    b = Builder(seed)

    def fire(x, cin, squeeze, expand):
        s = b.relu(b.conv(x, cin, squeeze, 1, pad=[0, 0, 0, 0], bias=True))
        e1 = b.relu(b.conv(s, squeeze, expand, 1, pad=[0, 0, 0, 0], bias=True))
        e3 = b.relu(b.conv(s, squeeze, expand, 3, bias=True))
        return b.node("Concat", [e1, e3], axis=1)

    x = b.relu(b.conv("input", 3, 32, 3, 2, pad=[0, 0, 0, 0], bias=True))
    x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    x = fire(x, 32, 8, 32)
    x = fire(x, 64, 8, 32)
    x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    x = fire(x, 64, 16, 48)
    x = b.node("Dropout", [x, b.const("ratio", np.float32(0.5))])
    x = b.relu(b.conv(x, 96, 10, 1, pad=[0, 0, 0, 0], bias=True))
    x = b.node("Flatten", [b.node("GlobalAveragePool", [x])])
    return b.model("squeezenet", [1, 3, 64, 64], x, 10)


ALL = {"lenet": lenet, "resnet_block": resnet_block_net, "mobilenetv2": mobilenetv2_net,
       "squeezenet": squeezenet_net, "dscnn": dscnn_net}


def save_all(folder: str | Path) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, fn in ALL.items():
        m = fn()
        onnx.save(m, folder / f"{name}.onnx")
        params = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
        print(f"{name}: {params} params, {len(m.graph.node)} nodes")


if __name__ == "__main__":
    save_all(sys.argv[1] if len(sys.argv) > 1 else "examples/models")
