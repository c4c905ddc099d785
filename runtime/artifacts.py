"""Load whatever a target produced and run it."""
from __future__ import annotations

import json
import platform
from pathlib import Path

from convc.compiler.errors import UsageError


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
    raise UsageError(f"no runner for target '{target.name}'")
