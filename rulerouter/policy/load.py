"""Load a rule file: parse → validate → lint, and hand back a Policy or every diagnostic."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

from ..errors import PolicyError
from .diagnostics import Diagnostic, has_errors
from .lint import lint_parsed
from .parse import parse_document, read_source
from .resources import Resources
from .schema import Policy

__all__ = ["Checked", "check_file", "check_text", "gc_paused", "load_file", "load_text"]


@dataclass(frozen=True)
class Checked:
    """A checked rule file: the policy when it has no errors, every diagnostic found, and the
    files it refers to (classifier models, example lists) as they were read while checking."""

    path: str
    policy: Policy | None
    diagnostics: list[Diagnostic]
    resources: Resources = field(default_factory=Resources)

    @property
    def ok(self) -> bool:
        return self.policy is not None and not has_errors(self.diagnostics)

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a policy is read or compiled.

    Reading a big policy allocates millions of small objects, nearly none of them in cycles;
    the collector would walk all of them again and again (a third of the time on 10,000
    rules). Nothing is lost: collection resumes afterwards, and is left alone if it was off.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def check_text(text: str, path: str = "<string>", env: Mapping[str, str] | None = None,
               resources: Resources | None = None) -> Checked:
    """Parse, validate and lint. Files the policy names are read relative to `path`'s folder
    (the working directory when `path` is no file), unless `resources` says otherwise."""
    with gc_paused():
        parsed = parse_document(text, path, Policy)
        resources = resources if resources is not None else Resources.beside(path)
        diagnostics = sorted(parsed.diagnostics + lint_parsed(parsed, env, resources), key=Diagnostic.sort_key)
    policy = parsed.model if isinstance(parsed.model, Policy) and not has_errors(diagnostics) else None
    return Checked(path, policy, diagnostics, resources)


def check_file(path: str | Path, env: Mapping[str, str] | None = None) -> Checked:
    text, problem = read_source(path)
    if text is None:
        assert problem is not None
        return Checked(str(path), None, [problem])
    return check_text(text, str(path), env)


def _policy_or_raise(checked: Checked) -> Checked:
    if not checked.ok:
        raise PolicyError(checked.diagnostics)
    return checked


def load_text(text: str, path: str = "<string>", env: Mapping[str, str] | None = None,
              resources: Resources | None = None) -> Checked:
    """Like `check_text`, but raises `PolicyError` (with every diagnostic) when there are errors."""
    return _policy_or_raise(check_text(text, path, env, resources))


def load_file(path: str | Path, env: Mapping[str, str] | None = None) -> Checked:
    return _policy_or_raise(check_file(path, env))
