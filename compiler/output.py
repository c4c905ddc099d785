"""Write an output directory whole or not at all."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from .errors import UsageError


def write_dir(out_dir: str | os.PathLike, files: dict[str, str | bytes]) -> Path:
    """Write `files` (relative path → content) into `out_dir` atomically: everything goes to a
    temporary sibling first, which then replaces `out_dir` in one rename."""
    with staged_dir(out_dir) as tmp:
        for rel, content in files.items():
            p = tmp / rel
            if ".." in Path(rel).parts or Path(rel).is_absolute():
                raise ValueError(f"bad output file name {rel!r}")
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_text(content)
    return Path(out_dir)


@contextlib.contextmanager
def staged_dir(out_dir: str | os.PathLike):
    """Yield an empty temporary sibling of `out_dir` for tools that write files themselves;
    on success it replaces `out_dir` in one rename, on any error it is removed."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"output path {out} exists and is not a directory")
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create {parent}: {e.strerror}") from None
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it 0700; the result is an ordinary folder
    try:
        yield tmp
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
            os.rename(out, old / "d")
        os.rename(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
