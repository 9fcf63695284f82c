"""What is read at scrape time from the adapters' plain attributes, through the app's keys: surveys in progress,
the spool, each link's state and reconnects, the AMI collector's calls, the dialer's, and this instance's role."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..keys import AGI, AMI, DIALER, LEADERSHIP, STASIS, STORE

ROLES = ("active", "standby")


def _counter(name: str, documentation: str, label: str, counts: Mapping[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value, count in sorted(counts.items()):
        family.add_metric([value], count)
    return family


class LiveCollector(Collector):
    def __init__(self, app: web.Application) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        app = self._app
        stasis, agi, ami = app.get(STASIS), app.get(AGI), app.get(AMI)
        in_progress = GaugeMetricFamily(
            "ivr_survey_surveys_in_progress", "Callers in a survey on this instance", labels=["entry"]
        )
        connected = GaugeMetricFamily("ivr_survey_link_connected", "1 while the link is up", labels=["link"])
        reconnects = CounterMetricFamily(
            "ivr_survey_link_reconnects", "Connections made again after one was lost", labels=["link"]
        )
        if stasis is not None:
            in_progress.add_metric(["ari"], len(stasis.calls))
            connected.add_metric(["ari"], stasis.connected)
            reconnects.add_metric(["ari"], stasis.reconnects)
        if agi is not None:  # a server: listening or not, nothing to reconnect
            in_progress.add_metric(["agi"], len(agi.connections))
            connected.add_metric(["agi"], agi.listening)
        if ami is not None:
            connected.add_metric(["ami"], ami.connected)
            reconnects.add_metric(["ami"], ami.reconnects)
            yield _counter(
                "ivr_survey_ami_calls",
                "Calls the AMI collector stored, by disposition",
                "disposition",
                ami.dispositions,
            )
        yield from (in_progress, connected, reconnects)
        store = app.get(STORE)
        if store is not None:
            yield GaugeMetricFamily("ivr_survey_spool_pending", "Survey records waiting in the spool", store.pending)
            yield GaugeMetricFamily(
                "ivr_survey_spool_set_aside", "Survey records the database refused (dead letters)", store.set_aside
            )
        dialer = app.get(DIALER)
        if dialer is not None:
            yield GaugeMetricFamily(
                "ivr_survey_campaign_calls_in_progress",
                "Campaign calls placed here and not over",
                dialer.calls_in_progress,
            )
            yield _counter(
                "ivr_survey_campaign_attempts", "Campaign attempts settled here, by outcome", "outcome", dialer.outcomes
            )
        leadership = app.get(LEADERSHIP)
        if leadership is not None:
            role = GaugeMetricFamily("ivr_survey_role", "1 for this instance's role for its ARI app", labels=["role"])
            for name in ROLES:
                role.add_metric([name], leadership.role == name)
            yield role
            yield GaugeMetricFamily(
                "ivr_survey_role_since_seconds",
                "When this instance took its role (unix time)",
                leadership.role_since.timestamp(),
            )
            yield CounterMetricFamily(
                "ivr_survey_takeovers", "Times this instance became the active one", leadership.takeovers
            )
