"""A fake Asterisk 22 ARI server: same REST paths, status codes and event JSON as the
real one, driven by a Python control API.

It is built from what a real Asterisk 22.11 said (``../shared/asterisk-ari/traces``)
and from Asterisk's own ARI description (``../shared/asterisk-ari/api-docs``); where
those were silent, from Asterisk's source (``res/res_stasis_playback.c``,
``res/ari/resource_channels.c``). The comments name the trace behind each quirk.

Usage (inside a running event loop, e.g. a pytest-asyncio test)::

    async with FakeAsterisk(user="u", password="p", app="ivr-survey", speed=100) as fake:
        client = AriClient(fake.base_url, "u", "p", "ivr-survey")
        ...                                     # connect the app's events websocket
        await fake.wait_for_app()
        channel_id = await fake.place_call(args=["post-call", "7001"])
        events = fake.subscribe(channel_id)     # what the app is sent about that channel
        ...                                     # wait for PlaybackStarted, then
        await fake.press(channel_id, "4")
        await fake.wait_channel_gone(channel_id)

Time: every duration given to the fake (prompt lengths, DTMF latency, ringing, talk time,
originate timeouts) is call time in seconds, divided by ``speed``: with ``speed=100`` the
2.5 s rating prompt plays for 25 ms.

Behaviour summary (real Asterisk unless marked *extrapolated*):

* Authentication: ``Authorization: Basic`` or ``?api_key=user:password``; otherwise
  401 ``{"message": "Authentication required"}``.
* ``GET /ari/events?app=NAME``: the events websocket. As api-docs' ``ApplicationReplaced``
  says, "an application may only be subscribed to by a single WebSocket at a time": the
  newest socket gets the app's events, an older one receives ``ApplicationReplaced`` and
  then nothing more. Events for a channel go out in order; while no socket is connected
  for the app, its events are dropped (Asterisk deactivates the app).
* When the app's websocket goes away, its callers stay in Stasis, in silence (issue 15, fact 2):
  ``GET /ari/applications/NAME`` still lists them in ``channel_ids``, and a new websocket for
  the app at once receives their later events, with no ``StasisStart`` (fact 3).
* ``place_call`` refuses (:class:`AppNotRegistered`) when no websocket is registered for the
  app, unless asked to wait: a real ``Stasis()`` fails on an unregistered app, so there is
  no StasisStart to lose or to queue.
* Channels that entered the app from the dialplan (``place_call``) are only subscribed
  while in Stasis: after ``StasisEnd`` the app hears nothing more about them, hence no
  ``ChannelDestroyed`` (none in ``rated-4``, ``invalid-then-5``, ``no-input-timeout``,
  ``caller-hangs-up-during-prompt``). Channels originated with ``app=`` are subscribed from
  birth to death, together with their Local ``;2`` half (``originate-outcomes``).
* Playbacks run one at a time per channel; later ones are queued (``invalid-then-5``).

Modules, each adding one concern to the one :class:`FakeAsterisk` object (lowest first):

* :mod:`.channels` -- channel and playback state (``Channel``, ``Playback``, ``Continue``).
* :mod:`.events` -- the ARI event JSON builders and the ordered writer of a websocket.
* :mod:`.rest` -- ARI's JSON/error answers and :class:`RecordedRequest`.
* :mod:`.core` -- shared state and plumbing: sending events, forgetting channels.
* :mod:`.hangup` -- leaving Stasis (``continue``) and hanging up.
* :mod:`.media` -- the media pump: queued playbacks and ``continue``, one at a time.
* :mod:`.originate` -- ``POST /channels`` and :class:`OriginateScript`.
* :mod:`.routes` -- the aiohttp app: ARI routes, auth/recording middleware, handlers.
* :mod:`.server` -- :class:`FakeAsterisk` itself: configuration, lifecycle, control API.
"""

from .events import ASTERISK_ID
from .originate import OriginateScript, Outcome
from .rest import RecordedRequest
from .server import AppNotRegistered, FakeAsterisk

__all__ = [
    "ASTERISK_ID",
    "AppNotRegistered",
    "FakeAsterisk",
    "OriginateScript",
    "Outcome",
    "RecordedRequest",
]
