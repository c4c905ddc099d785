"""Train a small ConvNet on scikit-learn's 8x8 digits with PyTorch and export it to ONNX.

PyTorch and scikit-learn are not convc dependencies; run this in a separate venv:

    python3 -m venv /tmp/digits-venv
    /tmp/digits-venv/bin/pip install torch==2.13.0 scikit-learn onnx onnxruntime numpy
    /tmp/digits-venv/bin/python examples/digits/build_digits.py

Writes digits.onnx (opset 13, input `input` float32[1,1,8,8], output `logits` float32[1,10]) and
digits_test.npz (input [N, 1, 8, 8] in [0, 1], labels int64 [N], the 360-sample test split) next
to this script, and prints the train/test accuracy of the float torch model and the test accuracy
of the exported model under ONNX Runtime (asserting that the two agree).

The exported graph deliberately keeps what PyTorch produces: BatchNorm as separate nodes
(do_constant_folding=False; convc folds BN itself) and the shape sub-graph that
`x.view(x.size(0), -1)` exports to. With the static batch of 1, torch 2.13's tracer records
x.size(0) as a constant, so that sub-graph is Constant/Unsqueeze/Concat -> Reshape (no Shape/Gather;
those appear only with a dynamic batch axis). No ONNX simplifier is run.
"""
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

HERE = Path(__file__).resolve().parent
EPOCHS = 40
BATCH = 32


class DigitsNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool1 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(32)
        self.pool2 = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.25)
        self.fc1 = nn.Linear(32 * 2 * 2, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.pool1(torch.relu(self.bn2(self.conv2(x))))
        x = self.pool2(torch.relu(self.bn3(self.conv3(x))))
        x = x.view(x.size(0), -1)
        x = self.drop(x)
        return self.fc2(torch.relu(self.fc1(x)))


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    return float(np.mean(pred == y))


def main() -> None:
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = y.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)

    model = DigitsNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    gen = torch.Generator().manual_seed(0)
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        if (epoch + 1) % 10 == 0:
            print(f"epoch {epoch + 1:3d}  loss {total / len(xt):.4f}  test acc {accuracy(model, x_te, y_te):.4f}")

    model.eval()
    acc_tr, acc_te = accuracy(model, x_tr, y_tr), accuracy(model, x_te, y_te)
    print(f"train accuracy (torch, float): {acc_tr:.4f} on {len(y_tr)} samples")
    print(f"test accuracy (torch, float): {acc_te:.4f} on {len(y_te)} samples")

    onnx_path = HERE / "digits.onnx"
    torch.onnx.export(model, (torch.zeros(1, 1, 8, 8),), str(onnx_path), input_names=["input"],
                      output_names=["logits"], opset_version=13, do_constant_folding=False,
                      dynamo=False)
    m = onnx.load(onnx_path)
    onnx.checker.check_model(m, full_check=True)
    print("ops:", [n.op_type for n in m.graph.node])
    np.savez(HERE / "digits_test.npz", input=x_te, labels=y_te)

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logits = np.concatenate([sess.run(None, {"input": s[None]})[0] for s in x_te])
    acc_ort = float(np.mean(logits.argmax(1) == y_te))
    print(f"test accuracy (ONNX Runtime): {acc_ort:.4f} on {len(y_te)} samples")
    with torch.no_grad():
        ref = model(torch.from_numpy(x_te)).numpy()
    diff = float(np.max(np.abs(ref - logits)))
    print(f"max |torch - ORT| logit difference: {diff:.2e}")
    assert np.array_equal(logits.argmax(1), ref.argmax(1)), "torch and ONNX Runtime predictions disagree"
    assert acc_ort == acc_te and diff < 1e-4, (acc_ort, acc_te, diff)


if __name__ == "__main__":
    main()
