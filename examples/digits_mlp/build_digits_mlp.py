"""Train a small MLP on scikit-learn's 8x8 digits and export it to ONNX (Gemm + Relu + Gemm).

    python examples/digits_mlp/build_digits_mlp.py

Writes digits_mlp.onnx and digits_mlp_test.npz (input [N, 64] in [0, 1], labels [N]) next to
this script and prints the float accuracy measured with ONNX Runtime on the test split.
"""
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

HERE = Path(__file__).resolve().parent


def main() -> None:
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=360, stratify=y, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(32,), activation="relu", max_iter=400, random_state=0)
    clf.fit(x_tr, y_tr)
    w1, w2 = (c.T.astype(np.float32) for c in clf.coefs_)  # [out, in] for transB=1
    b1, b2 = (b.astype(np.float32) for b in clf.intercepts_)
    graph = h.make_graph(
        [h.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["h1"], name="fc1", transB=1),
         h.make_node("Relu", ["h1"], ["a1"], name="relu1"),
         h.make_node("Gemm", ["a1", "fc2.weight", "fc2.bias"], ["logits"], name="fc2", transB=1)],
        "digits_mlp",
        [h.make_tensor_value_info("input", TP.FLOAT, [1, 64])],
        [h.make_tensor_value_info("logits", TP.FLOAT, [1, 10])],
        [numpy_helper.from_array(a, n) for a, n in
         ((w1, "fc1.weight"), (b1, "fc1.bias"), (w2, "fc2.weight"), (b2, "fc2.bias"))])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, HERE / "digits_mlp.onnx")
    np.savez(HERE / "digits_mlp_test.npz", input=x_te, labels=y_te.astype(np.int64))

    sess = ort.InferenceSession(str(HERE / "digits_mlp.onnx"), providers=["CPUExecutionProvider"])
    pred = [int(np.argmax(sess.run(None, {"input": s[None]})[0])) for s in x_te]
    print(f"test accuracy (ONNX Runtime): {np.mean(np.array(pred) == y_te):.4f} on {len(y_te)} samples")


if __name__ == "__main__":
    main()
