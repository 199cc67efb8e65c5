"""``symphony render --check-manifest``: re-render, compare, never overwrite; exit 0 / 1 / 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from symphony.cli import main
from symphony.manifest import check_manifest
from tests.conftest import write_score
from tests.manifest.tiny import COMMENT_ADDED, ONE_NOTE_CHANGED, TINY_SCORE


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def snapshot(folder):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def rendered(tmp_path):
    """A tiny score rendered to 16 bits (dithered) into tmp_path/renders, with its manifest."""
    score = write_score(tmp_path, TINY_SCORE, "09-tiny.toml")
    out = tmp_path / "renders"
    assert run("render", score, "--out-dir", out, "--bits", "16").exit_code == 0
    return score, out


def test_an_untouched_score_matches_bit_for_bit(rendered):
    score, out = rendered
    before = snapshot(out)
    result = run("render", score, "--out-dir", out, "--check-manifest")
    assert result.exit_code == 0, result.output
    for text in ["score      same", "settings   same", "engine     same", "audio      identical",
                 "result: matches the manifest"]:
        assert text in result.output
    assert snapshot(out) == before  # nothing written, nothing touched


def test_one_changed_note_is_caught(rendered):
    score, out = rendered
    before = snapshot(out)
    score.write_text(ONE_NOTE_CHANGED.lstrip("\n"), encoding="utf-8")
    result = run("render", score, "--out-dir", out, "--check-manifest", out / "09-tiny.manifest.json")
    assert result.exit_code == 1, result.output
    assert "score      changed (sha256" in result.output
    assert "audio      differs" in result.output
    assert "music      differs (fingerprints: fresh render vs" in result.output
    assert "09-tiny.wav" in result.output  # compared with the audio next to the manifest
    assert "bar 2" in result.output  # the report says where (the changed note is in bar 2)
    assert "result: differs from the manifest" in result.output
    assert snapshot(out) == before


def test_same_music_from_other_bytes_matches_and_says_the_score_changed(rendered):
    score, out = rendered
    score.write_text(COMMENT_ADDED.lstrip("\n"), encoding="utf-8")
    result = run("render", score, "--out-dir", out, "--check-manifest")
    assert result.exit_code == 0, result.output
    assert "score      changed" in result.output and "audio      samples identical" in result.output


def test_other_settings_are_judged_by_the_music(rendered):
    """24 instead of 16 bits: other bytes, the same music (fingerprint compare) -> exit 0."""
    score, out = rendered
    result = run("render", score, "--out-dir", out, "--check-manifest", "--bits", "24")
    assert result.exit_code == 0, result.output
    assert "settings   changed: subtype 'PCM_16' -> 'PCM_24', bits 16 -> 24" in result.output
    assert "audio      differs" in result.output and "music      same" in result.output


def test_the_recorded_fingerprint_is_the_reference_when_there_is_one(tmp_path):
    score = write_score(tmp_path, TINY_SCORE, "09-tiny.toml")
    out = tmp_path / "renders"
    assert run("render", score, "--out-dir", out, "--fingerprint").exit_code == 0
    (out / "09-tiny.wav").unlink()  # the fingerprint alone is enough to judge the music
    score.write_text(ONE_NOTE_CHANGED.lstrip("\n"), encoding="utf-8")
    result = run("render", score, "--out-dir", out, "--check-manifest")
    assert result.exit_code == 1, result.output
    assert f"music      differs (fingerprints: fresh render vs {out / '09-tiny.fp'})" in result.output


def test_no_reference_for_the_music_is_a_difference(rendered):
    score, out = rendered
    (out / "09-tiny.wav").unlink()
    result = run("render", score, "--out-dir", out, "--check-manifest", "--seed", "8")
    assert result.exit_code == 1, result.output
    assert "settings   changed: seed 7 -> 8" in result.output
    assert "music      cannot tell" in result.output and "--fingerprint" in result.output


def test_the_score_can_come_from_the_manifest_and_json_output(rendered, monkeypatch):
    score, out = rendered
    result = run("render", "--check-manifest", out / "09-tiny.manifest.json", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["matches"] is True and report["audio_identical"] is True
    assert report["old_sha256"] == report["new_sha256"]


@pytest.mark.parametrize("content,message", [
    (None, "no such manifest"),
    ("{broken", "not valid JSON"),
    ('{"manifest_version": 1}', "not a symphony render manifest"),
])
def test_bad_manifest_exits_2_with_a_clear_message(tmp_path, content, message):
    score = write_score(tmp_path, TINY_SCORE, "09-tiny.toml")
    manifest = tmp_path / "x.manifest.json"
    if content is not None:
        manifest.write_text(content)
    result = run("render", score, "--check-manifest", manifest)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert str(manifest) in result.output


def test_album_and_several_scores_are_refused(rendered, tmp_path):
    score, out = rendered
    assert run("render", score, "--album", "--check-manifest").exit_code == 2
    result = run("render", score, score, "--check-manifest", "--out-dir", out)
    assert result.exit_code == 2 and "one score at a time" in result.output


def test_check_manifest_function(rendered):
    score, out = rendered
    check = check_manifest(score, out / "09-tiny.manifest.json")
    assert check.matches and check.audio_identical and not check.score_changed
    assert check.settings_changed == {} and check.engine_changed == {} and check.music_same is None
    assert check.new["result"]["integrated_lufs"] == pytest.approx(check.old["result"]["integrated_lufs"], abs=1e-12)


def test_stems_are_checked_file_by_file(tmp_path):
    score = write_score(tmp_path, TINY_SCORE, "09-tiny.toml")
    out = tmp_path / "renders"
    assert run("render", score, "--out-dir", out, "--stems").exit_code == 0
    assert "stems      1 identical" in run("render", score, "--out-dir", out, "--check-manifest").output
    score.write_text(ONE_NOTE_CHANGED.lstrip("\n"), encoding="utf-8")
    result = run("render", score, "--out-dir", out, "--check-manifest")
    assert result.exit_code == 1 and "stems      0 identical, 1 differ: lead.wav" in result.output
