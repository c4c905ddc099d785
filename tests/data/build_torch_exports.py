"""Rebuild the PyTorch exports used by tests/test_shape_folding.py (torch is not a convc
dependency; run in a separate venv):

    python3 -m venv /tmp/digits-venv
    /tmp/digits-venv/bin/pip install torch==2.13.0 onnx numpy
    /tmp/digits-venv/bin/python tests/data/build_torch_exports.py

Writes next to this script:
  torch_dynamic_batch.onnx  a small ConvNet exported with a dynamic batch axis, so the graph holds
                            what real exports hold: Shape/Gather/Unsqueeze/Concat chains feeding
                            Reshape, interpolate (Resize), channel slicing, mean over H,W,
                            ConvTranspose, torch.cat, BatchNorm kept separate. Weights are random
                            (seeded); the tests compare convc against ONNX Runtime on it.
"""
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

HERE = Path(__file__).resolve().parent


class ExportNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.up = nn.ConvTranspose2d(8, 8, 2, stride=2)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.fc = nn.Linear(8 * 4 * 4 + 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))                          # [N, 8, 8, 8]
        a = F.interpolate(y, scale_factor=2.0, mode="nearest")       # Resize nearest
        b = F.interpolate(y, size=(16, 16), mode="bilinear", align_corners=False)
        t = self.up(y)                                               # ConvTranspose
        z = torch.cat([a[:, :4] + b[:, 4:], t[:, : y.size(1) // 2]], dim=1)  # Slice, Concat (8 ch)
        z = F.relu(self.conv2(z))                                    # [N, 8, 8, 8]
        z = F.max_pool2d(z, 2)                                       # [N, 8, 4, 4]
        m = z.mean(dim=(2, 3))                                       # ReduceMean [N, 8]
        flat = z.view(z.size(0), -1)                                 # Shape/Gather/Unsqueeze/Concat -> Reshape
        return self.fc(torch.cat([flat, m], dim=1))


def main() -> None:
    torch.manual_seed(0)
    model = ExportNet().eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        model.bn1.running_mean.uniform_(-0.2, 0.2)
        model.bn1.running_var.uniform_(0.5, 1.5)
        model.bn1.weight.uniform_(0.5, 1.5)
        model.bn1.bias.uniform_(-0.2, 0.2)
    path = HERE / "torch_dynamic_batch.onnx"
    torch.onnx.export(model, (torch.zeros(2, 3, 8, 8),), str(path), input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=13,
                      do_constant_folding=False, dynamo=False)
    import onnx

    m = onnx.load(str(path))
    onnx.checker.check_model(m, full_check=True)
    print(path.name, sorted({n.op_type for n in m.graph.node}))


if __name__ == "__main__":
    main()
