"""Batching: order kept, concurrency bounded, an outcome for every item; the resumable CLI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from rulerouter import UsageError
from rulerouter.cli import main
from rulerouter.execute.result import AllAttemptsFailed, Result
from rulerouter.testing import LoopbackUpstream, RecordedRequest, Reply, Status

from .test_execute import KEY, POLICY, make


def echo(request: RecordedRequest) -> Any:
    """Answer with the prompt, slowly for prompts that ask for it, failing for 'fail'."""
    prompt = request.prompt
    if "fail" in prompt:
        return Status(500)
    return Reply(f"echo: {prompt}", delay=0.05 if "slow" in prompt else 0)


def test_abatch_keeps_order_bounds_concurrency_and_loses_nothing(up: LoopbackUpstream) -> None:
    up.default(echo)
    _, _, router = make(up)
    in_flight = peak = 0
    original = router.acomplete

    async def counting(*args: Any, **kwargs: Any) -> Result:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await original(*args, **kwargs)
        finally:
            in_flight -= 1

    router.acomplete = counting  # type: ignore[method-assign]
    items = [f"slow item {i}" if i % 3 == 0 else (f"fail {i}" if i % 7 == 0 else f"item {i}") for i in range(60)]
    seen: list[int] = []

    async def go() -> list[Any]:
        try:
            return await router.abatch(items, template="{item}", concurrency=5, on_outcome=lambda i, item, o: seen.append(i))
        finally:
            await router.aclose()

    outcomes = asyncio.run(go())
    assert len(outcomes) == 60 and sorted(seen) == list(range(60))
    assert 1 < peak <= 5
    for item, outcome in zip(items, outcomes):
        if item.startswith("fail"):
            assert isinstance(outcome, AllAttemptsFailed) and len(outcome.attempts) == 3
        else:
            assert isinstance(outcome, Result) and outcome.content == f"echo: {item}"


def test_abatch_items_as_requests_and_bad_items(up: LoopbackUpstream) -> None:
    up.default(echo)
    _, _, router = make(up)
    items: list[Any] = [
        "plain prompt",
        {"id": "x", "prompt": "with params", "params": {"max_tokens": 7}, "metadata": {"a": 1}},
        {"messages": [{"role": "user", "content": "as messages"}], "tier": "strong"},
        42,
        {"prompt": "x", "tier": "nope"},
    ]

    async def go() -> list[Any]:
        try:
            return await router.abatch(items, concurrency=2, max_tokens=3)
        finally:
            await router.aclose()

    outcomes = asyncio.run(go())
    assert outcomes[0].content == "echo: plain prompt"
    assert outcomes[1].content == "echo: with params"
    assert outcomes[2].model_used == "large"
    assert isinstance(outcomes[3], UsageError) and "prompt string or an object" in str(outcomes[3])
    assert isinstance(outcomes[4], UsageError) and "unknown tier 'nope'" in str(outcomes[4])
    bodies = {r.prompt: r.body for r in up.requests}
    assert bodies["with params"]["max_tokens"] == 7 and bodies["plain prompt"]["max_tokens"] == 3


def test_template_errors_are_per_item(up: LoopbackUpstream) -> None:
    _, _, router = make(up)
    outcomes = asyncio.run(router.abatch([{"name": "a"}, {"other": 1}], template="Hello {name}"))
    assert isinstance(outcomes[0], Result)
    assert isinstance(outcomes[1], UsageError) and "KeyError" in str(outcomes[1])


def write_policy(up: LoopbackUpstream, tmp_path: Path) -> Path:
    text = POLICY.format(base_url=up.base_url, max_attempts=3, retries=0, threshold=100, verify="false", unparsable="keep")
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_batch_cli_writes_every_result_and_resumes(up: LoopbackUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEY", KEY)
    up.default(echo)
    policy = write_policy(up, tmp_path)
    source = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": f"r{i}", "prompt": f"item {i}" if i != 3 else "fail 3"}) for i in range(8)]
    lines.insert(2, "{not json")
    lines.append(json.dumps({"id": "r1", "prompt": "duplicate"}))
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    # A previous run that was interrupted: r0 done, r5 half-written.
    out.write_text(json.dumps({"id": "r0", "ok": True, "content": "from before"}) + "\n" + '{"id": "r5", "ok": tr')
    code = main(["batch", "-c", str(policy), "--input", str(source), "--output", str(out), "--concurrency", "3"])
    assert code == 1  # one request failed
    records = read_jsonl_lenient(out)
    by_id = {r["id"]: r for r in records}
    assert by_id["r0"]["content"] == "from before"  # not run again
    assert [r["id"] for r in records].count("r0") == 1
    for i in (1, 2, 4, 5, 6, 7):
        assert by_id[f"r{i}"]["ok"] and by_id[f"r{i}"]["content"] == f"echo: item {i}"
    assert not by_id["r3"]["ok"] and by_id["r3"]["error"]["type"] == "AllAttemptsFailed"
    assert len(by_id["r3"]["error"]["attempts"]) == 3
    assert by_id["line-3"]["error"]["type"] == "InputError" and "the line is not valid JSON" in by_id["line-3"]["error"]["message"]
    assert "duplicate id 'r1'" in by_id["r1#line-10"]["error"]["message"]
    err = capsys.readouterr().err
    assert "resuming: 1 item(s)" in err and "6 succeeded, 3 failed, 1 skipped" in err
    # Run again: nothing left to do except, with --retry-errors, the failed request (the two bad
    # input lines are still bad, and are reported again).
    up.reset()
    up.default(Reply("fixed"))
    assert main(["batch", "-c", str(policy), "--input", str(source), "--output", str(out), "--retry-errors"]) == 1
    assert [r.prompt for r in up.requests] == ["fail 3"]
    assert [r["ok"] for r in read_jsonl_lenient(out) if r["id"] == "r3"] == [False, True]  # the last record wins


def read_jsonl_lenient(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def test_chat_cli(up: LoopbackUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEY", KEY)
    policy = write_policy(up, tmp_path)
    up.script("small-upstream", Status(503))
    up.script("medium", Reply("the answer", prompt_tokens=10, completion_tokens=5))
    assert main(["chat", "-c", str(policy), "--max-tokens", "12", "hello"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "the answer\n"
    assert "tier: cheap   model: medium   rule: (default)   attempt: 2" in captured.err
    assert "1. small (answer): error server_error 503" in captured.err
    assert up.requests[-1].body["max_tokens"] == 12
    assert main(["chat", "-c", str(policy), "--json", "--tier", "strong", "hi"]) == 0
    assert json.loads(capsys.readouterr().out)["model_used"] == "large"
    assert main(["chat", "-c", str(policy), "--stream", "hi"]) == 0
    assert capsys.readouterr().out == "ok\n"
    for model in ("small-upstream", "medium", "large"):
        up.script(model, Status(500))
    assert main(["chat", "-c", str(policy), "hi"]) == 1
    err = capsys.readouterr().err
    assert "no answer for tier 'cheap'" in err and "Traceback" not in err and KEY not in err
