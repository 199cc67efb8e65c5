"""The album: chapters at one loudness target, joined sample-exactly with silent gaps."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from symphony.album import chapter_scores, render_album
from symphony.errors import ParameterError
from symphony.render import RenderSettings
from tests.conftest import SMALL_SCORE, write_score


def test_album_joins_chapters_at_one_target(tmp_path):
    scores = tmp_path / "scores"
    scores.mkdir()
    write_score(scores, SMALL_SCORE, "01-first.toml")
    quiet = SMALL_SCORE.replace("[master]\n", "[master]\nlufs = -20.0\n").replace("seed = 1927", "seed = 7")
    write_score(scores, quiet, "02-second.toml")
    write_score(scores, SMALL_SCORE, "notes.toml")  # not a chapter file name: ignored
    paths = chapter_scores(scores)
    assert [p.name for p in paths] == ["01-first.toml", "02-second.toml"]
    out = tmp_path / "renders"
    summary = render_album(paths, out, RenderSettings(bits=24), target_lufs=-16.0, gap_seconds=0.5)
    first, sr = sf.read(out / "01-first.wav", dtype="int32")
    second, _ = sf.read(out / "02-second.wav", dtype="int32")
    album, album_sr = sf.read(out / "album.wav", dtype="int32")
    gap = int(0.5 * sr)
    assert album_sr == sr
    assert album.shape[0] == first.shape[0] + gap + second.shape[0]
    assert np.array_equal(album[:first.shape[0]], first)
    assert not album[first.shape[0]:first.shape[0] + gap].any()
    assert np.array_equal(album[first.shape[0] + gap:], second)
    loud = [c.integrated_lufs for c in summary.chapters]
    assert loud[0] == pytest.approx(-16.0, abs=0.1)   # the album target
    assert loud[1] == pytest.approx(-20.0, abs=0.1)   # the chapter says it is quieter
    assert "loudness spread" in summary.format()


def test_no_chapters_is_bad_input(tmp_path):
    with pytest.raises(ParameterError, match="no chapter scores"):
        chapter_scores(tmp_path)


def test_join_streams_the_chapters(tmp_path):
    # memory must not grow with chapter length: the join (and its manifest meter) holds a
    # few 65536-frame blocks, never a whole chapter (each is 23 MB as int32 samples here)
    import tracemalloc

    from symphony.album import join_album

    rng = np.random.default_rng(5)
    paths, short = [], []
    for k in range(2):
        p = tmp_path / f"0{k + 1}-c.wav"
        sf.write(p, 0.1 * rng.standard_normal((60 * 48000, 2)), 48000, subtype="PCM_24")
        paths.append(p)
        short.append(tmp_path / f"0{k + 1}-short.wav")
        sf.write(short[-1], 0.1 * rng.standard_normal((48000, 2)), 48000, subtype="PCM_24")
    join_album(short, tmp_path / "warm.wav", RenderSettings(bits=24))  # imports, numba cache loads
    tracemalloc.start()
    try:
        seconds = join_album(paths, tmp_path / "album.wav", RenderSettings(bits=24))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seconds == pytest.approx(123.0)
    assert peak < 8 * 2 ** 20, f"join peaked at {peak / 2 ** 20:.1f} MB"
    joined, _ = sf.read(tmp_path / "album.wav", dtype="int32")
    first, _ = sf.read(paths[0], dtype="int32")
    np.testing.assert_array_equal(joined[:first.shape[0]], first)  # still the exact samples
