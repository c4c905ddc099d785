"""Write digits_calib.npz: int8 calibration inputs drawn from the TRAIN split of the digits ConvNet
(the same `train_test_split(test_size=0.2, stratify=y, random_state=0)` as build_digits.py), so the
quantized model's test accuracy is measured on images calibration never saw.

Needs scikit-learn (only to rebuild this file): `python examples/digits/build_digits_calib.py`.
It checks that the test split it derives is exactly digits_test.npz before writing anything.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
PER_CLASS = 20  # 200 images, 20 of each digit, first in train-split order


def main() -> None:
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = y.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    test = np.load(HERE / "digits_test.npz")
    if not (np.array_equal(test["input"], x_te) and np.array_equal(test["labels"], y_te)):
        raise SystemExit("the derived test split differs from digits_test.npz: not writing calibration data")
    pick = np.sort(np.concatenate([np.flatnonzero(y_tr == c)[:PER_CLASS] for c in range(10)]))
    # no calibration image is (pixel for pixel) a test image
    te = {row.tobytes() for row in x_te}
    assert not any(x_tr[i].tobytes() in te for i in pick)
    np.savez(HERE / "digits_calib.npz", input=x_tr[pick], labels=y_tr[pick])
    print(f"wrote digits_calib.npz: {len(pick)} train-split images ({PER_CLASS} per class)")


if __name__ == "__main__":
    main()
