"""The app's metrics, on a registry of its own (never prometheus_client's global one): several apps in one
process (the tests) each count only their own."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

log = logging.getLogger(__name__)

# Sub-millisecond to seconds: a keypress's answer is committed and the next prompt asked for in a few ms.
FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

Refresher = Callable[[], Awaitable[None]]
REFRESH_SECONDS = 3.0  # each refresher's bound: a hung database must not stall the scrape (Prometheus waits 10 s)


class Metrics:
    """Every metric the service exports but those read at scrape time (metrics.live.LiveCollector).

    Refreshers: `refreshers` holds async callables that GET /metrics awaits, in order, before it renders; each
    sets metrics from where only a query can tell (e.g. the outbox's pending and failed events per target, from
    the database). One that raises, or takes over REFRESH_SECONDS, is logged and skipped: the scrape goes on
    with the values it last set.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.refreshers: list[Refresher] = []
        self.surveys_started = Counter("ivr_survey_surveys_started", "Surveys started", ["survey"], registry=r)
        self.surveys_ended = Counter(
            "ivr_survey_surveys", "Surveys ended, by final status", ["status", "survey"], registry=r
        )
        self.not_offered = Counter(
            "ivr_survey_not_offered",
            "Answered calls not offered the survey, by reason (a survey policy's, or the caller hung up first)",
            ["reason"],
            registry=r,
        )
        self.answers = Counter(
            "ivr_survey_answers",
            "Answers stored, by question and score (none: the question was given up on)",
            ["question", "score"],
            registry=r,
        )
        self.event_to_action = Histogram(
            "ivr_survey_event_to_action_seconds",
            "From an event's arrival (a key, a prompt's end) to the actions it led to being carried out",
            ["entry"],
            buckets=FAST_BUCKETS,
            registry=r,
        )
        self.db_write = Histogram(
            "ivr_survey_db_write_seconds",
            "A survey write's database transaction, by operation",
            ["op"],
            buckets=FAST_BUCKETS,
            registry=r,
        )
        self.http_requests = Counter(
            "ivr_survey_http_requests",
            "HTTP requests, by route (its canonical path) and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "ivr_survey_http_request_seconds", "HTTP request handling time", ["method", "route"], registry=r
        )
        # The outbox's: set by its refresher (pending, failed) and counted where it drops an event.
        self.outbox_pending = Gauge("ivr_survey_outbox_pending", "Outbox events waiting", ["target"], registry=r)
        self.outbox_failed = Gauge(
            "ivr_survey_outbox_failed", "Outbox events that failed and wait for a retry", ["target"], registry=r
        )
        self.outbox_dropped = Counter("ivr_survey_outbox_dropped", "Outbox events given up on", ["target"], registry=r)

    def observe_latency(self, entry: str) -> Callable[[float], None]:
        """The event-to-action callback for one entry (ari, agi)."""
        return self.event_to_action.labels(entry=entry).observe

    async def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition (the text format unless the scraper asks for OpenMetrics) and its content type."""
        for refresh in self.refreshers:
            try:
                async with asyncio.timeout(REFRESH_SECONDS):
                    await refresh()
            except Exception as exc:  # e.g. the database away: scraped every few seconds, so one line each
                log.warning("metrics refresher %r failed (%r); its metrics keep their values", refresh, exc)
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type
