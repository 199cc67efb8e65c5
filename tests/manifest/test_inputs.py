"""Files a score reads (``[passage.midi]``) are part of what a manifest vouches for."""

from __future__ import annotations

import json

import mido
from click.testing import CliRunner

from symphony.catalog import load
from symphony.cli import main
from tests.conftest import write_score
from tests.manifest.tiny import TINY_SCORE

MIDI_SCORE = TINY_SCORE.replace('notes = "d4:4 f4 a4 d5 | c5:2 a4:2 |"', "[passage.midi]\nfile = \"line.mid\"")


def write_line(path, pitches) -> None:
    """One track, channel 1, quarter notes at 480 ticks per quarter."""
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    for p in pitches:
        track.append(mido.Message("note_on", note=p, velocity=96, time=0))
        track.append(mido.Message("note_off", note=p, velocity=0, time=480))
    mid.tracks.append(track)
    mid.save(path)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_the_midi_file_is_listed_with_its_hash_and_a_changed_file_is_caught(tmp_path):
    write_line(tmp_path / "line.mid", [62, 65, 69, 74])
    score = write_score(tmp_path, MIDI_SCORE, "09-midi.toml")
    assert load(str(score)).input_files == (str(tmp_path / "line.mid"),)
    out = tmp_path / "renders"
    assert run("render", score, "--out-dir", out).exit_code == 0
    manifest = json.loads((out / "09-midi.manifest.json").read_text())
    roles = [(i["role"], i["path"].rsplit("/", 1)[-1]) for i in manifest["inputs"]]
    assert roles == [("score", "09-midi.toml"), ("input", "line.mid")]
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])

    assert run("render", score, "--out-dir", out, "--check-manifest").exit_code == 0
    write_line(tmp_path / "line.mid", [62, 65, 68, 74])  # one note a semitone lower, same score file
    result = run("render", score, "--out-dir", out, "--check-manifest")
    assert result.exit_code == 1, result.output
    assert "score      same" in result.output
    assert "inputs     changed: " in result.output and "line.mid" in result.output
    assert "result: differs from the manifest" in result.output
