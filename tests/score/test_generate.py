"""Generative blocks: each kind, determinism, seed sensitivity, musical constraints."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from symphony.errors import ScoreError
from symphony.score import load_score
from symphony.score.generate import euclid, parse_chord, parse_key, parse_step, scale_pitches

HEAD = '''[chapter]
title = "Gen"
seed = {seed}
key = "D minor"
[section.bass]
instrument = "acid_bass"
[section.drums]
instrument = "drum_machine"
[section.lead]
instrument = "poly_lead"
[[passage]]
name = "g"
bar = 1
bars = 4
sections = ["{section}"]
[passage.generate]
'''

BLOCKS = {
    "euclid": ("drums", 'kind = "euclid"\npulses = 3\nsteps = 8\nvoice = "kick"\naccent_every = 3'),
    "probability": ("drums", 'kind = "probability"\nsteps = "9050|9050|9353|9555"\nvoice = "closed_hat"'),
    "walk": ("bass", 'kind = "walk"\nscale = "key"\nstart = "d3"\nlow = "a2"\nhigh = "d4"\nstep = "1/8"\n'
                     'rest_probability = 0.2'),
    "markov": ("bass", 'kind = "markov"\nstates = ["d2", "f2", "a2", "Dm"]\n'
                       'transitions = [[0.1, 0.4, 0.4, 0.1], [0.5, 0.0, 0.5, 0.0], [0.3, 0.3, 0.1, 0.3], '
                       '[1.0, 0.0, 0.0, 0.0]]\nstep = "1/8"'),
    "arpeggio": ("lead", 'kind = "arpeggio"\nchords = "Dm7 | Bb | F/A | <c3 e3 g3>"\nmode = "random"\n'
                         'step = "1/16"\noctaves = 2'),
}


def notes(catalog, kind, seed=1927, extra=""):
    section, body = BLOCKS[kind]
    text = HEAD.replace("{seed}", str(seed)).replace("{section}", section) + body + "\n" + extra
    return load_score("g.toml", catalog, text=text).notes


def key(ns):
    return [(n.start_beat, n.pitch, n.voice, n.velocity) for n in ns]


@pytest.mark.parametrize("kind", list(BLOCKS))
def test_deterministic(kind, catalog) -> None:
    a = notes(catalog, kind)
    assert a and key(a) == key(notes(catalog, kind))
    assert all(F(0) <= n.start_beat < F(16) for n in a)


@pytest.mark.parametrize("kind", ["probability", "walk", "markov", "arpeggio"])
def test_chapter_seed_changes_choices(kind, catalog) -> None:
    assert key(notes(catalog, kind, seed=1)) != key(notes(catalog, kind, seed=2))


def test_explicit_seed_overrides_chapter_seed(catalog) -> None:
    a = notes(catalog, "walk", seed=1, extra="seed = 99")
    b = notes(catalog, "walk", seed=2, extra="seed = 99")
    assert key(a) == key(b)


def test_euclid_block(catalog) -> None:
    ns = notes(catalog, "euclid")
    # x..x..x. of 1/16 steps, repeating every 8 steps = 2 beats
    assert [n.start_beat for n in ns][:6] == [0, F(3, 4), F(3, 2), 2, F(11, 4), F(7, 2)]
    assert [n.velocity for n in ns][:4] == [1.0, 0.75, 0.75, 1.0]
    assert {n.voice for n in ns} == {"kick"}


@pytest.mark.parametrize("pulses, steps, rotation, text", [
    (3, 8, 0, "x..x..x."), (4, 16, 0, "x...x...x...x..."), (0, 4, 0, "...."), (4, 4, 0, "xxxx"),
    (3, 8, 1, ".x..x..x"), (5, 8, 0, "x.x.xx.x"),
])
def test_euclid(pulses, steps, rotation, text) -> None:
    pattern = euclid(pulses, steps, rotation)
    assert "".join("x" if s else "." for s in pattern) == text
    assert sum(pattern) == pulses


def test_probability_extremes(catalog) -> None:
    ns = notes(catalog, "probability")
    starts = {n.start_beat for n in ns}
    # digit 9 always plays, digit 0 never plays
    assert F(0) in starts and F(1, 4) not in starts and F(3, 4) not in starts


def test_walk_stays_in_scale_and_range(catalog) -> None:
    ns = notes(catalog, "walk")
    d_minor = {(2 + s) % 12 for s in (0, 2, 3, 5, 7, 8, 10)}
    assert all(n.pitch % 12 in d_minor and 45 <= n.pitch <= 62 for n in ns)
    pool = scale_pitches(2, "minor", 45, 62)
    steps = [abs(pool.index(b.pitch) - pool.index(a.pitch)) for a, b in zip(ns, ns[1:])
             if b.start_beat - a.start_beat == F(1, 2)]
    assert steps and max(steps) <= 2  # max_step = 2 scale degrees between adjacent steps
    assert len(ns) < 32  # some rests at rest_probability 0.2 (32 steps of 1/8 in 4 bars)
    assert ns[0].pitch == 50.0 or ns[0].start_beat > 0


def test_markov_follows_transitions(catalog) -> None:
    ns = notes(catalog, "markov")
    by_time = {}
    for n in ns:
        by_time.setdefault(n.start_beat, []).append(n.pitch)
    states = [tuple(sorted(v)) for _, v in sorted(by_time.items())]
    assert states[0] == (38.0,)
    dm = (50.0, 53.0, 57.0)
    for a, b in zip(states, states[1:]):
        if a == dm:
            assert b == (38.0,)  # the Dm row goes to d2 with probability 1
        if a == (41.0,):
            assert b in ((38.0,), (45.0,))


def test_arpeggio_uses_the_bar_chords(catalog) -> None:
    ns = notes(catalog, "arpeggio")
    bar1 = {n.pitch % 12 for n in ns if n.start_beat < 4}
    bar3 = {n.pitch % 12 for n in ns if 8 <= n.start_beat < 12}
    assert bar1 <= {2, 5, 9, 0} and bar3 <= {5, 9, 0}
    assert len(ns) == 64


@pytest.mark.parametrize("mode, first", [("up", [50, 53, 57, 60, 62]), ("down", [72, 69, 65, 62, 60]),
                                         ("updown", [50, 53, 57, 60, 62, 65, 69, 72, 69, 65])])
def test_arpeggio_modes(mode, first, catalog) -> None:
    text = (HEAD.replace("{seed}", "1").replace("{section}", "lead")
            + f'kind = "arpeggio"\nchords = "Dm7"\nmode = "{mode}"\noctaves = 2\n')
    ns = load_score("a.toml", catalog, text=text).notes
    assert [n.pitch for n in ns][:len(first)] == first


def test_helpers() -> None:
    assert parse_step("1/16") == F(1, 4) and parse_step("1/8.") == F(3, 4) and parse_step("1/12") == F(1, 3)
    assert parse_key("Bb lydian") == (10, "lydian")
    assert parse_chord("F/A") == (45.0, 53.0, 60.0)
    assert parse_chord("Bb") == (58.0, 62.0, 65.0)
    assert parse_chord("<d3 f3 a3>") == (50.0, 53.0, 57.0)


@pytest.mark.parametrize("body, fragment", [
    ('kind = "euclid"\npulses = 9\nsteps = 8\npitch = "d2"', "pulses must be <= steps"),
    ('kind = "euclid"\npulses = 3\nsteps = 8\nvoice = "kick"', "has no drum voices"),
    ('kind = "euclid"\npulses = 3\nsteps = 8', "give exactly one of pitch or voice"),
    ('kind = "walk"\nstart = "d3"\nlow = "d4"\nhigh = "a2"', "low must be below high"),
    ('kind = "markov"\nstates = ["d2", "f2"]\ntransitions = [[1.0]]', "must be a 2x2 matrix"),
    ('kind = "arpeggio"\nchords = "Dm7 | Qx"', "bad chord 'Qx'"),
    ('kind = "walk"\nscale = "D dorain"\nstart = "d3"\nlow = "a2"\nhigh = "d4"', "bad scale"),
    ('kind = "walk"\nstart = "d3"\nlow = "a2"\nhigh = "d4"\nmax_stepp = 3', "did you mean 'max_step'"),
])
def test_generate_errors(body, fragment, catalog) -> None:
    text = HEAD.replace("{seed}", "1").replace("{section}", "bass") + body + "\n"
    with pytest.raises(ScoreError) as info:
        load_score("e.toml", catalog, text=text)
    assert fragment in info.value.format()
    assert info.value.line > 0
