"""Cortex-M targets: firmware built with arm-none-eabi-gcc from the generated C, run on a QEMU board.

Everything a board needs is data here: the core's compiler flags, the QEMU machine, the memory
regions the firmware is linked into and the SysTick clock QEMU gives that board (used to turn
timer ticks into instructions under `-icount shift=0`, where one instruction is one nanosecond).
"""
from __future__ import annotations

from dataclasses import dataclass

ARM_TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm")
ARM_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm")


@dataclass(frozen=True)
class Region:
    name: str
    origin: int
    size: int


@dataclass(frozen=True)
class MemoryMap:
    code: Region  # vector table, code, constants (the "flash" of a real part)
    ram: Region  # stack, data, bss, arena
    weights: Region | None = None  # a separate bank for the model's weights (CONVC_WEIGHTS_SECTION)
    # ARMv7-M MPU guards below the stack and past the arena (RAM origin and end 1 KiB-aligned):
    # the mps2 boards read zeros / alias RAM there, where the ARMv8-M boards take a bus fault
    pmsav7_guards: bool = False

    @property
    def weights_region(self) -> Region:
        return self.weights or self.code

    @property
    def summary(self) -> str:
        parts = [self.code, self.ram] + ([self.weights] if self.weights else [])
        return ", ".join(f"{r.name} {r.size // 1024} KiB @ {r.origin:#010x}" for r in parts)


MiB = 1024 * 1024
KiB = 1024

# (target name, -mcpu, FPU flags (empty: soft-float), QEMU board, memory map, SysTick Hz, what it is)
_CORES = [
    ("cortex-m3", "cortex-m3", (), "mps2-an385",
     MemoryMap(Region("ssram1", 0x00000000, 4 * MiB), Region("ssram23", 0x20000000, 4 * MiB),
               pmsav7_guards=True), 25_000_000,
     "Cortex-M3 (no FPU: soft-float)"),
    ("cortex-m4", "cortex-m4", ("-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"), "mps2-an386",
     MemoryMap(Region("ssram1", 0x00000000, 4 * MiB), Region("ssram23", 0x20000000, 4 * MiB),
               pmsav7_guards=True), 25_000_000,
     "Cortex-M4F (single-precision FPU)"),
    ("cortex-m7", "cortex-m7", ("-mfloat-abi=hard", "-mfpu=fpv5-d16"), "mps2-an500",
     MemoryMap(Region("ssram1", 0x00000000, 4 * MiB), Region("ssram23", 0x20000000, 4 * MiB),
               pmsav7_guards=True), 25_000_000,
     "Cortex-M7 (double-precision FPU)"),
    ("cortex-m33", "cortex-m33", ("-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"), "mps2-an505",
     MemoryMap(Region("ssram1-secure", 0x10000000, 4 * MiB), Region("ssram23-secure", 0x38000000, 4 * MiB)),
     20_000_000, "Cortex-M33 (FPU, secure state)"),
    ("cortex-m55", "cortex-m55", ("-mfloat-abi=hard", "-mfpu=auto"), "mps3-an547",
     MemoryMap(Region("itcm", 0x00000000, 512 * KiB), Region("isram-secure", 0x31000000, 4 * MiB),
               Region("sram-secure", 0x11000000, 2 * MiB)),
     32_000_000, "Cortex-M55 (FPU + Helium available; scalar code)"),
]


def cortex_m_targets():
    from . import Target

    out = []
    for name, mcpu, fpu, board, mem, hz, what in _CORES:
        out.append(Target(
            name, "cortex-m",
            f"{what}: library drop + firmware for QEMU {board} (arm-none-eabi-gcc, semihosting)",
            tools=ARM_TOOLS, packages=ARM_PACKAGES, runner="qemu-system",
            cflags=("-O2",),
            board=board, arch_flags=(f"-mcpu={mcpu}", "-mthumb", *(fpu or ("-mfloat-abi=soft",))),
            memory=mem, clock_hz=hz, hard_float=bool(fpu)))
    return out
