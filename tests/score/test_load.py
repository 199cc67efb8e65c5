"""Valid scores -> expected models: meters, tempos, unison, drums, dynamics, files."""

from __future__ import annotations

import hashlib
from fractions import Fraction as F
from pathlib import Path

import pytest

from symphony.errors import ScoreError
from symphony.score import Score, load_score

HEAD = '''[chapter]
title = "Test"
seed = 7
key = "D minor"
[section.strings]
instrument = "string_ensemble"
[section.brass]
instrument = "poly_lead"
[section.drums]
instrument = "drum_machine"
'''


def load(body: str, catalog, head: str = HEAD) -> Score:
    return load_score("t.toml", catalog, text=head + body)


def test_meters_and_tempos_absolute_beats(catalog) -> None:
    s = load('''
[[meter]]
bar = 1
signature = "4/4"
[[meter]]
bar = 3
signature = "7/8"
[[meter]]
bar = 5
signature = "3/2"
[[tempo]]
bar = 1
bpm = 96
[[tempo]]
bar = 4
beat = 3
bpm = 132
ramp_bars = 2
''', catalog)
    assert [(m.bar, m.start_beat, m.beats_per_bar) for m in s.meters] == [
        (1, F(0), F(4)), (3, F(8), F(7, 2)), (5, F(15), F(6))]
    assert [(t.bar, t.start_beat, t.bpm, t.ramp_beats) for t in s.tempos] == [
        (1, F(0), 96.0, F(0)), (4, F(23, 2) + 1, 132.0, F(7, 2) + F(6))]
    assert s.bar_to_beat(6) == F(21)
    assert s.beat_to_bar(F(9)) == (3, F(3))


def test_defaults(catalog) -> None:
    s = load('''
[[passage]]
name = "a"
bar = 2
sections = ["strings"]
notes = "c4:1"
''', catalog)
    assert (s.meters[0].numerator, s.meters[0].denominator) == (4, 4)
    assert s.tempos[0].bpm == 120.0 and s.sample_rate == 48000 and s.tail_seconds == 3.0
    assert s.n_bars == 2 and s.end_beat == F(8)
    assert s.sections[0].voices == 16 and s.master.lufs is None
    n = s.notes[0]
    assert (n.start_beat, n.duration_beats, n.pitch, n.velocity) == (F(4), F(4) * F(92, 100), 60.0, 0.8)


def test_unison_realization(catalog) -> None:
    s = load('''
[[passage]]
name = "theme"
bar = 1
repeat = 2
legato = 1.0
players = [
  { section = "strings" },
  { section = "brass", transpose = -12, detune_cents = 4.0, spread_ms = 8.0, velocity = 0.5 },
]
notes = "d4:2 a4:4' f4@0.6!"
''', catalog)
    strings = [n for n in s.notes if n.section == "strings"]
    brass = [n for n in s.notes if n.section == "brass"]
    assert len(strings) == len(brass) == 6
    assert [n.start_beat for n in strings] == [0, 2, 3, 4, 6, 7]
    assert [n.duration_beats for n in strings][:3] == [2, F(1, 2), 1]  # staccato halves
    assert [n.pitch for n in brass][:3] == [50.04, 57.04, 53.04]
    assert strings[2].velocity == pytest.approx(0.75)  # 0.6 + accent 0.15
    assert brass[2].velocity == pytest.approx(0.375)
    assert all(n.offset_ms == 0.0 for n in strings)
    offsets = [n.offset_ms for n in brass]
    assert all(-8.0 <= o <= 8.0 for o in offsets) and len(set(offsets)) == 6
    again = load('''
[[passage]]
name = "theme"
bar = 1
repeat = 2
legato = 1.0
players = [
  { section = "strings" },
  { section = "brass", transpose = -12, detune_cents = 4.0, spread_ms = 8.0, velocity = 0.5 },
]
notes = "d4:2 a4:4' f4@0.6!"
''', catalog)
    assert again.notes == s.notes
    assert s.passages[0].end_beat == 8 and s.passages[0].sections == ("strings", "brass")


def test_notes_sorted_and_immutable(catalog) -> None:
    s = load('''
[[passage]]
name = "a"
bar = 1
sections = ["brass", "strings"]
notes = "<c4 e4>:2 g4"
''', catalog)
    keys = [(n.start_beat, n.section, n.pitch) for n in s.notes]
    assert keys == sorted(keys)
    with pytest.raises(AttributeError):
        s.title = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.sections[0].params["x"] = 1  # type: ignore[index]


def test_drum_pattern_swing_and_accents(catalog) -> None:
    s = load('''
[[passage]]
name = "beat"
bar = 1
bars = 2
sections = ["drums"]
swing = 0.2
pattern = { kick = "x...x...x...X...", closed_hat = "xoXxxxxx|xxxxxxxx|" }
step = "1/8"
''', catalog)
    kick = [n for n in s.notes if n.voice == "kick"]
    hats = [n for n in s.notes if n.voice == "closed_hat"]
    # 1/8 steps in 4/4: 8 steps per bar; both rows are two bars long
    assert [n.start_beat for n in kick] == [0, 2, 4, 6]
    assert [n.velocity for n in kick] == [0.75, 0.75, 0.75, 1.0]
    assert kick[0].pitch == 60.0 and kick[0].duration_beats == F(1, 2)
    assert [n.start_beat for n in hats][:4] == [0, F(1, 2) + F(1, 10), 1, F(3, 2) + F(1, 10)]
    assert len(hats) == 16
    assert [n.velocity for n in hats][:4] == [0.75, 0.4, 1.0, 0.75]


def test_swing_delays_every_second_step(catalog) -> None:
    s = load('''
[[passage]]
name = "hats"
bar = 1
bars = 1
sections = ["drums"]
swing = 0.25
pattern = { closed_hat = "xxxxxxxxxxxxxxxx" }
''', catalog)
    starts = [n.start_beat for n in s.notes]
    assert starts[:4] == [0, F(1, 4) + F(1, 16), F(1, 2), F(3, 4) + F(1, 16)]


def test_dynamics_points(catalog) -> None:
    s = load('''
[[passage]]
name = "swell"
bar = 3
bars = 4
sections = ["strings", "brass"]
notes = "d4:1 d d d"
dynamics = "1:p 1:< 3.3:ff 4:> 4.4:pp"
''', catalog)
    pts = [(d.section, d.beat, d.level_db, d.ramp) for d in s.dynamics]
    assert pts == [
        ("brass", F(8), -18.0, True), ("brass", F(18), 0.0, False), ("brass", F(20), 0.0, True),
        ("brass", F(23), -24.0, False),
        ("strings", F(8), -18.0, True), ("strings", F(18), 0.0, False), ("strings", F(20), 0.0, True),
        ("strings", F(23), -24.0, False)]


def test_sections_buses_master(catalog) -> None:
    s = load('''
[master]
gain_db = -1.5
ceiling_dbtp = -1.0
lufs = -16.0
[bus.hall]
effect = "reverb"
gain_db = -2.0
space = "factory_hall"
decay_s = 3.5
[bus.echo]
effect = "delay"
time_beats = 0.75
[section.pad]
instrument = "string_ensemble"
gain_db = -6.0
pan = -0.3
voices = 24
sends = { hall = 0.35, echo = 0.1 }
params = { attack_ms = 400, brightness = 0.4 }
''', catalog)
    pad = s.section("pad")
    assert (pad.gain_db, pad.pan, pad.voices, dict(pad.sends), dict(pad.params)) == (
        -6.0, -0.3, 24, {"hall": 0.35, "echo": 0.1}, {"attack_ms": 400.0, "brightness": 0.4})
    assert [(b.name, b.effect, dict(b.params)) for b in s.buses] == [
        ("hall", "reverb", {"space": "factory_hall", "decay_s": 3.5}), ("echo", "delay", {"time_beats": 0.75})]
    assert s.master.lufs == -16.0
    assert pad.position.line == HEAD.count("\n") + 14


def test_file_reading(tmp_path: Path, catalog) -> None:
    p = tmp_path / "s.toml"
    body = HEAD + '[[passage]]\nname = "a"\nbar = 1\nsections = ["strings"]\nnotes = "c4"\n'
    p.write_text(body, encoding="utf-8")
    s = load_score(p, catalog)
    assert s.source_sha256 == hashlib.sha256(body.encode()).hexdigest() and s.path == str(p)
    for bad, fragment in [(tmp_path / "missing.toml", "not found"), (tmp_path, "is a directory")]:
        with pytest.raises(ScoreError, match=fragment) as info:
            load_score(bad, catalog)
        assert info.value.hint


def test_all_problems_reported_sorted(catalog) -> None:
    with pytest.raises(ScoreError) as info:
        load('''
[section.x]
instrument = "celo"
pan = 4.0
[[passage]]
name = "a"
bar = 1
sections = ["y"]
notes = "c4 h4"
''', catalog)
    problems = info.value.problems
    assert len(problems) == 4
    assert [p.line for p in problems] == sorted(p.line for p in problems)
    assert "unknown instrument 'celo' in section 'x'" in problems[0].message


def test_passage_extends_past_chapter_bars_but_layering_is_allowed(catalog) -> None:
    s = load('''
[[passage]]
name = "a"
bar = 1
sections = ["strings"]
notes = "c4:1 d4:1"
[[passage]]
name = "b"
bar = 1
sections = ["strings"]
notes = "e4:1 f4:1"
''', catalog, head=HEAD.replace('seed = 7', 'seed = 7\nbars = 2'))
    assert len(s.notes) == 4 and s.n_bars == 2


@pytest.mark.parametrize("body, fragment", [
    ('[[passage]]\nname = "a"\nbar = 1\nsections = ["strings"]\nnotes = "' + "c4 " * 400_000 + '"\n',
     "exceeds the limit of 1 MB"),
    ("[x]\ny = " + "[" * 40 + "]" * 40 + "\n", "nesting depth exceeds the limit of 32"),
    ('[[passage]]\nname = "a"\nbar = 1\nbars = 10000\nsections = ["drums"]\nstep = "1/999"\n'
     'pattern = { kick = "x" }\n', "more than 100000 steps"),
    ('[[passage]]\nname = "a"\nbar = 1\nrepeat = 1000\nsections = ["strings"]\nnotes = "' + "r:64 " * 2000 + '"\n',
     "more than the limit of 1000000 tokens"),
])
def test_size_limits(body, fragment, catalog) -> None:
    with pytest.raises(ScoreError) as info:
        load(body, catalog)
    assert fragment in info.value.format()
