"""`convc validate`: build for a target, run, and compare with the oracle and ONNX Runtime."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from convc.compiler import reference
from convc.compiler.driver import compile_graph, load_and_optimize
from convc.compiler.stats import graph_macs
from convc.targets import get_target, require_toolchain

from .artifacts import load_artifact
from .data import load_data, random_data, sample
from .metrics import compare, top1

DEFAULT_TOL = 1e-4  # max abs error allowed, relative to the output's scale (max |reference|)


def run_onnxruntime(model_path: str, arrays: dict[str, np.ndarray], graph) -> dict[str, list[np.ndarray]] | None:
    """The original model under ONNX Runtime (single thread), or None if ORT cannot run it."""
    try:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.log_severity_level = 3
        sess = ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])
    except Exception:
        return None
    n = next(iter(arrays.values())).shape[0]
    outs: dict[str, list[np.ndarray]] = {o: [] for o in graph.outputs}
    names = [o.name for o in sess.get_outputs()]
    for i in range(n):
        res = sess.run(None, sample(arrays, i, graph))
        for name, v in zip(names, res):
            if name in outs:
                outs[name].append(np.asarray(v))
    return outs


def validate(model_path: str, target_name: str = "c", data: str | None = None, input_shapes=None,
             samples: int = 8, tol: float = DEFAULT_TOL, build_dir: str | None = None,
             stack_bytes: int | None = None, cuda_arch: str | None = None,
             quantize: str | None = None, calib: str | None = None, calib_method: str = "minmax",
             tuning: str | None = None) -> dict:
    target = get_target(target_name)
    require_toolchain(target)
    if target.backend == "fpga":  # fixed point: bit-exact vs the fixed-point simulator (compiler/fixed/validate.py)
        from convc.compiler.fixed.validate import validate_fpga

        return validate_fpga(model_path, target.name, data=data, input_shapes=input_shapes, samples=samples,
                             build_dir=build_dir, calib=calib, calib_method=calib_method)
    graph = load_and_optimize(model_path, input_shapes)
    qres = None
    from convc.compiler.quantize.pipeline import has_imported_qparams, quantize_model

    if quantize or has_imported_qparams(graph):  # a QDQ model keeps its int8 scales without --quantize
        quantize = quantize or "int8"  # from here on `graph` is the int8 graph, `reference` its integer oracle
        qres = quantize_model(graph, quantize, calib, calib_method)
        graph = qres.graph
    if data:
        arrays, labels = load_data(data, graph)
    else:
        arrays, labels = random_data(graph, samples), None
    n = next(iter(arrays.values())).shape[0] if arrays else 1

    with tempfile.TemporaryDirectory(prefix="convc-validate-") as tmp:
        out_dir = Path(build_dir) if build_dir else Path(tmp) / "build"
        from convc.compiler.tune import default_db_dir

        compiled = compile_graph(graph, target.name, out_dir, stack_bytes=stack_bytes, cuda_arch=cuda_arch,
                                 tuning=tuning or default_db_dir(model_path))
        art = load_artifact(compiled.out_dir)
        if art.ran_on is None:  # compiled, but it cannot run here (cuda without a GPU): never a pass
            return not_run_report(model_path, target.name, n, getattr(art, "not_run", None), graph)
        got: dict[str, list] = {o: [] for o in graph.outputs}
        ref: dict[str, list] = {o: [] for o in graph.outputs}
        feeds = [sample(arrays, i, graph) for i in range(n)]
        # emulated boards run every sample in one boot
        batch = art.run_many(feeds) if hasattr(art, "run_many") else None
        for i in range(n):
            feed = feeds[i]
            r = reference.run(graph, feed)
            t = batch[i] if batch is not None else art.run(feed)
            for o in graph.outputs:
                ref[o].append(r[o])
                got[o].append(t[o])
        meta = getattr(art, "meta", {})
    ort_out = run_onnxruntime(model_path, arrays, graph)

    report: dict = {"model": Path(model_path).name, "target": target.name, "quantize": quantize or None,
                    "ran_on": art.ran_on, "samples": n, "passed": True, "outputs": []}
    for o in graph.outputs:
        g, r = np.stack(got[o]), np.stack(ref[o])
        orig = np.stack(ort_out[o]) if ort_out and ort_out.get(o) else None
        base = orig if orig is not None else r
        m = compare(g, base)
        scale = float(np.max(np.abs(base))) if base.size else 0.0
        entry = {"name": o, **m, "vs_reference": compare(g, r), "scale": scale,
                 "compared_with": "onnxruntime" if orig is not None else "reference"}
        if orig is not None:
            entry["reference_vs_onnxruntime"] = compare(r, orig)
        if g.ndim >= 2 and g.reshape(n, -1).shape[1] > 1:
            entry["top1_agreement"] = float(np.mean(top1(g) == top1(base)))
        limit = tol * max(scale, 1e-6)
        ok = m["max_abs_err"] <= limit and entry["vs_reference"]["max_abs_err"] <= limit
        if qres is not None:  # integer build: bit-exact with the integer oracle; float error is reported
            entry["mismatches"] = int(np.sum(g != r))
            ok, limit = entry["mismatches"] == 0, None
        entry["tolerance"] = limit
        entry["passed"] = bool(ok)
        report["passed"] &= bool(ok)
        report["outputs"].append(entry)
    if labels is not None:
        o = graph.outputs[0]
        acc = {"reference": float(np.mean(top1(np.stack(ref[o])) == labels)),
               "target": float(np.mean(top1(np.stack(got[o])) == labels))}
        if ort_out and ort_out.get(o):
            acc = {"float": float(np.mean(top1(np.stack(ort_out[o])) == labels)), **acc}
        report["accuracy"] = acc
    report["memory"] = {k: meta[k] for k in ("arena_bytes", "weights_bytes") if meta.get(k) is not None}
    report["macs"] = graph_macs(graph)
    tuned = [(compiled.meta or {}).get(k) for k in ("tuning", "tuning_note")]
    if any(tuned):
        report["tuning"] = "; ".join(t for t in tuned if t)
    if qres is not None:
        from convc.compiler.memory import plan_memory
        from convc.compiler.quantize.pipeline import int8_report

        report["memory"]["float_arena_bytes"] = plan_memory(qres.source).arena_size
        report.update(int8_report(qres, [sample(arrays, i, graph) for i in range(n)]))
    mcu = getattr(art, "last", None)
    if mcu is not None and "firmware" in meta:
        fw = meta["firmware"]
        report["memory"].update({"flash_bytes": fw["flash_bytes"], "ram_bytes": fw["static_ram_bytes"] + mcu.stack_bytes,
                                 "stack_bytes": mcu.stack_bytes, "stack_reserved_bytes": fw["stack_reserved_bytes"]})
        report["instructions"] = max(mcu.instructions)
        report["instructions_min"] = min(mcu.instructions)
        if report["macs"]:
            report["instructions_per_mac"] = report["instructions"] / report["macs"]
    return report


def not_run_report(model_path, target_name: str, n: int, why: str | None, graph) -> dict:
    return {"model": Path(model_path).name, "target": target_name, "quantize": None, "ran_on": None,
            "samples": n, "passed": None, "not_run": why or "the build cannot run on this machine",
            "outputs": [], "macs": graph_macs(graph)}


def format_report(rep: dict) -> str:
    lines = [f"model {rep['model']}  target {rep['target']}  ran on {rep['ran_on'] or 'not run'}  "
             f"samples {rep['samples']}"]
    if rep["passed"] is None:
        return "\n".join(lines + [f"NOT RUN: {rep['not_run']}"])
    for o in rep["outputs"]:
        lines.append(
            f"  output '{o['name']}' vs {o['compared_with']}: max abs err {o['max_abs_err']:.3g} "
            + (f"(limit {o['tolerance']:.3g})" if o.get("tolerance") is not None else "(int8 vs float: no limit)")
            + f", mean abs err {o['mean_abs_err']:.3g}, rel L2 {o['rel_l2']:.3g}, "
            f"cosine {o['cosine']:.6f}, SQNR {o['sqnr_db']:.1f} dB"
            + (f", top-1 agreement {100 * o['top1_agreement']:.1f}%" if "top1_agreement" in o else ""))
        lines.append(f"    vs convc oracle: max abs err {o['vs_reference']['max_abs_err']:.3g}"
                     + (f", {o['mismatches']} mismatching elements (integer oracle)" if "mismatches" in o else ""))
    if rep.get("quantize"):
        cal = rep["calibration"]
        lines.append(f"  quantize {rep['quantize']}: calibration {cal['method']} on {cal['samples']} samples; "
                     f"{rep['int8_layers']} int8 layers; float layers: {', '.join(rep['float_layers']) or 'none'}")
        lines.extend(f"  warning: {w}" for w in cal["warnings"])
        if "layers" in rep:
            lines.append("  per-layer SQNR int8 vs float (dB): " + ", ".join(
                f"{x['layer']} {x['sqnr_db']:.1f}" for x in rep["layers"]))
    if "accuracy" in rep:
        a = rep["accuracy"]
        lines.append("  accuracy: " + ", ".join(f"{k} {100 * v:.2f}%" for k, v in a.items()))
    mem = rep.get("memory", {})
    lines.append("  memory: " + ", ".join(f"{k.split('_')[0]} {mem[k]} B" for k in ("arena_bytes", "weights_bytes") if k in mem)
                 + f"; MACs {rep.get('macs')}"
                 + (f" (float build: arena {mem['float_arena_bytes']} B)" if "float_arena_bytes" in mem else ""))
    if rep.get("tuning"):
        lines.append(f"  {rep['tuning']}")
    if "flash_bytes" in mem:
        lines.append(f"  {rep['target']}: flash {mem['flash_bytes']} B, RAM {mem['ram_bytes']} B (arena {mem['arena_bytes']} + "
                     f"stack {mem['stack_bytes']} measured + other data/bss {mem['ram_bytes'] - mem['arena_bytes'] - mem['stack_bytes']})")
    if "instructions" in rep:
        per = f", {rep['instructions_per_mac']:.2f} instructions/MAC" if "instructions_per_mac" in rep else ""
        lines.append(f"  instructions per inference: {rep['instructions']} (min {rep['instructions_min']}, "
                     f"QEMU -icount){per}")
    lines.append("PASSED" if rep["passed"] else "FAILED")
    return "\n".join(lines)
