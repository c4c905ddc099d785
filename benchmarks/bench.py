"""Latency and memory of convc's C target next to ONNX Runtime, one row per network.

    python benchmarks/bench.py [--repeat N] [--networks a,b] [--json out.json] [--markdown]

Networks: every network of examples/networks.py ``ALL`` (built in memory, saved to a temp dir),
examples/digits_mlp/digits_mlp.onnx, and examples/digits/digits.onnx when it exists.

Latency is the median of N single inferences after a warm-up, batch 1, one thread:
  * ONNX Runtime: CPUExecutionProvider, intra_op = inter_op = 1 thread, ORT_ENABLE_ALL, timed around
    ``InferenceSession.run`` from Python (so it includes the Python binding's per-call cost; that
    floor is measured on a one-node Identity model and printed above the table).
  * convc C: the generated C built by ``convc.runtime.host.build_shared`` with ``-O3 -march=native``
    (plus the project's strict flags), timed *inside C*: a small timing loop compiled into the same
    shared library calls ``<prefix>_run`` and reads CLOCK_MONOTONIC around every call, so no ctypes
    overhead is in the number (the ctypes cost is measured too and printed above the table).
Memory: convc's planned arena (the planner's peak) vs the sum of all activation tensors (what an
allocator without reuse needs) vs the weights that ship. ORT's memory is not measured (see README).

  * TVM untuned: convc's x86 TVM build (default schedules), timed inside TVM by the Relax VM's
    ``time_evaluator``, one thread.
  * TVM tuned: the same build after ``convc tune`` (MetaSchedule, ``--tune-trials`` per network,
    only for the ``--tune-networks``; tuning output on stderr), timed the same way.
  * convc-C int8: convc's int8 rewrite (calibrated on 16 seeded samples), the same in-C timing; its
    outputs are checked bit-exact against the integer oracle.
  * ORT int8 QDQ: that int8 graph exported as QDQ (``convc quantize``) and run by ONNX Runtime's int8
    kernels, timed as ORT above; its outputs are checked within one step of the integer oracle.
More runtimes: append a ``Runner`` to ``RUNNERS``; the first runner is the baseline of the ratio
columns. A runner returns ``Timing(us=None, reason=...)`` when it cannot run a network.
"""
from __future__ import annotations

import argparse
import ctypes
import datetime
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
os.environ.setdefault("TVM_NUM_THREADS", "1")  # TVM reads it when it loads: one thread, as ORT and C

import onnx  # noqa: E402

from convc.compiler.codegen.cfmt import ctype  # noqa: E402
from convc.compiler.driver import compile_graph, load_and_optimize  # noqa: E402
from convc.compiler.errors import ConvcError  # noqa: E402
from convc.compiler.stats import graph_macs  # noqa: E402
from convc.runtime.host import build_shared, host_cc  # noqa: E402

OPT = "-O3"
ARCH_FLAGS = ["-march=native"]
DEFAULT_REPEAT = 500
DIGITS_MLP = ROOT / "examples" / "digits_mlp" / "digits_mlp.onnx"
DIGITS = ROOT / "examples" / "digits" / "digits.onnx"
SEED = 0


# --------------------------------------------------------------------------------------------------
# networks

@dataclass
class Net:
    name: str
    path: Path
    graph: object
    build_dir: Path
    meta: dict  # convc.json of the generated C
    feed: dict[str, np.ndarray]  # one input sample, keyed by graph input name (batch axis included)
    macs: int


def network_sources(tmp: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """(name, onnx path) for every benchmarked network, and notes about those skipped."""
    from networks import ALL

    nets, notes = [], []
    for name, fn in ALL.items():
        p = tmp / f"{name}.onnx"
        onnx.save(fn(), p)
        nets.append((name, p))
    nets.append(("digits_mlp", DIGITS_MLP))
    if DIGITS.is_file():
        nets.append(("digits", DIGITS))
    else:
        shown = DIGITS.relative_to(ROOT) if DIGITS.is_relative_to(ROOT) else DIGITS
        notes.append(f"digits: skipped, {shown} does not exist (yet)")
    return nets, notes


def prepare(name: str, path: Path, tmp: Path) -> Net:
    """Import + optimise with convc and write the generated C (raises ConvcError if it cannot)."""
    graph = load_and_optimize(path)
    out = tmp / f"{name}-c"
    compile_graph(graph, "c", out)
    meta = json.loads((out / "convc.json").read_text())
    rng = np.random.default_rng(SEED)
    feed = {}
    for spec in meta["inputs"]:
        dt = np.dtype(spec["dtype"])
        if dt.kind == "f":
            feed[spec["name"]] = rng.standard_normal(spec["shape"]).astype(dt)
        else:
            feed[spec["name"]] = rng.integers(0, 2, spec["shape"]).astype(dt)
    return Net(name, Path(path), graph, out, meta, feed, graph_macs(graph))


# --------------------------------------------------------------------------------------------------
# runners

@dataclass
class Timing:
    us: float | None  # median microseconds per inference, or None (then `reason` says why)
    reason: str | None = None
    extra: dict = field(default_factory=dict)  # anything else worth keeping in --json
    outputs: dict[str, np.ndarray] | None = None  # one inference's outputs, for the sanity check


def _stats_us(ns: list[float] | np.ndarray) -> dict:
    a = np.asarray(ns, dtype=np.float64) / 1e3
    return {"median_us": float(np.median(a)), "min_us": float(a.min()),
            "p10_us": float(np.percentile(a, 10)), "p90_us": float(np.percentile(a, 90)), "n": int(a.size)}


def _warmup_count(repeat: int) -> int:
    return max(3, min(20, repeat // 5))


class Runner:
    key = "runner"  # JSON key
    label = "runner"  # column header: "<label> µs"; ratio column "<short>/<baseline short>"
    short = "runner"

    def version(self) -> str:
        return ""

    def time(self, net: Net, repeat: int) -> Timing:
        raise NotImplementedError


class OrtRunner(Runner):
    key, label, short = "onnxruntime", "ORT", "ORT"

    def __init__(self) -> None:
        import onnxruntime as ort

        self.ort = ort

    def version(self) -> str:
        return f"onnxruntime {self.ort.__version__}"

    def session(self, path: Path | bytes):
        ort = self.ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        return ort.InferenceSession(path if isinstance(path, bytes) else str(path), so,
                                    providers=["CPUExecutionProvider"])

    def _time_session(self, sess, feed: dict, repeat: int) -> tuple[list[int], list]:
        for _ in range(_warmup_count(repeat)):
            sess.run(None, feed)
        ns = []
        clock = time.perf_counter_ns
        gc_was = gc.isenabled()
        gc.disable()  # as timeit does: no collector pauses inside the samples
        try:
            for _ in range(repeat):
                t0 = clock()
                res = sess.run(None, feed)
                ns.append(clock() - t0)
        finally:
            if gc_was:
                gc.enable()
        return ns, res

    def time(self, net: Net, repeat: int) -> Timing:
        try:
            sess = self.session(net.path)
        except Exception as e:  # noqa: BLE001 - any ORT refusal is a reason, not a crash
            return Timing(None, f"ORT cannot load it: {str(e).splitlines()[0][:120]}")
        feed = {i.name: net.feed[i.name] for i in sess.get_inputs()}
        ns, res = self._time_session(sess, feed, repeat)
        outs = {o.name: np.asarray(v) for o, v in zip(sess.get_outputs(), res)}
        st = _stats_us(ns)
        return Timing(st["median_us"], extra=st, outputs=outs)

    def call_floor_us(self, repeat: int) -> float:
        """Median of `sess.run` on a one-node Identity over one float: the binding's fixed cost."""
        from onnx import TensorProto, helper

        g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "floor",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
        sess = self.session(m.SerializeToString())
        ns, _ = self._time_session(sess, {"x": np.zeros([1], np.float32)}, max(repeat, 200))
        return _stats_us(ns)["median_us"]


_BENCH_C = """\
/* Timing loop for convc's benchmark (benchmarks/bench.py): not part of the generated model. */
#define _POSIX_C_SOURCE 199309L
#include <time.h>

#include "{prefix}.h"

int convc_bench_loop(void *const *io, void *arena, int warmup, int n, double *ns);

int convc_bench_loop(void *const *io, void *arena, int warmup, int n, double *ns)
{{
    struct timespec a, b;
    int k;
    for (k = 0; k < warmup; k++)
        if ({entry}({args}, arena) != 0) return 1;
    for (k = 0; k < n; k++) {{
        clock_gettime(CLOCK_MONOTONIC, &a);
        if ({entry}({args}, arena) != 0) return 1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        ns[k] = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    }}
    return 0;
}}

int convc_bench_timer(int n, double *ns);

int convc_bench_timer(int n, double *ns)
{{
    struct timespec a, b;
    int k;
    for (k = 0; k < n; k++) {{
        clock_gettime(CLOCK_MONOTONIC, &a);
        clock_gettime(CLOCK_MONOTONIC, &b);
        ns[k] = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    }}
    return 0;
}}
"""

class ConvcCRunner(Runner):
    key, label, short = "convc_c", "convc-C", "C"

    def version(self) -> str:
        cc = host_cc()
        r = subprocess.run([cc, "--version"], capture_output=True, text=True)
        first = r.stdout.splitlines()[0] if r.returncode == 0 and r.stdout else "unknown"
        return f"{Path(cc).name}: {first}; flags {OPT} {' '.join(ARCH_FLAGS)} (+ -std=c99 strict flags)"

    def build(self, net: Net) -> Path:
        meta = net.meta
        args = []
        for k, spec in enumerate(meta["inputs"]):
            args.append(f"(const {ctype(spec['dtype'])} *)io[{k}]")
        for k, spec in enumerate(meta["outputs"]):
            args.append(f"({ctype(spec['dtype'])} *)io[{len(meta['inputs']) + k}]")
        src = net.build_dir / "convc_bench.c"
        src.write_text(_BENCH_C.format(prefix=meta["prefix"], entry=meta["entry"], args=", ".join(args)))
        # the timing loop is one more source file on the same command line (and in the cache key)
        return build_shared(net.build_dir, opt=OPT, extra=[*ARCH_FLAGS, str(src)])

    def time(self, net: Net, repeat: int) -> Timing:
        t0 = time.perf_counter()
        try:
            lib_path = self.build(net)
        except ConvcError as e:
            return Timing(None, f"C build failed: {str(e).splitlines()[0][:160]}")
        build_s = time.perf_counter() - t0
        lib = ctypes.CDLL(str(lib_path))
        meta = net.meta
        bufs = [np.ascontiguousarray(net.feed[s["name"]], dtype=s["dtype"]).reshape(s["shape"]) for s in meta["inputs"]]
        outs = {s["name"]: np.zeros(s["shape"], dtype=s["dtype"]) for s in meta["outputs"]}
        bufs += list(outs.values())
        io = (ctypes.c_void_p * len(bufs))(*[b.ctypes.data for b in bufs])
        arena_np = np.zeros(max(meta["arena_bytes"], 1) + 64, np.uint8)
        base = arena_np.ctypes.data
        arena = ctypes.c_void_p(base + (-base) % 64)
        ns = np.zeros(repeat, np.float64)
        loop = lib.convc_bench_loop
        loop.restype = ctypes.c_int
        loop.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
        rc = loop(io, arena, _warmup_count(repeat), repeat, ns.ctypes.data)
        if rc != 0:
            return Timing(None, f"{meta['entry']} returned an error")
        st = _stats_us(ns)
        # the same calls through ctypes from Python, to state what in-C timing leaves out
        fn = getattr(lib, meta["entry"])
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_void_p] * (len(bufs) + 1)
        ptrs = [b.ctypes.data for b in bufs] + [arena.value]
        clock = time.perf_counter_ns
        n_ct = max(3, min(repeat, 100))
        ct = []
        gc_was = gc.isenabled()
        gc.disable()
        try:
            for _ in range(n_ct):
                a = clock()
                fn(*ptrs)
                ct.append(clock() - a)
        finally:
            if gc_was:
                gc.enable()
        st["ctypes_median_us"] = float(np.median(ct)) / 1e3
        # what one clock_gettime pair costs (it is inside every in-C sample)
        tn = np.zeros(1000, np.float64)
        lib.convc_bench_timer.argtypes = [ctypes.c_int, ctypes.c_void_p]
        lib.convc_bench_timer(tn.size, tn.ctypes.data)
        st["timer_overhead_us"] = float(np.median(tn)) / 1e3
        st["build_s"] = round(build_s, 2)
        return Timing(st["median_us"], extra=st, outputs={k: v.copy() for k, v in outs.items()})


class TvmUntunedRunner(Runner):
    """convc's TVM x86 build (default schedules, no tuning), timed inside TVM: the Relax VM's
    `time_evaluator` calls `main` `repeat` times in C++ (one sample each), one thread
    (TVM_NUM_THREADS=1, set before TVM loads)."""

    key, label, short = "tvm_untuned", "TVM untuned", "TVM"

    def version(self) -> str:
        import tvm

        from convc.targets import get_target
        from convc.targets.tvm import resolve_tvm_target

        tt = resolve_tvm_target(get_target("x86"))
        return f"apache-tvm {tvm.__version__}, target llvm -mcpu={tt['mcpu']}, {os.environ.get('TVM_NUM_THREADS')} thread"

    def time(self, net: Net, repeat: int) -> Timing:
        return self.time_build(net, repeat, net.build_dir.parent / f"{net.name}-x86")

    def time_build(self, net: Net, repeat: int, out: Path, tuning: Path | None = None) -> Timing:
        import tvm

        from convc.runtime.artifacts import load_artifact

        t0 = time.perf_counter()
        try:
            out = compile_graph(net.graph, "x86", out, tuning=tuning).out_dir
        except ConvcError as e:
            return Timing(None, f"TVM build failed: {str(e).splitlines()[0][:160]}")
        build_s = time.perf_counter() - t0
        art = load_artifact(out)
        outs = art.run(net.feed)
        args = [tvm.runtime.tensor(np.ascontiguousarray(net.feed[s["name"]], dtype=s["dtype"])) for s in art.meta["inputs"]]
        art.vm["main"](*args)  # warm-up
        res = art.vm.time_evaluator("main", art.dev, number=1, repeat=repeat + _warmup_count(repeat))(*args)
        st = _stats_us(np.asarray(res.results[_warmup_count(repeat):]) * 1e9)
        st["build_s"] = round(build_s, 2)
        return Timing(st["median_us"], extra=st, outputs=outs)


class TvmTunedRunner(TvmUntunedRunner):
    """convc's TVM x86 build with kernels tuned by `convc tune` (MetaSchedule, `trials` measured
    candidates per network, random cost model), timed as TVM untuned. Only the networks in
    `networks` are tuned (tuning costs about a second per trial here); the others are a note."""

    key, label, short = "tvm_tuned", "TVM tuned", "TVMt"
    trials = 64
    networks: tuple[str, ...] = ("lenet", "digits_mlp", "digits")

    def version(self) -> str:
        return f"convc tune: {self.trials} trials per network (MetaSchedule, random cost model)"

    def time(self, net: Net, repeat: int) -> Timing:
        from convc.compiler.tune import tune
        from convc.targets import get_target

        if net.name not in self.networks:
            return Timing(None, f"not tuned (only {', '.join(self.networks) or 'none'} at {self.trials} trials: "
                                "--tune-networks)")
        db = net.build_dir.parent / f"{net.name}.convc-tune"
        t0 = time.perf_counter()
        try:
            res = tune(net.graph, get_target("x86"), self.trials, db, say=lambda line: print(line, file=sys.stderr))
        except ConvcError as e:
            return Timing(None, f"tuning failed: {str(e).splitlines()[0][:160]}")
        tune_s = time.perf_counter() - t0
        t = self.time_build(net, repeat, net.build_dir.parent / f"{net.name}-x86-tuned", tuning=db)
        t.extra.update({"tune_s": round(tune_s, 1), "trials": res.meta["trials_measured"]})
        return t


INT8_CALIB_SAMPLES = 16  # seeded standard-normal calibration samples for the int8 columns


def int8_graph(net: Net):
    """convc's int8 rewrite of the network (cached on the Net), calibrated on seeded samples."""
    if getattr(net, "_int8", None) is None:
        from convc.compiler.quantize.rewrite import quantize_graph
        from convc.runtime.data import random_data

        net._int8 = quantize_graph(net.graph, random_data(net.graph, INT8_CALIB_SAMPLES, seed=SEED + 1)).graph
    return net._int8


def _int8_check(q, feed: dict, outs: dict, lsb_steps: float) -> float:
    """Largest difference from convc's integer oracle, in output steps (0 = bit-exact)."""
    from convc.compiler import reference

    ref = reference.run(q, feed)
    worst = 0.0
    for n in q.nodes:
        if n.op == "DequantizeLinear" and n.outputs[0] in outs:
            d = np.abs(np.asarray(outs[n.outputs[0]], np.float64) - ref[n.outputs[0]]) / n.attrs["scale"]
            worst = max(worst, float(d.max()))
    return worst


class ConvcCInt8Runner(ConvcCRunner):
    """convc's int8 build of the network (the same timing loop as convc-C); its outputs are checked
    against the integer oracle (bit-exact), not against the float baseline."""

    key, label, short = "convc_c_int8", "convc-C int8", "C8"

    def time(self, net: Net, repeat: int) -> Timing:
        try:
            q = int8_graph(net)
            out = net.build_dir.parent / f"{net.name}-c-int8"
            compile_graph(q, "c", out)
        except ConvcError as e:
            return Timing(None, f"int8 build failed: {str(e).splitlines()[0][:160]}")
        meta = json.loads((out / "convc.json").read_text())
        qnet = Net(net.name, net.path, q, out, meta, net.feed, net.macs)
        t = super().time(qnet, repeat)
        if t.us is not None and t.outputs is not None:
            t.extra["steps_vs_int8_oracle"] = _int8_check(q, net.feed, t.outputs, 1)
            t.extra["arena_bytes"] = meta["arena_bytes"]
            t.outputs = None  # int8: not compared with the float baseline
        return t


class OrtQdqRunner(OrtRunner):
    """ONNX Runtime on convc's int8 graph exported as QDQ (`convc quantize`): ORT's own int8 kernels."""

    key, label, short = "onnxruntime_qdq", "ORT int8 QDQ", "ORT8"

    def time(self, net: Net, repeat: int) -> Timing:
        from convc.compiler.quantize.export import export_qdq

        try:
            q = int8_graph(net)
            sess = self.session(export_qdq(q).SerializeToString())
        except Exception as e:  # noqa: BLE001 - a model ORT or the export cannot take is a reason
            return Timing(None, f"QDQ export/ORT: {(str(e).splitlines() or [''])[0][:120]}")
        feed = {i.name: net.feed[i.name] for i in sess.get_inputs()}
        ns, res = self._time_session(sess, feed, repeat)
        st = _stats_us(ns)
        st["steps_vs_int8_oracle"] = _int8_check(q, net.feed, {o.name: np.asarray(v) for o, v in
                                                               zip(sess.get_outputs(), res)}, 1)
        return Timing(st["median_us"], extra=st)


RUNNERS: list[type[Runner]] = [OrtRunner, ConvcCRunner, TvmUntunedRunner, TvmTunedRunner, ConvcCInt8Runner,
                               OrtQdqRunner]  # first = baseline of the ratio columns


# --------------------------------------------------------------------------------------------------
# microcontrollers: the firmware of the cortex-m targets, run on their QEMU boards

MCU_CORES = ["cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]
MCU_CALIB_SAMPLES = 16  # seeded standard-normal calibration samples for the int8 rows


def _mcu_variants(graph) -> list[tuple[str, object]]:
    """(dtype label, graph): the float32 graph and its int8 rewrite (calibrated on seeded samples)."""
    from convc.compiler.quantize.rewrite import quantize_graph
    from convc.runtime.data import sample_shape

    rng = np.random.default_rng(SEED + 1)
    calib = {i: rng.standard_normal([MCU_CALIB_SAMPLES, *sample_shape(graph.tensors[i].shape)])
             .astype(graph.tensors[i].dtype) for i in graph.inputs}
    return [("float32", graph), ("int8", quantize_graph(graph, calib, "minmax").graph)]


def tflm_rows(sources: list[tuple[str, Path]]) -> tuple[list[dict], list[str]]:
    """Per network: convc's arena next to the arena TFLM's own planner needs for the same float
    network (benchmarks/tflm_arena.py writes it as a .tflite, TFLM runs it, its outputs are
    checked against convc's oracle before its number is shown)."""
    from convc.compiler import reference

    try:
        import tflm_arena
    except ImportError as e:  # pragma: no cover - tflite-micro is a dev dependency
        return [], [f"TFLM arena: not measured ({e})"]
    rows, notes = [], []
    for name, path in sources:
        try:
            graph = load_and_optimize(path)
            rng = np.random.default_rng(SEED)
            feed = {i: rng.standard_normal(graph.tensors[i].shape).astype(graph.tensors[i].dtype) for i in graph.inputs}
            want = reference.run(graph, feed)
            t = tflm_arena.tflm_arena(graph, feed, want)
        except (ConvcError, tflm_arena.NotExportable) as e:
            notes.append(f"{name}: TFLM arena not measured: {(str(e).splitlines() or [''])[0][:160]}")
            continue
        if not t["max_rel_err"] <= 1e-4:
            notes.append(f"{name}: TFLM's outputs differ from the oracle ({t['max_rel_err']:.3g}): arena not shown")
            continue
        from convc.compiler.memory import plan_memory

        plan = plan_memory(graph)
        io = sum(graph.tensors[i].size * np.dtype(graph.tensors[i].dtype).itemsize for i in graph.inputs + graph.outputs)
        rows.append({"network": name, "arena_bytes": plan.arena_size, "io_bytes": io,
                     "tflm_head_bytes": t["head_bytes"], "tflm_tail_bytes": t["tail_bytes"],
                     "tflm_max_rel_err": t["max_rel_err"], "arena_over_tflm": plan.arena_size / t["head_bytes"],
                     "arena_io_over_tflm": (plan.arena_size + io) / t["head_bytes"]})
    return rows, notes


def tflm_table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    head = ["network", "convc arena KiB", "+ input/output KiB", "TFLM arena (head) KiB", "arena/TFLM",
            "(arena+I/O)/TFLM", "TFLM persistent (tail) KiB"]
    body = [[r["network"], _kib(r["arena_bytes"]), _kib(r["arena_bytes"] + r["io_bytes"]), _kib(r["tflm_head_bytes"]),
             _fmt_ratio(r["arena_over_tflm"]), _fmt_ratio(r["arena_io_over_tflm"]), _kib(r["tflm_tail_bytes"] or 0)]
            for r in rows]
    return head, body


def mcu_bench(sources: list[tuple[str, Path]], cores: list[str], tmp: Path) -> tuple[list[dict], list[str]]:
    """Per network and core: flash, RAM (static + measured stack), instructions per inference
    (QEMU -icount, deterministic), instructions/MAC, and the arena next to sum-of-activations.
    The outputs are checked against convc's oracle; a difference is a note."""
    from convc.compiler import reference
    from convc.runtime.qemu_mcu import run_firmware
    from convc.targets import get_target, missing_tools

    rows, notes = [], []
    cores = [c for c in cores if not missing_tools(get_target(c)) or notes.append(
        f"{c}: skipped, missing {', '.join(missing_tools(get_target(c)))} (scripts/setup.sh installs it)")]
    for name, path in sources:
        try:
            graph = load_and_optimize(path)
        except ConvcError as e:
            notes.append(f"{name}: MCU rows skipped: {str(e).splitlines()[0][:160]}")
            continue
        rng = np.random.default_rng(SEED)
        feed = {i: rng.standard_normal(graph.tensors[i].shape).astype(graph.tensors[i].dtype) for i in graph.inputs}
        macs = graph_macs(graph)
        try:
            variants = _mcu_variants(graph)
        except ConvcError as e:
            notes.append(f"{name}: int8 rows skipped: {(str(e).splitlines() or [''])[0][:160]}")
            variants = [("float32", graph)]
        for (dtype, g), core in [(v, c) for v in variants for c in cores]:
            want = reference.run(g, feed)
            try:
                c = compile_graph(g, core, tmp / f"{name}-{dtype}-{core}")
                run = run_firmware(c.out_dir, [feed])
            except ConvcError as e:
                notes.append(f"{name} {dtype} on {core}: {(str(e).splitlines() or [''])[0][:200]}")
                continue
            # float: within 1e-3 of the output scale; int8: bit-exact with the integer oracle
            err = _max_rel_err(run.outputs[0], want)
            if err is None or not (err == 0 if dtype == "int8" else err <= 1e-3):
                notes.append(f"{name} {dtype} on {core}: firmware outputs differ from the oracle "
                             f"({err} of the output scale)")
            fw, meta = c.c_model.meta["firmware"], c.c_model.meta
            arena, total = meta["arena_bytes"], meta["activations_total_bytes"]
            rows.append({"network": name, "dtype": dtype, "core": core, "board": fw["board"], "macs": macs,
                         "flash_bytes": fw["flash_bytes"], "ram_bytes": fw["static_ram_bytes"] + run.stack_bytes,
                         "stack_bytes": run.stack_bytes, "instructions": run.instructions[0],
                         "instructions_per_mac": run.instructions[0] / macs if macs else None,
                         "arena_bytes": arena, "activations_total_bytes": total,
                         "arena_over_sum": arena / total if total else None, "max_rel_err_vs_oracle": err})
    return rows, notes


def mcu_table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    head = ["network", "dtype", "core", "MACs", "flash KiB", "RAM KiB", "stack B", "instructions", "instr/MAC",
            "arena KiB", "sum-of-activations KiB", "arena/sum"]
    body = [[r["network"], r["dtype"], r["core"], _fmt_macs(r["macs"]), _kib(r["flash_bytes"]), _kib(r["ram_bytes"]),
             str(r["stack_bytes"]), f"{r['instructions']:,}",
             "n/a" if r["instructions_per_mac"] is None else f"{r['instructions_per_mac']:.1f}",
             _kib(r["arena_bytes"]), _kib(r["activations_total_bytes"]), _fmt_ratio(r["arena_over_sum"])]
            for r in rows]
    return head, body


# --------------------------------------------------------------------------------------------------
# machine

def machine_info(runners: list[Runner]) -> dict:
    cpu, flags = None, set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("model name", "Model") and cpu is None:
                cpu = v.strip()
            if k.strip() == "flags" and not flags:
                flags = set(v.split())
    except OSError:
        pass
    isa = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "amx_tile", "neon", "asimd") if f in flags]
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # read-only: never refresh the index
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, env=env).stdout.strip() or None
        if commit:
            dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--",
                                    "compiler", "runtime", "c_templates", "targets"],
                                   capture_output=True, text=True, env=env).stdout.strip()
            commit += "+uncommitted changes" if dirty else ""
    except OSError:
        commit = None
    return {"cpu": cpu or platform.processor() or platform.machine(), "isa": isa, "cores": os.cpu_count(), "usable_cores": usable,
            "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "os": f"{platform.system()} {platform.release()} {platform.machine()}",
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "python": platform.python_version(), "numpy": np.__version__, "onnx": onnx.__version__,
            "convc_commit": commit, "runtimes": {r.key: r.version() for r in runners}}


# --------------------------------------------------------------------------------------------------
# table

def _fmt_macs(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.2f} G"
    if n >= 1e6:
        return f"{n / 1e6:.2f} M"
    if n >= 1e3:
        return f"{n / 1e3:.2f} k"
    return str(n)


def _fmt_us(us: float | None) -> str:
    if us is None:
        return "n/a"
    return f"{us:.2f}" if us < 10 else f"{us:.1f}" if us < 1000 else f"{us:,.0f}"


def _fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}"


def _kib(b: int) -> str:
    return f"{b / 1024:.1f}"


def table_rows(rows: list[dict], runners: list[Runner]) -> tuple[list[str], list[list[str]]]:
    base = runners[0]
    head = ["network", "MACs"] + [f"{r.label} µs" for r in runners] + [f"{r.short}/{base.short}" for r in runners[1:]]
    head += ["arena KiB", "sum-of-activations KiB", "arena/sum", "weights KiB"]
    body = []
    for row in rows:
        cells = [row["network"], _fmt_macs(row["macs"])]
        cells += [_fmt_us(row["latency"][r.key]["us"]) for r in runners]
        cells += [_fmt_ratio(row["ratios"].get(r.key)) for r in runners[1:]]
        m = row["memory"]
        cells += [_kib(m["arena_bytes"]), _kib(m["activations_total_bytes"]),
                  _fmt_ratio(m["arena_over_sum"]), _kib(m["weights_bytes"])]
        body.append(cells)
    return head, body


def format_text(head: list[str], body: list[list[str]]) -> str:
    w = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r))  # noqa: E731
    return "\n".join([line(head), "  ".join("-" * x for x in w), *map(line, body)])


def format_markdown(head: list[str], body: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------
# main

def _max_rel_err(a: dict, b: dict) -> float | None:
    errs = []
    for k, x in a.items():
        if k not in b:
            continue
        y = np.asarray(b[k], dtype=np.float64).reshape(np.shape(x))
        scale = max(float(np.max(np.abs(y))), 1e-6) if y.size else 1.0
        errs.append(float(np.max(np.abs(np.asarray(x, np.float64) - y))) / scale if y.size else 0.0)
    return max(errs) if errs else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help=f"timed runs per network and runtime (default {DEFAULT_REPEAT})")
    ap.add_argument("--networks", help="comma-separated subset, e.g. lenet,digits_mlp")
    ap.add_argument("--json", metavar="OUT", help="also write every number (with spreads) to this JSON file")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--mcu-cores", default=",".join(MCU_CORES),
                    help="Cortex-M cores for the microcontroller table (default: all); '' skips it")
    ap.add_argument("--tune-trials", type=int, default=TvmTunedRunner.trials,
                    help=f"MetaSchedule trials per network for TVM tuned (default {TvmTunedRunner.trials})")
    ap.add_argument("--tune-networks", default=",".join(TvmTunedRunner.networks),
                    help=f"networks TVM tuned tunes (default {','.join(TvmTunedRunner.networks)}: about a "
                    "minute each at the default budget); '' skips tuning")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    if args.tune_trials < 1:
        ap.error("--tune-trials must be >= 1")
    TvmTunedRunner.trials = args.tune_trials
    TvmTunedRunner.networks = tuple(n.strip() for n in args.tune_networks.split(",") if n.strip())

    runners = [cls() for cls in RUNNERS]
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="convc-bench-") as tmp_s:
        tmp = Path(tmp_s)
        sources, notes = network_sources(tmp)
        if args.networks:
            wanted = [s.strip() for s in args.networks.split(",") if s.strip()]
            known = {n for n, _ in sources} | {"digits"}
            unknown = [w for w in wanted if w not in known]
            if unknown:
                ap.error(f"unknown network(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
            sources = [(n, p) for n, p in sources if n in wanted]
            notes = [x for x in notes if x.split(":")[0] in wanted]

        info = machine_info(runners)
        ort_floor = runners[0].call_floor_us(args.repeat) if isinstance(runners[0], OrtRunner) else None
        rows, failed = [], False
        for name, path in sources:
            try:
                net = prepare(name, path, tmp)
            except Exception as e:  # noqa: BLE001 - a network convc cannot take is a note, not a crash
                msg = (str(e).splitlines() or [""])[0][:200]
                why = msg if isinstance(e, ConvcError) else f"{type(e).__name__}: {msg}"
                notes.append(f"{name}: skipped, convc cannot compile it: {why}")
                failed |= name != "digits"
                continue
            lat = {}
            for r in runners:
                t = r.time(net, args.repeat)
                lat[r.key] = t
                if t.us is None:
                    notes.append(f"{name}: {r.label}: {t.reason}")
            base = lat[runners[0].key]
            ratios = {r.key: (lat[r.key].us / base.us if lat[r.key].us and base.us else None) for r in runners[1:]}
            checks = {}
            if base.outputs is not None:
                for r in runners[1:]:
                    if lat[r.key].outputs is not None:
                        err = _max_rel_err(lat[r.key].outputs, base.outputs)
                        checks[r.key] = err
                        if err is not None and not err <= 1e-3:
                            notes.append(f"{name}: {r.label} outputs differ from {runners[0].label}: "
                                         f"max abs err {err:.3g} of the output scale")
            arena, total = net.meta["arena_bytes"], net.meta["activations_total_bytes"]
            rows.append({
                "network": name, "macs": net.macs,
                "latency": {k: {"us": t.us, "reason": t.reason, **t.extra} for k, t in lat.items()},
                "ratios": ratios, "max_rel_err_vs_baseline": checks,
                "memory": {"arena_bytes": arena, "activations_total_bytes": total,
                           "arena_over_sum": (arena / total) if total else None,
                           "weights_bytes": net.meta["weights_bytes"]},
            })
        mcu_cores = [c.strip() for c in args.mcu_cores.split(",") if c.strip()]
        unknown = [c for c in mcu_cores if c not in MCU_CORES]
        if unknown:
            ap.error(f"unknown core(s) {', '.join(unknown)}; known: {', '.join(MCU_CORES)}")
        mcu_rows, mcu_notes = mcu_bench(sources, mcu_cores, tmp) if mcu_cores else ([], [])
        arena_rows, arena_notes = tflm_rows(sources)
    elapsed = time.perf_counter() - t_start

    # header
    print(f"machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
          f"ISA {' '.join(info['isa']) or '?'}; {info['os']}")
    la = info["loadavg"]
    print(f"date: {info['date']}" + (f"  load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}" if la else ""))
    print("versions: " + "; ".join(info["runtimes"].values())
          + f"; python {info['python']}, numpy {info['numpy']}, onnx {info['onnx']}, convc {info['convc_commit'] or '?'}")
    print(f"latency: median of {args.repeat} runs after {_warmup_count(args.repeat)} warm-up runs, batch 1, 1 thread. "
          "ORT: InferenceSession.run timed from Python (intra/inter-op 1 thread, ORT_ENABLE_ALL). "
          "convc-C: timed inside C around <prefix>_run (no ctypes in the number).")
    small = [r for r in rows if r["latency"].get("convc_c", {}).get("ctypes_median_us")]
    if ort_floor is not None:
        print(f"call floors: ORT sess.run on a 1-node Identity model {ort_floor:.2f} µs (in every ORT number)", end="")
        if small:
            s = min(small, key=lambda r: r["latency"]["convc_c"]["us"])
            c = s["latency"]["convc_c"]
            print(f"; ctypes call into convc adds {c['ctypes_median_us'] - c['us']:.2f} µs "
                  f"({s['network']}: {c['ctypes_median_us']:.2f} µs via ctypes vs {c['us']:.2f} µs in C; not in the table); "
                  f"one clock_gettime pair costs {c['timer_overhead_us'] * 1e3:.0f} ns (in every convc-C number)", end="")
        print()
    print("memory: arena = convc's planned peak, sum = all activation tensors without reuse "
          "(graph inputs/outputs live in the caller's buffers and are in neither), weights = what ships; "
          "ORT memory not measured.")
    print()
    head, body = table_rows(rows, runners)
    print(format_markdown(head, body) if args.markdown else format_text(head, body))
    for n in notes:
        print(f"note: {n}")
    if mcu_cores:
        print()
        print("microcontrollers: firmware built with arm-none-eabi-gcc (-O2) and run on the QEMU board of each core; "
              "flash = code + constants (+ .data image); RAM = .data + .bss (incl. the firmware's input/output buffers) "
              "+ arena + measured peak stack; instructions per inference from QEMU -icount shift=0 + SysTick "
              "(deterministic); int8 rows: convc's int8 rewrite calibrated on 16 seeded standard-normal samples, outputs "
              "bit-exact vs the integer oracle; TFLM's arena for the same networks: the table after this one.")
        head, body = mcu_table(mcu_rows)
        print(format_markdown(head, body) if args.markdown else format_text(head, body))
        for n in mcu_notes:
            print(f"note: {n}")
    print()
    print("arena vs TFLM: the same float network written as a .tflite (NHWC; PAD ops where ONNX pads are not "
          "TF 'SAME') and run by TFLM's interpreter (tflite-micro); its outputs match convc's oracle (max rel err "
          "<= 1e-4) before its arena is shown. TFLM's head (its planner's peak) holds the graph input and output; "
          "convc's arena does not (they are the caller's buffers), hence both convc columns.")
    head, body = tflm_table(arena_rows)
    print(format_markdown(head, body) if args.markdown else format_text(head, body))
    for n in arena_notes:
        print(f"note: {n}")
    print(f"({elapsed:.0f} s)")

    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "repeat": args.repeat,
                                               "warmup": _warmup_count(args.repeat),
                                               "ort_call_floor_us": ort_floor, "rows": rows, "notes": notes,
                                               "mcu_rows": mcu_rows, "mcu_notes": mcu_notes,
                                               "arena_vs_tflm": arena_rows, "arena_vs_tflm_notes": arena_notes,
                                               "elapsed_s": elapsed}, indent=2, default=float) + "\n")
    return 1 if failed or any("differ" in n for n in mcu_notes) else 0


if __name__ == "__main__":
    sys.exit(main())
