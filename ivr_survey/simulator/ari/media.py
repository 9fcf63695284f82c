"""The media pump: runs each channel's queued commands (playbacks, ``continue``) one at a
time, plays media for as long as it lasts (call time / ``speed``), and stops playbacks."""

from __future__ import annotations

import asyncio

from . import events
from .channels import Channel, Continue, Playback
from .hangup import Hangups

__all__ = ["MediaPump"]


class MediaPump(Hangups):
    """Playbacks and the command queue of each channel."""

    known_sounds: set[str]
    sound_durations: dict[str, float]
    default_duration: float

    def _schedule_pump(self, channel: Channel) -> None:
        # The channel's thread picks queued commands up asynchronously, which is why the
        # 201 of a play usually still says "queued" (rated-4: 201 "queued", then
        # PlaybackStarted) and occasionally "playing" already (invalid-then-5).
        if channel.current is None and not channel.pump_scheduled:
            channel.pump_scheduled = True
            asyncio.get_running_loop().call_soon(self._pump, channel)

    def _pump(self, channel: Channel) -> None:
        """Run the channel's queued commands (playbacks, continue) one at a time."""
        channel.pump_scheduled = False
        while channel.alive and channel.in_stasis and channel.current is None and channel.commands:
            item = channel.commands.popleft()
            if isinstance(item, Continue):
                self._continue_in_dialplan(channel)
                return
            if item.cancelled:
                # Stopped while queued: playback_first_update() publishes it as "done" when
                # its turn comes, and it never starts.
                self._send(channel, events.playback(item))
                self._forget_playback(item)
                continue
            self._start_media(channel, item)

    def _media_duration(self, media: str) -> float | None:
        """Call-time seconds a media URI plays; None: fails at once; inf: until stopped;
        -1: unsupported scheme."""
        scheme, _, what = media.partition(":")
        if scheme == "sound":
            if what not in self.known_sounds:
                return None
            return self.sound_durations.get(what, self.default_duration)
        if scheme in ("digits", "characters"):
            return 0.6 * max(len(what), 1)
        if scheme == "number":
            return 0.6 * max(len(what.lstrip("-")), 1) if what.lstrip("-").isdigit() else -1.0
        if scheme == "tone":
            return float("inf")
        if scheme == "recording":
            return None
        return -1.0

    def _start_media(self, channel: Channel, pb: Playback) -> None:
        pb.state = "playing"
        self._send(channel, events.playback(pb))
        duration = self._media_duration(pb.media_uri)
        if duration is None:
            # A missing sound: PlaybackStarted, then PlaybackFinished "failed" at once.
            self._media_ended(channel, pb, ok=False)
            return
        if duration < 0:
            # Unsupported URI scheme: res_stasis_playback.c logs and skips the media without
            # a final update, so PlaybackStarted is never followed by PlaybackFinished.
            if pb.index < len(pb.medias) - 1:
                pb.index += 1
                self._start_media(channel, pb)
            else:
                self._forget_playback(pb)
            return
        channel.current = pb
        if duration != float("inf"):
            loop = asyncio.get_running_loop()
            pb.timer = loop.call_later(duration / self.speed, self._media_ended, channel, pb, True)

    def _media_ended(self, channel: Channel, pb: Playback, ok: bool) -> None:
        pb.timer = None
        last = pb.index >= len(pb.medias) - 1
        pb.state = ("done" if ok else "failed") if last else "continuing"
        self._send(channel, events.playback(pb))
        if not last:
            pb.index += 1
            channel.current = None
            self._start_media(channel, pb)
            return
        if channel.current is pb:
            channel.current = None
        self._forget_playback(pb)
        # The next queued playback starts right away (invalid-then-5: PlaybackFinished of
        # one and PlaybackStarted of the next share a timestamp).
        self._pump(channel)

    def _stop_playback(self, pb: Playback) -> None:
        channel = pb.channel
        if pb.state == "queued":
            pb.cancelled = True
            pb.state = "done"  # STASIS_PLAYBACK_STATE_CANCELED reads as "done"
            return
        if pb.state not in ("playing", "continuing") or channel.current is not pb:
            return  # done/failed/cancelled: a no-op, still 204
        if pb.timer is not None:
            pb.timer.cancel()
            pb.timer = None
        # rated-4: DELETE /playbacks/pb-prompt -> 204, PlaybackFinished "done", and the
        # queued playback starts.
        pb.state = "done"
        self._send(channel, events.playback(pb))
        channel.current = None
        self._forget_playback(pb)
        self._pump(channel)
