"""Build generated C for the host and run it in-process through ctypes."""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from convc.compiler.errors import ConvcError, ToolchainError


def host_cc() -> str:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc or not shutil.which(cc):
        raise ToolchainError("no host C compiler found (install Debian package 'gcc', or set CC)")
    return cc


STRICT_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]


def build_shared(build_dir: str | os.PathLike, opt: str = "-O2", extra: list[str] | None = None,
                 out_name: str | None = None) -> Path:
    """Compile the generated sources in `build_dir` into a shared library (cached by content)."""
    build_dir = Path(build_dir)
    meta = json.loads((build_dir / "convc.json").read_text())
    srcs = [build_dir / s for s in meta["sources"]]
    flags = [opt, *STRICT_FLAGS, "-fPIC", "-shared", *(extra or [])]
    h = hashlib.sha256(" ".join(flags).encode())
    for f in sorted(build_dir.glob("*.[ch]")):
        h.update(f.name.encode() + f.read_bytes())
    lib_dir = build_dir / ".host"
    lib = lib_dir / (out_name or f"lib{meta['prefix']}-{h.hexdigest()[:12]}.so")
    if lib.exists():
        return lib
    lib_dir.mkdir(exist_ok=True)
    cmd = [host_cc(), *flags, "-o", str(lib), *map(str, srcs), "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise ConvcError(f"host C compile failed ({' '.join(cmd)}):\n{r.stderr[-4000:]}")
    return lib


class HostModel:
    """A generated C model loaded into this process."""

    def __init__(self, build_dir: str | os.PathLike, lib: Path | None = None):
        self.dir = Path(build_dir)
        self.meta = json.loads((self.dir / "convc.json").read_text())
        self.lib_path = lib or build_shared(self.dir)
        self._lib = ctypes.CDLL(str(self.lib_path))
        self._fn = getattr(self._lib, self.meta["entry"])
        self._fn.restype = ctypes.c_int
        self._arena = np.zeros(max(self.meta["arena_bytes"], 1) + 64, np.uint8)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        args, outs = [], {}
        for spec in self.meta["inputs"]:
            a = np.ascontiguousarray(inputs[spec["name"]], dtype=spec["dtype"]).reshape(spec["shape"])
            args.append(a)
        for spec in self.meta["outputs"]:
            outs[spec["name"]] = np.zeros(spec["shape"], dtype=spec["dtype"])
        ptrs = [a.ctypes.data_as(ctypes.c_void_p) for a in args + list(outs.values())]
        base = self._arena.ctypes.data
        aligned = ctypes.c_void_p(base + (-base) % 16)
        rc = self._fn(*ptrs, aligned)
        if rc != 0:
            raise ConvcError(f"{self.meta['entry']} returned {rc}")
        return outs
