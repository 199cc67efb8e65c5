"""Render limits: duration, voices, sample rate, memory and time, refused up front with the
estimate in the message; the flags raise or lift them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from symphony.catalog import load
from symphony.cli import main
from symphony.conductor import Conductor
from symphony.errors import ParameterError
from symphony.limits import LimitError, Limits, check_limits, estimate
from tests.conftest import SMALL_SCORE, write_score
from tests.faults.helpers import FAULT_SCORE

BAD = "tests/bad_scores"


@pytest.fixture(scope="module")
def scores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scores")
    return {"small": load(write_score(folder, SMALL_SCORE, "07-small.toml")),
            "faults": load(write_score(folder, FAULT_SCORE, "09-faults.toml"))}


@pytest.mark.parametrize("name", ["small", "faults"])
@pytest.mark.parametrize("sample_rate", [22050, 44100, 48000, 96000])
def test_frame_estimate_is_exact(scores, name, sample_rate):
    score = scores[name]
    assert estimate(score, sample_rate=sample_rate).n_frames == Conductor(score, sample_rate=sample_rate).n_frames


def test_estimate_models(scores):
    score = scores["faults"]  # 6 voices, 2 sections, 1 bus, 187425 frames at 22050 Hz
    plain = estimate(score)
    assert (plain.n_frames, plain.voices, plain.n_stems) == (187425, 6, 0)
    assert plain.disk_bytes == 187425 * 2 * 3  # 24-bit stereo
    stems = estimate(score, stems=True, lufs=-16.0)
    assert stems.n_stems == 3
    # output + 3 stems at 24 bit, plus the float64 pre-master and 3 float32 stems of pass 1
    assert stems.disk_bytes == 187425 * (2 * 3 * 4 + 16 + 3 * 8)
    assert stems.memory_bytes > plain.memory_bytes and stems.render_seconds > plain.render_seconds
    # time scales with the sample rate, memory per block with the block size
    double = estimate(score, sample_rate=44100)  # same audio seconds, twice the CPU per second
    assert double.n_frames == 2 * plain.n_frames
    assert double.render_seconds == pytest.approx(2 * plain.render_seconds, rel=1e-12)
    assert estimate(score, block_size=8192).memory_bytes > plain.memory_bytes


@pytest.mark.parametrize("limits,message", [
    (Limits(max_minutes=0.1), "the render would last 0:08.5 (incl. 0.5 s tail), over the limit of 0:06.0"),
    (Limits(max_voices=5), "the score asks for 6 voices in 2 sections (lead 4, bass 2), over the limit of 5"),
    (Limits(max_sample_rate=44100), "sample rate 48000 Hz exceeds the limit of 44100 Hz"),
    (Limits(max_memory_bytes=100 * 1024**2), "MB of memory, over the limit of 100.0 MB"),
    (Limits(max_render_minutes=0.0001), "the render would take ~0:00."),
])
def test_each_limit_refuses_with_the_estimate(scores, limits, message):
    score = scores["faults"]
    with pytest.raises(LimitError) as info:
        check_limits(score, limits, sample_rate=48000 if limits.max_sample_rate else None)
    text = info.value.format()
    assert text.startswith(f"{score.path}: error: render refused: ")
    assert message in text
    assert "; estimate: " in text and "of audio (" in text and "voices, ~" in text and "to render" in text
    assert "--allow-large" in text


def test_unlimited_accepts_everything(scores):
    assert check_limits(scores["faults"], Limits.unlimited()).voices == 6


@pytest.mark.parametrize("bad", [dict(max_minutes=0), dict(max_voices=-1), dict(max_memory_bytes=float("nan"))])
def test_limits_themselves_are_checked(bad):
    with pytest.raises(ParameterError, match="must be > 0"):
        Limits(**bad)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_flags_raise_and_lift_the_limits(tmp_path):
    path = write_score(tmp_path, FAULT_SCORE, "09-faults.toml")
    out = tmp_path / "renders"
    refused = run("render", path, "--out-dir", out, "--max-minutes", "0.1")
    assert refused.exit_code == 2, refused.output
    assert "render refused: the render would last 0:08.5" in refused.output
    assert "hint: check chapter.bars and the tempo, raise the limit with --max-minutes 1" in refused.output
    assert not out.exists()
    refused = run("check", path, "--max-voices", "4")
    assert refused.exit_code == 2 and "over the limit of 4" in refused.output
    assert run("check", path, "--max-voices", "6").exit_code == 0
    assert run("render", path, "--out-dir", out, "--max-voices", "4", "--allow-large").exit_code == 0
    assert (out / "09-faults.wav").is_file()


def test_allow_large_passes_the_absurd_duration_to_check():
    refused = run("check", f"{BAD}/duration-limit.toml")
    assert refused.exit_code == 2 and "33:20:00.5" in refused.output and "2646011025 frames" in refused.output
    allowed = run("check", f"{BAD}/duration-limit.toml", "--allow-large")
    assert allowed.exit_code == 0, allowed.output
    assert "10000 bars, 2000:00.5" in allowed.output


def test_limits_are_checked_before_anything_renders(tmp_path):
    """With several scores, one over the limit stops all of them before the first render."""
    good = write_score(tmp_path, FAULT_SCORE, "09-faults.toml")
    out = tmp_path / "renders"
    result = run("render", good, f"{BAD}/total-voices-limit.toml", "--out-dir", out)
    assert result.exit_code == 2 and "580 voices" in result.output
    assert not out.exists()
