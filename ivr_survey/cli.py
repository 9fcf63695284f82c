"""ivr-survey serve | migrate | demo"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web

from .config import ConfigError, Settings, load_settings
from .db.migrate import upgrade

log = logging.getLogger("ivr_survey")


class Fatal(Exception):
    """A one-line reason to stop with exit code 2."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0]}" if text else exc.__class__.__name__


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


async def migrate_database(settings: Settings) -> None:
    try:
        await upgrade(settings.database_url)
    except Exception as exc:  # unreachable server, bad credentials, unwritable file: one line, not a traceback
        raise Fatal(f"database migration failed: {_one_line(exc)}") from None


async def run_app(app: web.Application, settings: Settings, until: Callable[[], Awaitable[None]] | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or until `until` returns), then shut down in order."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        try:
            await site.start()
        except OSError as exc:
            raise Fatal(f"cannot listen on {settings.http_host}:{settings.http_port}: {exc.strerror}") from None
        log.info("API listening on http://%s:%d", settings.http_host, settings.http_port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        waiters = [asyncio.create_task(stop.wait())]
        if until is not None:
            waiters.append(asyncio.create_task(until()))
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in waiters:
            task.cancel()
        log.info("shutting down")
    finally:
        await runner.cleanup()


async def serve(settings: Settings, *, migrate: bool) -> None:
    from .app import create_app

    if settings.api_token is None and not settings.http_is_loopback:
        raise Fatal(
            f"refusing to serve the API on {settings.http_host} without IVR_SURVEY_API_TOKEN; "
            "set a token or bind to 127.0.0.1"
        )
    if migrate:
        await migrate_database(settings)
    if not settings.ari_enabled:
        log.info("ARI app disabled: IVR_SURVEY_ARI_PASSWORD is not set")
    await run_app(create_app(settings), settings)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivr-survey", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the HTTP API and the ARI survey app")
    p_serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start")
    sub.add_parser("migrate", help="apply database migrations")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        _setup_logging(settings.log_level)
        if args.command == "migrate":
            asyncio.run(migrate_database(settings))
            print("database is up to date")
        elif args.command == "serve":
            asyncio.run(serve(settings, migrate=not args.no_migrate))
    except (ConfigError, Fatal) as exc:
        print(f"ivr-survey: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
