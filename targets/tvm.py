"""TVM targets: x86 (this machine's CPU), cuda (an NVIDIA GPU architecture), arm (aarch64 Linux
with NEON) and armv7 (32-bit ARM Linux, NEON, hard-float ABI).

Each target carries the TVM target as a dict (TVM 0.27 rejects target strings). Two values are
resolved when a model is built, not when convc starts (that would import TVM on every command):
  * x86 `"mcpu": "host"`: the CPU of the build machine as LLVM names it, plus `mattr` switching
    the vector ISA extensions on or off as /proc/cpuinfo reports them (a VM may hide AVX-512
    from a CPU model that has it; TVM's own `"mcpu": "native"` is ignored by this TVM build);
  * cuda `"arch"`: `--cuda-arch` when given, else the GPU present here, else DEFAULT_CUDA_ARCH.
"""
from __future__ import annotations

import functools
import platform
import re
from pathlib import Path

from convc.compiler.errors import UsageError

from . import Target

HOST = "host"
DEFAULT_CUDA_ARCH = "sm_80"  # Ampere (A100): the oldest architecture current datacenter GPUs share

# /proc/cpuinfo flag -> LLVM x86 feature, for the extensions TVM's x86 schedules use
_X86_FEATURES = {"sse4_1": "sse4.1", "sse4_2": "sse4.2", "avx": "avx", "avx2": "avx2", "fma": "fma",
                 "f16c": "f16c", "avx512f": "avx512f", "avx512bw": "avx512bw", "avx512dq": "avx512dq",
                 "avx512vl": "avx512vl", "avx512cd": "avx512cd", "avx512_vnni": "avx512vnni",
                 "avx_vnni": "avxvnni"}


def tvm_targets() -> list[Target]:
    return [
        Target("x86", "tvm", "TVM (Relax) shared library for this machine's x86-64 CPU, run in-process by the Relax VM",
               tools=("g++",), packages=("g++",), runner="tvm-host",
               tvm_target={"kind": "llvm", "mcpu": HOST}, cxx="g++"),
        Target("cuda", "tvm", "TVM (Relax) shared library for an NVIDIA GPU (--cuda-arch, default: the GPU here, "
               f"else {DEFAULT_CUDA_ARCH}); runs where a GPU and a CUDA-enabled TVM runtime exist, else compile-only",
               tools=("g++",), packages=("g++",), runner="tvm-cuda",
               tvm_target={"kind": "cuda", "arch": HOST}, cxx="g++"),
        Target("arm", "tvm", "TVM (Relax) shared library for aarch64 Linux with NEON (Raspberry Pi 4/5, Jetson CPU), "
               "cross-linked; run under qemu-aarch64",
               tools=("aarch64-linux-gnu-g++", "qemu-aarch64"), packages=("g++-aarch64-linux-gnu", "qemu-user"),
               runner="qemu-user",
               tvm_target={"kind": "llvm", "mtriple": "aarch64-linux-gnu", "mattr": ["+neon"]},
               cxx="aarch64-linux-gnu-g++"),
        Target("armv7", "tvm", "TVM (Relax) shared library for 32-bit ARM Linux with NEON, hard-float ABI "
               "(Raspberry Pi 2/3 OS 32-bit), cross-linked; run under qemu-arm",
               tools=("arm-linux-gnueabihf-g++", "qemu-arm"), packages=("g++-arm-linux-gnueabihf", "qemu-user"),
               runner="qemu-user",
               tvm_target={"kind": "llvm", "mtriple": "armv7a-linux-gnueabihf", "mattr": ["+neon"],
                           "mfloat-abi": "hard"},
               cxx="arm-linux-gnueabihf-g++"),
    ]


@functools.lru_cache(maxsize=1)
def host_x86_features() -> tuple[str, ...]:
    """`mattr` entries (+feat / -feat) for the vector extensions /proc/cpuinfo lists or lacks."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ()
    m = re.search(r"^flags\s*:\s*(.*)$", text, re.M)
    if not m:
        return ()
    flags = set(m.group(1).split())
    return tuple(("+" if f in flags else "-") + llvm for f, llvm in _X86_FEATURES.items())


_ARCH = re.compile(r"^sm_\d{2,3}[a-z]?$")


def check_cuda_arch(arch: str) -> str:
    if not _ARCH.match(arch):
        raise UsageError(f"--cuda-arch {arch!r}: expected an NVIDIA architecture like sm_80, sm_86, sm_89 or sm_90")
    return arch


def resolve_tvm_target(target: Target, cuda_arch: str | None = None) -> dict:
    """The complete TVM target dict for building `target` on this machine."""
    t = dict(target.tvm_target or {})
    if not t:
        raise UsageError(f"target '{target.name}' is not a TVM target")
    if t.get("mcpu") == HOST:
        if platform.machine().lower() not in ("x86_64", "amd64"):
            raise UsageError(f"target '{target.name}' builds for this machine's x86-64 CPU; this machine is "
                             f"{platform.machine()}")
        import tvm.target.codegen

        t["mcpu"] = tvm.target.codegen.llvm_get_system_cpu()
        t["mattr"] = list(host_x86_features())
    if t.get("kind") == "cuda":
        if cuda_arch:
            t["arch"] = check_cuda_arch(cuda_arch)
        elif t.get("arch") == HOST:
            t["arch"] = local_cuda_arch() or DEFAULT_CUDA_ARCH
    elif cuda_arch:
        raise UsageError(f"--cuda-arch applies to the cuda target, not '{target.name}'")
    return t


def local_cuda_arch() -> str | None:
    """sm_XY of the GPU this TVM runtime sees, or None."""
    import tvm

    dev = tvm.cuda(0)
    if not dev.exist:
        return None
    return "sm_" + dev.compute_version.replace(".", "")
