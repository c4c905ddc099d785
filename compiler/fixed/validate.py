"""`convc validate --target fpga`: build the HLS C for the host, run it, and judge it.

Pass criterion: the host build's integer outputs equal the fixed-point simulator's, element for
element (`mismatches` = 0). Reported besides: the real-valued error of the target against ONNX
Runtime (the cross view: what fixed point costs), accuracy {float, reference (the simulator),
target} with labels, the layers whose calibrated range exceeds their format (`overflow_layers`),
overflow counts the simulator saw on the data, and the resource estimate (`fpga`).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .assign import FixedPlan
from .build import compile_fpga, make_plan, overflow_message
from .format import to_real
from .resources import layer_costs, totals
from .simulate import quantize_inputs, run_int


def validate_fpga(model_path: str, target_name: str = "fpga", data: str | None = None, input_shapes=None,
                  samples: int = 8, build_dir: str | None = None, precision: str | None = None, rounding: str = "rnd",
                  overflow: str = "sat", reuse_factor: int = 1, config: str | None = None, calib: str | None = None,
                  calib_method: str = "minmax", plan: FixedPlan | None = None) -> dict:
    from convc.compiler.driver import load_and_optimize
    from convc.runtime.artifacts import load_artifact
    from convc.runtime.data import load_data, random_data
    from convc.runtime.harness import run_onnxruntime
    from convc.runtime.metrics import compare, top1
    from convc.targets import get_target, require_toolchain

    target = get_target(target_name)
    require_toolchain(target)
    warnings: list[str] = []
    if plan is None:
        graph = load_and_optimize(model_path, input_shapes)
        plan = make_plan(graph, precision, rounding, overflow, reuse_factor, config, calib, calib_method,
                         warn=warnings.append)
    graph = plan.graph
    if data:
        arrays, labels = load_data(data, graph)
    else:
        arrays, labels = random_data(graph, samples), None
    n = next(iter(arrays.values())).shape[0]
    full = {k: v.reshape((n, *graph.tensors[k].shape)) for k, v in arrays.items()}
    ints_in = quantize_inputs(plan, full)
    sim = run_int(plan, ints_in)

    with tempfile.TemporaryDirectory(prefix="convc-validate-") as tmp:
        out_dir, _ = compile_fpga(plan, Path(build_dir) if build_dir else Path(tmp) / "build", target=target.name)
        art = load_artifact(out_dir)
        got = {o: [] for o in graph.outputs}
        for i in range(n):
            res = art.run_int({k: v[i] for k, v in ints_in.items()})
            for o in graph.outputs:
                got[o].append(np.asarray(res[o], np.int64))
        meta = art.meta
        ran_on = art.ran_on
    ort_out = run_onnxruntime(model_path, arrays, graph)
    from convc.compiler import reference

    flt = {o: [] for o in graph.outputs}
    for i in range(n):
        r = reference.run(graph, {k: v[i] for k, v in full.items()})
        for o in graph.outputs:
            flt[o].append(r[o])

    report: dict = {"model": Path(model_path).name, "target": target.name, "quantize": plan.options.precision,
                    "ran_on": ran_on, "samples": n, "passed": True, "outputs": []}
    target_real = {}
    for o in graph.outputs:
        g_int = np.stack(got[o])
        s_int = sim.ints[o].reshape(g_int.shape)
        mism = int(np.count_nonzero(g_int != s_int))
        g = to_real(g_int, plan.act[o])
        target_real[o] = g
        orig = np.stack(ort_out[o]).reshape(g.shape) if ort_out and ort_out.get(o) else None
        base = orig if orig is not None else np.stack(flt[o]).reshape(g.shape)
        entry = {"name": o, **compare(g, base), "mismatches": mism, "format": plan.act[o].short(),
                 "compared_with": "onnxruntime" if orig is not None else "reference (float oracle)",
                 "vs_float_oracle": compare(g, np.stack(flt[o]).reshape(g.shape))}
        if g.reshape(n, -1).shape[1] > 1:
            entry["top1_agreement"] = float(np.mean(top1(g) == top1(base)))
        entry["passed"] = mism == 0
        report["passed"] &= mism == 0
        report["outputs"].append(entry)
    if labels is not None:
        o = graph.outputs[0]
        acc = {}
        if ort_out and ort_out.get(o):
            acc["float"] = float(np.mean(top1(np.stack(ort_out[o])) == labels))
        acc["reference"] = float(np.mean(top1(to_real(sim.ints[o], plan.act[o])) == labels))
        acc["target"] = float(np.mean(top1(target_real[o]) == labels))
        report["accuracy"] = acc
    report["memory"] = {"weights_bytes": meta.get("weights_bytes"), "activations_bytes": meta.get("activations_bytes")}
    rows = layer_costs(plan)
    flagged = plan.flagged()
    report["macs"] = sum(r["macs"] for r in rows)
    report["fpga"] = {**totals(plan, rows), "calibrated": plan.ranges is not None,
                      "overflow_layers": flagged,
                      "overflow_counts": {k: v for k, v in sim.overflows.items() if v},
                      "layers": rows}
    report["warnings"] = warnings
    return report


def format_report(rep: dict) -> str:
    from .resources import format_table

    fp = rep["fpga"]
    lines = [f"model {rep['model']}  target {rep['target']}  precision {rep['quantize']} "
             f"({fp['rounding']}, {fp['overflow']})  ran on {rep['ran_on'] or 'not run'}  samples {rep['samples']}"]
    for o in rep["outputs"]:
        lines.append(f"  output '{o['name']}' ({o['format']}) vs fixed-point simulator: {o['mismatches']} mismatching "
                     f"elements (bit-exact required)")
        lines.append(f"    vs {o['compared_with']}: max abs err {o['max_abs_err']:.3g}, mean abs err "
                     f"{o['mean_abs_err']:.3g}, SQNR {o['sqnr_db']:.1f} dB, cosine {o['cosine']:.6f}"
                     + (f", top-1 agreement {100 * o['top1_agreement']:.1f}%" if "top1_agreement" in o else ""))
    if "accuracy" in rep:
        lines.append("  accuracy: " + ", ".join(f"{k} {100 * v:.2f}%" for k, v in rep["accuracy"].items()))
    for f in fp["overflow_layers"]:
        lines.append(f"  warning: {overflow_message(f)}")
    if fp["overflow_counts"]:
        lines.append("  overflowing elements on this data (simulator): "
                     + ", ".join(f"{k} {v}" for k, v in fp["overflow_counts"].items()))
    lines.append(format_table(fp["layers"], fp))
    lines.append("PASSED" if rep["passed"] else "FAILED")
    return "\n".join(lines)
