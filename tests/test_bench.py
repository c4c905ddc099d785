"""benchmarks/bench.py still runs end to end: one tiny network, two timed runs, every number sane."""
import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "bench.py"


def test_bench_runs_on_one_tiny_network(tmp_path):
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, str(BENCH), "--repeat", "2", "--networks", "lenet", "--markdown",
                        "--tune-trials", "4", "--json", str(out)], capture_output=True, text=True, timeout=180,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    text = r.stdout
    assert "machine:" in text and "onnxruntime" in text and "date:" in text

    # the Markdown row: network, MACs, ORT µs, convc-C µs, TVM untuned µs, TVM tuned µs, convc-C int8 µs,
    # ORT int8 QDQ µs, C/ORT, TVM/ORT, TVMt/ORT, C8/ORT, ORT8/ORT, arena, sum, arena/sum, weights (the
    # microcontroller and TFLM tables below have other column counts)
    rows = [ln for ln in text.splitlines() if ln.startswith("| lenet |") and ln.count("|") == 18]
    assert len(rows) == 1, text
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert len(cells) == 17, cells
    numbers = [float(c.replace(",", "")) for c in cells[2:]]
    assert all(math.isfinite(x) and x > 0 for x in numbers), cells

    data = json.loads(out.read_text())
    (row,) = data["rows"]
    assert row["network"] == "lenet" and row["macs"] > 0
    for key in ("onnxruntime", "convc_c", "tvm_untuned", "tvm_tuned", "convc_c_int8", "onnxruntime_qdq"):
        us = row["latency"][key]["us"]
        assert us is not None and math.isfinite(us) and us > 0, row["latency"][key]
    mem = row["memory"]
    assert 0 < mem["arena_bytes"] <= mem["activations_total_bytes"] and mem["weights_bytes"] > 0
    assert row["max_rel_err_vs_baseline"]["convc_c"] < 1e-3  # the timed C computes what ORT computes
    assert row["max_rel_err_vs_baseline"]["tvm_untuned"] < 1e-3  # and so does the timed TVM build
    assert row["max_rel_err_vs_baseline"]["tvm_tuned"] < 1e-3  # and the build with tuned kernels
    assert 0 < row["latency"]["tvm_tuned"]["trials"] <= 4  # convc tune ran with the budget given
    # int8 columns: convc's int8 C equals its integer oracle; ORT on the exported QDQ model within a step
    assert row["latency"]["convc_c_int8"]["steps_vs_int8_oracle"] == 0
    assert row["latency"]["onnxruntime_qdq"]["steps_vs_int8_oracle"] <= 1 + 1e-3
    assert row["latency"]["convc_c_int8"]["arena_bytes"] * 4 <= mem["arena_bytes"] + 64

    # the microcontroller table: lenet on every Cortex-M core, run in QEMU (setup.sh installs the toolchain)
    cores = ["cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]
    assert [(r["dtype"], r["core"]) for r in data["mcu_rows"]] == [(d, c) for d in ("float32", "int8") for c in cores]
    for r in data["mcu_rows"]:
        assert r["ram_bytes"] > r["arena_bytes"] > 0 and r["instructions"] > r["macs"] > 0 and 0 < r["stack_bytes"]
        if r["dtype"] == "float32":
            assert r["flash_bytes"] > mem["weights_bytes"] and r["arena_bytes"] == mem["arena_bytes"]
            assert r["max_rel_err_vs_oracle"] < 1e-3
        else:  # int8: a quarter of the bytes, bit-exact with the integer oracle
            assert r["flash_bytes"] < mem["weights_bytes"] and r["arena_bytes"] < mem["arena_bytes"]
            assert r["max_rel_err_vs_oracle"] == 0
    assert len([ln for ln in text.splitlines() if ln.startswith("| lenet | float32 | cortex-m")]) == 5

    # convc's arena next to the arena TFLM's own interpreter needs for the same network (tflite-micro)
    (t,) = data["arena_vs_tflm"]
    assert t["network"] == "lenet" and t["tflm_max_rel_err"] <= 1e-4  # TFLM ran the same network
    assert t["arena_bytes"] == mem["arena_bytes"] and 0 < t["arena_bytes"] <= t["tflm_head_bytes"]
    assert t["io_bytes"] == 4 * (28 * 28 + 10)
