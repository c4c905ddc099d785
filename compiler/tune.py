"""`convc tune`: MetaSchedule over the Relax module of a graph, and the tuning database later
builds reuse.

The graph is lowered (codegen/relax.py), then prepared exactly as MetaSchedule's compile_relax
prepares it (legalize, fuse), so that the fused kernels tuned here are the ones the tuned build
looks up. Each fused kernel is a task; the task scheduler spreads the trial budget over them.

Candidates are measured on this machine, so only the x86 target (this CPU) can be tuned; boards
would need MetaSchedule's RPC runner on the board. Kernels are tuned and built for one thread
(target "num-cores": 1), as convc's x86 runner and the benchmark run them.

Speed on small machines: MetaSchedule's LocalBuilder starts a fresh process pool for every batch,
and each worker imports tvm.s_tir.tensor_intrin (~14 s here) before building anything; this module
builds candidates in-process instead (InProcessBuilder) and keeps the evolutionary search's
population small (POPULATION). Candidates still run in LocalRunner's worker process, so a
candidate that crashes does not take the tuner down. The cost model is MetaSchedule's "random" one
(its XGBoost model needs the ~700 MB xgboost package, not a dependency of convc).

The database folder (default `<model>.convc-tune/` beside the model) holds MetaSchedule's JSON
database (database_workload.json, database_tuning_record.json) and tune.json: the convc target, the
TVM target the kernels were tuned for, a structural hash of the lowered graph, the trial budget and
the latencies measured. It is written whole or not at all.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .ir import Graph
from .output import staged_dir

FORMAT = "convc-tune/1"
SUFFIX = ".convc-tune"
META = "tune.json"
DB_FILES = ("database_workload.json", "database_tuning_record.json")
TUNABLE = ("x86",)
POPULATION = 128  # evolutionary search population (MetaSchedule default 512: slow on 2 cores)
TRIALS_PER_ITER = 8  # candidates measured per round of one task (fewer when the budget is small)


def default_db_dir(model_path: str | os.PathLike) -> Path:
    """`<folder>/<model stem>.convc-tune`, beside the model."""
    p = Path(model_path)
    return p.with_name(p.stem + SUFFIX)


def check_tunable(target) -> None:
    if target.name in TUNABLE:
        return
    if target.backend == "tvm" and target.runner == "qemu-user":
        raise UsageError(f"convc tune measures candidate kernels on this machine, so it tunes the x86 target only; "
                         f"tuning '{target.name}' needs the kernels timed on the board (not supported yet)")
    raise UsageError(f"convc tune applies to TVM CPU targets: it tunes {', '.join(TUNABLE)} (this machine's CPU); "
                     f"'{target.name}' is a {target.backend} target")


def tuning_target(target) -> dict:
    """The TVM target dict kernels are tuned and then built for (one thread)."""
    from convc.targets.tvm import resolve_tvm_target

    return {**resolve_tvm_target(target), "num-cores": 1}


def graph_key(mod) -> str:
    """A structural hash of the lowered graph (kernels and weights), stable across processes."""
    import tvm_ffi

    return f"{tvm_ffi.structural_hash(mod) & 0xFFFFFFFFFFFFFFFF:016x}"


def fused(mod, tvm_target):
    """The module as MetaSchedule's compile_relax fuses it before looking kernels up."""
    import tvm
    from tvm import relax
    from tvm.relax import pipeline

    t = tvm.target.Target(tvm_target)
    with t:
        return tvm.transform.Sequential([
            *pipeline.library_dispatch_passes(t), relax.transform.LegalizeOps(),
            relax.transform.AnnotateTIROpPattern(), relax.transform.FoldConstant(),
            relax.transform.FuseOps(), relax.transform.FuseTIR()])(mod)


def _ms_classes():
    """The builder and progress callback (defined on first use: importing MetaSchedule costs ~1 s)."""
    import tvm.s_tir.meta_schedule as ms
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.builder import BuilderResult, PyBuilder
    from tvm.s_tir.meta_schedule.builder.local_builder import default_build, default_export
    from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

    @derived_object
    class InProcessBuilder(PyBuilder):
        def build(self, build_inputs):
            out = []
            for bi in build_inputs:
                try:
                    with warnings.catch_warnings():  # MetaSchedule's default_build calls the deprecated tvm.build
                        warnings.simplefilter("ignore", DeprecationWarning)
                        lib = default_build(bi.mod, bi.target, None)
                    out.append(BuilderResult(default_export(lib), None))
                except Exception as e:  # noqa: BLE001 - a candidate that does not build is a failed trial
                    out.append(BuilderResult(None, f"build failed: {str(e).strip()[:300]}"))
            return out

    @derived_object
    class Progress(PyMeasureCallback):
        def __init__(self, total: int, names: list[str], weights: list[float], say):
            self.total, self.names, self.weights, self.say = total, names, weights, say
            self.done, self.best = 0, {}

        def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
            for r in runner_results:
                self.done += 1
                secs = [float(s) for s in (r.run_secs or [])]
                if r.error_msg is None and secs:
                    us = 1e6 * sum(secs) / len(secs)
                    self.best[task_id] = min(self.best.get(task_id, us), us)
            est = sum(self.best[k] * self.weights[k] for k in self.best)
            b = self.best.get(task_id)
            self.say(f"  trials {self.done}/{self.total}  task {task_id + 1}/{len(self.names)} {self.names[task_id]}: "
                     f"best {'-' if b is None else f'{b:.2f} us'}; kernels measured {len(self.best)}/{len(self.names)}, "
                     f"sum of best {est:.1f} us")

    return ms, InProcessBuilder, Progress


@dataclass
class TuneResult:
    db_dir: Path
    meta: dict


def tune(graph: Graph, target, trials: int, db_dir: str | os.PathLike, say=print, seed: int = 0) -> TuneResult:
    """Tune `graph` for `target` with `trials` measured candidates in all; writes `db_dir`."""
    import tvm

    from .codegen.relax import lower

    check_tunable(target)
    if trials < 1:
        raise UsageError(f"--trials {trials}: must be at least 1")
    tvm_target = tuning_target(target)
    t = tvm.target.Target(tvm_target)
    mod = lower(graph)
    fmod = fused(mod, tvm_target)
    ms, InProcessBuilder, Progress = _ms_classes()
    tasks = ms.relax_integration.extract_tasks(fmod, t)
    if not tasks:
        raise UsageError(f"graph '{graph.name}' has no kernels to tune")
    names, weights = [x.task_name for x in tasks], [float(x.weight) for x in tasks]
    say(f"tuning {len(tasks)} kernel(s) of '{graph.name}' for {target.name} "
        f"({tvm_target['mcpu']}, 1 thread), {trials} trials, cost model random, population {POPULATION}")
    real_stdout = sys.stdout

    def say_now(line: str) -> None:  # while MetaSchedule's stdout is redirected
        with contextlib.redirect_stdout(real_stdout):
            say(line)
            real_stdout.flush()

    progress = Progress(trials, names, weights, say_now)
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="convc-tune-") as work:
        log = io.StringIO()
        with contextlib.redirect_stdout(log):  # MetaSchedule's own tables; our progress line replaces them
            db = ms.relax_integration.tune_relax(
                fmod, {}, t, work, max_trials_global=trials,
                num_trials_per_iter=max(1, min(TRIALS_PER_ITER, trials // len(tasks))),
                builder=InProcessBuilder(),
                runner=ms.runner.LocalRunner(evaluator_config=ms.runner.EvaluatorConfig(
                    number=5, repeat=3, min_repeat_ms=5, enable_cpu_cache_flush=False)),
                cost_model="random",
                strategy=ms.search_strategy.EvolutionarySearch(population_size=POPULATION),
                measure_callbacks=[*ms.MeasureCallback.create("default"), progress], seed=seed)
        seconds = time.time() - start
        untuned = _latency_us(tvm.compile(mod, target=t), graph)
        tuned = _latency_us(ms.relax_integration.compile_relax(db, mod, t, None), graph)
        meta = {"format": FORMAT, "target": target.name, "tvm_target": tvm_target, "graph": graph.name,
                "graph_key": graph_key(mod), "tvm_version": tvm.__version__, "trials": trials,
                "trials_measured": progress.done, "kernels": names, "seconds": round(seconds, 1),
                "cost_model": "random", "latency_us": {"untuned": untuned, "tuned": tuned}}
        with staged_dir(db_dir) as tmp:
            for f in DB_FILES:
                os.replace(Path(work) / f, tmp / f)
            (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    say(f"tuned in {seconds:.0f} s: {progress.done} trials; model latency (1 thread) untuned {untuned:.1f} us, "
        f"tuned {tuned:.1f} us")
    say(f"tuning database {db_dir} (used by `convc compile/validate --target {target.name}`)")
    return TuneResult(Path(db_dir), meta)


def _latency_us(ex, graph: Graph) -> float:
    """Best mean of the Relax VM's time_evaluator on seeded inputs, in microseconds."""
    import numpy as np
    import tvm
    from tvm import relax

    vm = relax.VirtualMachine(ex, tvm.cpu())
    rng = np.random.default_rng(0)
    args = [tvm.runtime.tensor(rng.standard_normal(graph.tensors[i].shape).astype(graph.tensors[i].dtype))
            for i in graph.inputs]
    f = vm.time_evaluator("main", tvm.cpu(), number=50, repeat=5)
    return round(min(f(*args).results) * 1e6, 2)


@dataclass
class Database:
    """A tuning database that applies to the graph being built."""
    db: object  # tvm.s_tir.meta_schedule.Database
    tvm_target: dict
    path: Path
    meta: dict

    def describe(self) -> str:
        m = self.meta
        return (f"using tuning database {self.path} ({m['trials_measured']} trials, {len(m['kernels'])} kernels; "
                f"tuned {m['latency_us']['tuned']} us vs untuned {m['latency_us']['untuned']} us)")


def find_database(db_dir: str | os.PathLike | None, graph: Graph, target, mod) -> tuple[Database | None, str | None]:
    """The database in `db_dir` when it was tuned for this target and this graph, else (None, a
    note saying why it is ignored; None when there is no database at all)."""
    if db_dir is None or not (Path(db_dir) / META).is_file():
        return None, None
    path = Path(db_dir)
    try:
        meta = json.loads((path / META).read_text())
    except (OSError, ValueError) as e:
        return None, f"ignored tuning database {path}: unreadable {META} ({e})"
    if meta.get("format") != FORMAT or any(not (path / f).is_file() for f in DB_FILES):
        return None, f"ignored tuning database {path}: not a {FORMAT} database"
    if meta.get("target") != target.name:
        return None, f"ignored tuning database {path}: tuned for target '{meta.get('target')}', not '{target.name}'"
    want = tuning_target(target)
    if meta.get("tvm_target") != want:
        return None, (f"ignored tuning database {path}: tuned for CPU {meta.get('tvm_target', {}).get('mcpu')} "
                      f"{meta.get('tvm_target', {}).get('mattr')}, this machine is {want['mcpu']} {want['mattr']}")
    if meta.get("graph_key") != graph_key(mod):
        return None, f"ignored tuning database {path}: tuned for another graph ('{meta.get('graph')}')"
    import tvm.s_tir.meta_schedule as ms

    db = ms.database.JSONDatabase(str(path / DB_FILES[0]), str(path / DB_FILES[1]), allow_missing=False)
    return Database(db, want, path, meta), None


def build_tuned(mod, database: Database):
    """The Relax VM executable of `mod` with the database's kernels (others: default schedules)."""
    import tvm
    import tvm.s_tir.meta_schedule as ms

    return ms.relax_integration.compile_relax(database.db, mod, tvm.target.Target(database.tvm_target), None)
