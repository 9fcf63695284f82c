"""The aiohttp app factory: settings in, a wired application out. Everything that starts and
stops (database pool, answer spool, AMI collector, ARI listener with the campaigns' dialer, FastAGI server) is a
cleanup context, so shutdown runs in reverse order: the FastAGI and ARI surveys drain first, then the AMI
collector stores what it finished, then the spool flushes, then the pool closes. The ARI listener and the dialer
run only while this instance is the active one for its ARI app (db.leadership). The metrics (metrics/) live on
a registry of the app's own: the store's listener counts the surveys, a collector reads the adapters when
scraped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

from aiohttp import web

from .agi.server import AgiServer
from .ami.collector import AmiCollector
from .ami.tracker import CallTracker
from .api.auth import Tokens, auth_middleware
from .api.errors import error_middleware
from .api.routes import ROUTES, SPEC
from .api.spec import SPEC_KEY, add_routes
from .ari.client import AriClient
from .ari.listening import Listening
from .ari.placer import AriPlacer
from .ari.stasis import StasisApp
from .config import Settings
from .db.catalog import SurveyCatalog
from .db.engine import create_engine, create_sessionmaker
from .db.leadership import Leadership
from .db.sqlite_file import SqliteFile
from .db.store import SurveyStore, WriteListener
from .dialer.runner import Dialer
from .keys import (
    AGI,
    AMI,
    DIALER,
    ENGINE,
    LEADERSHIP,
    LISTENING,
    LIVE,
    METRICS,
    OUTBOX,
    OUTBOX_LISTENER,
    POLICIES,
    SESSIONS,
    SETTINGS,
    SQLITE_FILE,
    STASIS,
    STORE,
)
from .metrics.http import metrics_middleware
from .metrics.live import LiveCollector
from .metrics.outbox import count_dropped, outbox_refresher
from .metrics.registry import Metrics
from .metrics.store import SurveyCounters
from .notify.setup import outbox_sender
from .service.live import LiveCall, LiveSource, with_surveys
from .service.naming import OperatorNames
from .service.policies import PolicyCatalog
from .service.survey_run import SurveySetup
from .survey.timing import Timing
from .web.routes import add_pages, is_page, session_token


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    url = app[SETTINGS].database_url
    engine = create_engine(url)
    app[ENGINE] = engine
    app[SESSIONS] = create_sessionmaker(engine)
    sqlite_file = SqliteFile.of(url)
    if sqlite_file is not None:
        sqlite_file.watch(engine.sync_engine)
        app[SQLITE_FILE] = sqlite_file
    yield
    await engine.dispose()
    if sqlite_file is not None:
        sqlite_file.close()


async def outbox_ctx(app: web.Application) -> AsyncIterator[None]:
    """Before the store: the store's listener writes the events; after it on the way down, so that what the
    spool flushes at shutdown is told too (or left in the outbox for the next start)."""
    metrics = app[METRICS]
    found = outbox_sender(app[SETTINGS], app[SESSIONS], on_dropped=count_dropped(metrics))
    if found is None:
        yield
        return
    sender, listener = found
    metrics.refreshers.append(outbox_refresher(metrics, app[SESSIONS], [t.name for t in sender.targets]))
    app[OUTBOX] = sender
    app[OUTBOX_LISTENER] = listener
    await sender.start()
    yield
    await sender.close()


async def store_ctx(app: web.Application) -> AsyncIterator[None]:
    listeners: list[WriteListener] = [SurveyCounters(app[METRICS])]
    if OUTBOX_LISTENER in app:
        listeners.append(app[OUTBOX_LISTENER])
    store = SurveyStore(app[SESSIONS], app[SETTINGS].spool_dir, listeners=listeners, sqlite_file=app.get(SQLITE_FILE))
    await store.start()
    app[STORE] = store
    app[POLICIES] = PolicyCatalog(app[SESSIONS])
    yield
    await store.close()


def survey_timing(settings: Settings) -> Timing:
    return Timing(
        no_input_timeout=settings.no_input_timeout,
        inter_digit_timeout=settings.inter_digit_timeout,
        max_retries=settings.max_retries,
    )


def survey_setup(app: web.Application) -> SurveySetup:
    """The survey's setup from the settings: the same for Stasis and FastAGI."""
    settings = app[SETTINGS]
    return SurveySetup(
        app[STORE],
        SurveyCatalog(app[SESSIONS], default_survey=settings.default_survey),
        survey_timing(settings),
        default_language=settings.default_language,
        names=OperatorNames.from_settings(settings),
        policies=app[POLICIES],
    )


async def ari_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert settings.ari_password is not None
    client = AriClient(settings.ari_url, settings.ari_user, settings.ari_password.get_secret_value(), settings.ari_app)
    await client.start()
    stasis = StasisApp(client, survey_setup(app))
    stasis.on_latency = app[METRICS].observe_latency("ari")
    listening = Listening(client, app[SESSIONS], ready=lambda: stasis.connected)
    stasis.listening = listening
    # The campaigns' dialer places its calls into this same app, so that their events reach this instance.
    dialer = Dialer(app[SESSIONS], AriPlacer(client, stasis), instance=settings.ari_app)
    stasis.outbound = dialer

    async def become_active() -> None:
        await stasis.start()
        await dialer.start()

    async def step_down() -> None:
        # The websocket goes first: the standby that wins the lock next must be the only one connected.
        await stasis.detach()
        await dialer.stop_placing()

    # Only the instance holding the lock opens the events websocket and dials; a standby waits for the lock.
    leadership = Leadership(settings.database_url, settings.ari_app, on_active=become_active, on_standby=step_down)
    app[STASIS] = stasis
    app[LISTENING] = listening
    app[DIALER] = dialer
    app[LEADERSHIP] = leadership
    leadership.start()
    yield
    await leadership.stop_watching()
    if leadership.role == "active":
        # Ringing calls are hung up first; answered ones finish their surveys, and are settled, before ARI closes.
        await dialer.stop_placing()
        await listening.close()
        await stasis.stop(grace=settings.shutdown_grace)
    await dialer.close()
    await client.close()
    await leadership.release()  # only now may a standby take over


async def ami_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert settings.ami_host is not None
    collector = AmiCollector(
        app[SESSIONS],
        CallTracker(OperatorNames.from_settings(settings), ZoneInfo(settings.pbx_timezone)),
        host=settings.ami_host,
        port=settings.ami_port,
        user=settings.ami_user,
        secret=settings.ami_secret.get_secret_value() if settings.ami_secret else "",
        survey=survey_setup(app),
    )
    app[AMI] = collector
    app[LIVE] = live_calls(app, collector)
    await collector.start()
    yield
    await collector.stop()


def live_calls(app: web.Application, collector: AmiCollector) -> LiveSource:
    """The calls the history follows now, those whose caller the survey has marked so."""

    def read() -> list[LiveCall]:
        stasis = app.get(STASIS)
        return with_surveys(collector.tracker.live(), stasis.surveying() if stasis is not None else set())

    return read


async def agi_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert settings.agi_port is not None
    server = AgiServer(survey_setup(app), host=settings.agi_host, port=settings.agi_port)
    server.on_latency = app[METRICS].observe_latency("agi")
    await server.start()
    app[AGI] = server
    yield
    await server.stop(grace=settings.shutdown_grace)


def create_app(settings: Settings) -> web.Application:
    token = settings.api_token.get_secret_value() if settings.api_token else None
    tokens = Tokens(token)
    auth = auth_middleware(
        tokens=tokens,
        allow_anonymous=token is None and settings.http_is_loopback,
        is_page=is_page,
        session_token=session_token,
        metrics_token=settings.metrics_token.get_secret_value() if settings.metrics_token else None,
    )
    metrics = Metrics()
    app = web.Application(middlewares=[metrics_middleware(metrics), error_middleware, auth])
    app[SETTINGS] = settings
    app[METRICS] = metrics
    metrics.registry.register(LiveCollector(app))
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(outbox_ctx)
    app.cleanup_ctx.append(store_ctx)
    if settings.ami_enabled:
        app.cleanup_ctx.append(ami_ctx)
    if settings.ari_enabled:
        app.cleanup_ctx.append(ari_ctx)
    if settings.agi_port is not None:
        app.cleanup_ctx.append(agi_ctx)
    add_routes(app, ROUTES)
    add_pages(app, tokens)
    app[SPEC_KEY] = SPEC
    return app
