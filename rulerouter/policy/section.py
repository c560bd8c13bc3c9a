"""The base of every table of the files users write: unknown keys are errors, types are strict,
and numbers are finite (`inf` and `nan` are refused where the text is read, naming each)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Section", "empty_dict", "empty_list"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False, allow_inf_nan=False)


# `default_factory` for empty collections. Pydantic reads each factory's signature when it
# builds a model; for the builtins `list` and `dict` that means parsing their text signatures
# with `tokenize` (milliseconds at import, once per field), for a Python function microseconds.


def empty_list() -> list[Any]:
    return []


def empty_dict() -> dict[str, Any]:
    return {}
