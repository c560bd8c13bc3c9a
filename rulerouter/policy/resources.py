"""Files a rule file refers to: classifier models and example lists, read once per load.

Paths are relative to the folder of the rule file (the working directory for a policy given as
text). `Resources` reads each file at most once and remembers failures too, so lint (which
reports them at the key that names the file) and compile (which needs their contents) see the
same thing, and the gateway knows which files to watch for hot reload.

An examples file is UTF-8 text, one example a line; blank lines and lines starting with `#`
are skipped, and a line ending in a backslash continues on the next, for multi-line examples.
"""

from __future__ import annotations

import os
from pathlib import Path

from .model_file import ModelFile, ModelFileError, read_model, resolve_model_path

__all__ = ["ResourceError", "Resources", "parse_examples"]

ResourceError = ModelFileError  # one error type, with the lint code that reports it


def parse_examples(text: str) -> tuple[str, ...]:
    examples: list[str] = []
    pending: list[str] = []
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        example = "\n".join(pending).strip()
        pending = []
        if example:
            examples.append(example)
    if pending and "\n".join(pending).strip():
        examples.append("\n".join(pending).strip())
    return tuple(examples)


class Resources:
    """The referenced files of one rule file, loaded on first use and cached (errors too)."""

    def __init__(self, base: str | Path | None = None) -> None:
        self.base = Path(base) if base is not None else Path(os.getcwd())
        self._models: dict[str, ModelFile | ModelFileError] = {}
        self._examples: dict[str, tuple[str, ...] | ModelFileError] = {}
        self._paths: dict[str, Path] = {}

    @classmethod
    def beside(cls, rule_file: str | Path) -> Resources:
        """Resources relative to the folder of `rule_file` (the working directory if it is no file)."""
        path = Path(rule_file)
        return cls(path.parent if path.is_file() else None)

    def path_of(self, reference: str) -> Path:
        return resolve_model_path(reference, self.base)

    def model(self, reference: str) -> ModelFile:
        found = self._models.get(reference)
        if found is None:
            path = self._paths[reference] = self.path_of(reference)
            try:
                found = read_model(path)
            except ModelFileError as exc:
                found = exc
            self._models[reference] = found
        if isinstance(found, ModelFileError):
            raise found
        return found

    def examples(self, reference: str) -> tuple[str, ...]:
        found = self._examples.get(reference)
        if found is None:
            path = Path(reference)
            path = self._paths[reference] = path if path.is_absolute() else self.base / path
            try:
                found = parse_examples(path.read_text(encoding="utf-8"))
                if not found:
                    found = ModelFileError("RR606", f"examples file {str(path)!r} holds no examples",
                                           "one example a line; blank lines and # comments are skipped")
            except FileNotFoundError:
                found = ModelFileError("RR601", f"examples file {str(path)!r} does not exist",
                                       "paths are relative to the rule file")
            except (OSError, UnicodeDecodeError) as exc:
                found = ModelFileError("RR601", f"examples file {str(path)!r} cannot be read: {exc}")
            self._examples[reference] = found
        if isinstance(found, ModelFileError):
            raise found
        return found

    def with_model(self, reference: str, model: ModelFile) -> Resources:
        """A copy in which `reference` names `model` (to route with a freshly fitted model)."""
        copy = Resources(self.base)
        copy._models, copy._examples, copy._paths = dict(self._models), dict(self._examples), dict(self._paths)
        copy._models[reference] = model
        return copy

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file this policy read (or tried to): what a hot reload watches besides the rule file."""
        return tuple(sorted(set(self._paths.values())))
