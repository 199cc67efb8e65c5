"""NaN/Inf from an instrument or an effect stops the render at the section bus, naming
the section (or bus), the bar:beat and the parameter values; no file is written."""

from __future__ import annotations

import re

import numpy as np
import pytest
from click.testing import CliRunner

from symphony.catalog import load
from symphony.cli import main
from symphony.errors import RenderError
from symphony.render import RenderSettings, render_score
from tests.conftest import write_score
from tests.faults.helpers import (FAULT_SCORE, faulty_conductor, frame_of, leftovers, nan_effect,
                                  nan_instrument)


@pytest.fixture(scope="module")
def score(tmp_path_factory):
    return load(write_score(tmp_path_factory.mktemp("score"), FAULT_SCORE, "09-faults.toml"))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("lufs", [None, -18.0])
def test_instrument_fault_names_section_bar_and_parameters(score, tmp_path, value, lufs):
    out = tmp_path / "09-faults.wav"
    out.write_bytes(b"previous render")
    factory = faulty_conductor(instruments={"poly_lead": nan_instrument("poly_lead", frame_of(3, 2), value)})
    with pytest.raises(RenderError) as info:
        render_score(score, out, RenderSettings(lufs=lufs, stems=True), conductor_factory=factory)
    text = str(info.value)
    assert f"section 'lead' (poly_lead) produced {value}" in text
    assert "at bar 3 beat 2 (4.500 s, frame 99225)" in text
    # every parameter's value, and which ones the score set
    assert "cutoff_hz=2000" in text and "resonance=0.5" in text and "attack_ms=" in text
    assert "(set in the score: cutoff_hz, resonance)" in text
    assert text.startswith(str(score.path))
    assert out.read_bytes() == b"previous render"
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["09-faults.wav"]


@pytest.mark.parametrize("bar,beat", [(1, 1), (2, 3), (4, 4)])
def test_fault_position_is_exact_for_any_block_size(score, tmp_path, bar, beat):
    factory = faulty_conductor(instruments={"acid_bass": nan_instrument("acid_bass", frame_of(bar, beat),
                                                                        np.nan)})
    for block_size in (1000, 4096):
        with pytest.raises(RenderError, match=rf"section 'bass' \(acid_bass\) produced nan at bar {bar} "
                                              rf"beat {beat} .*frame {frame_of(bar, beat)}\)"):
            render_score(score, tmp_path / "x.wav", RenderSettings(block_size=block_size),
                         conductor_factory=factory)
    assert list(tmp_path.iterdir()) == []


def test_fault_inside_a_beat_gives_the_fraction(score, tmp_path):
    factory = faulty_conductor(instruments={"poly_lead": nan_instrument("poly_lead",
                                                                        frame_of(2, 1) + FRAMES_HALF, np.nan)})
    with pytest.raises(RenderError, match=r"at bar 2 beat 1.5 \(2.250 s"):
        render_score(score, tmp_path / "x.wav", RenderSettings(), conductor_factory=factory)


FRAMES_HALF = 11025 // 2 + 1  # 5513 frames: 0.250 s after the beat


def test_effect_fault_names_the_bus(score, tmp_path):
    factory = faulty_conductor(effects={"delay": nan_effect("delay", frame_of(2, 1), np.inf)})
    with pytest.raises(RenderError) as info:
        render_score(score, tmp_path / "x.wav", RenderSettings(), conductor_factory=factory)
    text = str(info.value)
    assert "bus 'echo' (delay) produced inf at bar 2 beat 1" in text
    assert "time_ms=250" in text and "feedback=0.3" in text
    assert list(tmp_path.iterdir()) == []


def test_cli_reports_the_fault_and_exits_1(tmp_path, monkeypatch):
    import symphony.instruments as instruments

    path = write_score(tmp_path, FAULT_SCORE, "09-faults.toml")
    out = tmp_path / "renders"
    out.mkdir()
    (out / "09-faults.wav").write_bytes(b"previous render")
    monkeypatch.setitem(instruments.REGISTRY, "poly_lead", nan_instrument("poly_lead", frame_of(3, 1), np.nan))
    result = CliRunner().invoke(main, ["render", str(path), "--out-dir", str(out)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert re.search(r"^error: .*09-faults.toml: section 'lead' \(poly_lead\) produced nan at bar 3 beat 1 ",
                     result.output, re.M), result.output
    assert "nothing was written" in result.output
    assert (out / "09-faults.wav").read_bytes() == b"previous render"
    assert leftovers(out) == []
