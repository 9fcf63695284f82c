"""What the Campaigns pages show, read through the service functions the campaigns API calls (the same progress,
response rate, results and summaries): typed view models for the templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import campaigns as db
from ..db.campaigns import PROGRESS_KEYS, TRANSITIONS, CampaignRow, ResultRow
from ..db.catalog import stored_survey
from ..db.operators import list_operators
from ..db.repository import list_surveys
from ..db.summary import SummaryGroup, UnknownQuestion, ratings_summary, summary_scope
from ..service import campaigns as service
from . import charts
from .i18n import Translator
from .views import distribution_chart

RESULTS_PAGE = 50
REJECTED_SHOWN = 50
# The final outcomes and the line as the bar draws them, left to right: answers, then the rest
BAR_PARTS = ("completed", "partial", "no_input", "opted_out", "no_answer", "busy", "failed", "dnc", "in_progress")


@dataclass(frozen=True, slots=True)
class Progress:
    counts: dict[str, int]  # every key of the API's progress
    done: int  # contacts with a final outcome
    bar: Markup
    response_rate: float | None
    state: str


def progress(view: service.CampaignView, tr: Translator) -> Progress:
    counts = view.progress
    done = counts["total"] - counts["pending"] - counts["in_progress"]
    parts = [charts.Part(tr.t(f"progress.{key}"), counts[key], f"o-{key}") for key in BAR_PARTS]
    label = tr.t("progress.done", done=tr.num(done, 0), total=tr.num(counts["total"], 0))
    bar = charts.progress_bar(parts, counts["total"], label=label, fmt=lambda v: tr.num(v, 0))
    return Progress(counts, done, bar, view.response_rate, view.campaign.state)


@dataclass(frozen=True, slots=True)
class CampaignLine:
    campaign: CampaignRow
    progress: Progress


async def campaign_lines(session: AsyncSession, tr: Translator) -> list[CampaignLine]:
    """Every campaign, newest first, as GET /campaigns lists them."""
    lines = []
    for row in await db.list_campaigns(session):
        lines.append(CampaignLine(row, progress(await service.campaign_view(session, row), tr)))
    return lines


async def survey_names(session: AsyncSession) -> list[str]:
    return [name for name, _, _ in await list_surveys(session)]


def commands(state: str) -> list[str]:
    """The commands a campaign in this state takes, in the order the buttons show them."""
    return [command for command, (sources, _) in TRANSITIONS.items() if state in sources]


@dataclass(frozen=True, slots=True)
class QuestionSummary:
    key: str
    text: str  # the wording in the viewer's language (the newest version's), else the key
    kind: str | None  # nps, yes_no or scale
    group: SummaryGroup
    chart: Markup


async def question_summaries(
    session: AsyncSession, campaign: CampaignRow, tr: Translator, *, now: datetime
) -> list[QuestionSummary]:
    """Each question's summary as GET /campaigns/{id}?question=<key> gives it, in the survey's order; a question
    that versions ask as different kinds (no one summary) is left out."""
    filters = service.summary_filter(campaign, date_from=None, date_to=now)
    definition = await stored_survey(session, campaign.survey)
    texts = {q.key: q.text for q in definition.questions} if definition is not None else {}
    summaries = []
    for key in await db.survey_questions(session, campaign.survey):
        try:
            scope = await summary_scope(session, filters, key)
        except UnknownQuestion:
            continue
        groups = await ratings_summary(session, group_by="all", filters=filters, tz=tr.tz, scope=scope)
        wording = texts.get(key, {})
        text = wording.get(tr.lang) or next(iter(wording.values()), key)
        chart = distribution_chart(groups[0], tr, empty="campaign.no_answers")
        summaries.append(QuestionSummary(key, text, scope.kind, groups[0], chart))
    return summaries


@dataclass(frozen=True, slots=True)
class ResultLine:
    row: ResultRow
    phone: str  # in full, or masked for a viewer who may not see it
    operator_name: str | None


async def result_lines(
    session: AsyncSession, campaign_id: int, *, after: int | None, full_phones: bool
) -> tuple[list[ResultLine], int | None]:
    """A page of GET /campaigns/{id}/results, and the contact it ends on when another page follows."""
    rows = await service.results(session, campaign_id, after=after, limit=RESULTS_PAGE, full_phones=full_phones)
    names = {o.code: o.name for o in await list_operators(session) if o.name}
    lines = [ResultLine(row, row.phone, names.get(row.operator or "")) for row in rows]
    return lines, rows[-1].contact_id if len(rows) == RESULTS_PAGE else None


@dataclass(frozen=True, slots=True)
class CampaignPage:
    view: service.CampaignView
    progress: Progress
    commands: list[str]
    questions: list[QuestionSummary]
    results: list[ResultLine]
    next_after: int | None  # the contact the next page of results continues after
    texts: dict[str, str]  # each question's wording by its key


async def campaign_page(
    session: AsyncSession, campaign_id: int, tr: Translator, *, after: int | None, full_phones: bool, now: datetime
) -> CampaignPage:
    """One campaign as GET /campaigns/{id} and a page of its results show it (Refused not_found)."""
    campaign = await service.get_campaign(session, campaign_id)
    view = await service.campaign_view(session, campaign)
    results, next_after = await result_lines(session, campaign_id, after=after, full_phones=full_phones)
    questions = await question_summaries(session, campaign, tr, now=now)
    return CampaignPage(
        view=view,
        progress=progress(view, tr),
        commands=commands(campaign.state),
        questions=questions,
        results=results,
        next_after=next_after,
        texts={q.key: q.text for q in questions},
    )


async def campaign_progress(session: AsyncSession, campaign_id: int, tr: Translator) -> Progress:
    campaign = await service.get_campaign(session, campaign_id)
    return progress(await service.campaign_view(session, campaign), tr)


assert set(BAR_PARTS) | {"total", "pending"} == set(PROGRESS_KEYS)
