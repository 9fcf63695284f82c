"""Leaving Stasis and hanging up: ``continue``, the app's hangup (``DELETE /channels/{id}``),
the far end's hangup, and the teardown of an originated call, with what each does to the
channel's playbacks."""

from __future__ import annotations

from typing import Final

from . import events
from .channels import Channel, Playback
from .core import Core

__all__ = ["Hangups"]

# AST_SOFTHANGUP_EXPLICIT: what ChannelHangupRequest reports as `cause` (with soft=true)
# when the app hangs up: cause 32 in rated-4, invalid-then-5, no-input-timeout.
_SOFTHANGUP_EXPLICIT: Final = 32


class Hangups(Core):
    """How a channel leaves the app and goes away."""

    def _end_current_playback(self, channel: Channel, state: str) -> None:
        pb = channel.current
        if pb is None:
            return
        if pb.timer is not None:
            pb.timer.cancel()
            pb.timer = None
        pb.state = state
        self._send(channel, events.playback(pb))
        channel.current = None
        self._forget_playback(pb)

    def _flush_commands(self, channel: Channel) -> None:
        # control_flush_queue(): queued commands are dropped without running, so queued
        # playbacks vanish without any event.
        for item in channel.commands:
            if isinstance(item, Playback):
                self._forget_playback(item)
        channel.commands.clear()

    def _leave_stasis(self, channel: Channel) -> bool:
        """The channel leaves the app: its queued commands are dropped, then StasisEnd (if it
        was in Stasis). Used by ``continue`` and by both kinds of hangup.

        A caller's channel (``place_call``) is then gone and the app hears nothing more
        about it: returns False. An originated one gets ChannelVarset STASISSTATUS=SUCCESS
        and is still there: returns True, and the caller of this tears it down
        (``continue`` and the app's hangup with :meth:`_teardown_originated`, the far
        end's hangup its own way).
        """
        self._flush_commands(channel)
        was_in_stasis = channel.in_stasis
        if was_in_stasis:
            channel.in_stasis = False
            self._send(channel, events.channel_event("StasisEnd", channel))
        if not channel.originated:
            # extensions.conf: the priority after Stasis() is Hangup(). The app is no
            # longer subscribed, so it hears nothing more.
            channel.subscribed = False
            self._remove(channel)
            return False
        if was_in_stasis:
            self._send(channel, events.varset(channel, "STASISSTATUS", "SUCCESS"))
        return True

    def _continue_in_dialplan(self, channel: Channel) -> None:
        """``continue`` (its turn in the command queue): StasisEnd; the dialplan goes on
        (here: to its Hangup())."""
        if self._leave_stasis(channel):
            # *extrapolated*: an originated channel has no dialplan to return to and hangs up.
            self._teardown_originated(channel, channel.hangupcause)

    def _app_hangup(self, channel: Channel, cause: int) -> None:
        """``DELETE /channels/{id}``, as in rated-4 / invalid-then-5 / no-input-timeout:
        PlaybackFinished ("done") of the playing prompt, ChannelHangupRequest
        {cause 32, soft true}, StasisEnd; originated channels then also get
        ChannelVarset STASISSTATUS=SUCCESS and ChannelDestroyed (originate-outcomes)."""
        channel.hangupcause = cause
        self._end_current_playback(channel, "done")
        self._send(channel, events.hangup_request(channel, _SOFTHANGUP_EXPLICIT, soft=True))
        if self._leave_stasis(channel):
            self._teardown_originated(channel, cause)

    def _far_end_hangup(self, channel: Channel, cause: int) -> None:
        """The caller / called party hangs up (caller-hangs-up-during-prompt):
        ChannelHangupRequest {cause} without soft, PlaybackFinished "failed", StasisEnd."""
        if channel.local_half == 2 and channel.peer is not None:
            channel = channel.peer  # (the ;2 half's partner is the one the app drives)
        channel.hangupcause = cause
        self._send(channel, events.hangup_request(channel, cause))
        self._end_current_playback(channel, "failed")
        # *extrapolated* for an originated call (no trace of its far end hanging up).
        if not self._leave_stasis(channel):
            return
        self._restore_outgoing_dialplan(channel)
        peer = channel.peer
        self._destroy(channel, cause)
        if peer is not None and peer.alive:
            self._destroy(peer, cause)

    @staticmethod
    def _restore_outgoing_dialplan(channel: Channel) -> None:
        # The ;1 half's ChannelDestroyed shows AppDial2 "(Outgoing Line)" again, not Stasis.
        channel.app_name = "AppDial2"
        channel.app_data = "(Outgoing Line)"

    def _teardown_originated(self, channel: Channel, cause: int) -> None:
        # originate-outcomes.jsonl, answered call hung up by the app, after StasisEnd and
        # ChannelVarset: HangupRequest ;2 {16}, Destroyed ;1, HangupRequest ;2 {16, soft},
        # Destroyed ;2.
        self._restore_outgoing_dialplan(channel)
        peer = channel.peer
        if peer is not None and peer.alive:
            self._send(peer, events.hangup_request(peer, 16))
        self._destroy(channel, cause)
        if peer is not None and peer.alive:
            self._send(peer, events.hangup_request(peer, 16, soft=True))
            self._destroy(peer, cause)
