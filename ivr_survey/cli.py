"""ivr-survey serve | migrate | demo | token | survey | import-cdr | operators"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from .config import ConfigError, Settings, check_demo, check_serving, load_settings, with_demo_defaults
from .db.migrate import upgrade

log = logging.getLogger("ivr_survey")
FORCED_EXIT = 130  # 128 + SIGINT, as a shell reports a process Ctrl-C stopped


class Fatal(Exception):
    """A one-line reason to stop with exit code 2."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0]}" if text else exc.__class__.__name__


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # aiosqlite's DEBUG lines carry every statement's parameters (token hashes, callers' numbers), past
    # SQLAlchemy's hide_parameters; SQLAlchemy keeps its own loggers at WARNING, asyncpg logs no SQL
    logging.getLogger("aiosqlite").setLevel(logging.INFO)


async def migrate_database(settings: Settings) -> None:
    try:
        await upgrade(settings.database_url)
    except Exception as exc:  # unreachable server, bad credentials, unwritable file: one line, not a traceback
        raise Fatal(f"database migration failed: {_one_line(exc)}") from None


async def run_app(
    app: web.Application, settings: Settings, until: Callable[[], Coroutine[Any, Any, None]] | None = None
) -> None:
    """Serve until SIGTERM/SIGINT (or until the `until` coroutine, started once serving, returns)."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    try:
        await runner.setup()  # starts the listeners of the cleanup contexts (FastAGI...)
    except OSError as exc:
        await runner.cleanup()
        raise Fatal(exc.strerror or _one_line(exc)) from None
    try:
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        try:
            await site.start()
        except OSError as exc:
            raise Fatal(f"cannot listen on {settings.http_host}:{settings.http_port}: {exc.strerror}") from None
        log.info("API listening on http://%s:%d", settings.http_host, settings.http_port)
        # What start-up made lives as long as the process: kept out of the collector's full passes, which would
        # otherwise walk all of it each time a large request (a year by hour) allocates enough to start one.
        gc.freeze()
        stop = asyncio.Event()

        def on_signal() -> None:
            if stop.is_set():  # a second one: whoever sent it will not wait for the surveys in progress
                log.warning("second signal: stopping at once, surveys in progress are cut off")
                logging.shutdown()
                # as after a crash, which the fsynced spool and the database survive; no teardown to wait on
                os._exit(FORCED_EXIT)
            stop.set()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        waiters: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
        if until is not None:
            waiters.append(asyncio.create_task(until()))
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in waiters:
            task.cancel()
        log.info(
            "shutting down; surveys in progress have up to %g s to finish (a second Ctrl-C stops at once)",
            settings.shutdown_grace,
        )
    finally:
        await runner.cleanup()


async def serve(settings: Settings, *, migrate: bool) -> None:
    from .app import create_app

    check_serving(settings)
    if migrate:
        await migrate_database(settings)
    if not settings.ari_enabled:
        log.info("ARI app disabled: IVR_SURVEY_ARI_PASSWORD is not set")
    await run_app(create_app(settings), settings)


@asynccontextmanager
async def database_session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A migrated database and one transaction, for the admin commands; a database failure is one line."""
    from .db.engine import create_engine, create_sessionmaker

    await migrate_database(settings)
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            yield session
    except Fatal:
        raise
    except Exception as exc:
        raise Fatal(f"database error: {_one_line(exc)}") from None
    finally:
        await engine.dispose()


async def survey_command(settings: Settings, args: argparse.Namespace) -> None:
    import json
    from pathlib import Path

    from .db.repository import add_survey_version, list_surveys
    from .survey.definition import SurveyDefinition, SurveyDefinitionError

    definition = None
    if args.survey_command == "add":
        try:
            data = json.loads(await asyncio.to_thread(Path(args.file).read_text, encoding="utf-8"))
            if args.name:
                data["name"] = args.name
            # The store numbers versions; validate the rest as it will be stored.
            definition = SurveyDefinition.from_dict({**data, "version": 1}).to_dict()
        except (OSError, ValueError) as exc:  # SurveyDefinitionError and JSON errors are ValueErrors
            message = str(exc) if isinstance(exc, SurveyDefinitionError) else _one_line(exc)
            raise Fatal(f"{args.file}: {message}") from None
    async with database_session(settings) as session:
        if definition is not None:
            version, created = await add_survey_version(session, name=definition["name"], definition=definition)
            state = "stored" if created else "unchanged, already stored"
            print(f"survey {definition['name']!r} version {version} {state}")
        else:
            for name, version, stored in await list_surveys(session):
                keys = ", ".join(q["key"] for q in stored["questions"])
                print(f"{name}\tv{version}\t{keys}")


DEMO_SUPERVISOR = "demo-supervisor"


async def demo_supervisor_token(settings: Settings) -> str:
    """A fresh supervisor token for the demo's workstation (the previous run's is revoked): signed in with it, the
    browser may score calls and play recordings, which anonymous visitors on loopback may not."""
    from .db.tokens import create_token, revoke_token

    async with database_session(settings) as session:
        await revoke_token(session, name=DEMO_SUPERVISOR)
        return await create_token(session, name=DEMO_SUPERVISOR, role="supervisor")


async def demo(settings: Settings, *, calls: int | None, per_second: float, speed: float, seed: int | None) -> None:
    """The service on its own database with the simulated PBX in place of an Asterisk."""
    import random
    import secrets

    from pydantic import SecretStr
    from sqlalchemy.engine import make_url

    from .app import create_app
    from .db.models import utcnow
    from .db.operators import upsert_operators
    from .keys import AMI
    from .simulator.ari import FakeAsterisk
    from .simulator.callers import ROSTER, SimulatedCallers
    from .simulator.campaign import demo_campaign
    from .simulator.customers import SimulatedCustomers
    from .simulator.fake_ami import FakeAmiServer

    settings = with_demo_defaults(settings)
    check_serving(settings)
    check_demo(settings)
    log.info(
        "demo database %s, spool %s, recordings %s",
        make_url(settings.database_url).render_as_string(hide_password=True),
        settings.spool_dir,
        settings.recordings_dir,
    )
    password, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    async with (
        FakeAsterisk(user=settings.ari_user, password=password, app=settings.ari_app, speed=speed) as fake,
        FakeAmiServer(user=settings.ami_user, secret=secret) as ami,
    ):
        demo_settings = settings.model_copy(
            update={
                "ari_url": fake.base_url,
                "ari_password": SecretStr(password),
                "ami_host": "127.0.0.1",
                "ami_port": ami.port,
                "ami_secret": SecretStr(secret),
            }
        )
        # migrated, the simulated operators named, and the campaign their customers are called in
        async with database_session(demo_settings) as session:
            await upsert_operators(session, ROSTER)
            campaign = await demo_campaign(
                session, rng=random.Random(seed), timezone=settings.pbx_timezone, at=utcnow()
            )
        token = await demo_supervisor_token(demo_settings)
        app = create_app(demo_settings)
        callers = SimulatedCallers(fake, rng=random.Random(seed), ami=ami, recordings=settings.recordings_dir)
        customers = SimulatedCustomers(fake, rng=random.Random(seed), opt_out_key=campaign.row.opt_out_key)
        customers.expect(campaign.row.endpoint, campaign.phones)
        site = f"http://{settings.http_host}:{settings.http_port}"

        async def simulate() -> None:
            await fake.wait_for_app(timeout=30)
            log.info("simulated PBX at %s is calling in; open %s/ (the API: /ratings, /calls)", fake.base_url, site)
            log.info("%s", campaign.banner(site))
            # printed, never logged: to score calls, sign in at /ui/sign-in with it
            print(f"supervisor token for the workstation's sign-in (scoring, recordings): {token}", flush=True)
            await callers.run(calls=calls, per_second=per_second)
            for outcome in callers.outcomes:  # their channels gone; the campaign's calls go on meanwhile
                if outcome.channel_id:
                    await fake.wait_channel_gone(outcome.channel_id)
            # the last hang-ups are still on their way to the call history
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(app[AMI].settle(), 10)
            log.info(
                "simulated calls done: %s; campaign calls so far: %s",
                dict(callers.summary()),
                dict(customers.summary()),
            )

        async with customers:
            await run_app(app, demo_settings, until=simulate)


async def token_command(settings: Settings, args: argparse.Namespace) -> None:
    from .db.operators import MAX_CODE, label_problem
    from .db.tokens import create_token, list_tokens, revoke_token

    async with database_session(settings) as session:
        if args.token_command == "create":
            # a revoked token's name may be given again; its row stays, for the audit
            if any(t.name == args.name and t.revoked_at is None for t in await list_tokens(session)):
                raise Fatal(f"a live token named {args.name!r} exists; revoke it or choose another name")
            if (args.role == "operator") != (args.operator is not None):
                raise Fatal("--operator goes with --role operator, and an operator token needs it (e.g. 7001)")
            if args.operator is not None and (problem := label_problem(args.operator, MAX_CODE)) is not None:
                raise Fatal(f"--operator: {problem}")
            # Printed once, never stored or logged in clear.
            print(await create_token(session, name=args.name, role=args.role, operator=args.operator))
        elif args.token_command == "revoke":
            if not await revoke_token(session, name=args.name):
                raise Fatal(f"no live token named {args.name!r}")
            print(f"token {args.name!r} revoked")
        else:
            for token in await list_tokens(session):
                state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "live"
                role = f"{token.role}:{token.operator}" if token.operator else token.role
                print(f"{token.name}\t{role}\t{token.created_at:%Y-%m-%d}\t{state}")


async def import_cdr(settings: Settings, path: str) -> None:
    """Backfill the call history from Master.csv; calls the AMI collector already wrote are left alone, and
    calls an earlier import wrote are not written again, so importing the same file again changes nothing."""
    from zoneinfo import ZoneInfo

    from .ami.master_csv import Parsed, parse
    from .db.history import history_sources, save_call
    from .service.naming import OperatorNames

    def read() -> Parsed:
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            return parse(handle, OperatorNames.from_settings(settings), ZoneInfo(settings.pbx_timezone))

    try:
        parsed = await asyncio.to_thread(read)
    except OSError as exc:
        raise Fatal(f"{path}: {_one_line(exc)}") from None
    async with database_session(settings) as session:
        known = await history_sources(session, linkedids=[c["linkedid"] for c in parsed.calls])
        new = [call for call in parsed.calls if call["linkedid"] not in known]
        for call in new:
            await save_call(session, **call)
    imported_before = sum(source == "cdr_import" for source in known.values())
    for line, why in parsed.rejected[:20]:
        print(f"{path}:{line}: skipped: {why}", file=sys.stderr)
    print(
        f"{len(new)} calls imported from {path}; {imported_before} imported before, unchanged; "
        f"{len(known) - imported_before} already collected from AMI left as they were; "
        f"{len(parsed.rejected)} lines skipped"
    )


async def operators_command(settings: Settings, args: argparse.Namespace) -> None:
    from pathlib import Path

    from .db.operators import list_operators, upsert_operators
    from .service.roster import RosterError, decode, parse

    if args.operators_command == "import":
        try:  # the whole file is read and checked before anything is stored
            rows = parse(decode(await asyncio.to_thread(Path(args.file).read_bytes)))
        except OSError as exc:
            raise Fatal(f"{args.file}: cannot read it: {exc.strerror or _one_line(exc)}") from None
        except RosterError as exc:
            raise Fatal(exc.where(args.file)) from None
        async with database_session(settings) as session:  # one transaction: all of the file or nothing
            counts = await upsert_operators(session, rows)
        print(f"{counts.created} created, {counts.updated} updated")
    else:
        async with database_session(settings) as session:
            for row in await list_operators(session, team=args.team):
                print("\t".join(value or "" for value in (row.code, row.name, row.team)))


async def policy_command(settings: Settings, args: argparse.Namespace) -> None:
    """`policy set` changes the options given and keeps the others as the queue's newest version has them (PUT
    /survey-policies/{queue} takes the whole policy)."""
    from .db.policies import latest_policy, list_policies, save_policy
    from .service.policy import SurveyPolicy

    async with database_session(settings) as session:
        if args.policy_command == "list":
            for row in await list_policies(session):
                print(f"{row.queue}\tv{row.version}\t{json.dumps(row.definition, ensure_ascii=False)}")
            return
        newest = await latest_policy(session, queue=args.queue)
        given = {
            "survey": args.survey,
            "share": args.share,
            "cooldown_days": args.cooldown_days,
            "consent": args.consent,
            "consent_default": args.consent_default,
            "languages": [code.strip() for code in args.languages.split(",") if code.strip()]
            if args.languages is not None
            else None,
            "not_offered": args.not_offered,
        }
        data = {**(newest.definition if newest else {}), **{k: v for k, v in given.items() if v is not None}}
        try:
            policy = SurveyPolicy.from_dict(data)
        except ValueError as exc:
            raise Fatal(str(exc)) from None
        row, created = await save_policy(session, queue=args.queue, definition=policy.to_dict())
    print(f"{row.queue}: version {row.version}" + ("" if created else " (unchanged)"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivr-survey", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the HTTP API and the ARI survey app")
    p_serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start")
    sub.add_parser("migrate", help="apply database migrations")
    p_demo = sub.add_parser("demo", help="run the service against the built-in simulated PBX")
    p_demo.add_argument("--calls", type=int, default=None, help="stop after this many inbound calls (default: run on)")
    p_demo.add_argument("--per-second", type=float, default=0.5, help="new calls per second (default 0.5)")
    p_demo.add_argument("--speed", type=float, default=1.0, help="simulated time runs this many times faster")
    p_demo.add_argument("--seed", type=int, default=None, help="seed for the simulated callers' and customers' choices")
    p_token = sub.add_parser("token", help="API tokens: create (printed once), list, revoke")
    token_sub = p_token.add_subparsers(dest="token_command", required=True)
    p_create = token_sub.add_parser("create", help="create a token and print it once")
    p_create.add_argument("--role", required=True, choices=["operator", "analyst", "supervisor", "admin"])
    p_create.add_argument("--name", required=True, help="who or what uses it, e.g. anna or grafana")
    p_create.add_argument("--operator", help="with --role operator: the operator (e.g. 7001) whose results it reads")
    token_sub.add_parser("list", help="names, roles and state (never the tokens)")
    p_revoke = token_sub.add_parser("revoke", help="revoke the token with this name")
    p_revoke.add_argument("name")
    p_import = sub.add_parser("import-cdr", help="backfill the call history from Asterisk's Master.csv")
    p_import.add_argument("file", help="cdr_csv's Master.csv (any number of columns it can write)")
    p_operators = sub.add_parser("operators", help="operators' names and teams: import a CSV file, list")
    operators_sub = p_operators.add_subparsers(dest="operators_command", required=True)
    p_roster = operators_sub.add_parser(
        "import", help="create or update operators from FILE.csv (header id,name,team; comma or semicolon)"
    )
    p_roster.add_argument("file")
    p_list = operators_sub.add_parser("list", help="id, name and team of every operator, tab-separated")
    p_list.add_argument("--team", help="this team's operators only")
    p_survey = sub.add_parser("survey", help="list survey definitions or add a new version")
    survey_sub = p_survey.add_subparsers(dest="survey_command", required=True)
    survey_sub.add_parser("list", help="every survey with its newest version")
    p_add = survey_sub.add_parser("add", help="store FILE (JSON) as the next version of its survey")
    p_add.add_argument("file")
    p_add.add_argument("--name", help="survey name (overrides the file's)")
    p_policy = sub.add_parser("policy", help="survey policies per queue (who is offered the survey): set, list")
    policy_sub = p_policy.add_subparsers(dest="policy_command", required=True)
    policy_sub.add_parser("list", help="every queue's newest policy")
    p_set = policy_sub.add_parser("set", help="a new version of QUEUE's policy (_default: calls with no queue)")
    p_set.add_argument("queue")
    p_set.add_argument("--survey", help="the survey to ask")
    p_set.add_argument("--share", type=float, help="the part of the calls offered the survey, 0-1")
    p_set.add_argument("--cooldown-days", type=int, help="days before a caller number is offered another survey")
    p_set.add_argument("--consent", choices=("none", "ask"))
    p_set.add_argument("--consent-default", choices=("yes", "no"), help="what silence at the consent prompt means")
    p_set.add_argument("--languages", help="comma-separated, e.g. ru,en")
    p_set.add_argument("--not-offered", choices=("continue", "hangup"), help="a caller not surveyed goes on, or not")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        _setup_logging(settings.log_level)
        if args.command == "migrate":
            asyncio.run(migrate_database(settings))
            print("database is up to date")
        elif args.command == "token":
            asyncio.run(token_command(settings, args))
        elif args.command == "import-cdr":
            asyncio.run(import_cdr(settings, args.file))
        elif args.command == "survey":
            asyncio.run(survey_command(settings, args))
        elif args.command == "operators":
            asyncio.run(operators_command(settings, args))
        elif args.command == "policy":
            asyncio.run(policy_command(settings, args))
        elif args.command == "demo":
            asyncio.run(demo(settings, calls=args.calls, per_second=args.per_second, speed=args.speed, seed=args.seed))
        elif args.command == "serve":
            asyncio.run(serve(settings, migrate=not args.no_migrate))
    except (ConfigError, Fatal) as exc:
        print(f"ivr-survey: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C before serving began
        return FORCED_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
