"""Run Cortex-M firmware built by convc on its QEMU board (qemu-system-arm, semihosting).

One QEMU boot processes every sample: the inputs go to a file in a scratch folder (QEMU's
working directory, where semihosting file names resolve), the firmware appends each sample's
outputs to another file and prints, per sample, the SysTick ticks spent in the model call and
the peak stack depth. Under `-icount shift=0` one guest instruction is one nanosecond of virtual
time, so ticks × (1e9 / board clock) is the instruction count, deterministic run after run; the
firmware also times a loop of known length at boot and the runner checks that calibration.
A fault, a hang (timeout), a non-zero exit or a missing output is an error, never a result.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convc.compiler.errors import ConvcError, ToolchainError

# A hang is told from a long run by a generous bound: 60 s plus, per sample, 100 instructions per
# MAC (soft-float measures ~90) at 1e8 instructions/s (QEMU runs ~1e9 here).
BASE_TIMEOUT_S = 60.0
INSTRUCTIONS_PER_MAC_BOUND = 100
QEMU_MIN_INSTRUCTIONS_PER_S = 1e8
CALIB_TOLERANCE = 0.02


class FirmwareFault(ConvcError):
    """The firmware faulted, hung or exited with an error: the run proves nothing (exit 1)."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(f"FAULT: {message}")


@dataclass
class McuRun:
    outputs: list[dict[str, np.ndarray]]
    instructions: list[int]
    stack_bytes: int
    instructions_per_tick: float
    log: str = ""
    extra: dict = field(default_factory=dict)


def _qemu() -> str:
    q = shutil.which("qemu-system-arm")
    if q is None:
        raise ToolchainError("running Cortex-M firmware needs qemu-system-arm: install Debian package qemu-system-arm")
    return q


def run_firmware(build_dir: str | Path, samples: list[dict[str, np.ndarray]], timeout_s: float | None = None) -> McuRun:
    build_dir = Path(build_dir)
    meta = json.loads((build_dir / "convc.json").read_text())
    fw = meta["firmware"]
    elf = (build_dir / fw["elf"]).resolve()
    if not elf.is_file():
        raise ConvcError(f"{build_dir}: firmware {fw['elf']} is missing (rebuild with `convc compile`)")
    timeout = timeout_s if timeout_s is not None else BASE_TIMEOUT_S + len(samples) * max(fw.get("macs", 0), 1) \
        * INSTRUCTIONS_PER_MAC_BOUND / QEMU_MIN_INSTRUCTIONS_PER_S
    with tempfile.TemporaryDirectory(prefix="convc-qemu-") as tmp:
        tmp = Path(tmp)
        with open(tmp / fw["in_file"], "wb") as f:
            for s in samples:
                for spec in meta["inputs"]:
                    a = np.ascontiguousarray(s[spec["name"]], dtype=np.dtype(spec["dtype"]).newbyteorder("<"))
                    if a.size != int(np.prod(spec["shape"])):
                        raise ConvcError(f"input '{spec['name']}': {a.size} elements, the firmware expects "
                                         f"{int(np.prod(spec['shape']))}")
                    f.write(a.tobytes())
        cmd = [_qemu(), *fw["qemu_args"], "-kernel", str(elf)]
        try:
            r = subprocess.run(cmd, cwd=tmp, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            log = (e.stdout or b"").decode(errors="replace")
            raise FirmwareFault(f"firmware on {fw['board']} did not finish within {timeout:g} s (hung or far too slow); "
                                f"last output: {_last(log)}") from None
        log = (r.stdout + r.stderr).decode(errors="replace")
        if r.returncode != 0:
            m = re.search(r"convc-fw: FAULT ([^\n]*)", log)
            if m:
                raise FirmwareFault(f"firmware on {fw['board']} took a CPU fault: {_describe_fault(m.group(1), meta)}")
            raise FirmwareFault(f"firmware on {fw['board']} exited with code {r.returncode}: {_last(log)}")
        outs = _read_outputs(tmp / fw["out_file"], meta, len(samples))
    ticks = {int(k): int(t) for k, t in re.findall(r"convc-fw: sample (\d+) (\d+)", log)}
    stacks = [int(s) for _, s in re.findall(r"convc-fw: stack (\d+) (\d+)", log)]
    done = re.search(r"convc-fw: done (\d+)", log)
    if not done or int(done.group(1)) != len(samples) or len(ticks) != len(samples):
        raise FirmwareFault(f"firmware on {fw['board']} processed {done.group(1) if done else 'no'} of "
                            f"{len(samples)} samples: {_last(log)}")
    reserved = fw["stack_reserved_bytes"]
    if max(stacks, default=0) >= reserved:
        raise FirmwareFault(f"firmware on {fw['board']} overflowed its {reserved}-byte stack (the painted stack is "
                            f"used to its last word; raise --stack-size)")
    ipt = _calibration(log, fw)
    return McuRun(outs, [round(ticks[k] * ipt) for k in range(len(samples))], max(stacks, default=0), ipt, log)


def _calibration(log: str, fw: dict) -> float:
    """Instructions per SysTick tick, from the board clock, checked against the boot-time loop."""
    expected = 1e9 / fw["clock_hz"]
    m = re.search(r"convc-fw: calib (\d+) (\d+)", log)
    if not m or int(m.group(1)) == 0:
        raise FirmwareFault(f"firmware on {fw['board']} printed no timer calibration: {_last(log)}")
    measured = int(m.group(2)) / int(m.group(1))
    if abs(measured - expected) > CALIB_TOLERANCE * expected:
        raise ConvcError(f"instruction counting on {fw['board']} is off: a {m.group(2)}-instruction loop took "
                         f"{m.group(1)} SysTick ticks ({measured:.2f} instructions/tick, expected {expected:.2f} for a "
                         f"{fw['clock_hz'] / 1e6:g} MHz clock): was QEMU started without -icount shift=0?")
    return expected


def _read_outputs(path: Path, meta: dict, n: int) -> list[dict[str, np.ndarray]]:
    if not path.is_file():
        raise FirmwareFault(f"firmware wrote no output file {path.name}")
    raw = path.read_bytes()
    specs = meta["outputs"]
    per = [int(np.prod(s["shape"])) * np.dtype(s["dtype"]).itemsize for s in specs]
    if len(raw) != n * sum(per):
        raise FirmwareFault(f"firmware wrote {len(raw)} output bytes, expected {n * sum(per)} ({n} samples)")
    outs, off = [], 0
    for _ in range(n):
        d = {}
        for s, b in zip(specs, per):
            d[s["name"]] = np.frombuffer(raw[off:off + b], dtype=np.dtype(s["dtype"]).newbyteorder("<")) \
                .astype(s["dtype"]).reshape(s["shape"])
            off += b
        outs.append(d)
    return outs


EXCEPTIONS = {2: "NMI", 3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault", 7: "SecureFault",
              11: "SVCall", 12: "DebugMonitor", 14: "PendSV"}
CFSR_BITS = {0: "IACCVIOL", 1: "DACCVIOL", 3: "MUNSTKERR", 4: "MSTKERR", 5: "MLSPERR", 8: "IBUSERR",
             9: "PRECISERR", 10: "IMPRECISERR", 11: "UNSTKERR", 12: "STKERR", 13: "LSPERR",
             16: "UNDEFINSTR", 17: "INVSTATE", 18: "INVPC", 19: "NOCP", 20: "STKOF", 24: "UNALIGNED",
             25: "DIVBYZERO"}


def _describe_fault(text: str, meta: dict) -> str:
    f = dict(re.findall(r"(\w+)=(\S+)", text))
    exc = int(f.get("exception", "0"))
    parts = [EXCEPTIONS.get(exc, f"exception {exc}")]
    cfsr = int(f.get("cfsr", "0"), 16)
    bits = [name for b, name in CFSR_BITS.items() if cfsr >> b & 1]
    if bits:
        parts.append("(" + ", ".join(bits) + ")")
    sp = int(f.get("sp", "0"), 16)
    lo, hi = (int(x, 16) for x in f.get("stack", "0..0").split(".."))
    if (sp and sp < lo + 64) or {"STKERR", "MSTKERR", "STKOF"} & set(bits):
        parts.append(f"stack overflow: sp={sp:#010x}, the {hi - lo}-byte stack is {lo:#010x}..{hi:#010x} "
                     f"(raise --stack-size)")
    # fault address: MMFAR when MMARVALID (MPU guard), BFAR when BFARVALID (bus error)
    for bit, key in ((7, "mmfar"), (15, "bfar")):
        if cfsr >> bit & 1 and key in f:
            a = int(f[key], 16)
            alo, ahi = (int(x, 16) for x in f.get("arena", "0..0").split(".."))
            where = ""
            if ahi <= a < ahi + (1 << 20):
                where = " (just past the model arena: arena too small, or a write out of its bounds)"
            elif lo - (1 << 20) <= a < lo:
                where = " (below the stack)"
            parts.append(f"bad address {a:#010x}{where}")
    if "pc" in f:
        parts.append(f"pc={f['pc']}")
    return " ".join(parts)


def _last(log: str, n: int = 3) -> str:
    lines = [ln for ln in log.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:]) if lines else "(no output)"


def target_report(graph, target_name: str, stack_bytes: int | None = None) -> dict:
    """What `convc inspect --target cortex-m*` adds: build the firmware in a scratch folder, run one
    seeded standard-normal sample on the board, and report flash, RAM, stack and instructions."""
    from convc.compiler.driver import compile_graph
    from convc.compiler.stats import graph_macs
    from convc.targets import get_target

    target = get_target(target_name)
    if target.runner != "qemu-system":
        raise ConvcError(f"inspect --target reports firmware flash/RAM/instructions; target '{target.name}' "
                         f"builds no firmware (try a cortex-m target)")
    rng = np.random.default_rng(0)
    feed = {}
    for i in graph.inputs:
        t = graph.tensors[i]
        dt = np.dtype(t.dtype)
        feed[i] = (rng.standard_normal(t.shape) if dt.kind == "f" else rng.integers(-3, 4, t.shape)).astype(dt)
    with tempfile.TemporaryDirectory(prefix="convc-inspect-") as tmp:
        c = compile_graph(graph, target.name, Path(tmp) / "b", stack_bytes=stack_bytes)
        run = run_firmware(c.out_dir, [feed])
    fw, meta = c.c_model.meta["firmware"], c.c_model.meta
    macs = graph_macs(graph)
    return {"target": target.name, "board": target.board, "arena_bytes": meta["arena_bytes"],
            "flash_bytes": fw["flash_bytes"], "ram_bytes": fw["static_ram_bytes"] + run.stack_bytes,
            "stack_bytes": run.stack_bytes, "instructions": run.instructions[0],
            "instructions_per_mac": run.instructions[0] / macs if macs else None}


def format_target_report(r: dict) -> str:
    per = f", {r['instructions_per_mac']:.2f} instructions/MAC" if r["instructions_per_mac"] else ""
    q = f", {r['quantize']}" if r.get("quantize") else ""
    return (f"target {r['target']} (QEMU {r['board']}{q}): flash {r['flash_bytes']} bytes, RAM {r['ram_bytes']} bytes "
            f"(arena {r['arena_bytes']} + stack {r['stack_bytes']} measured + data/bss), "
            f"{r['instructions']} instructions per inference (one random sample, QEMU -icount){per}")
