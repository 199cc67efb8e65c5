"""The click track: one click on every beat frame of the solved tempo map, downbeats accented,
block-size invariant, and ``render --click`` writes it next to the mix with the mix's length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from symphony.catalog import load
from symphony.cli import main
from symphony.clicktrack import ACCENT_GAIN, BEAT_GAIN, beat_frames, click_blocks, click_sound, click_track
from symphony.tempo import TempoMap

EXAMPLE = Path(__file__).resolve().parents[2] / "scores" / "example-03-picture.toml"


@pytest.fixture(scope="module")
def score():
    return load(EXAMPLE)


def _onsets(track: np.ndarray) -> np.ndarray:
    """Frames where the track leaves exact silence."""
    nonzero = track != 0.0
    return np.flatnonzero(nonzero & ~np.concatenate([[False], nonzero[:-1]]))


def test_beats_follow_the_meter(score):
    tm = TempoMap(score.tempos, 48000)
    frames, down = beat_frames(score, tm)
    # 8 bars of 4/4, one of 7/8, three of 4/4: beats in the meter's unit
    assert frames.size == 8 * 4 + 7 + 3 * 4
    assert np.flatnonzero(down).tolist() == [0, 4, 8, 12, 16, 20, 24, 28, 32, 39, 43, 47]
    expected = []
    for bar in range(1, score.n_bars + 1):
        m = score.meter_at_bar(bar)
        for k in range(m.numerator):
            expected.append(tm.frame_at(score.bar_to_beat(bar) + k * m.beats_per_bar / m.numerator))
    assert frames.tolist() == expected


@pytest.mark.parametrize("sample_rate", [22050, 44100, 48000])
def test_clicks_start_exactly_on_the_beat_frames(score, sample_rate):
    tm = TempoMap(score.tempos, sample_rate)
    n = tm.frame_at(score.end_beat) + sample_rate
    track = click_track(score, tm, n)[0]
    frames, down = beat_frames(score, tm)
    assert track.shape == (n,)
    assert _onsets(track).tolist() == frames.tolist()
    np.testing.assert_allclose(track[frames], np.where(down, ACCENT_GAIN, BEAT_GAIN), rtol=0, atol=1e-15)
    # the pinned bars are beats too: a click on the exact sample of each cue's timecode
    for cue in score.cues:
        assert round(cue.seconds * sample_rate) in set(frames.tolist())


def test_the_click_is_a_decaying_burst_that_ends_in_silence():
    sound = click_sound(48000, accent=True)
    assert sound.size == 1440 and sound[0] == ACCENT_GAIN
    envelope = np.abs(sound)
    assert envelope[-1] < 1e-3 * ACCENT_GAIN
    assert np.max(envelope[480:]) < np.exp(-10.0 / 6.0) * ACCENT_GAIN  # tau = 6 ms after 10 ms


def test_block_size_does_not_change_the_track(score):
    tm = TempoMap(score.tempos, 22050)
    n = 40000
    whole = np.concatenate(list(click_blocks(score, tm, n, block_size=n)), axis=1)
    for block_size in (1, 64, 65, 512, 8193):
        parts = list(click_blocks(score, tm, n, block_size=block_size))
        assert all(p.shape[1] <= block_size for p in parts)
        np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=0, atol=1e-12)


def test_render_click_writes_the_track_next_to_the_mix(tmp_path, score):
    out = tmp_path / "renders"
    result = CliRunner().invoke(main, ["render", str(EXAMPLE), "--click", "--sr", "22050", "--bits", "32",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    mix, click_file = out / "example-03-picture.wav", out / "example-03-picture.click.wav"
    assert f"click      {click_file}" in result.output
    assert not list(out.glob(".*part"))  # the atomic temporaries are gone
    info = sf.info(click_file)
    assert (info.frames, info.channels, info.samplerate) == (sf.info(mix).frames, 1, 22050)
    track, _ = sf.read(click_file, dtype="float64")
    frames, _ = beat_frames(score, TempoMap(score.tempos, 22050))
    assert _onsets(track).tolist() == frames.tolist()


def test_render_without_click_writes_no_track(tmp_path):
    out = tmp_path / "renders"
    result = CliRunner().invoke(main, ["render", str(EXAMPLE), "--sr", "22050", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert not (out / "example-03-picture.click.wav").exists()
