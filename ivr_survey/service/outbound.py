"""What a dialer and the ARI adapter say to each other, without knowing each other: the dialer places calls
through a `Placer` (the ARI adapter implements it with `POST /channels`) and hears what became of them through
`OutboundCalls` (which the dialer implements and the Stasis app calls)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PlaceCall:
    channel_id: str  # chosen by the dialer, so that a call's events can be told apart from the first one
    other_channel_id: str  # a Local channel's ;2 half (ignored by other technologies)
    endpoint: str
    caller_id: str | None
    timeout: int  # seconds of ringing
    app_args: str


class CallRefused(Exception):
    """The PBX would not place the call: an endpoint that does not exist, a refused request."""

    def __init__(self, status: int | None, reason: str) -> None:
        super().__init__(f"{status}: {reason}" if status is not None else reason)
        self.status = status
        self.reason = reason


class PlacerUnavailable(Exception):
    """The PBX did not answer: whether the call was placed is not known."""


class Placer(Protocol):
    @property
    def connected(self) -> bool:
        """Whether calls can be placed and their events heard now."""
        ...

    async def place(self, call: PlaceCall) -> None:
        """Place the call (its fate arrives through OutboundCalls); CallRefused or PlacerUnavailable."""
        ...

    async def hang_up(self, channel_id: str) -> None:
        """Hang a channel up; one already gone is fine."""
        ...

    async def channel_exists(self, channel_id: str) -> bool | None:
        """Whether the channel still exists; None when the PBX cannot be asked now."""
        ...


class OutboundCalls(Protocol):
    def owns(self, channel_id: str) -> bool:
        """Whether the channel is one of the calls placed through the Placer."""
        ...

    def answered(self, channel_id: str) -> None:
        """The far end answered and the channel entered the app (its survey begins)."""
        ...

    def channel_ended(self, channel_id: str, cause: int) -> None:
        """The channel (either half of a Local channel) is destroyed, with Asterisk's hang-up cause."""
        ...

    def events_heard(self) -> None:
        """The app's events are heard (again): what happened while they were not is to be looked up."""
        ...

    def survey_ended(self, channel_id: str) -> None:
        """The answered call's survey is over and what it stored is committed or spooled."""
        ...
