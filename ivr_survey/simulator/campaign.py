"""The demo's outbound campaign: thirty customers of the simulated operators, asked the three-question survey
over the fake Asterisk (where `SimulatedCustomers` answer).

The demo database is kept between runs, and so is its campaign: a run goes on with the newest campaign named
DEMO_CAMPAIGN as it is (a running one is dialled on, retries included; a paused or draft one is left for its
owner to resume or start) and makes a new one only when there is none or it has finished or been cancelled.
So campaigns pile up no faster than they are finished."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.campaigns import CampaignRow, NewCampaign, NewContact, add_contacts, campaign_results, list_campaigns
from ..db.repository import add_survey_version
from ..service.campaigns import create_campaign, steer
from ..survey.definition import EXAMPLE_CSAT_SOLVED_NPS
from .callers import OPERATORS

DEMO_CAMPAIGN = "Demo: customer satisfaction"
DEMO_SURVEY = EXAMPLE_CSAT_SOLVED_NPS
CONTACTS = 30
_ENDED = ("finished", "cancelled")

# Mobile codes of the Russian operators (+7 9xx); the rest of each number is random, so fake.
_MOBILE_CODES = ("903", "905", "909", "915", "916", "917", "925", "926", "929", "977", "985", "999")
_MEN = ("Алексей", "Дмитрий", "Сергей", "Андрей", "Михаил", "Николай", "Павел", "Артём", "Игорь", "Виктор")
_WOMEN = ("Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана", "Екатерина", "Юлия", "Анастасия", "Марина")
# Men's forms; the women's add an -а (Волков, Волкова).
_SURNAMES = (
    "Волков", "Соколов", "Попов", "Лебедев", "Козлов", "Новиков", "Морозов", "Павлов", "Семёнов", "Голубев",
    "Виноградов", "Богданов", "Воробьёв", "Фёдоров", "Михайлов", "Беляев", "Тарасов", "Белов", "Комаров", "Орлов",
)  # fmt: skip


def demo_contacts(rng: random.Random, count: int = CONTACTS) -> list[NewContact]:
    """`count` customers with distinct E.164 numbers, named, each the customer of one simulated operator."""
    phones: dict[str, None] = {}
    while len(phones) < count:
        phones[f"+7{rng.choice(_MOBILE_CODES)}{rng.randrange(10**7):07d}"] = None
    contacts = []
    for line, phone in enumerate(phones, start=2):  # as if read from a CSV file under its header
        woman = rng.random() < 0.5
        first = rng.choice(_WOMEN if woman else _MEN)
        surname = rng.choice(_SURNAMES) + ("а" if woman else "")
        contacts.append(NewContact(phone=phone, line=line, name=f"{first} {surname}", operator=rng.choice(OPERATORS)))
    return contacts


def demo_spec(timezone: str) -> NewCampaign:
    return NewCampaign(
        name=DEMO_CAMPAIGN,
        survey=DEMO_SURVEY.name,
        endpoint="Local/{number}@customers",
        caller_id="Company <74950000000>",
        concurrency=3,
        calls_per_minute=None,
        ring_timeout=25,
        max_attempts=3,
        retry_delay=60,  # seconds on the dialer's clock, which is real time whatever the demo's --speed
        # `make run` must show calls whenever it is started: every day, all day on the PBX's clock. A real
        # campaign keeps to the hours its customers are awake.
        calling_hours={"from": "00:00", "to": "23:59", "timezone": timezone, "weekdays": [1, 2, 3, 4, 5, 6, 7]},
        opt_out_key="*",  # not 9, which begins the NPS question's 9 and 10
    )


@dataclass(frozen=True, slots=True)
class DemoCampaign:
    row: CampaignRow
    phones: tuple[str, ...]  # every contact's, the ones already done included
    created: bool  # made by this run

    def banner(self, site: str) -> str:
        """What the demo says of its campaign, and where to watch it."""
        row = self.row
        if self.created:
            state = "started"
        elif row.state == "running":
            state = "dialling on where the last run left off"
        elif row.state == "paused":
            state = f"paused ({row.state_reason or 'by hand'}); resume it with POST /campaigns/{row.id}/resume"
        else:
            state = f"a draft; start it with POST /campaigns/{row.id}/start"
        return (
            f"campaign {row.id} {row.name!r} {state}: survey {row.survey}, {len(self.phones)} customers, "
            f"{row.concurrency} calls at once; its progress at {site}/campaigns/{row.id}, "
            f"the Campaigns page at {site}/ui/campaigns"
        )


async def demo_campaign(session: AsyncSession, *, rng: random.Random, timezone: str, at: datetime) -> DemoCampaign:
    """The campaign this demo run shows, made and started if need be (see the module's docstring); its survey
    is stored first, unless stored already."""
    await add_survey_version(session, name=DEMO_SURVEY.name, definition=DEMO_SURVEY.to_dict())
    latest = next((c for c in await list_campaigns(session) if c.name == DEMO_CAMPAIGN), None)
    if latest is not None and latest.state not in _ENDED:
        row, created = latest, False
    else:
        row = await create_campaign(session, demo_spec(timezone), created_by="demo", at=at)  # checked as the API's
        await add_contacts(session, row.id, demo_contacts(rng), at=at)
        row, created = await steer(session, row.id, "start", at=at), True
    phones = tuple(result.phone for result in await campaign_results(session, row.id))
    return DemoCampaign(row, phones, created)
