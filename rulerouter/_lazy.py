"""Exports loaded on first use (PEP 562), so that importing a package loads none of its modules.

A package lists each name it exports and the module (relative to itself) that defines it;
`from package import Name` or `package.Name` imports that module then, once, and keeps the
value in the package's namespace. `import rulerouter` is then as light as the errors module;
a program pays for the parts it touches (see bench/import_time.py).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable

__all__ = ["lazy_exports"]


def lazy_exports(package: str, where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package`, exporting each name of `where` from its module."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # found directly from now on
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
