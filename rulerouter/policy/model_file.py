"""Classifier model files: what `rulerouter train` writes and `[classifiers.NAME] model` names.

A model file is JSON:

    {"format": "rulerouter-classifier", "version": 2, "features_version": 3,
     "classes": ["bulk", "complex", "standard", "structured"],
     "bias": [-0.4, 0.1, 0.9, -0.2],
     "scale": 0.001,
     "weights": {"w:prove": [-120, 1450, -300, -900], "p:debug": […], "s:{}": […]},
     "trained": {…}}

`weights` maps a feature (its kind and text, see `rulerouter.decide.text_features`) to one
integer per class, |integer| < 2^15; the weight is that integer × `scale` (quantised to 16 bits
so the file stays small and deciding can pack every class's weight into one integer).
`trained` records how the file was made (data, seed, penalty, figures); it is not read when
deciding. This module reads and checks a file; `rulerouter.decide.classifier` compiles it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "BUILTIN_PREFIX",
    "FEATURES_VERSION",
    "FORMAT",
    "LIMIT",
    "VERSION",
    "ModelFile",
    "ModelFileError",
    "parse_model",
    "read_model",
    "resolve_model_path",
]

FORMAT = "rulerouter-classifier"
VERSION = 2  # 2: weights of 16 bits
#: The feature extraction a file was trained with (`rulerouter.decide.text_features`).
FEATURES_VERSION = 3  # 2: each distinct feature of a text counts once; 3: no word bigrams
BUILTIN_PREFIX = "builtin:"
_KINDS = ("w:", "p:", "s:")
LIMIT = 2**15  # |quantised weight| < LIMIT


class ModelFileError(ValueError):
    """A model file that cannot be used; `code` is the lint code that reports it."""

    def __init__(self, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.hint = hint


@dataclass(frozen=True)
class ModelFile:
    classes: tuple[str, ...]
    bias: tuple[float, ...]
    scale: float
    weights: dict[str, tuple[int, ...]] = field(repr=False)
    trained: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_json(self) -> str:
        """The file's text: keys sorted, one feature a line, so files diff and hash stably."""
        head = {"format": FORMAT, "version": VERSION, "features_version": FEATURES_VERSION,
                "classes": list(self.classes), "bias": list(self.bias), "scale": self.scale, "trained": self.trained}
        lines = [json.dumps(head, sort_keys=True, ensure_ascii=False)[:-1] + ', "weights": {']
        items = sorted(self.weights.items())
        lines += [f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(list(v))}" + ("," if i < len(items) - 1 else "")
                  for i, (k, v) in enumerate(items)]
        return "\n".join(lines) + "\n}}\n"


def resolve_model_path(reference: str, base: Path) -> Path:
    """Where a `model = "…"` reference points: a path relative to the rule file's folder, or
    `builtin:NAME` for a classifier shipped with rulerouter."""
    if reference.startswith(BUILTIN_PREFIX):
        name = reference[len(BUILTIN_PREFIX):]
        return Path(str(resources.files("rulerouter").joinpath("models", f"{name}.model.json")))
    path = Path(reference)
    return path if path.is_absolute() else base / path


def _corrupt(message: str) -> ModelFileError:
    return ModelFileError("RR602", f"not a usable classifier model: {message}",
                          "write model files with `rulerouter train`; do not edit them by hand")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_model(data: Any) -> ModelFile:
    """Check a decoded model file; raises ModelFileError saying what is wrong."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _corrupt(f'"format" is not "{FORMAT}"')
    version = data.get("version")
    if version != VERSION or data.get("features_version") != FEATURES_VERSION:
        raise ModelFileError(
            "RR603", f"model file version {version!r} (features {data.get('features_version')!r}) is not supported; "
            f"this rulerouter reads version {VERSION} (features {FEATURES_VERSION})",
            "retrain it with this version's `rulerouter train`")
    classes = data.get("classes")
    if (not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) and c for c in classes)
            or len(set(classes)) != len(classes)):
        raise _corrupt('"classes" must list two or more distinct names')
    bias = data.get("bias")
    if not isinstance(bias, list) or len(bias) != len(classes) or not all(_number(b) for b in bias):
        raise _corrupt('"bias" must hold one number per class')
    scale = data.get("scale")
    if not _number(scale) or scale <= 0:
        raise _corrupt('"scale" must be a positive number')
    weights = data.get("weights")
    if not isinstance(weights, dict):
        raise _corrupt('"weights" must be a table of feature → integers')
    checked: dict[str, tuple[int, ...]] = {}
    for name, row in weights.items():
        if not name.startswith(_KINDS) or len(name) < 3:
            raise _corrupt(f"feature {name[:40]!r} has no known kind (w:, p:, s:)")
        if (not isinstance(row, list) or len(row) != len(classes)
                or not all(isinstance(q, int) and not isinstance(q, bool) and -LIMIT < q < LIMIT for q in row)):
            raise _corrupt(f"feature {name[:40]!r} must have one integer per class")
        checked[name] = tuple(row)
    trained = data.get("trained")
    return ModelFile(tuple(classes), tuple(float(b) for b in bias), float(scale), checked,
                     trained if isinstance(trained, dict) else {})


def read_model(path: Path) -> ModelFile:
    """Read and check a model file; raises ModelFileError (RR601 unreadable, RR602, RR603)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelFileError("RR601", f"model file {str(path)!r} does not exist",
                             "paths are relative to the rule file; `rulerouter train` writes model files") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError("RR601", f"model file {str(path)!r} cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: also an integer of more digits than Python reads
        raise _corrupt(f"not valid JSON ({str(exc).split(';')[0]})") from None
    return parse_model(data)
