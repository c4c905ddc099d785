"""Load whatever a target produced and run it."""
from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np

from convc.compiler.errors import ToolchainError, UsageError


class Artifact:
    ran_on: str | None = None

    def run(self, inputs):
        raise NotImplementedError


class HostCArtifact(Artifact):
    def __init__(self, build_dir: Path):
        from .host import HostModel, host_cc

        self.model = HostModel(build_dir)
        self.ran_on = f"host {platform.machine()} ({Path(host_cc()).name})"
        self.meta = self.model.meta

    def run(self, inputs):
        return self.model.run(inputs)


class QemuMcuArtifact(Artifact):
    """Cortex-M firmware run on its QEMU board; `run_many` boots once for all samples."""

    def __init__(self, build_dir: Path, target):
        from .qemu_mcu import run_firmware

        self.dir = build_dir
        self.meta = json.loads((build_dir / "convc.json").read_text())
        self.ran_on = f"qemu-system-arm {target.board}"
        self._run_firmware = run_firmware
        self.last = None  # McuRun of the latest call: instructions per sample, peak stack

    def run_many(self, inputs: list[dict]) -> list[dict]:
        self.last = self._run_firmware(self.dir, inputs)
        return self.last.outputs

    def run(self, inputs):
        return self.run_many([inputs])[0]


class TvmArtifact(Artifact):
    """A TVM build (model.so) run in this process by the Relax VM: on the CPU (runner tvm-host) or
    on the GPU (tvm-cuda). Without a usable GPU a cuda build is not run: `ran_on` stays None and
    `not_run` says why."""

    not_run: str | None = None

    def __init__(self, build_dir: Path, target):
        import tvm
        from tvm import relax

        self.meta = json.loads((build_dir / "convc.json").read_text())
        tt = self.meta["tvm_target"]
        if target.runner == "tvm-cuda":
            self.dev = tvm.cuda(0)
            if not self.dev.exist:
                self.vm = None
                self.not_run = "no GPU on this machine (compiled only)"
                return
            _cuda_kernel_compiler()
            where = f"GPU {self.dev.device_name} (TVM cuda {tt.get('arch')})"
        else:
            self.dev = tvm.cpu(0)
            where = f"host {platform.machine()} (TVM llvm -mcpu={tt.get('mcpu')})"
        lib = build_dir / self.meta["library"]
        try:
            self.vm = relax.VirtualMachine(tvm.runtime.load_module(str(lib)), self.dev)
        except Exception as e:  # noqa: BLE001 - TVM raises plain RuntimeError/TVMError for a bad library
            msg = (str(e).strip().splitlines() or ["?"])[-1][:200]
            raise UsageError(f"{lib}: cannot load the TVM library ({msg}); rebuild it with `convc compile`") from None
        self.ran_on = where

    def run(self, inputs):
        from convc.compiler.codegen.relax import run_vm

        if self.vm is None:
            raise UsageError(f"target '{self.meta['target']}' build not run: {self.not_run}")
        arrays = [np.asarray(inputs[i["name"]], dtype=i["dtype"]).reshape(i["shape"]) for i in self.meta["inputs"]]
        outs = run_vm(self.vm, arrays, self.dev)
        return {o["name"]: v for o, v in zip(self.meta["outputs"], outs)}


class QemuUserArtifact(Artifact):
    """An ARM Linux board build (runtime/tvm_deploy.py) run under QEMU user mode: the cross-built
    deploy program with the board's TVM runtime; `run_many` runs all samples in one process."""

    def __init__(self, build_dir: Path):
        from .tvm_deploy import ran_on

        self.dir = build_dir
        self.meta = json.loads((build_dir / "convc.json").read_text())
        self.ran_on = ran_on(build_dir)
        self.report = ""  # the deploy program's line: samples, time per run (emulated)

    def run_many(self, inputs: list[dict]) -> list[dict]:
        from .tvm_deploy import run_deploy_bundle_many

        outs, self.report = run_deploy_bundle_many(self.dir, inputs)
        return outs

    def run(self, inputs):
        return self.run_many([inputs])[0]


def _cuda_kernel_compiler() -> None:
    """The PyPI TVM packs CUDA kernels into model.so as source; its CUDA runtime compiles them on
    load through `tvm_callback_cuda_compile` (registered by tvm.support.nvcc): NVRTC when the
    `cuda-bindings` package is there, else nvcc. (Not yet run on a GPU: none was available.)"""
    import importlib.util
    import os
    import shutil

    import tvm.support.nvcc  # noqa: F401  (registers the callback)

    if "TVM_CUDA_COMPILE_MODE" in os.environ:
        return
    try:
        if importlib.util.find_spec("cuda.bindings") is not None:  # NVRTC, TVM's default
            return
    except ImportError:  # no `cuda` package at all
        pass
    if shutil.which("nvcc") is None:
        raise ToolchainError("running a cuda build needs NVRTC (pip install cuda-bindings) or nvcc "
                             "(Debian package nvidia-cuda-toolkit) to compile its kernels")
    os.environ["TVM_CUDA_COMPILE_MODE"] = "nvcc"


def load_artifact(build_dir: str | Path) -> Artifact:
    build_dir = Path(build_dir)
    meta_path = build_dir / "convc.json"
    if not meta_path.is_file():
        raise UsageError(f"{build_dir} is not a convc build folder (no convc.json)")
    meta = json.loads(meta_path.read_text())
    from convc.targets import get_target

    target = get_target(meta.get("target", "c"))
    if target.runner == "host":
        return HostCArtifact(build_dir)
    if target.runner == "qemu-system":
        return QemuMcuArtifact(build_dir, target)
    if target.runner == "qemu-user":
        return QemuUserArtifact(build_dir)
    if target.runner in ("tvm-host", "tvm-cuda"):
        return TvmArtifact(build_dir, target)
    if target.runner == "host-fixed":
        from .host_fixed import HostFixedArtifact

        return HostFixedArtifact(build_dir)
    raise UsageError(f"no runner for target '{target.name}'")
