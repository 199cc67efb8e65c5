"""MIDI in and out: the round trip, import of hand-built files, errors, rendering an import."""

from __future__ import annotations

import ast
import doctest
import re
from fractions import Fraction
from pathlib import Path

import mido
import numpy as np
import pytest
from click.testing import CliRunner

import symphony.midi.gm
import symphony.midi.read
import symphony.midi.write
from symphony.catalog import load
from symphony.cli import main
from symphony.conductor import Conductor, build_timeline
from symphony.errors import ParameterError, ScoreError
from symphony.midi import export_midi, read_midi, score_to_midi
from symphony.midi.write import expression_gain, tempo_events
from symphony.tempo import TempoMap

HERE = Path(__file__).resolve().parent
ROUNDTRIP = HERE / "roundtrip.toml"
PACKAGE = HERE.parent.parent / "symphony"


# ---------------------------------------------------------------------------- helpers
def reimport_text(score_text: str, midi_name: str, sections: list[str], **midi_keys) -> str:
    """The score's header (chapter, tempo, meter, sections) + one MIDI passage per section."""
    head = score_text.split("[[passage]]")[0]
    extra = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in midi_keys.items())
    parts = [head]
    for name in sections:
        parts.append(f'[[passage]]\nname = "{name} from midi"\nbar = 1\nsections = ["{name}"]\n'
                     f'[passage.midi]\nfile = "{midi_name}"\ntrack = "{name}"\n{extra}\n')
    return "".join(parts)


def note_rows(score) -> list[tuple]:
    return sorted((n.section, n.start_beat, n.pitch, n.voice) for n in score.notes)


def midi_file(tmp_path: Path, tracks: list[tuple[str, list[tuple]]], *, tpb: int = 480,
              signatures: list[tuple[int, int, int]] = (), name: str = "in.mid") -> Path:
    """Write a type-1 file: ``tracks`` = [(name, [(tick, 'on'/'off', channel 1..16, key, velocity)])]."""
    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
    conductor = mido.MidiTrack()
    now = 0
    for tick, num, den in signatures:
        conductor.append(mido.MetaMessage("time_signature", numerator=num, denominator=den, time=tick - now))
        now = tick
    mid.tracks.append(conductor)
    for track_name, events in tracks:
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=track_name))
        now = 0
        for tick, kind, channel, key, velocity in sorted(events, key=lambda e: (e[0], e[1] == "on")):
            track.append(mido.Message("note_on" if kind == "on" else "note_off", channel=channel - 1, note=key,
                                      velocity=velocity, time=tick - now))
            now = tick
        mid.tracks.append(track)
    path = tmp_path / name
    mid.save(path)
    return path


def notes_of(pairs: list[tuple[int, int, int, int, int]]) -> list[tuple]:
    """(start, end, channel, key, velocity) -> on/off events."""
    out = []
    for start, end, channel, key, velocity in pairs:
        out += [(start, "on", channel, key, velocity), (end, "off", channel, key, 0)]
    return out


HEADER = """\
[chapter]
title = "Import"
sample_rate = 22050
tail_seconds = 0.5

[[tempo]]
bar = 1
bpm = 120

[section.keys]
instrument = "fm_synth"
voices = 8

[section.drums]
instrument = "drum_machine"
voices = 8
"""


def import_score(tmp_path: Path, midi_table: str, *, passage: str = 'name = "clip"\nbar = 3\nsections = ["keys"]\n'):
    path = tmp_path / "score.toml"
    path.write_text(HEADER + "\n[[passage]]\n" + passage + "[passage.midi]\n" + midi_table, encoding="utf-8")
    return load(str(path)), path


# A clip in 4/4 at 480 ticks per quarter, slightly off the grid, on channel 2, and a second
# track on channel 1.
CLIP = [(0, 470, 2, 62, 100), (475, 950, 2, 65, 80), (965, 1440, 2, 69, 64), (1918, 2880, 2, 74, 127)]
OTHER = [(0, 960, 1, 40, 90), (1920, 3840, 1, 43, 90)]


# ---------------------------------------------------------------------------- MIDI out
@pytest.mark.parametrize("ticks_per_beat", [960, 24000])
def test_round_trip_plays_the_same_notes_at_the_same_bar_positions(tmp_path, ticks_per_beat):
    original = load(str(ROUNDTRIP))
    export_midi(original, tmp_path / "rt.mid", ticks_per_beat=ticks_per_beat)
    sections = [s.name for s in original.sections]
    text = reimport_text(ROUNDTRIP.read_text(encoding="utf-8"), "rt.mid", sections)
    (tmp_path / "again.toml").write_text(text, encoding="utf-8")
    again = load(str(tmp_path / "again.toml"))
    assert note_rows(again) == note_rows(original)
    meters = lambda s: [(m.bar, m.numerator, m.denominator, m.start_beat) for m in s.meters]  # noqa: E731
    assert again.end_beat == original.end_beat and meters(again) == meters(original)
    # durations: exact when the gates fall on the tick grid (24000 = 960 * 25 holds the
    # default legato 0.92), else within half a tick
    tol = Fraction(0) if ticks_per_beat == 24000 else Fraction(1, 2 * ticks_per_beat)
    key = lambda n: (n.section, n.start_beat, n.pitch, n.voice)  # noqa: E731
    by_key = {key(n): n for n in again.notes}
    for n in original.notes:
        got = by_key[key(n)]
        assert abs(got.duration_beats - n.duration_beats) <= tol
        points = [d for d in original.dynamics if d.section == n.section]
        baked = n.velocity * expression_gain(points, n.start_beat)
        assert abs(got.velocity - round(127 * baked) / 127) < 1e-12
    # the Conductor's schedule: every onset on the same frame; releases too when exact
    tm_a, tm_b = TempoMap(original.tempos, 22050), TempoMap(again.tempos, 22050)
    a, b = build_timeline(original, tm_a), build_timeline(again, tm_b)
    for name in sections:
        on_a = a[name].frames[a[name].kinds == 1]
        on_b = b[name].frames[b[name].kinds == 1]
        np.testing.assert_array_equal(np.sort(on_a), np.sort(on_b))
        if ticks_per_beat == 24000:
            np.testing.assert_array_equal(a[name].frames, b[name].frames)
            np.testing.assert_array_equal(a[name].pitches, b[name].pitches)


def test_export_writes_the_bars_a_daw_shows(tmp_path):
    """The file's own meter (time signatures, 7/8 included) puts every bar where the score does."""
    score = load(str(ROUNDTRIP))
    export_midi(score, tmp_path / "rt.mid")
    contents = read_midi(str(tmp_path / "rt.mid"))
    assert contents.format == 1 and contents.ticks_per_beat == 960
    assert [t.name for t in contents.tracks] == ["Round Trip", "strings", "bass", "lead", "drums"]
    starts = contents.bar_ticks(score.n_bars)
    assert starts == [score.bar_to_beat(bar) * 960 for bar in range(1, score.n_bars + 2)]
    assert contents.time_signatures == ((0, 4, 4), (12 * 960, 7, 8), (int(15.5 * 960), 4, 4))
    assert starts[4] - starts[3] == 3360  # the 7/8 bar: 7/2 quarter notes
    mid = mido.MidiFile(str(tmp_path / "rt.mid"))
    metas = {m.type: m for m in mid.tracks[0] if m.is_meta}
    assert metas["key_signature"].key == "C"  # D dorian has C major's signature
    drums = [m for m in mid.tracks[4] if m.type == "note_on"]
    assert {m.channel for m in drums} == {9} and {m.note for m in drums} == {36, 38, 42}
    assert [m.program for t in mid.tracks[1:] for m in t if m.type == "program_change"] == [48, 38, 81, 0]


def _file_seconds(mid: mido.MidiFile, tick: int) -> float:
    tempos, now = [], 0
    for m in mid.tracks[0]:
        now += m.time
        if m.type == "set_tempo":
            tempos.append((now, m.tempo))
    seconds = 0.0
    for i, (t0, us) in enumerate(tempos):
        t1 = tempos[i + 1][0] if i + 1 < len(tempos) else None
        if t1 is not None and t1 < tick:
            seconds += (t1 - t0) * us / mid.ticks_per_beat / 1e6
        else:
            return seconds + (tick - t0) * us / mid.ticks_per_beat / 1e6
    return seconds


def test_tempo_map_in_the_file_keeps_bar_times_through_changes_and_ramps(tmp_path):
    score = load(str(ROUNDTRIP))
    mid = score_to_midi(score)
    tm = TempoMap(score.tempos, 48000)
    for bar in range(1, score.n_bars + 2):
        beat = score.bar_to_beat(bar)
        # within 20 us (one sample at 48 kHz) at every bar line
        assert abs(_file_seconds(mid, int(beat * 960)) - float(tm.seconds_at(beat))) < 20e-6
    # inside the steps of the ramp (132 -> 90 bpm over 8 beats, steps of 1/8 beat) the error
    # is at most h^2/8 * 60 |slope| / bpm^2 = 76 us (at 90 bpm); check every 1/32 beat
    bound = (1 / 8) ** 2 / 8 * 60 * (42 / 8) / 90 ** 2
    for k in range(int(score.end_beat * 32)):
        beat = Fraction(k, 32)
        assert abs(_file_seconds(mid, int(beat * 960)) - float(tm.seconds_at(beat))) < bound + 5e-6
    events = tempo_events(score, 960, Fraction(1, 8))
    assert events[0] == (0, 600000) and (8 * 960, round(60e6 / 132)) in events
    ramp = [e for e in events if int(15.5 * 960) <= e[0] < int(23.5 * 960)]  # bars 5-6: 132 -> 90 bpm
    assert len(ramp) == 8 * 8  # one step per 32nd note over the 2-bar ramp
    assert events[-1] == (int(23.5 * 960), round(60e6 / 90))
    assert all(a[1] < b[1] for a, b in zip(ramp, ramp[1:]))  # slowing down: longer beats


def test_overlapping_unison_of_one_key_is_written_as_a_retrigger(tmp_path):
    text = HEADER + """
[[passage]]
name = "a"
bar = 1
sections = ["keys"]
legato = 1.0
notes = "c4:2 c4:2 |"
[[passage]]
name = "b"
bar = 1
sections = ["keys"]
legato = 1.0
notes = "r:4 c4:2 r:4 |"
"""
    mid = score_to_midi(load("s.toml", text=text))
    events, now = [], 0
    for m in mid.tracks[1]:
        now += m.time
        if m.type in ("note_on", "note_off"):
            events.append((now, m.type))
    # c4 at 0, 960 (a retrigger of the first), 1920 (of the second): never two sounding copies of one key
    depth, deepest = 0, 0
    for _, kind in events:
        depth += 1 if kind == "note_on" else -1
        deepest = max(deepest, depth)
    assert deepest == 1 and depth == 0
    assert [t for t, k in events if k == "note_on"] == [0, 960, 1920]


def test_export_rejects_bad_settings():
    score = load(str(ROUNDTRIP))
    with pytest.raises(ParameterError, match="ticks_per_beat must be an integer in 24..32767 or \"auto\", got 40000"):
        score_to_midi(score, ticks_per_beat=40000)
    with pytest.raises(ParameterError, match="ramp_step_beats"):
        score_to_midi(score, ramp_step_beats=2)


def test_cli_export_midi(tmp_path):
    runner = CliRunner()
    out = tmp_path / "x" / "rt.mid"
    result = runner.invoke(main, ["export-midi", str(ROUNDTRIP), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "5 tracks, 127 notes" in result.output and out.exists()
    assert mido.MidiFile(str(out)).ticks_per_beat == 960
    bad = tmp_path / "bad.toml"
    bad.write_text("[chapter]\ntitle = 3\n", encoding="utf-8")
    result = runner.invoke(main, ["export-midi", str(bad), "-o", str(tmp_path / "bad.mid")])
    assert result.exit_code == 2 and "title must be a string" in result.output
    assert not (tmp_path / "bad.mid").exists()
    (tmp_path / "plain").write_text("a file, not a folder", encoding="utf-8")
    result = runner.invoke(main, ["export-midi", str(ROUNDTRIP), "-o", str(tmp_path / "plain" / "x.mid")])
    assert result.exit_code == 1 and "cannot write MIDI file" in result.output


# ---------------------------------------------------------------------------- MIDI in
def test_import_keeps_exact_timing_as_fractions_of_beats(tmp_path):
    midi_file(tmp_path, [("piano", notes_of(CLIP)), ("other", notes_of(OTHER))])
    score, _ = import_score(tmp_path, 'file = "in.mid"\ntrack = "piano"\n')
    start = score.bar_to_beat(3)
    got = [(n.start_beat - start, n.duration_beats, n.pitch, n.velocity) for n in score.notes]
    assert got == [(Fraction(s, 480), Fraction(e - s, 480), float(k), v / 127) for s, e, _, k, v in CLIP]
    # the passage ends at the bar line after its last note (bar 3 + 2 bars of 4/4)
    assert score.passages[0].end_beat == score.bar_to_beat(5)


def test_import_quantizes_onsets_to_the_grid_and_keeps_lengths(tmp_path):
    midi_file(tmp_path, [("piano", notes_of(CLIP))])
    score, _ = import_score(tmp_path, 'file = "in.mid"\ntrack = 2\nquantize = "1/16"\n')
    start = score.bar_to_beat(3)
    onsets = [n.start_beat - start for n in score.notes]
    assert onsets == [Fraction(0), Fraction(1), Fraction(2), Fraction(4)]  # 470->480, 965->960, 1918->1920
    lengths = [n.duration_beats for n in score.notes]
    assert lengths == [Fraction(e - s, 480) for s, e, *_ in CLIP]


def test_import_selects_channel_and_bars_of_the_files_own_meter(tmp_path):
    # the file is in 3/4: its bar 2 starts at tick 1440
    both = notes_of(CLIP) + notes_of([(1440, 1900, 1, 50, 70), (2880, 3000, 1, 52, 70)])
    midi_file(tmp_path, [("piano", both)], signatures=[(0, 3, 4)])
    score, _ = import_score(tmp_path, 'file = "in.mid"\nchannel = 1\nfrom_bar = 2\nto_bar = 2\n'
                                      'velocities = "dynamics"\n')
    start = score.bar_to_beat(3)
    assert [(n.start_beat - start, n.pitch) for n in score.notes] == [(Fraction(0), 50.0)]
    assert score.notes[0].velocity == 0.8  # the passage's velocity: dynamics shape it
    # to_bar fixes the length: one 3/4 bar of the file, rounded up to the score's bar line
    assert score.passages[0].end_beat == score.bar_to_beat(4)


def test_import_maps_general_midi_drum_keys_to_drum_voices(tmp_path):
    midi_file(tmp_path, [("beat", notes_of([(0, 120, 10, 36, 100), (480, 600, 10, 38, 127),
                                             (240, 300, 10, 42, 60), (720, 780, 10, 44, 60)]))])
    score, _ = import_score(tmp_path, 'file = "in.mid"\n',
                            passage='name = "beat"\nbar = 1\nbars = 1\nsections = ["drums"]\n')
    assert [(n.voice, n.pitch) for n in score.notes] == [
        ("kick", 60.0), ("closed_hat", 60.0), ("snare", 60.0), ("closed_hat", 60.0)]


def test_rendered_import_sounds_where_the_file_puts_it(tmp_path):
    midi_file(tmp_path, [("piano", notes_of(CLIP))])
    score, _ = import_score(tmp_path, 'file = "in.mid"\n', passage='name = "clip"\nbar = 2\nsections = ["keys"]\n')
    conductor = Conductor(score, sample_rate=22050)
    bar2, bar3 = conductor.frame_of_bar(2), conductor.frame_of_bar(3)
    assert bar2 == 2 * 22050  # 4 beats at 120 bpm
    audio = conductor.render(end_frame=bar3, master=False)
    assert audio.shape == (2, bar3) and np.all(np.isfinite(audio))
    assert np.max(np.abs(audio[:, :bar2])) == 0.0  # bar 1: nothing plays yet
    rms_db = 20 * np.log10(np.sqrt(np.mean(audio[:, bar2:] ** 2)))
    assert rms_db > -40.0, rms_db
    first = int(np.argmax(np.max(np.abs(audio), axis=0) > 1e-4))  # the first note starts on bar 2
    assert bar2 <= first < bar2 + 22050 // 100


# ---------------------------------------------------------------------------- errors
ERRORS = [
    # (midi table, passage override or None, message regex, key whose line is reported)
    ('file = "nope.mid"\n', None, r"MIDI file '.*nope.mid' not found", "file"),
    ('file = "not.mid"\n', None, r"'.*not.mid' is not a Standard MIDI File", "file"),
    ('file = "in.mid"\ntrack = "pinao"\n', None, r"in.mid has no track named 'pinao'", "track"),
    ('file = "in.mid"\ntrack = 9\n', None, r"in.mid has no track 9: it has 3 tracks", "track"),
    ('file = "in.mid"\ntrack = "piano"\nchannel = 5\n', None,
     r"track 2 'piano' of in.mid has no notes on channel 5", "channel"),
    ('file = "in.mid"\ntrack = "piano"\nfrom_bar = 7\n', None, r"no notes in bars 7..the end of track 2", "from_bar"),
    ('file = "in.mid"\ntrack = 1\n', None, r"track 1 '' of in.mid holds no notes", "track"),
    ('file = "in.mid"\nquantize = "1/0"\n', None, r"bad quantize grid '1/0'", "quantize"),
    ('file = "in.mid"\nfrom_bar = 3\nto_bar = 2\n', None, r"to_bar = 2 comes before from_bar = 3", "to_bar"),
    ('file = "in.mid"\nchanel = 2\n', None, r"unknown key 'chanel' in \[passage.midi\]", "chanel"),
    ('file = "in.mid"\nvelocities = "loud"\n', None, r"velocities must be one of keep, dynamics", "velocities"),
    ('file = "in.mid"\ntrack = "piano"\n', 'name = "d"\nbar = 1\nsections = ["drums"]\n',
     r"MIDI keys 62 \(1x\), 65 \(1x\), 69 \(1x\), 74 \(1x\) have no drum voice", "file"),
    ('file = "in.mid"\n', 'name = "clip"\nbar = 1\nbars = 1\nsections = ["keys"]\n',
     r"the MIDI notes of passage 'clip' run past its bars = 1", "bars"),
    ('file = "in.mid"\n', 'name = "clip"\nbar = 1\nrepeat = 2\nsections = ["keys"]\n',
     r"repeat does not apply to a midi passage", "repeat"),
    ('file = "in.mid"\n', 'name = "clip"\nbar = 1\nsections = ["keys"]\nnotes = "c4"\n',
     r"needs exactly one of notes, pattern or generate \(or midi\), got notes and midi", "name"),
]


@pytest.mark.parametrize("table, passage, message, key", ERRORS, ids=[e[3] + ":" + e[2][:24] for e in ERRORS])
def test_import_errors_name_the_score_file_and_the_line(tmp_path, table, passage, message, key):
    midi_file(tmp_path, [("piano", notes_of(CLIP)), ("other", notes_of(OTHER))])
    (tmp_path / "not.mid").write_text("this is not MIDI", encoding="utf-8")
    kwargs = {} if passage is None else {"passage": passage}
    with pytest.raises(ScoreError, match=message) as info:
        import_score(tmp_path, table, **kwargs)
    err = info.value
    assert err.path == str(tmp_path / "score.toml")
    lines = (tmp_path / "score.toml").read_text(encoding="utf-8").splitlines()
    want = next(i for i, line in enumerate(lines, 1) if re.match(rf"{key}\s*=", line))
    if key == "name":  # a passage-level problem points at the [[passage]] header
        want -= 1
    assert err.line == want, err.format()
    assert err.hint, "every error carries a fix"


def test_track_error_lists_the_tracks_with_a_suggestion(tmp_path):
    midi_file(tmp_path, [("piano", notes_of(CLIP)), ("other", notes_of(OTHER))])
    with pytest.raises(ScoreError) as info:
        import_score(tmp_path, 'file = "in.mid"\ntrack = "pinao"\n')
    assert info.value.hint == ("did you mean 'piano'? tracks: 1 '' (no notes); 2 'piano' (4 notes, channel 2); "
                               "3 'other' (2 notes, channel 1)")


def test_damaged_and_smpte_files_are_score_errors(tmp_path):
    data = (tmp_path / "in.mid")
    midi_file(tmp_path, [("piano", notes_of(CLIP))])
    raw = data.read_bytes()
    (tmp_path / "cut.mid").write_bytes(raw[:30])
    smpte = bytearray(raw)
    smpte[12:14] = (0xE7, 0x28)  # -25 fps, 40 ticks per frame
    (tmp_path / "smpte.mid").write_bytes(bytes(smpte))
    with pytest.raises(ScoreError, match="damaged MIDI file"):
        import_score(tmp_path, 'file = "cut.mid"\n')
    with pytest.raises(ScoreError, match="SMPTE time division"):
        import_score(tmp_path, 'file = "smpte.mid"\n')


# ---------------------------------------------------------------------------- structure
def test_only_the_midi_package_imports_mido():
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        if any(name == "mido" or name.startswith("mido.") for name in names):
            assert rel.startswith("symphony/midi/"), f"{rel} imports mido"
    assert "mido" in {a.name for n in ast.walk(ast.parse((PACKAGE / "midi" / "read.py").read_text()))
                      if isinstance(n, ast.Import) for a in n.names}


def test_loading_a_score_without_midi_does_not_import_mido():
    import subprocess
    import sys
    code = ("import sys; from symphony.catalog import load; "
            f"load({str(ROUNDTRIP)!r}); print('mido' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("module", [symphony.midi.gm, symphony.midi.read, symphony.midi.write])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_export_carries_cue_solved_tempo_cue_markers_and_the_film_offset():
    pytest.importorskip("symphony.score.cues")  # scoring to picture (issue 9, part 2)
    text = HEADER + """
[cues]
offset = "01:00:00:00"
[[cue]]
name = "the cut"
bar = 3
timecode = "01:00:05:00"

[[passage]]
name = "a"
bar = 1
sections = ["keys"]
notes = "c4:1 | d4:1 | e4:1 |"
"""
    score = load("s.toml", text=text)
    mid = score_to_midi(score)
    now, metas = 0, []
    for m in mid.tracks[0]:
        now += m.time
        metas.append((now, m))
    offset = next(m for _, m in metas if m.type == "smpte_offset")
    assert (offset.frame_rate, offset.hours, offset.minutes, offset.seconds, offset.frames) == (24, 1, 0, 0, 0)
    assert [(t, m.text) for t, m in metas if m.type == "cue_marker"] == [(8 * 960, "the cut")]
    # bar 3 sounds 5 s after bar 1 in the file: the solved tempo (96 bpm), not the written 120
    assert abs(_file_seconds(mid, 8 * 960) - 5.0) < 1e-6


def test_auto_ticks_per_beat_keeps_swing_exact_through_the_round_trip(tmp_path):
    text = HEADER + """
[[passage]]
name = "groove"
bar = 1
bars = 2
sections = ["drums"]
swing = 0.08
pattern = { kick = "x...x...x...x...", closed_hat = "xxxxxxxxxxxxxxxx" }
[[passage]]
name = "line"
bar = 1
sections = ["keys"]
notes = "c4:8 d4 e4:16 f4 g4:4. 5:4{ a4:16 b4 c5 b4 a4 } | g4:1 |"
"""
    (tmp_path / "s.toml").write_text(text, encoding="utf-8")
    score = load(str(tmp_path / "s.toml"))
    info = export_midi(score, tmp_path / "s.mid", ticks_per_beat="auto")
    # lcm of 960, 50 (swing 0.08 of a 1/16 step = 1/50 beat) and 125 (gated quintuplets:
    # 1/5 beat minus 8 % of it = 23/125 beat)
    assert info.ticks_per_beat == 24000
    (tmp_path / "again.toml").write_text(reimport_text(text, "s.mid", ["keys", "drums"]), encoding="utf-8")
    again = load(str(tmp_path / "again.toml"))
    rows = lambda s: sorted((n.section, n.start_beat, n.pitch, n.voice) for n in s.notes)  # noqa: E731
    assert rows(again) == rows(score)
    # lengths exact too; a swung hat that rings into the next hat is written as a retrigger
    # (one key cannot overlap itself on a channel), so it comes back cut at the next onset
    lengths = lambda s: sorted((n.start_beat, n.duration_beats) for n in s.notes if n.section == "keys")  # noqa: E731
    assert lengths(again) == lengths(score)
    hats = sorted((n.start_beat, n.duration_beats) for n in again.notes if n.voice == "closed_hat")
    assert hats[1] == (Fraction(27, 100), Fraction(23, 100))
    # at 960 the swung hats would be rounded to the nearest tick
    coarse = read_midi(str(export_midi(score, tmp_path / "c.mid").path))
    hats = sorted(n.start_tick for n in coarse.tracks[2].notes if n.key == 42)
    assert hats[1] == round(Fraction(1, 4) * Fraction(27, 25) * 960)  # 259.2 ticks -> 259


def test_a_file_used_by_several_passages_is_parsed_once_per_load(tmp_path, monkeypatch):
    midi_file(tmp_path, [("piano", notes_of(CLIP)), ("other", notes_of(OTHER))])
    calls = []
    real = symphony.midi.read.read_midi
    monkeypatch.setattr(symphony.midi.read, "read_midi", lambda path: calls.append(path) or real(path))
    two = ('name = "a"\nbar = 1\nsections = ["keys"]\n[passage.midi]\nfile = "in.mid"\ntrack = 2\n'
           '[[passage]]\nname = "b"\nbar = 5\nsections = ["keys"]\n')
    score, _ = import_score(tmp_path, 'file = "in.mid"\ntrack = "other"\n', passage=two)
    assert len(calls) == 1
    assert sorted({n.passage for n in score.notes}) == ["a", "b"]
