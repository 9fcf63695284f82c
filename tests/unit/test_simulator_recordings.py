"""The demo's generated recordings: 8 kHz mono 16-bit PCM WAV, as long as the talk (capped), a pattern of beeps."""

from __future__ import annotations

import itertools
import wave
from array import array
from pathlib import Path

import pytest

from ivr_survey.simulator.recordings import write_recording


@pytest.mark.parametrize(("talk", "frames"), [(3.25, 26_000), (0.05, 3_200), (20.0, 160_000), (95.0, 160_000)])
def test_a_recording_lasts_the_talk_capped_at_20_seconds(tmp_path: Path, talk: float, frames: int) -> None:
    path = tmp_path / "1795720118.199.wav"
    write_recording(path, talk)
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes(), w.getcomptype()) == (
            1,
            2,
            8000,
            frames,
            "NONE",
        )
    assert path.stat().st_size == 44 + 2 * frames  # a plain RIFF header, then the samples


def test_beeps_of_0_4_seconds_with_0_1_seconds_of_silence(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    write_recording(path, 1.0)
    with wave.open(str(path)) as w:
        samples = array("h", w.readframes(w.getnframes()))
    beep, gap = samples[:3200], samples[3200:4000]
    assert max(beep) > 7900 and min(beep) < -7900  # loud, far from clipping (AMPLITUDE 8000)
    assert set(gap) == {0}
    assert any(samples[4000:7200])  # the next beep
    # 440 Hz then 554.37 Hz: 0.4 s of each is 176 and 221.7 periods, two sign changes each
    crossings = [sum((a < 0) != (b < 0) for a, b in itertools.pairwise(part)) for part in (beep, samples[4000:7200])]
    assert crossings == [351, 443]
