"""The command-line side of the FPGA target: options, and compile / validate / inspect / profile
for targets whose backend is "fpga" (compiler/cli.py hands these over)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .format import OVERFLOW, ROUNDING


def add_fpga_args(sp) -> None:
    g = sp.add_argument_group("fixed-point options (--target fpga)")
    g.add_argument("--precision", metavar="FORMAT", help="fixed<W,I> for every tensor (default fixed<16,6>), "
                   "or auto / auto<W>: integer bits per tensor from the weights and calibrated ranges (needs --calib)")
    g.add_argument("--rounding", default="rnd", choices=list(ROUNDING),
                   help="rounding when dropping fractional bits: trn (AP_TRN), rnd (AP_RND, default), rnd_conv (AP_RND_CONV)")
    g.add_argument("--overflow", default="sat", choices=list(OVERFLOW),
                   help="overflow handling: sat (AP_SAT, default) or wrap (AP_WRAP)")
    g.add_argument("--reuse-factor", type=int, default=1, metavar="R",
                   help="multiplications per multiplier (hls4ml's reuse factor): sets II and the resource estimate")
    g.add_argument("--config", metavar="FILE.json",
                   help="per-layer formats: {\"layer name\": \"fixed<12,4>\"} or {\"layer\": {\"output\": ..., \"weight\": ...}}")
    if not any("--calib" in a.option_strings for a in sp._actions):
        sp.add_argument("--calib", metavar="FILE.npz|DIR", help="calibration inputs (ranges for auto formats and "
                        "overflow checks)")


def _plan(args, warn=None):
    from ..driver import load_and_optimize
    from ..frontend.onnx import parse_input_shapes
    from .build import make_plan

    graph = load_and_optimize(args.model, parse_input_shapes(args.input_shape))
    return make_plan(graph, args.precision, args.rounding, args.overflow, args.reuse_factor, args.config,
                     getattr(args, "calib", None), getattr(args, "calib_method", None) or "minmax", warn=warn)


def compile_cmd(args) -> int:
    from .build import compile_fpga

    if getattr(args, "quantize", None):
        from ..errors import UsageError

        raise UsageError("--quantize int8 is for the int8 targets; the fpga target takes --precision")
    plan = _plan(args)
    if getattr(args, "dump_ir", False):
        print(plan.graph.dump())
        for L in plan.layers:
            print(f"  # {L.node.name}: {', '.join(f.short() for f in L.in_fmts)} -> {L.out_fmt.short()}"
                  + (f", weights {L.weight_fmt.short()}" if L.weight_fmt else "")
                  + (f", accumulator fixed<{L.acc.W},{L.acc.W - L.acc.F}>" if L.acc else ""))
    out = args.output or str(Path("build") / Path(args.model).stem)
    out_dir, hm = compile_fpga(plan, out, prefix=args.name, target=args.target)
    fp = hm.meta["fpga"]
    print(f"compiled {args.model} for target '{args.target}' into {out_dir}")
    print(f"  entry {hm.meta['entry']}(), precision {plan.options.precision} ({plan.options.rounding}, "
          f"{plan.options.overflow}), reuse factor {fp['reuse_factor']}: {fp['multipliers']} multipliers, "
          f"latency {fp['latency_cycles']} cycles, weights {fp['weight_bits']} bits")
    return 0


def validate_cmd(args) -> int:
    from ..cli import _clean, _json_default
    from .validate import format_report, validate_fpga

    rep = validate_fpga(args.model, args.target, data=args.data, input_shapes=_shapes(args), samples=args.samples,
                        build_dir=args.output, precision=args.precision, rounding=args.rounding,
                        overflow=args.overflow, reuse_factor=args.reuse_factor, config=args.config,
                        calib=getattr(args, "calib", None), calib_method=getattr(args, "calib_method", None) or "minmax")
    if args.json:
        print(json.dumps(_clean(rep), indent=2, default=_json_default))
    else:
        from .build import overflow_message

        shown = {overflow_message(f) for f in rep["fpga"]["overflow_layers"]}  # the report lists these itself
        for w in rep["warnings"]:
            if w not in shown:
                print(f"warning: {w}", file=sys.stderr)
        print(format_report(rep))
    return 0 if rep["passed"] else 1


def _shapes(args):
    from ..frontend.onnx import parse_input_shapes

    return parse_input_shapes(args.input_shape)


def inspect_cmd(args) -> int:
    from .resources import format_table, layer_costs, totals

    plan = _plan(args)
    rows = layer_costs(plan)
    tot = totals(plan, rows)
    if args.json:
        print(json.dumps({"model": plan.graph.name, "target": args.target, "fpga": {**tot, "layers": rows},
                          "overflow_layers": plan.flagged()}, indent=2))
    else:
        print(format_table(rows, tot))
    return 0


def profile_cmd(args) -> int:
    from ..errors import UsageError
    from .profile import format_rows, format_sweep, plot, profile_rows, sweep

    if not getattr(args, "calib", None):
        raise UsageError("convc profile needs --calib data.npz: activation ranges come from calibration")
    plan = _plan(args, warn=lambda m: None)
    rows = profile_rows(plan)
    print(format_rows(rows))
    if args.output:
        plot(rows, args.output, f"{Path(args.model).name}: ranges vs formats ({plan.options.precision})")
        print(f"wrote {args.output}")
    if not args.no_sweep:
        from ..quantize.calibrate import load_calibration
        from convc.runtime.data import load_data

        if args.data:
            arrays, labels = load_data(args.data, plan.graph)
            src = args.data
        else:
            arrays, _ = load_calibration(args.calib, plan.graph)
            labels, src = None, args.calib
        print(f"\nprecision sweep (auto<W>, formats from the calibrated ranges; evaluated on {src}):")
        print(format_sweep(sweep(plan.graph, plan.ranges, arrays, labels, plan.options)))
    return 0


def add_profile_parser(sub, model_args) -> None:
    p = sub.add_parser("profile", help="fixed-point profile: per-layer ranges vs formats (table + PNG), precision sweep")
    model_args(p)
    p.add_argument("--target", default="fpga", help="a target with the fpga backend (default fpga)")
    p.add_argument("-o", "--output", metavar="PROFILE.png", help="write the ranges-vs-formats plot here")
    p.add_argument("--data", help="labelled .npz for the precision sweep's accuracy (default: SQNR on --calib)")
    p.add_argument("--no-sweep", action="store_true", help="skip the precision sweep")
    add_fpga_args(p)
    p.set_defaults(fn=_profile_entry)


def _profile_entry(args) -> int:
    from convc.targets import get_target

    from ..errors import UsageError

    if get_target(args.target).backend != "fpga":
        raise UsageError(f"convc profile is for fixed-point targets (fpga); '{args.target}' is not one")
    return profile_cmd(args)
