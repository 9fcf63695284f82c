"""Recordings of simulated calls: what MixMonitor would have written, as small generated WAV files (8 kHz mono
16-bit PCM, Asterisk's own format for a .wav), so that the demo's /calls/{id}/recording plays something."""

from __future__ import annotations

import math
import sys
import wave
from array import array
from pathlib import Path

RATE = 8000
MAX_SECONDS = 20.0  # a long talk still makes a small file: 20 s is 320 kB
BEEP, GAP = 0.4, 0.1  # seconds of each tone and of the silence after it
TONES = (440.0, 554.37, 659.25)  # A4, C#5, E5: a rising pattern, one tone per beep
AMPLITUDE = 8000  # of 32767: clearly audible, far from clipping


def recording_seconds(talk_seconds: float) -> float:
    """The length of a call's recording: its talk, capped at MAX_SECONDS, and at least one beep."""
    return min(max(talk_seconds, BEEP), MAX_SECONDS)


def tone_samples(seconds: float) -> array[int]:
    """`seconds` of beeps (TONES in turn, each BEEP long and followed by GAP of silence), as 16-bit samples."""
    samples = array("h", bytes(2 * round(seconds * RATE)))
    period = round((BEEP + GAP) * RATE)
    beep = round(BEEP * RATE)
    for start in range(0, len(samples), period):
        frequency = TONES[start // period % len(TONES)]
        step = 2 * math.pi * frequency / RATE
        for i in range(min(beep, len(samples) - start)):
            samples[start + i] = round(AMPLITUDE * math.sin(step * i))
    return samples


def write_recording(path: Path, talk_seconds: float) -> None:
    """A recording of a call that talked `talk_seconds` (see recording_seconds), written whole to `path`."""
    samples = tone_samples(recording_seconds(talk_seconds))
    if sys.byteorder == "big":  # WAV samples are little-endian
        samples.byteswap()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.tobytes())
