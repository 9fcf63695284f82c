"""Failover benchmark: how long callers wait in silence when the active instance dies (run by hand, not in CI).

    .venv/bin/python bench/failover.py --database-url postgresql://user@host/db [--rounds 5] [--callers 20]

Each round starts two instances (`ivr-survey serve`, child processes) on the simulated PBX and the given
PostgreSQL, puts the callers mid-survey, SIGKILLs the active one and measures, per caller, the time from the kill
to the first prompt the new active instance plays them (the failover a caller hears). It checks what the drill in
tests/integration/test_failover.py checks: every answer stored once, no caller left in the app.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

from ivr_survey.config import normalise_database_url
from ivr_survey.simulator.ari import FakeAsterisk
from ivr_survey.simulator.failover import APP, PASSWORD, USER, drill, prepare


async def main(database_url: str, rounds: int, callers: int) -> int:
    await prepare(database_url)
    firsts, lasts, problems = [], [], []
    for n in range(rounds):
        with tempfile.TemporaryDirectory(prefix="ivr-failover-") as workdir:
            async with FakeAsterisk(user=USER, password=PASSWORD, app=APP) as fake:
                seen = await drill(fake, database_url, Path(workdir), callers=callers, tag=f"bench-{n}")
        replays = seen.replays
        incomplete = sorted(k for k, (status, _) in seen.stored.items() if status != "completed")
        if len(replays) != callers or seen.stranded or incomplete or seen.most_sockets != 1:
            problems.append(
                f"round {n + 1}: {len(replays)} replayed, stranded {seen.stranded}, not completed "
                f"{incomplete}, {seen.most_sockets} websockets at once"
            )
        firsts.append(replays[0])
        lasts.append(replays[-1])
        print(
            f"round {n + 1}: kill -> first replayed prompt {replays[0]:.2f} s, median "
            f"{statistics.median(replays):.2f} s, last of {callers} {replays[-1]:.2f} s",
            flush=True,
        )
    print(
        f"over {rounds} rounds: first replay median {statistics.median(firsts):.2f} s; last caller's replay median "
        f"{statistics.median(lasts):.2f} s, worst {max(lasts):.2f} s"
    )
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL (standbys need its advisory lock)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--callers", type=int, default=20)
    args = parser.parse_args()
    url = normalise_database_url(args.database_url)
    if not url.startswith("postgresql"):
        sys.exit("bench/failover.py: --database-url must be PostgreSQL")
    sys.exit(asyncio.run(main(url, args.rounds, args.callers)))
