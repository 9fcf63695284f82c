"""The dialer's calls placed over ARI: ``POST /channels`` into our Stasis app, as in originate-outcomes.jsonl."""

from __future__ import annotations

from ..service.outbound import CallRefused, PlaceCall, PlacerUnavailable
from .client import AriClient, AriError, AriUnavailable
from .stasis import StasisApp


class AriPlacer:
    """A `service.outbound.Placer` over one ARI client; `connected` follows the Stasis app's websocket, as a
    call's events can only be heard while it is up."""

    def __init__(self, client: AriClient, stasis: StasisApp) -> None:
        self._client = client
        self._stasis = stasis

    @property
    def connected(self) -> bool:
        return self._stasis.connected

    async def place(self, call: PlaceCall) -> None:
        try:
            await self._client.originate(
                endpoint=call.endpoint,
                app_args=call.app_args,
                caller_id=call.caller_id,
                timeout=call.timeout,
                channel_id=call.channel_id,
                other_channel_id=call.other_channel_id,
            )
        except AriUnavailable as exc:
            raise PlacerUnavailable(str(exc)) from None
        except AriError as exc:
            # 4xx: the request itself is wrong; 500 "Allocation failed": no such technology or endpoint.
            raise CallRefused(exc.status, exc.message) from None

    async def hang_up(self, channel_id: str) -> None:
        await self._client.hangup(channel_id)

    async def channel_exists(self, channel_id: str) -> bool | None:
        try:
            return await self._client.get_channel(channel_id) is not None
        except AriError:
            return None
