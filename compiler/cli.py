"""convc command line. Exit codes: 0 ok, 1 validation failed, 2 usage/model/toolchain error."""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from .errors import ConvcError


def _json_default(o):
    return str(o)


def _clean(o):
    """JSON has no inf/nan: report them as strings."""
    if isinstance(o, float) and not math.isfinite(o):
        return "inf" if o > 0 else ("-inf" if o < 0 else "nan")
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_clean(v) for v in o]
    return o


def _shapes(args):
    from .frontend.onnx import parse_input_shapes

    return parse_input_shapes(args.input_shape)


def cmd_compile(args) -> int:
    from .driver import compile_graph, load_and_optimize

    from convc.targets import get_target

    if get_target(args.target).backend == "fpga":
        from .fixed.commands import compile_cmd

        return compile_cmd(args)
    log: list[str] = []
    graph = load_and_optimize(args.model, _shapes(args), log=log)
    qres = None
    from .quantize.pipeline import has_imported_qparams, quantize_model

    if args.quantize or has_imported_qparams(graph):  # a QDQ model keeps its int8 scales without --quantize
        qres = quantize_model(graph, args.quantize or "int8", args.calib, args.calib_method)
        graph = qres.graph
        for w in qres.calibration.warnings:
            print(f"warning: {w}", file=sys.stderr)
    if args.dump_ir:
        print(graph.dump())
    out = args.output or str(Path("build") / Path(args.model).stem)
    from .tune import default_db_dir

    res = compile_graph(graph, args.target, out, prefix=args.name, stack_bytes=args.stack_size,
                        cuda_arch=args.cuda_arch, tuning=_tuning(args) or default_db_dir(args.model))
    meta = res.c_model.meta if res.c_model else {}
    print(f"compiled {args.model} for target '{args.target}' into {res.out_dir}")
    if qres is not None:
        print(f"  int8: {qres.int8_layers} int8 layers, calibration {qres.calibration.method} on "
              f"{qres.calibration.samples} samples; float layers: {', '.join(qres.float_layers) or 'none'}")
    if meta:
        print(f"  entry {meta['entry']}(), arena {meta['arena_bytes']} bytes, weights {meta['weights_bytes']} bytes")
    if meta.get("firmware"):
        fw = meta["firmware"]
        print(f"  library drop {res.out_dir / 'lib'}; firmware {res.out_dir / fw['elf']} for QEMU {fw['board']}: "
              f"flash {fw['flash_bytes']} bytes, static RAM {fw['static_ram_bytes']} bytes + stack "
              f"({fw['stack_reserved_bytes']} reserved)")
    if res.meta and "tvm_target" in res.meta:
        print(f"  {res.meta['library']} (TVM {res.meta['tvm_version']}, target {json.dumps(res.meta['tvm_target'])}), "
              f"weights {res.meta['weights_bytes']} bytes")
        if "cuda_kernels_checked" in res.meta:
            print(f"  CUDA kernels compiled with {res.meta['cuda_kernels_checked']}")
        for k in ("tuning", "tuning_note"):
            if k in res.meta:
                print(f"  {res.meta[k]}")
    return 0


def _tuning(args):
    """--tuning DB_DIR, checked: a folder written by `convc tune`, for a TVM target."""
    if not args.tuning:
        return None
    from convc.targets import get_target

    from .errors import UsageError
    from .tune import META

    if get_target(args.target).backend != "tvm":
        raise UsageError(f"--tuning applies to the TVM targets, not '{args.target}'")
    if not (Path(args.tuning) / META).is_file():
        raise UsageError(f"--tuning {args.tuning}: not a `convc tune` database (no {META} there)")
    return args.tuning


def cmd_tune(args) -> int:
    from convc.targets import get_target, require_toolchain

    from .driver import load_and_optimize
    from .tune import check_tunable, default_db_dir, tune

    target = get_target(args.target)
    check_tunable(target)
    require_toolchain(target)
    graph = load_and_optimize(args.model, _shapes(args))
    tune(graph, target, args.trials, args.output or default_db_dir(args.model))
    return 0


def cmd_quantize(args) -> int:
    from .driver import load_and_optimize
    from .quantize.export import write_qdq
    from .quantize.pipeline import quantize_model

    graph = load_and_optimize(args.model, _shapes(args))
    res = quantize_model(graph, "int8", args.calib, args.calib_method)
    for w in res.calibration.warnings:
        print(f"warning: {w}", file=sys.stderr)
    write_qdq(res.graph, args.output)
    print(f"wrote {args.output}: QDQ int8 model ({res.int8_layers} int8 layers, calibration "
          f"{res.calibration.method} on {res.calibration.samples} samples)")
    return 0


def cmd_validate(args) -> int:
    from convc.targets import get_target

    if get_target(args.target).backend == "fpga":
        from .fixed.commands import validate_cmd

        return validate_cmd(args)
    from convc.runtime.harness import DEFAULT_TOL, format_report, validate

    rep = validate(args.model, args.target, data=args.data, input_shapes=_shapes(args),
                   samples=args.samples, tol=args.tol if args.tol is not None else DEFAULT_TOL,
                   build_dir=args.output, stack_bytes=args.stack_size, cuda_arch=args.cuda_arch,
                   quantize=args.quantize, calib=args.calib, calib_method=args.calib_method, tuning=_tuning(args))
    if args.json:
        print(json.dumps(_clean(rep), indent=2, default=_json_default))
    else:
        print(format_report(rep))
    if rep["passed"] is None:  # built but not run here (cuda without a GPU): exit 0, reported as NOT RUN
        return 0
    return 0 if rep["passed"] else 1


def cmd_inspect(args) -> int:
    from convc.targets import get_target

    if args.target and get_target(args.target).backend == "fpga":
        from .fixed.commands import inspect_cmd

        return inspect_cmd(args)
    from .driver import load_and_optimize
    from .stats import format_table, layer_table

    graph = load_and_optimize(args.model, _shapes(args))
    info = layer_table(graph)
    if args.target:  # build the firmware and run one sample on the board: flash, RAM, instructions
        from convc.runtime.qemu_mcu import format_target_report, target_report

        tgraph = graph
        if args.quantize:  # report the int8 firmware
            from .quantize.pipeline import quantize_model

            tgraph = quantize_model(graph, args.quantize, args.calib, args.calib_method).graph
        info["target"] = target_report(tgraph, args.target)
        info["target"]["quantize"] = args.quantize
    print(json.dumps(info, indent=2) if args.json else format_table(info))
    if args.target and not args.json:
        print(format_target_report(info["target"]))
    return 0


def cmd_targets(args) -> int:
    from convc.targets import TARGETS, missing_tools

    rows = []
    for t in TARGETS.values():
        miss = missing_tools(t)
        rows.append({"name": t.name, "backend": t.backend, "toolchain": "ok" if not miss else
                     f"missing {', '.join(miss)} (apt-get install {' '.join(t.packages)})", "description": t.description})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        w = max(len(r["name"]) for r in rows)
        for r in rows:
            print(f"{r['name'].ljust(w)}  {r['backend']:<4}  {r['toolchain']:<10}  {r['description']}")
    return 0


def cmd_run(args) -> int:
    import numpy as np

    from convc.runtime.artifacts import load_artifact
    from .errors import UsageError

    art = load_artifact(args.build)
    meta = art.meta
    try:
        npz = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"--input {args.input}: not a readable .npz file ({e})") from None
    feeds = {}
    n = None
    for spec in meta["inputs"]:
        if spec["name"] not in npz.files:
            raise UsageError(f"--input {args.input}: no array named '{spec['name']}' (file has {npz.files})")
        a = npz[spec["name"]]
        shape = tuple(spec["shape"])
        if tuple(a.shape) == shape:
            a = a[None]
        if tuple(a.shape[1:]) != shape and tuple(a.shape[1:]) != shape[1:]:
            raise UsageError(f"--input: array '{spec['name']}' has shape {list(a.shape)}; expected {list(shape)} or [N, ...]")
        feeds[spec["name"]] = a
        n = a.shape[0]
    results: dict[str, list] = {o["name"]: [] for o in meta["outputs"]}
    batch = [{k: v[i].reshape(next(s["shape"] for s in meta["inputs"] if s["name"] == k)) for k, v in feeds.items()}
             for i in range(n or 1)]
    # emulated boards run every sample in one boot
    for out in (art.run_many(batch) if hasattr(art, "run_many") else map(art.run, batch)):
        for k, v in out.items():
            results[k].append(v)
    arrays = {k: np.stack(v) for k, v in results.items()}
    np.savez(args.output, **arrays)
    print(f"ran {n} sample(s) on {art.ran_on}; wrote {', '.join(f'{k}{list(v.shape)}' for k, v in arrays.items())} to {args.output}")
    mcu = getattr(art, "last", None)
    if mcu is not None:  # firmware on an emulated board: what each inference cost there
        print(f"  instructions per inference: {max(mcu.instructions)} (min {min(mcu.instructions)}, QEMU -icount); "
              f"peak stack {mcu.stack_bytes} bytes")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .fixed.commands import add_fpga_args, add_profile_parser

    p = argparse.ArgumentParser(prog="convc", description="Compile trained ConvNets (ONNX) for small machines.")
    sub = p.add_subparsers(dest="cmd", required=True)

    def model_args(sp):
        sp.add_argument("model", help="ONNX model file")
        sp.add_argument("--input-shape", action="append", metavar="NAME=D0,D1,...",
                        help="fix the shape of an input (repeatable); needed for dynamic dimensions")

    def quant_args(sp):
        sp.add_argument("--quantize", choices=["int8"], help="post-training quantization (TFLM-compatible int8)")
        sp.add_argument("--calib", metavar="FILE.npz|DIR", help="calibration inputs: .npz keyed by input name "
                        "(first axis = samples) or a folder of <input>.npy")
        sp.add_argument("--calib-method", default="minmax", choices=["minmax", "percentile", "mse"],
                        help="activation range choice (default minmax)")

    c = sub.add_parser("compile", help="compile a model for a target")
    model_args(c)
    quant_args(c)
    c.add_argument("--target", default="c", help="target name (see `convc targets`)")
    c.add_argument("-o", "--output", help="output folder (default build/<model>)")
    c.add_argument("--name", default="model", help="C symbol prefix (default: model)")
    c.add_argument("--dump-ir", action="store_true", help="print the optimized IR")
    c.add_argument("--stack-size", type=int, metavar="BYTES", help="firmware stack for cortex-m targets (default 16384)")
    c.add_argument("--cuda-arch", metavar="sm_XY", help="GPU architecture for the cuda target "
                   "(default: the GPU on this machine, else sm_80)")
    c.add_argument("--tuning", metavar="DB_DIR", help="x86: a `convc tune` database (default <model>.convc-tune "
                   "beside the model, when there)")
    add_fpga_args(c)
    c.set_defaults(fn=cmd_compile)

    tn = sub.add_parser("tune", help="tune the TVM kernels of a model (MetaSchedule) for later compiles")
    model_args(tn)
    tn.add_argument("--target", default="x86", help="TVM CPU target to tune (x86: this machine's CPU)")
    tn.add_argument("--trials", type=int, default=64, help="measured candidates in all (default 64)")
    tn.add_argument("-o", "--output", metavar="DB_DIR", help="database folder (default <model>.convc-tune beside "
                    "the model, which compile/validate use automatically)")
    tn.set_defaults(fn=cmd_tune)

    qz = sub.add_parser("quantize", help="calibrate and write an int8 QDQ ONNX model other tools can read")
    model_args(qz)
    qz.add_argument("--calib", required=True, metavar="FILE.npz|DIR", help="calibration inputs (as for compile)")
    qz.add_argument("--calib-method", default="minmax", choices=["minmax", "percentile", "mse"])
    qz.add_argument("-o", "--output", required=True, help="output .onnx file")
    qz.set_defaults(fn=cmd_quantize)

    v = sub.add_parser("validate", help="build, run and compare with the reference")
    model_args(v)
    quant_args(v)
    v.add_argument("--target", default="c")
    v.add_argument("--data", help=".npz with one array per input (first axis = samples) and optional 'labels'")
    v.add_argument("--samples", type=int, default=8, help="seeded random samples when --data is not given")
    v.add_argument("--tol", type=float, help="max abs error relative to the output scale (default 1e-4)")
    v.add_argument("-o", "--output", help="keep the build in this folder")
    v.add_argument("--json", action="store_true", help="print one JSON object")
    v.add_argument("--stack-size", type=int, metavar="BYTES", help="firmware stack for cortex-m targets (default 16384)")
    v.add_argument("--cuda-arch", metavar="sm_XY", help="GPU architecture for the cuda target "
                   "(default: the GPU on this machine, else sm_80)")
    v.add_argument("--tuning", metavar="DB_DIR", help="x86: a `convc tune` database (default <model>.convc-tune "
                   "beside the model, when there)")
    add_fpga_args(v)
    v.set_defaults(fn=cmd_validate)

    add_profile_parser(sub, model_args)

    i = sub.add_parser("inspect", help="per-layer table: shapes, params, MACs, memory")
    model_args(i)
    i.add_argument("--json", action="store_true")
    i.add_argument("--target", help="also build for this cortex-m target and report flash, RAM, instructions")
    quant_args(i)
    add_fpga_args(i)
    i.set_defaults(fn=cmd_inspect)

    t = sub.add_parser("targets", help="list targets and whether their toolchain is here")
    t.add_argument("--json", action="store_true")
    t.set_defaults(fn=cmd_targets)

    r = sub.add_parser("run", help="run a compiled build on inputs from an .npz")
    r.add_argument("build", help="folder written by `convc compile`")
    r.add_argument("--input", required=True, help=".npz with one array per input")
    r.add_argument("-o", "--output", required=True, help="output .npz")
    r.set_defaults(fn=cmd_run)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except ConvcError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
