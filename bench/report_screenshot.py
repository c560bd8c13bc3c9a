"""Make the report screenshot of docs/observability.md from real routed calls (against the simulated provider).

Routes the development set's prompts through rules/default.toml (as it is: verification off), against
the labelled simulated provider, writing the router's own event log; spreads the events over
a week (the calls all happen now, in seconds) so the over-time charts have days to show; then
runs `rulerouter report --format html` on it and screenshots the page in headless Chromium.

    python bench/report_screenshot.py [--output bench/report.png]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rulerouter import Router  # noqa: E402
from rulerouter.cli import main as cli  # noqa: E402
from rulerouter.testing import LoopbackUpstream, SimulatedProvider  # noqa: E402
from tests.browser import FLAGS, chromium  # noqa: E402


async def route_all(router: Router, prompts: list[dict]) -> None:
    items = [{k: p[k] for k in ("prompt", "system_prompt", "metadata") if k in p} for p in prompts]
    await router.abatch(items, concurrency=16, max_tokens=400)
    await router.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=str(ROOT / "bench" / "report.png"))
    args = parser.parse_args()
    prompts = [json.loads(line) for line in (ROOT / "bench" / "data" / "devset.jsonl").read_text().splitlines()]
    with tempfile.TemporaryDirectory() as work:
        log = Path(work) / "events.jsonl"
        policy = (ROOT / "rules" / "default.toml").read_text() + f'\n[log]\ndestination = "{log}"\n'
        with LoopbackUpstream(default=SimulatedProvider(seed=1), record=False) as up:
            router = Router.from_toml(policy, env={"RULEROUTER_BASE_URL": up.base_url, "RULEROUTER_API_KEY": "simulated"})
            asyncio.run(route_all(router, prompts))
        start = datetime(2026, 11, 16, 0, 0, tzinfo=timezone.utc)
        lines = log.read_text().splitlines()
        spread = []
        for index, line in enumerate(lines):
            event = json.loads(line)
            event["time"] = (start + timedelta(minutes=index * 7 * 24 * 60 // len(lines))).isoformat().replace("+00:00", "Z")
            spread.append(json.dumps(event))
        log.write_text("\n".join(spread) + "\n")
        page = Path(work) / "report.html"
        code = cli(["report", "-c", str(ROOT / "rules" / "default.toml"), str(log), "--baseline", "claude-sonnet-4-6", "--format", "html", "--output", str(page)])
        if code:
            raise SystemExit(code)
        browser = chromium()
        if browser is None:
            raise SystemExit("Chromium is needed for the screenshot (apt-get install chromium)")
        subprocess.run([browser, *FLAGS, f"--user-data-dir={work}/profile", "--window-size=900,1750", f"--screenshot={args.output}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
