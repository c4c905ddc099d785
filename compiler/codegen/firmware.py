"""Cortex-M firmware: the generated C library (lib/) plus a self-contained firmware project (fw/)
for a QEMU board, built here with arm-none-eabi-gcc.

Python decides every number (addresses, sizes, register values, semihosting codes); the board
templates in c_templates/boards/ only print them.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import ConvcError, UsageError
from ..ir import Graph
from .c import CModel, generate_c, template_env

DEFAULT_STACK_BYTES = 16 * 1024
IN_FILE, OUT_FILE = "convc_in.bin", "convc_out.bin"
FAULT_EXIT, IO_EXIT = 3, 2
CALIB_ITERATIONS = 100_000  # `subs; bne` loop: two instructions per iteration
PAINT_PATTERN = 0xA5A5A5A5
PAINT_MARGIN = 64  # bytes left unpainted below the painting function's own stack pointer
FAULT_STACK_WORDS = 128  # the fault handler's private stack (the fault may be a stack overflow)
BUILD_TIMEOUT_S = 600

# ARM semihosting (ARM IHI 0033): operation numbers, fopen modes, exit reason
SEMIHOSTING = {"open": "0x01", "close": "0x02", "write0": "0x04", "write": "0x05", "read": "0x06",
               "exit_extended": "0x20", "stopped_application_exit": "0x20026", "mode_rb": 1, "mode_wb": 5}
# System control block and SysTick (ARMv7-M / ARMv8-M architecture manuals)
SCB = {"cpacr": "0xE000ED88", "cpacr_fpu_bits": hex(0xF << 20), "vtor": "0xE000ED08",
       "cfsr": "0xE000ED28", "hfsr": "0xE000ED2C", "mmfar": "0xE000ED34", "bfar": "0xE000ED38"}
# ARMv7-M MPU (PMSAv7): region number / base / attribute-and-size registers, control
MPU = {"rnr": "0xE000ED98", "rbar": "0xE000ED9C", "rasr": "0xE000EDA0", "ctrl": "0xE000ED94",
       "ctrl_enable": hex(0b101)}  # ENABLE | PRIVDEFENA (the default map everywhere else)
GUARD_BYTES = 1024


def pmsav7_guards(stack_limit: int, arena_end: int) -> list[dict]:
    """No-access MPU regions right below the stack and right past the arena: on the mps2 boards
    those addresses read as zero / alias RAM instead of faulting, so an overflow would go unseen."""
    size_field = GUARD_BYTES.bit_length() - 2  # region size = 2^(SIZE+1)
    rasr = (1 << 28) | (0b000 << 24) | (size_field << 1) | 1  # XN, AP = no access, SIZE, ENABLE
    out = []
    for k, (what, base) in enumerate((("below the stack", stack_limit - GUARD_BYTES), ("past the arena", arena_end))):
        if base % GUARD_BYTES:
            raise ValueError(f"MPU guard {what} at {base:#x} is not {GUARD_BYTES}-byte aligned")
        out.append({"region": k, "what": what, "base": hex(base), "size": GUARD_BYTES, "rasr": hex(rasr)})
    return out
SYSTICK_RELOAD = 0xFFFFFF
SYSTICK = {"csr": "0xE000E010", "rvr": "0xE000E014", "cvr": "0xE000E018",
           "csr_enable": hex(0b111),  # ENABLE | TICKINT (count wraps) | CLKSOURCE = core clock
           "reload": hex(SYSTICK_RELOAD), "period": hex(SYSTICK_RELOAD + 1)}


def qemu_args(target) -> list[str]:
    return ["-M", target.board, "-nographic", "-monitor", "none", "-serial", "none",
            "-semihosting-config", "enable=on,target=native", "-icount", "shift=0"]


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def generate_firmware(graph: Graph, target, prefix: str = "model",
                      stack_bytes: int | None = None) -> tuple[dict[str, str], CModel, dict]:
    """lib/ (the library drop) + fw/ (firmware project) as file contents, not yet built."""
    cm = generate_c(graph, prefix=prefix, target=target.name, host_main=False)
    p = cm.meta["prefix"]
    mem = target.memory
    stack = _align(stack_bytes if stack_bytes is not None else DEFAULT_STACK_BYTES, 8)
    if stack < 8:
        raise UsageError(f"--stack-size {stack_bytes}: must be at least 8 bytes")
    arena_reserve = _align(max(cm.meta["arena_bytes"], 1), 16)
    ram_end = mem.ram.origin + mem.ram.size
    io_bytes = sum(_nbytes(t) for t in cm.meta["inputs"] + cm.meta["outputs"])
    need_ram = arena_reserve + stack + io_bytes
    wreg = mem.weights_region
    if cm.meta["weights_bytes"] > wreg.size:
        raise ConvcError(f"model does not fit target '{target.name}': weights need {cm.meta['weights_bytes']} bytes, "
                         f"board {target.board} has {wreg.size} bytes for them ({wreg.name})")
    if need_ram > mem.ram.size:
        raise ConvcError(f"model does not fit target '{target.name}': arena {cm.meta['arena_bytes']} + stack {stack} + "
                         f"input/output buffers {io_bytes} = {need_ram} bytes > {mem.ram.size} bytes of RAM "
                         f"({mem.ram.name} of board {target.board})")
    v = {
        "board": target.board, "core": target.name, "prefix": p, "memory_summary": mem.summary,
        "code_origin": hex(mem.code.origin), "code_size": hex(mem.code.size),
        "ram_origin": hex(mem.ram.origin), "ram_size": hex(mem.ram.size), "ram_end": hex(ram_end),
        "stack_size": hex(stack), "arena_origin": hex(ram_end - arena_reserve),
        "weights_region": {"name": mem.weights.name, "origin": hex(mem.weights.origin), "size": hex(mem.weights.size)}
        if mem.weights else None,
        "sys": SEMIHOSTING, "scb": SCB, "systick": SYSTICK, "enable_fpu": target.hard_float, "mpu": MPU,
        "mpu_guards": pmsav7_guards(mem.ram.origin, ram_end) if mem.pmsav7_guards else [],
        "paint_pattern": hex(PAINT_PATTERN), "paint_margin": PAINT_MARGIN, "fault_stack_words": FAULT_STACK_WORDS,
        "fault_exit_code": FAULT_EXIT, "io_exit_code": IO_EXIT, "in_file": IN_FILE, "out_file": OUT_FILE,
        "calib_iterations": CALIB_ITERATIONS, "calib_instructions": 2 * CALIB_ITERATIONS,
        "inputs": [_io(t) for t in cm.meta["inputs"]], "outputs": [_io(t) for t in cm.meta["outputs"]],
        "arch_flags": list(target.arch_flags), "opt_flags": list(target.cflags),
        "lib_sources": cm.meta["sources"], "qemu_args": qemu_args(target),
    }
    env = template_env()
    files = {f"lib/{k}": val for k, val in cm.files.items() if k != "convc.json"}
    for name in ("startup.c", "main.c", "fw.h", "link.ld", "Makefile"):
        files[f"fw/{name}"] = env.get_template(f"boards/{name}.j2").render(**v)
    fw = {"board": target.board, "elf": "fw/fw.elf", "stack_reserved_bytes": stack,
          "in_file": IN_FILE, "out_file": OUT_FILE, "fault_exit_code": FAULT_EXIT,
          "calib_instructions": 2 * CALIB_ITERATIONS, "clock_hz": target.clock_hz,
          "qemu_args": qemu_args(target)}
    return files, cm, fw


def _nbytes(t: dict) -> int:
    import numpy as np

    n = 1
    for d in t["shape"]:
        n *= int(d)
    return n * np.dtype(t["dtype"]).itemsize


def _io(t: dict) -> dict:
    from . import cfmt

    n = 1
    for d in t["shape"]:
        n *= int(d)
    return {"ctype": cfmt.ctype(t["dtype"]), "size": n}


def build_firmware(files: dict[str, str], target) -> dict[str, bytes]:
    """Run the firmware's Makefile in a scratch copy; return the built files (ELF, map, sizes,
    stack-usage files) to add to the output folder, or raise with the toolchain's message."""
    make = shutil.which("make")
    if make is None:
        raise ConvcError("building firmware needs 'make': install Debian package make")
    with tempfile.TemporaryDirectory(prefix="convc-fw-") as tmp:
        root = Path(tmp)
        for rel, content in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(content)
        try:
            r = subprocess.run([make, "-C", str(root / "fw"), "-s"], capture_output=True, text=True,
                               timeout=BUILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ConvcError(f"firmware build for '{target.name}' took over {BUILD_TIMEOUT_S} s") from None
        if r.returncode != 0:
            raise ConvcError(_explain_build_failure(r.stdout + r.stderr, target))
        out: dict[str, bytes] = {}
        for f in sorted((root / "fw").iterdir()):
            if f.name in ("fw.elf", "fw.map", "fw.size") or f.suffix == ".su":
                out[f"fw/{f.name}"] = f.read_bytes()
        return out


def _explain_build_failure(log: str, target) -> str:
    mem = target.memory
    m = re.search(r"region `(CODE|RAM|WEIGHTS)' overflowed by (\d+) bytes", log)
    if m:
        region = {"CODE": mem.code, "RAM": mem.ram, "WEIGHTS": mem.weights_region}[m.group(1)]
        return (f"model does not fit target '{target.name}': {region.name} ({region.size} bytes, board {target.board}) "
                f"overflowed by {m.group(2)} bytes")
    m = re.search(r"convc: (RAM overflow[^\n\"]*)", log)
    if m:
        return f"model does not fit target '{target.name}' (board {target.board}): {m.group(1)}"
    tail = "\n".join(log.strip().splitlines()[-15:])
    return f"firmware build for '{target.name}' failed (arm-none-eabi-gcc):\n{tail}"


def parse_sizes(size_text: str) -> dict[str, int]:
    """`arm-none-eabi-size -A` → section sizes."""
    sec: dict[str, int] = {}
    for line in size_text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sec[parts[0]] = int(parts[1])
    return sec


def memory_report(sec: dict[str, int]) -> dict[str, int]:
    """flash = what the image stores (code, constants, .data's initial values); static RAM =
    .data + .bss (incl. the firmware's input/output buffers) + the arena; the stack is separate."""
    flash = sec.get(".text", 0) + sec.get(".convc_weights", 0) + sec.get(".ARM.exidx", 0) + sec.get(".data", 0)
    static_ram = sec.get(".data", 0) + sec.get(".bss", 0) + sec.get(".convc_arena", 0)
    return {"flash_bytes": flash, "static_ram_bytes": static_ram, "arena_section_bytes": sec.get(".convc_arena", 0),
            "stack_reserved_bytes": sec.get(".stack", 0)}


def compile_firmware(graph: Graph, target, prefix: str = "model", stack_bytes: int | None = None):
    """Everything `convc compile --target cortex-m*` writes: lib/, fw/ (built), convc.json."""
    from ..stats import graph_macs

    files, cm, fw = generate_firmware(graph, target, prefix, stack_bytes)
    fw["macs"] = graph_macs(graph)  # sizes the runner's timeout
    built = build_firmware(files, target)
    fw["sizes"] = parse_sizes(built["fw/fw.size"].decode())
    fw.update(memory_report(fw["sizes"]))
    meta = dict(cm.meta)
    meta["lib_dir"] = "lib"
    meta["firmware"] = fw
    out: dict[str, str | bytes] = dict(files)
    out.update(built)
    out["convc.json"] = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    cm.meta = meta
    return out, cm
