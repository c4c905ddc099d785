"""Deploying TVM-compiled models to ARM Linux boards, and running them under QEMU user mode.

A board build folder holds the cross-linked `model.so` (written by the TVM backend) and, added here:
  deploy.cc + Makefile   a small C++ program that loads model.so with the TVM runtime (Relax VM)
                         and runs it on raw input files
  deploy                 that program, cross-compiled for the board
  lib/                   the board's TVM runtime: libtvm_runtime.so + libtvm_ffi.so
  include/               the tvm_ffi + dlpack headers deploy.cc needs (to rebuild it on the board)
  README.txt             how to copy the folder to a board and run it

The board runtime libraries come from a cache (~/.cache/convc/tvm-runtime/<arch>/<version>/):
  aarch64  extracted from PyPI's manylinux aarch64 wheels of apache-tvm / apache-tvm-ffi (the
           versions installed here), fetched once with pip;
  armv7    no such wheel exists: cross-built with arm-linux-gnueabihf-g++ from the C++ sources the
           installed wheels ship (tvm/src/runtime, tvm_ffi/src), only what the Relax VM needs on a
           CPU, plus the few support headers those wheels leave out (c_templates/tvm/runtime_compat).

`run_deploy_bundle` runs the cross-built program under qemu-aarch64 / qemu-arm with the cross
sysroot; a crash, a non-zero exit, a timeout or a short output file is an error, never a result.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convc.compiler.codegen import cfmt
from convc.compiler.codegen.c import TEMPLATE_DIR
from convc.compiler.errors import ConvcError, ToolchainError, UsageError

COMPAT_DIR = TEMPLATE_DIR / "tvm" / "runtime_compat"
TIMEOUT_BASE_S, TIMEOUT_PER_SAMPLE_S = 120.0, 5.0  # a QEMU run may take this long before it counts as hung
TENSOR_ALIGNMENT = 64  # bytes; tvm::runtime::kAllocAlignment, which TVM's generated kernels assume
RUNTIME_LIBS = ("libtvm_runtime.so", "libtvm_ffi.so")


@dataclass(frozen=True)
class Board:
    """An ARM Linux ABI: what builds for it, what runs it here, where its runtime comes from."""

    arch: str  # cache / report name
    triple: str  # GNU triple of the cross toolchain (prefix of its g++, sysroot /usr/<triple>)
    qemu: str  # QEMU user-mode emulator
    elf_machine: int  # ELF e_machine of its binaries
    wheel_platform: str | None  # pip platform tag of a PyPI wheel with its TVM runtime, or None: build it

    @property
    def cxx(self) -> str:
        return f"{self.triple}-g++"

    @property
    def cxx_package(self) -> str:
        return f"g++-{self.triple}"

    @property
    def sysroot(self) -> str:
        return f"/usr/{self.triple}"


BOARDS = {b.triple: b for b in [
    Board("aarch64", "aarch64-linux-gnu", "qemu-aarch64", 183, "manylinux_2_28_aarch64"),
    Board("armv7", "arm-linux-gnueabihf", "qemu-arm", 40, None),
]}

QEMU_PACKAGE = "qemu-user"

# The Relax VM on a CPU: module loading, tensors, CPU device, memory pools, the VM itself.
ARMV7_RUNTIME_SOURCES = (
    "runtime/cpu_device_api.cc", "runtime/device_api.cc", "runtime/file_utils.cc", "runtime/logging.cc",
    "runtime/memory/memory_manager.cc", "runtime/module.cc", "runtime/tensor.cc", "runtime/thread_pool.cc",
    "runtime/threading_backend.cc", "runtime/workspace_pool.cc",
    "runtime/vm/builtin.cc", "runtime/vm/bytecode.cc", "runtime/vm/executable.cc", "runtime/vm/vm.cc",
)
# tvm_ffi: the core, module loading and JSON (the runtime links against them); left out: the
# structural equal/hash/visit/mutate, dataclass, reflection and graph-serialization extras, which
# compilers use and the VM does not (a third of the build time).
FFI_SOURCES = (
    "ffi/backtrace.cc", "ffi/container.cc", "ffi/custom_allocator.cc", "ffi/dtype.cc", "ffi/error.cc",
    "ffi/function.cc", "ffi/init_once.cc", "ffi/object.cc", "ffi/tensor.cc",
    "ffi/extra/env_c_api.cc", "ffi/extra/env_context.cc", "ffi/extra/json_parser.cc", "ffi/extra/json_writer.cc",
    "ffi/extra/library_module.cc", "ffi/extra/library_module_dynamic_lib.cc",
    "ffi/extra/library_module_system_lib.cc", "ffi/extra/module.cc",
)
CXXFLAGS = ("-std=c++17", "-O2", "-fPIC", "-Wno-psabi", "-DTVM_FFI_CMAKE_LITTLE_ENDIAN=1")
FFI_FLAGS = ("-fvisibility=hidden", "-fvisibility-inlines-hidden", "-DTVM_FFI_USE_LIBBACKTRACE=0",
             "-DTVM_FFI_BACKTRACE_ON_SEGFAULT=0")
DEPLOY_CXXFLAGS = ("-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-psabi", "-DTVM_FFI_CMAKE_LITTLE_ENDIAN=1")

# DLPack type codes (dlpack.h: kDLInt 0, kDLUInt 1, kDLFloat 2, kDLBool 6) and bits per dtype.
DL_DTYPES = {"float32": (2, 32), "float64": (2, 64), "float16": (2, 16), "int8": (0, 8), "int16": (0, 16),
             "int32": (0, 32), "int64": (0, 64), "uint8": (1, 8), "uint16": (1, 16), "uint32": (1, 32),
             "uint64": (1, 64), "bool": (6, 8)}


class DeployRunError(ConvcError):
    """The deploy program crashed, hung or failed under QEMU: the run proves nothing (exit 1)."""

    exit_code = 1


def board_for(target) -> Board:
    """The board ABI of a TVM ARM Linux target, from the cross compiler the target names."""
    cxx = getattr(target, "cxx", None) or ""
    triple = cxx[:-len("-g++")] if cxx.endswith("-g++") else cxx
    try:
        return BOARDS[triple]
    except KeyError:
        raise UsageError(f"target '{target.name}' is not an ARM Linux board target (cross compiler {cxx!r}; "
                         f"known: {', '.join(b.cxx for b in BOARDS.values())})") from None


def require_tool(tool: str, package: str, what: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolchainError(f"{what} needs {tool}: install Debian package {package} (apt-get install {package})")
    return path


# ---------------------------------------------------------------------------------------------
# Board runtime libraries (cached)
# ---------------------------------------------------------------------------------------------

def cache_root() -> Path:
    env = os.environ.get("CONVC_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "convc"


def tvm_versions() -> tuple[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("apache-tvm"), version("apache-tvm-ffi")
    except PackageNotFoundError as e:
        raise ToolchainError(f"the TVM backend needs the Python package {e.name} (run scripts/setup.sh)") from None


def _site_dir(package: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ToolchainError(f"Python package {package} is not installed (run scripts/setup.sh)")
    return Path(list(spec.submodule_search_locations)[0])


def ffi_include_dir() -> Path:
    return _site_dir("tvm_ffi") / "include"


def board_runtime(board: Board, log=None) -> Path:
    """The folder holding the board's libtvm_runtime.so and libtvm_ffi.so, fetched or built once."""
    tvm_v, ffi_v = tvm_versions()
    key = f"tvm-{tvm_v}_ffi-{ffi_v}" + ("" if board.wheel_platform else f"_{_build_recipe_hash(board)}")
    dest = cache_root() / "tvm-runtime" / board.arch / key
    if all((dest / lib).is_file() for lib in RUNTIME_LIBS):
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        lock = open(dest.parent / f".{dest.name}.lock", "w")
    except OSError as e:
        raise ToolchainError(f"cannot write the TVM runtime cache {dest.parent} ({e.strerror}); "
                             "set CONVC_CACHE_DIR to a writable folder") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same runtime
        if all((dest / lib).is_file() for lib in RUNTIME_LIBS):
            return dest
        print(f"convc: {'fetching' if board.wheel_platform else 'cross-building (about 90 s of CPU time)'} the "
              f"{board.arch} TVM runtime once, into {dest}", file=sys.stderr, flush=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
        try:
            t0 = time.monotonic()
            if board.wheel_platform:
                _fetch_wheel_runtime(board, tvm_v, ffi_v, stage)
            else:
                _build_runtime(board, stage)
            for lib in RUNTIME_LIBS:
                _check_elf(stage / lib, board)
            (stage / "SOURCE.txt").write_text(
                (f"extracted from the PyPI wheels apache-tvm=={tvm_v} and apache-tvm-ffi=={ffi_v} "
                 f"({board.wheel_platform})" if board.wheel_platform else
                 f"cross-built with {board.cxx} from the sources of apache-tvm=={tvm_v} and "
                 f"apache-tvm-ffi=={ffi_v} (Relax VM, CPU only)")
                + f"\ntook {time.monotonic() - t0:.1f} s\n")
            if dest.exists():
                shutil.rmtree(dest)
            os.rename(stage, dest)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    if log:
        log(f"board runtime for {board.arch}: {(dest / 'SOURCE.txt').read_text().strip()}")
    return dest


def _build_recipe_hash(board: Board) -> str:
    """A built runtime is reused only while its recipe (sources, flags, compat headers) is unchanged."""
    import hashlib

    h = hashlib.sha256(repr((board, ARMV7_RUNTIME_SOURCES, FFI_SOURCES, CXXFLAGS, FFI_FLAGS)).encode())
    for f in sorted(COMPAT_DIR.rglob("*.h")):
        h.update(f.relative_to(COMPAT_DIR).as_posix().encode() + f.read_bytes())
    return h.hexdigest()[:10]


def _fetch_wheel_runtime(board: Board, tvm_v: str, ffi_v: str, stage: Path) -> None:
    wheels = stage / "wheels"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "--platform", board.wheel_platform, "--python-version", f"{sys.version_info.major}.{sys.version_info.minor}",
           "-d", str(wheels), f"apache-tvm=={tvm_v}", f"apache-tvm-ffi=={ffi_v}"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise ToolchainError(f"cannot fetch the {board.arch} TVM runtime: pip could not download apache-tvm=={tvm_v} "
                             f"and apache-tvm-ffi=={ffi_v} for {board.wheel_platform} from PyPI ({last})")
    wanted = {"tvm/lib/libtvm_runtime.so": "libtvm_runtime.so", "tvm_ffi/lib/libtvm_ffi.so": "libtvm_ffi.so"}
    for whl in wheels.glob("*.whl"):
        with zipfile.ZipFile(whl) as z:
            for name, lib in wanted.items():
                if name in z.namelist():
                    with z.open(name) as src, open(stage / lib, "wb") as dst:
                        shutil.copyfileobj(src, dst)
    missing = [lib for lib in wanted.values() if not (stage / lib).is_file()]
    if missing:
        raise ToolchainError(f"the {board.wheel_platform} wheels of apache-tvm {tvm_v} hold no {', '.join(missing)}")
    shutil.rmtree(wheels)


def _build_runtime(board: Board, stage: Path) -> None:
    """Cross-build libtvm_ffi.so and a Relax-VM libtvm_runtime.so from the installed wheels' sources."""
    cxx = require_tool(board.cxx, board.cxx_package, f"building the {board.arch} TVM runtime")
    tvm_dir, ffi_dir = _site_dir("tvm"), _site_dir("tvm_ffi")
    # The runtime sources include "../support/x.h" relative to themselves: lay them out beside
    # the support headers the wheel leaves out.
    src = stage / "src"
    shutil.copytree(tvm_dir / "src" / "runtime", src / "runtime", ignore=shutil.ignore_patterns("extra", "rpc"))
    shutil.copytree(COMPAT_DIR / "src" / "support", src / "support")
    includes = ["-I", str(COMPAT_DIR / "include"), "-I", str(tvm_dir / "include"), "-I", str(ffi_dir / "include")]
    obj = stage / "obj"
    jobs = [(ffi_dir / "src" / s, obj / "ffi" / (s.replace("/", "_") + ".o"), FFI_FLAGS) for s in FFI_SOURCES]
    jobs += [(src / s, obj / "rt" / (s.replace("/", "_") + ".o"), ("-DNDEBUG",)) for s in ARMV7_RUNTIME_SOURCES]
    for _, o, _ in jobs:
        o.parent.mkdir(parents=True, exist_ok=True)

    def compile_one(job):
        source, out, flags = job
        cmd = [cxx, *CXXFLAGS, *flags, *includes, "-c", "-o", str(out), str(source)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise ConvcError(f"cross-building the {board.arch} TVM runtime failed on {source.name}:\n{r.stderr[-3000:]}")

    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        list(pool.map(compile_one, jobs))
    _run([cxx, "-shared", "-s", "-o", str(stage / "libtvm_ffi.so"), *map(str, sorted((obj / "ffi").glob("*.o"))),
          "-Wl,--no-undefined", "-lpthread", "-ldl"], f"linking the {board.arch} libtvm_ffi.so")
    _run([cxx, "-shared", "-s", "-o", str(stage / "libtvm_runtime.so"), *map(str, sorted((obj / "rt").glob("*.o"))),
          "-Wl,--no-undefined", "-Wl,-rpath,$ORIGIN", f"-L{stage}", "-ltvm_ffi", "-lpthread", "-ldl"],
         f"linking the {board.arch} libtvm_runtime.so")
    shutil.rmtree(obj)
    shutil.rmtree(src)


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if r.returncode != 0:
        raise ConvcError(f"{what} failed ({' '.join(cmd[:3])} ...):\n{r.stderr[-3000:]}")


def _check_elf(path: Path, board: Board) -> None:
    head = path.read_bytes()[:20]
    machine = int.from_bytes(head[18:20], "little")
    if head[:4] != b"\x7fELF" or machine != board.elf_machine:
        raise ToolchainError(f"{path.name} for {board.arch} is not an {board.arch} ELF library (e_machine {machine})")


# ---------------------------------------------------------------------------------------------
# The deploy bundle
# ---------------------------------------------------------------------------------------------

def c_string(text: str) -> str:
    """`text` as a C string literal (UTF-8 bytes; quotes, backslashes, '?' and non-printables escaped)."""
    out = []
    for b in text.encode():
        ch = chr(b)
        if ch in '"\\?' or not 32 <= b < 127:
            out.append(f"\\{b:03o}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _io_values(specs: list[dict]) -> list[dict]:
    vals = []
    for s in specs:
        if s["dtype"] not in DL_DTYPES:
            raise UsageError(f"tensor '{s['name']}' has dtype {s['dtype']}, which the deploy program does not handle")
        code, bits = DL_DTYPES[s["dtype"]]
        nbytes = int(np.prod(s["shape"], dtype=np.int64)) * np.dtype(s["dtype"]).itemsize
        vals.append({"comment": cfmt.comment(s["name"], 60), "c_string": c_string(s["name"]), "dtype": s["dtype"],
                     "shape": [int(d) for d in s["shape"]], "nbytes": nbytes, "dl_code": code, "dl_bits": bits,
                     "np_dtype": np.dtype(s["dtype"]).newbyteorder("<").str})
    return vals


def render_deploy_sources(target, meta: dict, needs: dict[str, str] | None = None) -> dict[str, str]:
    """deploy.cc and Makefile for a board build folder, and README.txt once `needs` (the board's minimum
    glibc / libstdc++ versions, from `board_needs`) is known. Text only, nothing built."""
    import jinja2

    board = board_for(target)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, autoescape=False)
    tvm_v, ffi_v = tvm_versions()
    library = meta.get("library", "model.so")
    v = {"model_comment": cfmt.comment(meta.get("name", "model"), 60), "target": target.name,
         "inputs": _io_values(meta["inputs"]), "outputs": _io_values(meta["outputs"]),
         "alignment": TENSOR_ALIGNMENT, "cxx": board.cxx, "cxxflags": " ".join(DEPLOY_CXXFLAGS), "arch": board.arch,
         "triple": board.triple, "qemu": board.qemu, "sysroot": board.sysroot, "library": library,
         "tvm_version": tvm_v, "ffi_version": ffi_v, "needs": needs,
         "runtime_source": (f"the apache-tvm {tvm_v} / apache-tvm-ffi {ffi_v} wheels for {board.wheel_platform} (PyPI)"
                            if board.wheel_platform else
                            f"cross-built by convc from the apache-tvm {tvm_v} / apache-tvm-ffi {ffi_v} sources")}
    files = {"deploy.cc": env.get_template("tvm/deploy.cc.j2").render(**v),
             "Makefile": env.get_template("tvm/Makefile.j2").render(**v)}
    if needs is not None:
        files["README.txt"] = env.get_template("tvm/README.txt.j2").render(**v)
    return files


def board_needs(binaries: list[Path]) -> dict[str, str]:
    """The newest glibc and libstdc++ symbol versions the board binaries ask for: what the board must have."""
    glibc, glibcxx = (0, 0), (0, 0, 0)
    for b in binaries:
        data = b.read_bytes()
        for m in re.finditer(rb"GLIBC_(\d+)\.(\d+)(?:\.\d+)?\0", data):
            glibc = max(glibc, (int(m.group(1)), int(m.group(2))))
        for m in re.finditer(rb"GLIBCXX_(\d+)\.(\d+)\.(\d+)\0", data):
            glibcxx = max(glibcxx, tuple(int(g) for g in m.groups()))
    return {"glibc": ".".join(map(str, glibc)), "glibcxx": ".".join(map(str, glibcxx))}


def write_deploy_bundle(out_dir: Path, target, meta: dict, log=None) -> dict:
    """Make `out_dir` (which already holds the cross-linked model library) a folder a board user can copy
    and run: deploy sources, Makefile, the cross-built `deploy`, lib/ with the board's TVM runtime,
    include/ with the headers, README.txt, and convc.json (`meta` plus a "deploy" entry, returned).

    Call it on a staging folder that is then renamed into place (compiler/output.py), so a failure
    leaves no half-written build folder behind."""
    out_dir = Path(out_dir)
    board = board_for(target)
    library = meta.get("library", "model.so")
    if not (out_dir / library).is_file():
        raise UsageError(f"{out_dir} holds no {library} to deploy")
    cxx = require_tool(board.cxx, board.cxx_package, f"target '{target.name}'")
    for name, text in render_deploy_sources(target, meta).items():
        (out_dir / name).write_text(text)
    runtime = board_runtime(board, log=log)
    lib = out_dir / "lib"
    lib.mkdir(exist_ok=True)
    for name in RUNTIME_LIBS:
        shutil.copy2(runtime / name, lib / name)
    shutil.copy2(runtime / "SOURCE.txt", lib / "SOURCE.txt")
    inc = out_dir / "include"
    if inc.exists():
        shutil.rmtree(inc)
    src_inc = ffi_include_dir()
    shutil.copytree(src_inc / "tvm", inc / "tvm")
    shutil.copytree(src_inc / "dlpack", inc / "dlpack")
    # the same command the Makefile runs (`make CXX=...`), without needing make here
    _run([cxx, *DEPLOY_CXXFLAGS, "-isystem", "include", "-o", "deploy", "deploy.cc", "-Llib",
          "-Wl,--no-as-needed", "-ltvm_runtime", "-ltvm_ffi", "-Wl,-rpath,$ORIGIN/lib"],
         f"cross-compiling the {board.arch} deploy program", cwd=out_dir)
    needs = board_needs([out_dir / "deploy", out_dir / library, *(lib / n for n in RUNTIME_LIBS)])
    (out_dir / "README.txt").write_text(render_deploy_sources(target, meta, needs)["README.txt"])
    tvm_v, ffi_v = tvm_versions()
    # updated in place too: a caller that writes convc.json itself afterwards keeps the entry
    meta["library"] = library
    meta["deploy"] = {"program": "deploy", "board_arch": board.arch, "triple": board.triple, "qemu": board.qemu,
                      "runtime_libs": [f"lib/{n}" for n in RUNTIME_LIBS], "tvm_version": tvm_v, "ffi_version": ffi_v,
                      "board_needs": needs}
    (out_dir / "convc.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return meta


# ---------------------------------------------------------------------------------------------
# Running under QEMU user mode
# ---------------------------------------------------------------------------------------------

def _load_bundle(build_dir: Path) -> tuple[dict, Board]:
    """convc.json of a board build folder and the board it was built for (from its target)."""
    from convc.targets import get_target

    p = build_dir / "convc.json"
    if not p.is_file():
        raise UsageError(f"{build_dir} is not a convc build folder (no convc.json)")
    meta = json.loads(p.read_text())
    board = board_for(get_target(meta.get("target", "")))
    missing = [f for f in ("deploy", meta.get("library", "model.so"), *(f"lib/{n}" for n in RUNTIME_LIBS))
               if not (build_dir / f).is_file()]
    if missing:
        raise UsageError(f"{build_dir} is not a complete {board.arch} board build (missing {', '.join(missing)})")
    return meta, board


def run_deploy_bundle_many(build_dir: Path, samples: list[dict[str, np.ndarray]],
                           timeout_s: float | None = None) -> tuple[list[dict[str, np.ndarray]], str]:
    """Run every sample through the deploy program in one QEMU process. Returns the outputs per
    sample and the program's own report line (e.g. 'deploy: 8 sample(s), 310.2 us per run')."""
    build_dir = Path(build_dir).resolve()
    meta, board = _load_bundle(build_dir)
    qemu = require_tool(board.qemu, QEMU_PACKAGE, f"running the {board.arch} build")
    if not Path(board.sysroot).is_dir():
        raise ToolchainError(f"running the {board.arch} build needs the {board.triple} sysroot {board.sysroot}: install "
                             f"Debian package {board.cxx_package} (apt-get install {board.cxx_package})")
    if not samples:
        return [], ""
    with tempfile.TemporaryDirectory(prefix="convc-deploy-run-") as tmp:
        tmp = Path(tmp)
        args = []
        for k, spec in enumerate(meta["inputs"]):
            name = spec["name"]
            chunks = []
            for s in samples:
                if name not in s:
                    raise UsageError(f"no data for model input '{name}'")
                a = np.asarray(s[name])
                if a.size != int(np.prod(spec["shape"], dtype=np.int64)):
                    raise UsageError(f"input '{name}': {a.size} values, the model takes {spec['shape']}")
                chunks.append(np.ascontiguousarray(a, dtype=np.dtype(spec["dtype"]).newbyteorder("<")).tobytes())
            p = tmp / f"in{k}.bin"
            p.write_bytes(b"".join(chunks))
            args.append(str(p))
        outs = [tmp / f"out{k}.bin" for k in range(len(meta["outputs"]))]
        cmd = [qemu, "-L", board.sysroot, str(build_dir / "deploy"), str(build_dir / meta.get("library", "model.so")),
               *args, *map(str, outs)]
        env = dict(os.environ, LD_LIBRARY_PATH=str(build_dir / "lib"))
        timeout = timeout_s if timeout_s is not None else TIMEOUT_BASE_S + TIMEOUT_PER_SAMPLE_S * len(samples)
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=tmp)
        except subprocess.TimeoutExpired:
            raise DeployRunError(f"{board.qemu}: the {board.arch} deploy program did not finish within {timeout:g} s "
                                 f"({len(samples)} sample(s)): hung or far too slow") from None
        tail = " | ".join(r.stderr.strip().splitlines()[-3:]) or "no message"
        if r.returncode != 0:
            why = (f"killed by signal {-r.returncode}" if r.returncode < 0 else f"exit status {r.returncode}")
            raise DeployRunError(f"{board.qemu}: the {board.arch} deploy program failed ({why}): {tail}")
        results: list[dict[str, np.ndarray]] = [{} for _ in samples]
        for spec, p in zip(meta["outputs"], outs):
            dt = np.dtype(spec["dtype"]).newbyteorder("<")
            per = int(np.prod(spec["shape"], dtype=np.int64))
            data = np.fromfile(p, dtype=dt) if p.is_file() else np.zeros(0, dt)
            if data.size != per * len(samples):
                raise DeployRunError(f"{board.qemu}: output '{spec['name']}' has {data.size} values, expected "
                                     f"{per * len(samples)} ({len(samples)} sample(s) of {spec['shape']}): {tail}")
            for i, chunk in enumerate(data.reshape(len(samples), *spec["shape"])):
                results[i][spec["name"]] = chunk.astype(np.dtype(spec["dtype"]))
        report = next((ln for ln in r.stderr.splitlines() if ln.startswith("deploy: ") and "per run" in ln), "")
        return results, report


def run_deploy_bundle(build_dir: Path, inputs: dict[str, np.ndarray], timeout_s: float | None = None
                      ) -> dict[str, np.ndarray]:
    """One sample through the board build under QEMU user mode: {output name: array}."""
    return run_deploy_bundle_many(build_dir, [inputs], timeout_s)[0][0]


def ran_on(build_dir: Path) -> str:
    board = _load_bundle(Path(build_dir))[1]
    return f"{board.qemu} ({board.triple})"
