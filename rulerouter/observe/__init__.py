"""Stage 4, observe: what every routed call did and cost — events, metrics, reports.

    observer.py     Observer: the recorder a router reports to (metrics + events)
    events.py       the event log: a private structlog pipeline, batched writes, scrubbing
    metrics.py      counts, rates, latency and cost per tier/model/rule; Prometheus text
    report.py       a decision log read back: tier mix, rates, cost and saving vs one model
    report_html.py  the same report as one self-contained HTML page
    simulate.py     what a policy would cost on a file of prompts, without calling a model

May import `rulerouter.execute` (for results and attempts), `rulerouter.decide` and
`rulerouter.policy`.
"""

from .._lazy import lazy_exports

__all__ = ["Metrics", "Observer"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "Metrics": ".metrics",
    "Observer": ".observer",
})
