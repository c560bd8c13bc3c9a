"""Files the CLI writes: never one of its own inputs, never a directory, never half written.

Every command that writes a file (`batch --output`, `report --output`, `train -o`, `tune -o`)
checks its target with `output_target` before doing any work, and writes it with
`write_atomically`: the text goes to a temporary file beside the target, is flushed to disk and
renamed over the target in one step, so a crash leaves the old file or the new one, never half
of either. "The same file" is decided by device and inode, so a symlink, a hard link or another
spelling of the path (`./a.jsonl`, `../dir/a.jsonl`) is caught too.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

from ._common import usage_error

__all__ = ["output_target", "same_file", "write_atomically"]


def same_file(first: str | Path, second: str | Path) -> bool:
    """Whether two paths name one file (device and inode); False when either does not exist."""
    try:
        one, other = os.stat(first), os.stat(second)
    except OSError:
        return False
    return (one.st_dev, one.st_ino) == (other.st_dev, other.st_ino)


def output_target(output: str | Path, option: str, inputs: Mapping[str, str | Path | None], *, parents: bool = False) -> Path:
    """The file `output` names (symlinks followed), or a usage error (exit 2) that says why not.

    `inputs` maps each input's option (`--input`, `LOG.jsonl`) to its path: the output may be
    none of them. Refused too: a directory, something that is not a regular file (a device, a
    pipe: it cannot be replaced atomically), a path whose directory does not exist (unless
    `parents`: the caller creates it, with `write_atomically(..., parents=True)`).
    """
    target = Path(os.path.realpath(output))
    for name, path in inputs.items():
        if path is not None and same_file(path, target):
            usage_error(f"{option} {output} is the same file as {name} {path}; write to another file (it would destroy the input)")
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        usage_error(f"cannot write {output}: {exc.strerror or exc}")
    if mode is not None and stat.S_ISDIR(mode):
        usage_error(f"{option} {output} is a directory; give the path of a file")
    if mode is not None and not stat.S_ISREG(mode):
        usage_error(f"{option} {output} is not a regular file; give the path of a file (it is replaced when the command ends)")
    if parents and not target.parent.exists():
        return target
    if not target.parent.is_dir():
        usage_error(f"cannot write {output}: the directory {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        usage_error(f"cannot write {output}: the directory {target.parent} is not writable")
    return target


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)  # keep the permissions of the file replaced
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask  # a new file gets what open() would give it


def write_atomically(target: Path, chunks: Iterable[str | bytes], *, parents: bool = False) -> None:
    """Replace `target` (a path from `output_target`) with `chunks`, all or nothing (`parents`:
    create its directory first).

    Raises `OSError` (disk full, permissions) with `target` left as it was.
    """
    if parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile("wb", dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            for chunk in chunks:
                handle.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, _mode_for(target))
        os.replace(handle.name, target)
    except BaseException:
        try:
            os.unlink(handle.name)
        except OSError:
            pass
        raise
    try:
        directory = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    except OSError:
        pass
    finally:
        os.close(directory)
