"""The metrics' labels are bounded: none names a call, a caller or a number (one series per call would grow
without end and put personal data into Prometheus); the live collector reads what the adapters expose."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from types import SimpleNamespace

from aiohttp import web
from prometheus_client.metrics import MetricWrapperBase

from ivr_survey.keys import AGI, AMI, DIALER, LEADERSHIP, STASIS, STORE
from ivr_survey.metrics.live import LiveCollector
from ivr_survey.metrics.registry import Metrics
from ivr_survey.metrics.store import score_label

PERSONAL = re.compile(r"call|phone|number|linkedid|uniqueid|caller|contact|channel", re.IGNORECASE)
SINCE = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def stub_app() -> web.Application:
    """What the adapters expose, as plain attributes (the collector reads nothing else)."""
    app = web.Application()
    app[STASIS] = SimpleNamespace(calls={"1795715876.40": object()}, connected=True, reconnects=2)  # type: ignore[assignment]
    app[AGI] = SimpleNamespace(connections={object(), object()}, listening=True)  # type: ignore[assignment]
    app[AMI] = SimpleNamespace(connected=False, reconnects=1, dispositions=Counter(answered=3, missed=1))  # type: ignore[assignment]
    app[STORE] = SimpleNamespace(pending=4, set_aside=1)  # type: ignore[assignment]
    app[DIALER] = SimpleNamespace(calls_in_progress=2, outcomes=Counter(completed=5, busy=1))  # type: ignore[assignment]
    app[LEADERSHIP] = SimpleNamespace(role="active", role_since=SINCE, takeovers=1)  # type: ignore[assignment]
    return app


def live_samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in LiveCollector(stub_app()).collect()
        for s in family.samples
    }


def test_no_metric_is_labelled_by_a_call_a_caller_or_a_number() -> None:
    metrics = Metrics()
    declared = {name: m._labelnames for name, m in vars(metrics).items() if isinstance(m, MetricWrapperBase)}
    assert len(declared) >= 10
    labels = {label for names in declared.values() for label in names}
    labels |= {label for _, pairs in live_samples() for label, _ in pairs}
    assert {"survey", "question", "score", "route", "link", "disposition", "outcome", "role"} <= labels
    assert {label for label in labels if PERSONAL.search(label)} == set()


def test_the_live_collector_reads_the_adapters() -> None:
    assert live_samples() == {
        ("ivr_survey_ami_calls_total", (("disposition", "answered"),)): 3,
        ("ivr_survey_ami_calls_total", (("disposition", "missed"),)): 1,
        ("ivr_survey_surveys_in_progress", (("entry", "ari"),)): 1,
        ("ivr_survey_surveys_in_progress", (("entry", "agi"),)): 2,
        ("ivr_survey_link_connected", (("link", "ari"),)): 1,
        ("ivr_survey_link_connected", (("link", "agi"),)): 1,
        ("ivr_survey_link_connected", (("link", "ami"),)): 0,
        ("ivr_survey_link_reconnects_total", (("link", "ari"),)): 2,
        ("ivr_survey_link_reconnects_total", (("link", "ami"),)): 1,
        ("ivr_survey_spool_pending", ()): 4,
        ("ivr_survey_spool_set_aside", ()): 1,
        ("ivr_survey_campaign_calls_in_progress", ()): 2,
        ("ivr_survey_campaign_attempts_total", (("outcome", "busy"),)): 1,
        ("ivr_survey_campaign_attempts_total", (("outcome", "completed"),)): 5,
        ("ivr_survey_role", (("role", "active"),)): 1,
        ("ivr_survey_role", (("role", "standby"),)): 0,
        ("ivr_survey_role_since_seconds", ()): SINCE.timestamp(),
        ("ivr_survey_takeovers_total", ()): 1,
    }


def test_scores_are_labelled_as_they_are_written() -> None:
    assert [score_label(s) for s in (5.0, 0.5, 10.0, 0.0, None)] == ["5", "0.5", "10", "0", "none"]
