"""Read files of a fetched GitHub snapshot at a pinned commit, without a work tree.

The search tool's ``fetch`` verb leaves each repository as a bare git directory at
``<mirrors>/<owner>+<name>/repo``. :class:`Mirror` lists and reads blobs from one
commit through a single ``git cat-file --batch`` process, so reading ten thousand
small files costs one process, not ten thousand.

Standard library only. A missing mirror or commit raises :class:`MirrorMissing`,
whose message names the ``fetch`` call that brings it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["DEFAULT_MIRRORS", "Mirror", "MirrorMissing"]

DEFAULT_MIRRORS = Path(os.environ.get("RULEROUTER_MIRRORS", "/work/.mirror"))


class MirrorMissing(RuntimeError):
    """The snapshot (or the pinned commit in it) is not on this machine."""

    def __init__(self, repo: str, commit: str, where: Path, why: str) -> None:
        super().__init__(
            f"{repo} at {commit[:12]} is not available ({why}; looked in {where}).\n"
            f"  Bring it with the search tool: fetch(source=\"github:{repo}\"),\n"
            f"  or point --mirrors / RULEROUTER_MIRRORS at the folder that holds <owner>+<name>/repo."
        )
        self.repo = repo


class Mirror:
    """One repository snapshot, read at one commit."""

    def __init__(self, repo: str, commit: str, mirrors: Path = DEFAULT_MIRRORS) -> None:
        self.repo, self.commit = repo, commit
        self.git_dir = Path(mirrors) / repo.replace("/", "+") / "repo"
        if not self.git_dir.is_dir():
            raise MirrorMissing(repo, commit, self.git_dir, "no snapshot")
        probe = self._git("cat-file", "-e", f"{commit}^{{commit}}", check=False)
        if probe.returncode != 0:
            raise MirrorMissing(repo, commit, self.git_dir, "the snapshot lacks the pinned commit")
        self._batch: subprocess.Popen | None = None

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "--git-dir", str(self.git_dir), *args],
                              capture_output=True, check=check)

    def ls(self, prefix: str = "") -> list[tuple[str, int]]:
        """``(path, size)`` of every blob under ``prefix`` (a folder or a path), sorted.

        ``size`` is -1 for a blob the snapshot does not hold (files of 4 MiB and more).
        """
        out = self._git("ls-tree", "-r", "-l", "-z", self.commit, *(("--", prefix) if prefix else ())).stdout.decode()
        rows = []
        for entry in filter(None, out.split("\0")):
            meta, path = entry.split("\t", 1)
            kind, size = meta.split()[1], meta.split()[3]
            if kind == "blob":
                rows.append((path, int(size) if size.isdigit() else -1))
        return sorted(rows)

    def read(self, path: str) -> bytes:
        """The bytes of ``path`` at the pinned commit."""
        if self._batch is None:
            self._batch = subprocess.Popen(
                ["git", "--git-dir", str(self.git_dir), "cat-file", "--batch"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._batch.stdin and self._batch.stdout
        self._batch.stdin.write(f"{self.commit}:{path}\n".encode())
        self._batch.stdin.flush()
        header = self._batch.stdout.readline().decode().split()
        if len(header) != 3:
            raise MirrorMissing(self.repo, self.commit, self.git_dir, f"{path} is not in the snapshot")
        data = self._batch.stdout.read(int(header[2]))
        self._batch.stdout.read(1)  # the newline after each object
        return data

    def text(self, path: str) -> str:
        return self.read(path).decode("utf-8")

    def close(self) -> None:
        if self._batch is not None:
            assert self._batch.stdin
            self._batch.stdin.close()
            self._batch.wait()
            self._batch = None

    def __enter__(self) -> Mirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
