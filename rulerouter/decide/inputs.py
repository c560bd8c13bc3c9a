"""The request as `decide()` sees it: which text each condition looks at, computed once.

`Inputs` holds what a caller passed to `decide()` and computes, lazily and at most once per
text source, the text a condition looks at, its lower-cased form, its keyword hits (from
`keyword_scan`) and its word count. Conditions read these instead of re-scanning the prompt.

Building an `Inputs` is where every request crosses the boundary (`rulerouter.boundary`): each
value is checked there — text repaired, too-deep or non-JSON values refused with `InvalidInput`
— whether it came from `Router.decide`, `complete`, `stream`, the gateway, a policy test or a
JSONL file, and `repaired` lists the fields whose text had to be repaired.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Protocol

from ..boundary import InvalidInput, check

__all__ = ["Inputs", "Scanner", "count_words_upto", "estimate_tokens"]

_USER_ROLES = frozenset({"user"})
_SYSTEM_ROLES = frozenset({"system", "developer"})


def _content_text(content: Any) -> str:
    """Text of an OpenAI message `content`: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        ]
        return "\n".join(parts)
    return ""


def _messages_of_roles(messages: Any, roles: frozenset[str] | None) -> list[str]:
    if not isinstance(messages, (list, tuple)):
        return []
    texts = []
    for message in messages:
        if isinstance(message, Mapping) and (roles is None or message.get("role") in roles):
            texts.append(_content_text(message.get("content")))
    return texts


def count_words_upto(text: str, limit: int) -> int:
    """Whitespace-separated words in `text` as `str.split()` counts them, but at most `limit`.

    A text of n characters holds at most (n + 1) // 2 words, so short texts are answered without
    looking at them, and long ones are split no further than the limit needs.
    """
    if limit <= 0:
        return 0
    if (len(text) + 1) // 2 < limit:
        return len(text.split())
    return min(len(text.split(None, limit)), limit)


def estimate_tokens(text: str) -> int:
    """Estimated tokens: about four characters per token (OpenAI's rule of thumb for English)."""
    return (len(text) + 3) // 4


def _text(value: Any, field: str) -> str:
    """A prompt or system prompt: text, or refused naming the field (a number is not an empty prompt)."""
    if not isinstance(value, str):
        raise InvalidInput(f"'{field}' must be a string, not {type(value).__name__}", field)
    return value


def _checked(value: Any, field: str, repaired: list[str], sent: bool) -> Any:
    value, fields = check(value, field, sent=sent)
    repaired.extend(fields)
    return value


class Scanner(Protocol):
    """What `Inputs.hits` needs of a scanner (`keyword_scan.KeywordScanner`)."""

    source: str
    case_sensitive: bool

    def scan(self, text: str) -> set[int]: ...


class Inputs:
    """One request as `decide()` sees it, with per-source caches filled on first use.

    The cache is one dict, made with the request: keyed by a source name for lower-cased text,
    by a scanner for keyword hits, and by tuples for the rarer message texts and word counts.
    Signals (`rulerouter.decide.signals`) have their own slot, filled only when a rule asks for one.
    """

    __slots__ = ("prompt", "messages", "system_prompt", "metadata", "spend", "repaired", "_request", "_params", "_cache", "_signals")

    def __init__(
        self,
        prompt: str | None,
        messages: Any,
        system_prompt: str | None,
        metadata: Any,
        request: Any,
        params: Mapping[str, Any] | None = None,
        spend: Mapping[str, float] | None = None,
        *,
        sent: bool = False,
    ) -> None:
        """`sent=True` when the prompt, messages and params are to be sent to a model: they must then
        be JSON (see `rulerouter.boundary`); for `decide()` alone they need not."""
        repaired: list[str] = []
        if prompt is not None and not (type(prompt) is str and prompt.isascii()):
            prompt = _checked(_text(prompt, "prompt"), "prompt", repaired, sent)
        if system_prompt is not None and not (type(system_prompt) is str and system_prompt.isascii()):
            system_prompt = _checked(_text(system_prompt, "system_prompt"), "system_prompt", repaired, sent)
        if messages is not None:
            if not isinstance(messages, (list, tuple)):
                raise InvalidInput(f"'messages' must be a list of message objects, not {type(messages).__name__}", "messages")
            messages = _checked(messages, "messages", repaired, sent)
        if metadata is not None:
            metadata = _checked(metadata, "metadata", repaired, False)
        if request is not None:
            request = _checked(request, "request", repaired, False)
        if params:
            params = _checked(params, "", repaired, sent)  # each parameter is named as itself: 'temperature'
        if messages is None and request is not None and isinstance(request, Mapping):  # (an ABC check: not for None)
            messages = request.get("messages")
        self.prompt = prompt if isinstance(prompt, str) else None
        self.messages = messages
        self.system_prompt = system_prompt if isinstance(system_prompt, str) else None
        self.metadata = metadata
        self.spend = spend  # budget name → fraction used, for `when.spend` (read before deciding)
        self.repaired: tuple[str, ...] = tuple(repaired)
        self._request = request
        self._params = params
        self._cache: dict[Any, Any] = {}
        self._signals: dict[str, Any] | None = None

    @property
    def params(self) -> Mapping[str, Any]:
        """The request parameters passed through to the model, as checked at the boundary."""
        return self._params or {}

    @property
    def request(self) -> Any:
        """The chat request; built from the parameters and messages when the caller gave none."""
        if self._request is None:
            request = dict(self._params) if self._params else {}
            request["messages"] = self.effective_messages()
            self._request = request
        return self._request

    def request_field(self, name: str) -> Any:
        """A top-level field of the caller's chat request (None without one; never builds it)."""
        request = self._request
        if request is None:
            params = self._params
            return params.get(name) if params else None
        return request.get(name) if type(request) is dict or isinstance(request, Mapping) else None

    def user_turns(self) -> int:
        """User messages in the conversation, the prompt included."""
        if self.messages is None:
            return 1 if self.prompt is not None else 0
        return len(_messages_of_roles(self.effective_messages(), _USER_ROLES))

    def signals(self, source: str, factory: Callable[[Inputs, str], Any]) -> Any:
        """The signals of one text source, made by `factory` on first use and then cached."""
        cache = self._signals
        if cache is None:
            cache = self._signals = {}
        found = cache.get(source)
        if found is None:
            found = cache[source] = factory(self, source)
        return found

    def effective_messages(self) -> list[Any]:
        """The conversation: system prompt first, then `messages`, then `prompt` as a user turn."""
        built: list[Any] = []
        if self.system_prompt is not None:
            built.append({"role": "system", "content": self.system_prompt})
        if isinstance(self.messages, (list, tuple)):
            built.extend(self.messages)
        if self.prompt is not None:
            built.append({"role": "user", "content": self.prompt})
        return built

    def text(self, source: str) -> str:
        if self.messages is None:  # the common case: a prompt (and maybe a system prompt)
            if source == "system":
                return self.system_prompt or ""
            if source != "all" or self.system_prompt is None:
                return self.prompt or ""
        cache = self._cache
        key = ("text", source)
        text = cache.get(key)
        if text is None:
            text = cache[key] = self._extract(source)
        return text

    def _extract(self, source: str) -> str:
        if self.messages is None:
            return "\n".join(t for t in (self.system_prompt, self.prompt) if t)
        roles = {"last_user": _USER_ROLES, "all_user": _USER_ROLES, "system": _SYSTEM_ROLES}
        texts = _messages_of_roles(self.effective_messages(), roles.get(source))
        if source == "last_user":
            return texts[-1] if texts else ""
        return "\n".join(texts)

    def lowered(self, source: str) -> str:
        cache = self._cache
        text = cache.get(source)
        if text is None:
            text = cache[source] = self.text(source).lower()
        return text

    def hits(self, scanner: Scanner) -> set[int]:
        cache = self._cache
        found = cache.get(scanner)
        if found is None:
            source = scanner.source
            text = self.text(source) if scanner.case_sensitive else self.lowered(source)
            found = cache[scanner] = scanner.scan(text)
        return found

    def words_upto(self, source: str, limit: int) -> int:
        """Word count of `source`, exact below `limit`; cached so thresholds share one count."""
        cache = self._cache
        key = ("words", source)
        cached = cache.get(key)
        if cached is not None:
            count, counted_to = cached
            if count < counted_to or counted_to >= limit:
                return min(count, limit)
        count = count_words_upto(self.text(source), limit)
        cache[key] = (count, limit)
        return count
