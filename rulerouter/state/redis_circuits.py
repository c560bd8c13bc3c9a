"""Circuit state shared through Redis: what the Redis state backend's breakers publish and poll."""

from __future__ import annotations

from typing import Any

__all__ = ["RedisCircuits"]


class RedisCircuits:
    """Circuit openings and Retry-After cooldowns, shared: one hash every replica polls.

    Fields are `MODEL\\topen` and `MODEL\\twait`, each the wall-clock second it ends. The mirror
    is what the last poll (or this replica's own writes) showed.
    """

    def __init__(self, state: Any) -> None:  # the RedisState it belongs to
        self.state = state
        self.mirror: dict[str, tuple[float, float]] = {}  # model -> (open_until, wait_until), wall clock

    @property
    def _hash(self) -> str:
        return self.state.key("circuits")

    def poll(self) -> None:
        state = self.state
        raw = state.client.hgetall(self._hash)
        now = state.clock()
        mirror: dict[str, list[float]] = {}
        stale = []
        for field, value in raw.items():
            model, _, kind = field.decode("utf-8", "replace").rpartition("\t")
            until = float(value)
            if until < now - 60:
                stale.append(field)
            mirror.setdefault(model, [0.0, 0.0])[0 if kind == "open" else 1] = until
        self.mirror = {m: (v[0], v[1]) for m, v in mirror.items()}
        if stale:
            state.client.hdel(self._hash, *stale)

    def _set(self, model: str, kind: str, until: float) -> None:
        state = self.state
        state.started()
        open_until, wait_until = self.mirror.get(model, (0.0, 0.0))
        self.mirror[model] = (until, wait_until) if kind == "open" else (open_until, until)
        state.call(lambda: state.client.hset(self._hash, f"{model}\t{kind}", repr(until)))

    def opened(self, model: str, until: float) -> None:
        """This replica opened `model`'s circuit until `until` (wall clock)."""
        self._set(model, "open", until)

    def waiting(self, model: str, until: float) -> None:
        """`model` asked to be left alone until `until` (Retry-After, wall clock)."""
        if until > self.mirror.get(model, (0.0, 0.0))[1]:
            self._set(model, "wait", until)

    def closed(self, model: str) -> None:
        """A call to `model` succeeded: its circuit is closed for everyone."""
        if model in self.mirror and self.mirror[model][0]:
            state = self.state
            self.mirror[model] = (0.0, self.mirror[model][1])
            state.call(lambda: state.client.hdel(self._hash, f"{model}\topen"))

    def until(self, model: str) -> tuple[float, float]:
        """(open_until, wait_until) as last seen, wall clock; (0, 0) when nothing is known."""
        if self.state._thread is None:
            self.state.started()
        return self.mirror.get(model, (0.0, 0.0))
