"""`rulerouter report` and `rulerouter simulate`: computed savings, bad logs, the HTML page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rulerouter import Router
from rulerouter.cli import main
from rulerouter.observe.report import build_report, read_log
from rulerouter.observe.simulate import read_prompts, simulate
from rulerouter.policy.schema import Price

from . import browser
from .conftest import ROOT


def event(day: str, tier: str, model: str, prompt: int, completion: int, cost: float | None, **extra: Any) -> str:
    record = {
        "event": "request", "time": f"{day}T12:00:00.000000Z", "request_id": "x", "outcome": "ok", "tier": tier,
        "decided_tier": tier, "rule": extra.pop("rule", None), "model": model, "attempt": 1, "fallback": False,
        "escalated": False, "prompt_tokens": prompt, "completion_tokens": completion, "cost": cost,
        "cost_known": cost is not None, "latency_ms": 10.0,
        "attempts": [{"model": model, "purpose": "answer", "outcome": "ok", "cost": cost}],
    }
    record.update(extra)
    return json.dumps(record)


def write_log(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


SONNET = Price(input_per_mtok=3.0, output_per_mtok=15.0)


def test_saving_is_computed_from_tokens_and_prices(tmp_path: Path) -> None:
    # Two requests on bulk (deepseek) and one on complex (opus), with their real costs.
    deepseek = (1000 * 0.27 + 1000 * 1.10) / 1e6
    opus = (1000 * 5 + 1000 * 25) / 1e6
    log = write_log(tmp_path / "log.jsonl", [
        event("2026-11-01", "bulk", "deepseek-chat", 1000, 1000, deepseek, rule="bulk-signals"),
        event("2026-11-01", "bulk", "deepseek-chat", 1000, 1000, deepseek, rule="bulk-signals"),
        event("2026-11-02", "complex", "claude-opus-4-7", 1000, 1000, opus, fallback=True),
    ])
    report = build_report(read_log(log).requests, baseline="claude-sonnet-4-6", baseline_price=SONNET)
    base = 3 * (1000 * 3 + 1000 * 15) / 1e6
    routed = 2 * deepseek + opus
    assert report["tier_mix"] == {"bulk": pytest.approx(2 / 3), "complex": pytest.approx(1 / 3)}
    assert report["fallback_rate"] == pytest.approx(1 / 3)
    assert report["baseline"]["baseline_cost"] == pytest.approx(base)
    assert report["baseline"]["routed_cost"] == pytest.approx(routed)
    assert report["baseline"]["saving_share"] == pytest.approx((base - routed) / base)
    assert report["days"] == 2
    assert report["baseline"]["per_30_days"]["saving"] == pytest.approx((base - routed) / 2 * 30)
    assert report["rule_hits"] == {"(default)": 1, "bulk-signals": 2}
    assert report["by_model"]["deepseek-chat"]["cost"] == pytest.approx(2 * deepseek)


def test_unknown_costs_and_errors_are_left_out_and_counted(tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.jsonl", [
        event("2026-11-01", "bulk", "deepseek-chat", 10, 10, 1e-5),
        event("2026-11-01", "free", "unpriced", 10, 10, None),
        event("2026-11-01", "bulk", "deepseek-chat", 10, 10, 0.0, outcome="error"),
    ])
    report = build_report(read_log(log).requests, baseline="s", baseline_price=SONNET)
    assert report["baseline"]["requests_compared"] == 1 and report["baseline"]["requests_left_out"] == 2
    assert report["requests_with_unknown_cost"] == 1 and report["error_rate"] == pytest.approx(1 / 3)


def test_bad_lines_are_reported_one_by_one_and_the_rest_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    log = write_log(tmp_path / "log.jsonl", [
        json.dumps({"event": "policy_loaded", "time": "2026-11-01T00:00:00Z"}),
        event("2026-11-01", "bulk", "deepseek-chat", 10, 10, 1e-5),
        '{"event": "request", "time": "2026-11-01T1',  # truncated
        "not json at all",
        json.dumps({"event": "request", "time": "2026-11-01T00:00:00Z"}),  # no tier
        json.dumps({"event": "request", "tier": "bulk", "time": "yesterday"}),
        event("2026-11-01", "bulk", "deepseek-chat", 10, 10, 1e-5),
    ])
    assert main(["report", str(log), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["requests"] == 2
    problems = captured.err.splitlines()
    assert [p.split(":")[1] for p in problems] == ["3", "4", "5", "6"]
    assert "not valid JSON: Unterminated string starting at column 30 (a truncated line?)" in problems[0] and "'tier' is missing" in problems[2] and "not an ISO timestamp" in problems[3]


def test_empty_log_is_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write_log(tmp_path / "log.jsonl", [json.dumps({"event": "policy_loaded"})])
    assert main(["report", str(log)]) == 1
    assert "holds no request events (1 line(s), 0 unreadable, 1 other event(s)); nothing to report" in capsys.readouterr().err
    (tmp_path / "empty.jsonl").write_text("")
    assert main(["report", str(tmp_path / "empty.jsonl")]) == 1
    assert main(["report", str(tmp_path / "missing.jsonl")]) == 2


def test_baseline_must_be_a_priced_model(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    log = write_log(tmp_path / "log.jsonl", [event("2026-11-01", "bulk", "deepseek-chat", 10, 10, 1e-5)])
    assert main(["report", str(log), "--baseline", "gpt-4"]) == 2
    assert "is not a model of rules/default.toml" in capsys.readouterr().err


def test_text_report_from_a_real_event_log(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from rulerouter.testing import LoopbackUpstream, Reply, Status

    monkeypatch.chdir(ROOT)
    log = tmp_path / "events.jsonl"
    policy = (ROOT / "rules" / "default.toml").read_text() + f'\n[log]\ndestination = "{log}"\n'
    with LoopbackUpstream() as up:
        router = Router.from_toml(policy, env={"RULEROUTER_BASE_URL": up.base_url})
        up.script("claude-sonnet-4-6", Status(503))
        up.default(Reply("fine", prompt_tokens=1000, completion_tokens=500))
        for prompt in ("hello", "add docstrings", "find the deadlock", "return as json"):
            router.complete(prompt)
        router.close()
    assert main(["report", str(log), "--baseline", "claude-sonnet-4-6"]) == 0
    out = capsys.readouterr().out
    assert "requests: 4 (4 answered)" in out and "fallback rate 25.0%" in out
    assert "against sending everything to claude-sonnet-4-6" in out and "per 30 days" in out


def multi_day_log(tmp_path: Path) -> Path:
    lines = []
    mix = [("complex", "claude-opus-4-7", 5, 25), ("standard", "claude-sonnet-4-6", 3, 15), ("structured", "gpt-5.5", 3, 12), ("bulk", "deepseek-chat", 0.27, 1.10)]
    for day in range(1, 8):
        for index, (tier, model, pin, pout) in enumerate(mix):
            for _ in range(2 + (day + index) % 4):
                lines.append(event(f"2026-11-{day:02d}", tier, model, 2000, 800, (2000 * pin + 800 * pout) / 1e6))
    return write_log(tmp_path / "week.jsonl", lines)


def test_html_report_renders_in_a_real_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if browser.chromium() is None:
        pytest.skip("Chromium is not installed here (.ci/run installs the distribution's chromium package); the HTML report was not checked in a browser")
    monkeypatch.chdir(ROOT)
    page = tmp_path / "report.html"
    assert main(["report", str(multi_day_log(tmp_path)), "--baseline", "claude-sonnet-4-6", "--format", "html", "--output", str(page)]) == 0
    html = page.read_text()
    assert "<script" not in html and "http://" not in html and "https://" not in html  # self-contained
    dom, png = browser.render(page)
    for chart in ("tier-mix", "cost-by-model", "saving", "requests-over-time", "cost-over-time"):
        assert f'id="{chart}"' in dom, chart
    assert dom.count("<rect") > 50
    width, height, pixels = browser.png_pixels(png)
    assert (width, height) == (1000, 1600)
    colours = set(pixels)
    assert len(colours) > 20  # text and bars in several colours, not a blank or error page
    for rgb in ((0x4C, 0x78, 0xA8), (0xF5, 0x85, 0x18), (0x54, 0xA2, 0x4B)):
        assert rgb in colours, rgb  # the tier and saving bars were painted


# --- simulate ----------------------------------------------------------------------------------


def test_article_scenario_saves_21_percent_not_70(tmp_path: Path) -> None:
    """200 requests a day of 75k tokens (half in, half out), the article's prices and mix."""
    prompts = tmp_path / "article.jsonl"
    mix = {"complex": 40, "standard": 60, "structured": 30, "bulk": 70}  # 20/30/15/35 %
    prompts.write_text("\n".join(json.dumps({"prompt": "x" * 150_000, "metadata": {"tier": t}, "count": n}) for t, n in mix.items()))
    router = Router.from_file(ROOT / "rules" / "default.toml")
    items = read_prompts(prompts).items
    assert all(item.input_tokens == 37_500 for item in items)
    report = simulate(router.compiled, items, output_tokens=37_500, baseline="claude-sonnet-4-6", baseline_price=SONNET)
    assert report["requests"] == 200
    assert {t: v["share"] for t, v in report["tiers"].items()} == {"bulk": 0.35, "complex": 0.2, "standard": 0.3, "structured": 0.15}
    assert report["baseline"]["baseline_cost"] == pytest.approx(135.0)  # the article's $135 a day
    assert report["routed_cost"] == pytest.approx(105.97125)
    assert report["baseline"]["saving_share"] == pytest.approx(0.215, abs=0.0005)  # not the claimed 70 %


def test_simulate_and_compare_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("\n".join([
        json.dumps("Add docstrings to utils.py"),
        json.dumps({"prompt": "Find the deadlock", "output_tokens": 1000}),
        json.dumps({"prompt": "What is 2+2?", "count": 3}),
        "not json",
        json.dumps({"prompt": "x", "count": 0}),
    ]))
    assert main(["simulate", str(prompts), "--baseline", "claude-sonnet-4-6", "--format", "json"]) == 1  # the figures leave out two bad lines, and the exit code says so
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["requests"] == 5 and report["tiers"]["standard"]["requests"] == 3
    assert "p.jsonl:4: the line is not valid JSON" in captured.err and "p.jsonl:5: 'count' must be a positive integer" in captured.err
    edited = tmp_path / "edited.toml"
    edited.write_text((ROOT / "rules" / "default.toml").read_text().replace('"stub",', '"stub", "docstrings",').replace('name = "bulk-signals"', 'name = "bulk-edits"'))
    assert main(["simulate", str(prompts), "--compare", str(edited)]) == 1
    out = capsys.readouterr().out
    assert "0 of 5 requests (0.0%) change tier" in out
    edited.write_text((ROOT / "rules" / "default.toml").read_text().replace('tier = "bulk"', 'tier = "standard"'))
    assert main(["simulate", str(prompts), "--compare", str(edited), "--format", "json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["changed"] == 1 and result["changes"][0]["from"] == "bulk" and result["changes"][0]["to"] == "standard"
    assert result["changes"][0]["because"] == {"bulk-signals -> bulk-signals": 1}
    assert result["cost_difference"] > 0


def test_simulate_names_every_line_it_cannot_decide_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    prompts = tmp_path / "p.jsonl"
    prompts.write_bytes(b"\n".join([
        json.dumps("fine").encode(),
        json.dumps({"prompt": 5}).encode(),  # not an empty prompt: a prompt that is not text
        json.dumps({"messages": "hi"}).encode(),
        b"[" * 3000 + b"]" * 3000,
        b'{"prompt": "x", "metadata": {"n": NaN}}',
        b'{"prompt": "caf\xe9"}',  # not UTF-8: repaired, like everywhere, and decided
    ]))
    assert main(["simulate", str(prompts), "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["requests"] == 2
    for line, why in ((2, "'prompt' must be a string, not int"), (3, "'messages' must be a list"), (4, "more than 64 levels deep"), (5, "NaN")):
        assert f"p.jsonl:{line}: " in captured.err and why in captured.err, (line, captured.err)
    assert "4 line(s) of" in captured.err and "Traceback" not in captured.err and "internal error" not in captured.err


def test_every_jsonl_reader_takes_a_deep_line_as_a_bad_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 5000 + "]" * 5000 + "\n")
    for argv, code in ((["report", str(deep)], 1), (["simulate", str(deep)], 1), (["eval", str(deep)], 2), (["train", str(deep), "-o", str(tmp_path / "m.json")], 2)):
        assert main(argv) == code, argv
        err = capsys.readouterr().err
        assert "deep.jsonl:1: the line nests arrays and objects more than 64 levels deep" in err and "internal error" not in err, err
