"""Targets are data: what a target is, which backend builds it, what toolchain it needs."""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from convc.compiler.errors import ToolchainError, UsageError


@dataclass(frozen=True)
class Target:
    name: str
    backend: str  # "c" (templates) or "tvm"
    description: str
    tools: tuple[str, ...] = ()  # executables needed to build/run here
    packages: tuple[str, ...] = ()  # Debian packages that provide them
    runner: str = "host"  # how `validate`/`run` execute the artifact
    cflags: tuple[str, ...] = field(default_factory=tuple)
    # microcontroller targets (targets/cortex_m.py): QEMU board, -mcpu/-mthumb/float-ABI flags,
    # memory map the firmware is linked into, SysTick clock of the board, hard-float ABI
    board: str | None = None
    arch_flags: tuple[str, ...] = field(default_factory=tuple)
    memory: object | None = None
    clock_hz: int = 0
    hard_float: bool = False
    # TVM targets (targets/tvm.py): the TVM target as a dict, and the C++ compiler that links
    # the model library (a cross compiler for boards)
    tvm_target: dict | None = field(default=None, hash=False, compare=False)
    cxx: str | None = None


TARGETS: dict[str, Target] = {
    t.name: t for t in [
        Target("c", "c", "portable C99 library + host test program, built and run on this machine with gcc",
               tools=("cc",), packages=("gcc",), runner="host", cflags=("-O2",)),
    ]
}


def _register(targets) -> None:
    for t in targets:
        TARGETS[t.name] = t


from .cortex_m import cortex_m_targets  # noqa: E402  (targets are data: one module per family)

_register(cortex_m_targets())

from .tvm import tvm_targets  # noqa: E402

_register(tvm_targets())

from .fpga import fpga_targets  # noqa: E402

_register(fpga_targets())


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise UsageError(f"unknown target '{name}'; available targets: {', '.join(TARGETS)}") from None


def missing_tools(t: Target) -> list[str]:
    return [tool for tool in t.tools if shutil.which(tool) is None]


def require_toolchain(t: Target) -> None:
    missing = missing_tools(t)
    if missing:
        raise ToolchainError(f"target '{t.name}' needs {', '.join(missing)}: install Debian package(s) "
                             f"{' '.join(t.packages)} (apt-get install {' '.join(t.packages)})")
