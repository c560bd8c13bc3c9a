"""JSON Schemas of the files users write, generated from the Pydantic models.

`schemas/rulerouter.schema.json` in the repository is this output, kept identical by a test,
so editors (VS Code's Even Better TOML, Taplo, JetBrains) can check rule files as they are typed.
"""

from __future__ import annotations

from typing import Any

from .schema import Policy

__all__ = ["SCHEMA_ID", "policy_schema"]

SCHEMA_ID = "urn:rulerouter:rule-file:1"


def policy_schema() -> dict[str, Any]:
    schema = Policy.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "rulerouter rule file",
        **{k: v for k, v in schema.items() if k != "title"},
    }
