"""The base of every table of the files users write: unknown keys are errors, types are strict,
and numbers are finite (`inf` and `nan` are refused where the text is read, naming each)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Section"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False, allow_inf_nan=False)
