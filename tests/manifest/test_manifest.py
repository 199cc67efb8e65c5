"""Render manifests: every render writes one, its numbers are the file's, it is atomic."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import types

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from symphony.catalog import load
from symphony.cli import main
from symphony.conductor import Conductor
from symphony.errors import ParameterError
from symphony.fingerprint import read_fingerprint
from symphony.manifest import (MANIFEST_VERSION, file_sha256, manifest_path, measure_audio, read_manifest,
                               score_inputs, to_json)
from symphony.measure import measure_file
from symphony.render import RenderSettings, render_score
from tests.conftest import write_score
from tests.manifest.tiny import TINY_SCORE


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def render_cli(tmp_path, *options, name="09-tiny.toml", text=TINY_SCORE):
    score = write_score(tmp_path, text, name)
    out = tmp_path / "renders"
    result = run("render", score, "--out-dir", out, *options)
    assert result.exit_code == 0, result.output
    stem = name.removesuffix(".toml")
    return score, out, json.loads((out / f"{stem}.manifest.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("bits,subtype", [(16, "PCM_16"), (24, "PCM_24")])
def test_manifest_fields_describe_the_file(tmp_path, bits, subtype):
    score_path, out, m = render_cli(tmp_path, "--bits", bits)
    wav = out / "09-tiny.wav"
    assert sorted(p.name for p in out.iterdir()) == ["09-tiny.manifest.json", "09-tiny.wav"]
    assert m["manifest_version"] == MANIFEST_VERSION and m["kind"] == "render"
    # the score and every input, by the sha256 of their bytes
    digest = hashlib.sha256(score_path.read_bytes()).hexdigest()
    assert m["score"]["sha256"] == digest and m["score"]["path"] == score_path.as_posix()
    assert m["inputs"] == [{"role": "score", "path": score_path.as_posix(), "sha256": digest}]
    assert m["seed"] == 7
    assert m["engine"]["symphony"] == "0.1.0" and m["engine"]["numpy"] == np.__version__
    assert m["engine"]["numba"] and m["engine"]["scipy"]
    assert m["settings"] == {"sample_rate": 22050, "format": "wav", "subtype": subtype, "bits": bits,
                             "block_size": 16384, "lufs_target": None, "ceiling_dbtp": -1.0,
                             "master_gain_db": 0.0, "stems": False}
    # the audio entry is the file on disk
    info = sf.info(wav)
    samples, _ = sf.read(wav, dtype="float64", always_2d=True)
    assert m["audio"] == {"file": "09-tiny.wav", "sha256": file_sha256(wav), "bytes": wav.stat().st_size,
                          "format": "wav", "subtype": subtype,
                          "samples_sha256": hashlib.sha256(samples.astype("<f8").tobytes()).hexdigest()}
    # the numbers are what `symphony measure` measures on the file, to the last digit
    measured = measure_file(wav)
    r = m["result"]
    assert r["n_frames"] == info.frames == Conductor(load(score_path)).n_frames
    assert r["duration_seconds"] == pytest.approx(info.frames / 22050, abs=1e-12)
    assert r["peak_dbfs"] == pytest.approx(measured.sample_peak_dbfs, abs=1e-9)
    assert r["true_peak_dbtp"] == pytest.approx(measured.true_peak_dbtp, abs=1e-9)
    assert r["integrated_lufs"] == pytest.approx(measured.integrated_lufs, abs=1e-9)
    assert r["loudness_range_lu"] == pytest.approx(measured.loudness_range_lu, abs=1e-9)
    # and the peak is physically the file's largest sample
    audio, _ = sf.read(wav)
    assert r["peak_dbfs"] == pytest.approx(20 * np.log10(np.abs(audio).max()), abs=1e-6)
    assert m["fingerprint"] is None and m["stems"] == []


def test_loudness_target_stems_and_fingerprint_are_recorded(tmp_path):
    _, out, m = render_cli(tmp_path, "--lufs", "-16", "--stems", "--fingerprint", "--bits", "32")
    assert sorted(p.name for p in out.iterdir()) == ["09-tiny.fp", "09-tiny.manifest.json", "09-tiny.stems",
                                                      "09-tiny.wav"]
    assert m["settings"]["lufs_target"] == -16.0 and m["settings"]["stems"] is True
    assert m["result"]["integrated_lufs"] == pytest.approx(-16.0, abs=0.05)
    assert m["result"]["gain_db"] > 0
    assert m["stems"] == [{"file": "09-tiny.stems/lead.wav", "sha256": file_sha256(out / "09-tiny.stems" / "lead.wav")}]
    assert m["fingerprint"] == "09-tiny.fp"
    fp = read_fingerprint(out / "09-tiny.fp")
    assert fp.source["path"] == (out / "09-tiny.wav").as_posix()
    assert fp.n_frames > 0 and fp.score["sha256"] == m["score"]["sha256"]


def test_flac_manifest(tmp_path):
    _, out, m = render_cli(tmp_path, "--format", "flac", "--bits", "16")
    assert m["audio"]["file"] == "09-tiny.flac" and m["audio"]["format"] == "flac"
    assert m["audio"]["sha256"] == file_sha256(out / "09-tiny.flac")


def test_python_render_score_writes_the_manifest_unless_asked_not_to(tmp_path):
    score = load(write_score(tmp_path, TINY_SCORE, "09-tiny.toml"))
    render_score(score, tmp_path / "a.wav", RenderSettings())
    render_score(score, tmp_path / "b.wav", RenderSettings(manifest=False))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["09-tiny.toml", "a.manifest.json", "a.wav", "b.wav"]
    assert read_manifest(tmp_path / "a.manifest.json")["audio"]["file"] == "a.wav"


class Boom(Exception):
    pass


def failing_conductor(after_blocks: int):
    class Failing(Conductor):
        def blocks(self, *args, **kwargs):
            for i, block in enumerate(super().blocks(*args, **kwargs)):
                if i == after_blocks:
                    raise Boom("mid-render")
                yield block
    return Failing


@pytest.mark.parametrize("lufs", [None, -16.0])
def test_failed_render_leaves_no_manifest_and_keeps_the_previous_one(tmp_path, lufs):
    score = load(write_score(tmp_path, TINY_SCORE, "09-tiny.toml"))
    out = tmp_path / "r" / "x.wav"
    render_score(score, out, RenderSettings(fingerprint=True))
    before = {p.name: p.read_bytes() for p in out.parent.iterdir()}
    assert sorted(before) == ["x.fp", "x.manifest.json", "x.wav"]
    with pytest.raises(Boom):
        render_score(score, out, RenderSettings(lufs=lufs, fingerprint=True, bits=16),
                     conductor_factory=failing_conductor(3))
    assert {p.name: p.read_bytes() for p in out.parent.iterdir()} == before  # no temporaries either
    fresh = tmp_path / "fresh" / "y.wav"
    with pytest.raises(Boom):
        render_score(score, fresh, RenderSettings(lufs=lufs), conductor_factory=failing_conductor(3))
    assert list(fresh.parent.iterdir()) == []


def test_a_failure_while_writing_the_manifest_leaves_no_audio(tmp_path, monkeypatch):
    """The manifest is part of the render: if it cannot be made, the audio is not committed."""
    score = load(write_score(tmp_path, TINY_SCORE, "09-tiny.toml"))

    def broken(path):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("symphony.manifest.file_sha256", broken)  # hashing the written audio fails
    out = tmp_path / "r" / "x.wav"
    from symphony.errors import RenderError

    with pytest.raises(RenderError, match="No space left on device"):
        render_score(score, out, RenderSettings())
    assert list(out.parent.iterdir()) == []


def test_album_and_its_chapters_have_manifests(tmp_path):
    first = write_score(tmp_path, TINY_SCORE, "01-first.toml")
    second = write_score(tmp_path, TINY_SCORE.replace("seed = 7", "seed = 8"), "02-second.toml")
    out = tmp_path / "renders"
    result = run("render", "--album", first, second, "--out-dir", out, "--lufs", "-18", "--bits", "16")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "01-first.manifest.json", "01-first.wav", "02-second.manifest.json", "02-second.wav",
        "album.manifest.json", "album.wav"]
    album = json.loads((out / "album.manifest.json").read_text())
    assert album["kind"] == "album" and album["gap_seconds"] == 3.0
    assert [c["file"] for c in album["chapters"]] == ["01-first.wav", "02-second.wav"]
    for c, path in zip(album["chapters"], (first, second)):
        assert c["sha256"] == file_sha256(out / c["file"])
        assert c["manifest"] == c["file"].replace(".wav", ".manifest.json")
        assert c["score_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [c["seed"] for c in album["chapters"]] == [7, 8]
    assert album["audio"]["sha256"] == file_sha256(out / "album.wav")
    measured = measure_file(out / "album.wav")
    assert album["result"]["integrated_lufs"] == pytest.approx(measured.integrated_lufs, abs=1e-9)
    assert album["result"]["true_peak_dbtp"] == pytest.approx(measured.true_peak_dbtp, abs=1e-9)
    assert album["result"]["n_frames"] == sf.info(out / "album.wav").frames
    # measured while the album was written, yet every digit as reading the file back
    from_file = measure_audio(out / "album.wav")
    assert album["audio"]["samples_sha256"] == from_file.pop("samples_sha256")
    assert album["result"] == from_file
    chapter = json.loads((out / "01-first.manifest.json").read_text())
    assert chapter["settings"]["lufs_target"] == -18.0  # the album target reached the chapter


def test_json_is_strict_without_infinities():
    text = to_json({"result": {"integrated_lufs": float("-inf"), "peak_dbfs": float("nan"), "x": [1.5]}})
    assert json.loads(text) == {"result": {"integrated_lufs": None, "peak_dbfs": None, "x": [1.5]}}
    assert "Infinity" not in text and "NaN" not in text


def test_input_files_hook_hashes_every_file_the_score_reads(tmp_path):
    midi = tmp_path / "theme.mid"
    midi.write_bytes(b"MThd\x00\x00\x00\x06")
    fake = types.SimpleNamespace(path="s.toml", source_sha256="ab" * 32,
                                 input_files=(str(midi), str(tmp_path / "gone.mid")))
    assert score_inputs(fake) == [
        {"role": "score", "path": "s.toml", "sha256": "ab" * 32},
        {"role": "input", "path": midi.as_posix(), "sha256": hashlib.sha256(midi.read_bytes()).hexdigest()},
        {"role": "input", "path": (tmp_path / "gone.mid").as_posix(), "sha256": None}]


def test_manifest_path_sits_next_to_the_audio():
    assert manifest_path("renders/01-x.flac").as_posix() == "renders/01-x.manifest.json"
    assert manifest_path(os.path.join("a", "album.wav")).name == "album.manifest.json"


@pytest.mark.parametrize("content,message", [
    (None, "no such manifest"),
    ("{not json", r"x\.json:1:2: not valid JSON"),
    ("[1, 2]", "expected a JSON object, got list"),
    ('{"manifest_version": 1}', "missing kind, audio, score, seed, settings, result"),
    ('{"manifest_version": 99, "kind": "render", "audio": {}, "score": {}, "seed": 1, "settings": {}, '
     '"result": {}}', "manifest version 99"),
    ('{"manifest_version": 1, "kind": "album", "audio": {}, "score": {}, "seed": 1, "settings": {}, '
     '"result": {}}', "kind 'album'"),
])
def test_read_manifest_rejects_bad_files_clearly(tmp_path, content, message):
    path = tmp_path / "x.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ParameterError, match=message):
        read_manifest(path)


def test_a_silent_render_records_null_loudness_in_strict_json(tmp_path):
    silent = TINY_SCORE.split("[[passage]]")[0]  # the section never plays
    _, out, m = render_cli(tmp_path, text=silent)
    assert m["result"]["integrated_lufs"] is None and m["result"]["peak_dbfs"] is None
    assert m["result"]["n_frames"] == 2 * 22050 + 11025  # no notes: one bar (2 s at 120 bpm) + 0.5 s tail
    assert "Infinity" not in (out / "09-tiny.manifest.json").read_text()


def test_the_click_track_is_recorded_when_there_is_one(tmp_path):
    if "click" not in {f.name for f in dataclasses.fields(RenderSettings)}:
        pytest.skip("this tree has no click track (render --click)")
    score = load(write_score(tmp_path, TINY_SCORE, "09-tiny.toml"))
    out = tmp_path / "r" / "x.wav"
    render_score(score, out, RenderSettings(click=True))
    m = read_manifest(manifest_path(out))
    assert m["click"] == {"file": "x.click.wav", "sha256": file_sha256(tmp_path / "r" / "x.click.wav")}
    render_score(score, out, RenderSettings())
    assert read_manifest(manifest_path(out))["click"] is None
