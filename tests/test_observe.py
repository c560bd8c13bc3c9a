"""Events, metrics and Prometheus output of real routed calls."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from rulerouter import Router
from rulerouter.execute.result import AllAttemptsFailed, Attempt, Usage
from rulerouter.observe.metrics import Metrics
from rulerouter.testing import EchoAuth, LoopbackUpstream, Reply, Status

KEY = "sk-observe-SECRET-0123456789"

POLICY = """
schema_version = 1
default_tier = "cheap"
[tiers]
cheap = "small"
strong = "large"
free = "unpriced"
[providers.up]
base_url = "{base_url}"
api_key_env = "OBS_KEY"
[models.small]
price = {{ input_per_mtok = 1.0, output_per_mtok = 2.0 }}
fallback = ["large"]
[models.large]
price = {{ input_per_mtok = 10.0, output_per_mtok = 20.0 }}
[models.unpriced]
[retry]
retries_per_model = 0
[[rules]]
name = "hard"
when.keywords.any = ["prove"]
tier = "strong"
[log]
destination = "{destination}"
format = "{format}"
include_text = {include_text}
"""


def router(up: LoopbackUpstream, destination: str, *, fmt: str = "json", include_text: bool = False) -> Router:
    text = POLICY.format(base_url=up.base_url, destination=destination, format=fmt, include_text=str(include_text).lower())
    return Router.from_toml(text, env={"OBS_KEY": KEY})


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_json_event_per_routed_call(up: LoopbackUpstream, tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    r = router(up, str(log))
    up.script("small", Status(503))
    up.script("large", Reply("proof", prompt_tokens=100, completion_tokens=50))
    r.complete("prove it, secretly")
    r.complete("prove it again")
    for model in ("small", "large"):
        up.script(model, Status(500))
    with pytest.raises(AllAttemptsFailed):
        r.complete("this one fails")
    r.close()
    loaded, first, second, failed = events(log)
    assert loaded["event"] == "policy_loaded" and loaded["rules"] == 1 and loaded["errors"] == []
    assert first["event"] == "request" and first["outcome"] == "ok"
    assert (first["tier"], first["rule"], first["model"], first["fallback"]) == ("strong", "hard", "large", False)
    assert first["attempts"][0]["model"] == "large" and first["attempts"][0]["cost"] == pytest.approx((100 * 10 + 50 * 20) / 1e6)
    assert first["cost"] == pytest.approx(0.002) and first["cost_known"] is True
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", first["time"]) and first["request_id"].startswith("rr-")
    assert failed["outcome"] == "error" and failed["error"]["type"] == "AllAttemptsFailed"
    assert [a["error_kind"] for a in failed["attempts"]] == ["server_error", "server_error"]
    text = log.read_text()
    assert "prove it" not in text and "proof" not in text  # no prompt or answer text by default
    assert KEY not in text


def test_text_only_when_the_operator_opts_in(up: LoopbackUpstream, tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    r = router(up, str(log), include_text=True)
    up.script("small", Reply("the answer"))
    r.complete("the question")
    r.close()
    event = events(log)[-1]
    assert event["prompt"] == "the question" and event["answer"] == "the answer"


def test_console_format_and_stderr(up: LoopbackUpstream, capsys: pytest.CaptureFixture[str]) -> None:
    r = router(up, "stderr", fmt="console")
    r.complete("hello")
    r.observer.flush()  # events are written in batches
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0].split()[1] == "policy_loaded" and lines[1].split()[1] == "request"
    assert "tier=cheap" in lines[1] and not err.lstrip().startswith("{")


def test_keys_echoed_by_upstreams_never_reach_the_log(up: LoopbackUpstream, tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    r = router(up, str(log), include_text=True)
    up.script("small", EchoAuth(401))
    with pytest.raises(Exception):
        r.complete(f"my key is {KEY}")  # even a prompt that contains the key is scrubbed
    r.close()
    text = log.read_text()
    assert KEY not in text and "[redacted]" in text


def test_sinks_receive_events(up: LoopbackUpstream) -> None:
    r = router(up, "off")
    seen: list[dict[str, Any]] = []
    r.observer.add_sink(seen.append)
    r.complete("hello")
    assert [e["event"] for e in seen] == ["request"] and seen[0]["tier"] == "cheap"


def test_metrics_summary(up: LoopbackUpstream) -> None:
    r = router(up, "off")
    up.script("small", Status(503), Reply("ok", prompt_tokens=10, completion_tokens=5))
    r.complete("a")  # falls back to large
    r.complete("b")  # small answers
    r.complete("prove c")  # strong tier
    r.complete("d", tier="free")  # no price
    for model in ("small", "large"):
        up.script(model, Status(500))
    with pytest.raises(AllAttemptsFailed):
        r.complete("e")
    summary = r.metrics.summary()
    assert summary["total_requests"] == 5
    assert summary["tier_distribution"] == {"cheap": 0.6, "free": 0.2, "strong": 0.2}
    assert summary["rule_hits"] == {"(default)": 3, "(forced tier)": 1, "hard": 1}  # a forced tier is not the default
    assert summary["fallback_rate"] == pytest.approx(0.2) and summary["error_rate"] == pytest.approx(0.2)
    assert summary["models"]["small"]["prompt_tokens"] == 10
    assert summary["models"]["unpriced"]["attempts_with_unknown_cost"] == 1
    assert summary["cost_complete"] is False
    assert set(summary["latency_ms"]) == {"p50", "p90", "p99"} and summary["latency_ms"]["p99"] > 0


LINE = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? [0-9.e+-]+$')


def test_prometheus_exposition_is_well_formed_and_bounded(up: LoopbackUpstream) -> None:
    r = router(up, "off")
    for prompt in ("a", "prove b", "c"):
        r.complete(prompt)
    text = r.metrics.prometheus()
    families = set()
    for line in text.splitlines():
        if line.startswith("# TYPE"):
            families.add(line.split()[2])
        elif not line.startswith("#"):
            assert LINE.match(line), line
    assert {"rulerouter_requests_total", "rulerouter_attempts_total", "rulerouter_tokens_total", "rulerouter_cost_usd_total", "rulerouter_request_duration_seconds"} <= families
    assert 'rulerouter_requests_total{tier="strong",model="large",rule="hard",outcome="ok"} 1' in text
    assert 'rulerouter_request_duration_seconds_bucket{tier="cheap",le="+Inf"} 2' in text
    # Labels come from the policy and fixed sets only: prompts never become label values.
    assert "prove b" not in text


def test_metrics_are_exact_under_concurrency() -> None:
    metrics = Metrics()
    attempt = Attempt("m", "answer", "ok", usage=Usage(3, 4), cost=0.5)

    def hammer() -> None:
        for _ in range(2000):
            metrics.record(tier="t", model="m", rule=None, outcome="ok", attempts=[attempt], latency_s=0.01, fallback=True)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    summary = metrics.summary()
    assert summary["total_requests"] == 16000
    assert summary["models"]["m"]["prompt_tokens"] == 48000 and summary["total_cost"] == pytest.approx(8000)
    assert summary["fallback_rate"] == 1.0


def test_label_values_are_escaped() -> None:
    metrics = Metrics()
    metrics.record(tier='we"ird\\tier\n', model="m", rule="r", outcome="ok", attempts=[], latency_s=0.1)
    assert 'tier="we\\"ird\\\\tier\\n"' in metrics.prometheus()


def test_counters_exported_by_one_worker_add_up_in_another() -> None:
    import json

    one, two = Metrics(), Metrics()
    for metrics, n in ((one, 3), (two, 2)):
        for _ in range(n):
            metrics.record(tier="t", model="m", rule="r", outcome="ok", attempts=[Attempt("m", "answer", "ok", usage=Usage(1, 2), cost=0.25)],
                           latency_s=0.02, fallback=True)
    one.record_refusal("daily", "budget")
    total = Metrics()
    for metrics in (one, two):
        total.absorb(json.loads(json.dumps(metrics.export())))  # as it crosses between processes
    summary = total.summary()
    assert summary["total_requests"] == 5 and summary["total_cost"] == pytest.approx(1.25)
    assert summary["refused"] == {"daily:budget": 1} and summary["fallback_rate"] == 1.0
    assert 'rulerouter_request_duration_seconds_count{tier="t"} 5' in total.prometheus()
