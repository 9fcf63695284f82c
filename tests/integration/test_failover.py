"""Issue 15, done when: two instances on one PostgreSQL, 20 callers mid-survey, SIGKILL of the active one. The
standby takes over and adopts every caller; what each presses afterwards is stored once, and nobody is left in the
app. The instances are real processes (`ivr-survey serve`), so the kill is the kernel's, not a clean stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr_survey.simulator.ari import FakeAsterisk
from ivr_survey.simulator.failover import APP, PASSWORD, USER, drill, prepare

CALLERS = 20
# The failover bound this drill holds to (bench/failover.py measures the real figures): the standby polls the
# lock every 0.5 s and waits 1.5 s for a live holder to let go; the rest is starting the websocket and adopting.
REPLAY_BOUND = 10.0


async def test_kill_9_of_the_active_instance_loses_no_answer_and_strands_no_caller(
    database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("standbys need PostgreSQL's advisory lock; on SQLite one instance runs")
    await prepare(database_url)
    async with FakeAsterisk(user=USER, password=PASSWORD, app=APP) as fake:
        seen = await drill(fake, database_url, tmp_path, callers=CALLERS)

    assert [c.answered_before for c in seen.callers] == [n % 3 for n in range(CALLERS)]
    # Every caller heard the next unanswered question again from the new active instance.
    assert len(seen.replays) == CALLERS
    assert seen.replays[-1] < REPLAY_BOUND
    assert seen.stranded == []
    assert (seen.most_sockets, seen.new_active_takeovers) == (1, 1)
    # Each answer once, at its first attempt: the ones pressed before the kill, and the ones pressed after it.
    answers = [("rating", "4", 1), ("solved", "1", 1), ("nps", "9", 1)]
    assert seen.stored == {c.linkedid: ("completed", answers) for c in seen.callers}
    assert seen.responses == {c.linkedid: 1 for c in seen.callers}
