"""Many requests at once: bounded concurrency, input order kept, an outcome for every item.

`run_batch` starts `concurrency` workers that take items in order from a shared iterator, so a
million items never become a million tasks. Each item ends as a `Result` or as the exception
that explains why it has none (an `ExecutionError` naming its attempts, or a `UsageError` for an
item that cannot be sent); no item is dropped, and one item's failure never stops the others.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Iterable, Mapping

from ..errors import RuleRouterError, UsageError
from .result import Result

__all__ = ["BatchOutcome", "item_request", "run_batch"]

BatchOutcome = Result | RuleRouterError


def item_request(item: Any, template: str | None) -> dict[str, Any]:
    """The keyword arguments of `acomplete()` for one batch item.

    With a template, the item is formatted into it as `{item}` (a mapping's keys are also
    available by name). Without one, an item is a prompt string, or a mapping of `acomplete()`
    arguments (prompt, messages, system_prompt, metadata, tier, model, verify, and parameters
    such as max_tokens; an "id" key is ignored).
    """
    if template is not None:
        fields = dict(item) if isinstance(item, Mapping) else {}
        try:
            return {"prompt": template.format(**fields, item=item)}
        except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:  # `{item:d}` on text is TypeError
            raise UsageError(f"the template cannot be filled from this item: {type(exc).__name__}: {exc}") from None
    if isinstance(item, str):
        return {"prompt": item}
    if isinstance(item, Mapping):
        request = {k: v for k, v in item.items() if k != "id"}
        params = request.pop("params", None)
        if params is not None:
            if not isinstance(params, Mapping):
                raise UsageError("'params' must be an object of request parameters")
            request.update(params)
        return request
    raise UsageError(f"a batch item must be a prompt string or an object, not {type(item).__name__}")


async def run_batch(
    acomplete: Callable[..., Awaitable[Result]],
    items: Iterable[Any],
    *,
    template: str | None = None,
    concurrency: int = 16,
    on_outcome: Callable[[int, Any, BatchOutcome], None] | None = None,
    **defaults: Any,
) -> list[BatchOutcome]:
    """Run every item through `acomplete` (a router's); return the outcomes in input order.

    `on_outcome` sees each outcome as it ends.
    """
    if concurrency < 1:
        raise UsageError("concurrency must be at least 1")
    numbered = enumerate(items)
    outcomes: dict[int, BatchOutcome] = {}

    async def worker() -> None:
        for index, item in numbered:  # the shared iterator hands each item to one worker
            outcome: BatchOutcome
            try:
                kwargs = {**defaults, **item_request(item, template)}
                outcome = await acomplete(**kwargs)
            except RuleRouterError as exc:
                outcome = exc
            except Exception as exc:  # a bug must not take the item (or the worker) with it
                outcome = RuleRouterError(f"internal error on this item: {type(exc).__name__}: {exc}")
            outcomes[index] = outcome
            if on_outcome is not None:
                on_outcome(index, item, outcome)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return [outcomes[i] for i in range(len(outcomes))]

