"""Property-based tests over the note language and the score schema.

Any input yields either a valid model or symphony's own ``ScoreError`` (never another
exception); a valid model builds a Conductor, gets a finite render estimate and renders its
first blocks to finite audio (or stops with the ``RenderError`` of the section bus).
Bounded in CI; ``pytest tests/faults --fuzz-long`` runs the long profile (see
docs/reliability.md for the figures).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import event, given, strategies as st
from hypothesis.errors import InvalidArgument

from symphony.catalog import default_catalog, load
from symphony.conductor import Conductor, build_timeline
from symphony.errors import RenderError, ScoreError
from symphony.instruments import REGISTRY
from symphony.limits import Limits, LimitError, check_limits, estimate
from symphony.score.model import Score
from symphony.score.notes import NoteSyntaxError, format_notes, parse_notes
from symphony.tempo import TempoMap
from tests.faults.helpers import fuzz_settings

FUZZ = fuzz_settings()
CATALOG = default_catalog()


def _checker_rejects_nan() -> bool:
    """Whether the validator rejects TOML's ``nan`` (fixed in symphony/score/checker.py?).

    Until it does, NaN is left out of the generated numbers here (the fuzzer found it:
    ``tail_seconds = nan`` loads and crashes the Conductor) and tests/bad_scores holds the
    strict-xfail cases that track the fix.
    """
    try:
        load("probe.toml", text='[chapter]\ntitle = "p"\ntail_seconds = nan\n')
    except ScoreError:
        return True
    except Exception:
        return False
    return False


NAN_OK = _checker_rejects_nan()

# ------------------------------------------------------------------ the note language
LETTERS = st.sampled_from(list("abcdefg") + ["h", "C"])
PITCH = st.builds(lambda letter, acc, octave, cents: letter + acc + octave + cents, LETTERS,
                  st.sampled_from(["", "#", "##", "b", "bb", "n", "#b"]),
                  st.sampled_from(["", "", "4", "3", "5", "-1", "9", "10", "-2"]),
                  st.sampled_from(["", "", "", "+15c", "-30c", "+150c"]))
SUFFIX = st.builds(lambda d, v, a: d + v + a,
                   st.sampled_from(["", "", ":1", ":2", ":4", ":8", ":16", ":32", ":64", ":4.", ":8..", ":3",
                                    ":4...", ":0"]),
                   st.sampled_from(["", "", "", "@0.8", "@100", "@1.5", "@0", "@200"]),
                   st.sampled_from(["", "", "", "!", "!!", "'", "~", "!!!", "~~"]))
TOKEN = st.one_of(
    st.builds(str.__add__, PITCH, SUFFIX),
    st.builds(str.__add__, PITCH, SUFFIX),
    st.builds(lambda d: "r" + d, st.sampled_from(["", ":4", ":8.", ":2", "@1"])),
    st.just("R"),
    st.just("|"), st.just("|"),
    st.builds(lambda ps, s: "<" + " ".join(ps) + ">" + s, st.lists(PITCH, max_size=4), SUFFIX),
    st.sampled_from(["3:2{", "5:4{", "2:3{", "0:1{", "{", "}"]),
    st.text(alphabet="<>{}|~!@:.'#xyz0123456789 \t\n", max_size=3),
)
GOOD_PITCH = st.builds(lambda letter, acc, octave: letter + acc + octave, st.sampled_from("abcdefg"),
                       st.sampled_from(["", "#", "b"]), st.sampled_from(["2", "3", "4", "5"]))
GOOD_SUFFIX = st.builds(lambda d, v, a: d + v + a, st.sampled_from(["", ":4", ":8", ":2", ":16", ":4.", ":1"]),
                        st.sampled_from(["", "", "@0.7", "@90"]), st.sampled_from(["", "", "!", "'"]))
GOOD_TOKEN = st.one_of(
    st.builds(str.__add__, GOOD_PITCH, GOOD_SUFFIX), st.builds(str.__add__, GOOD_PITCH, GOOD_SUFFIX),
    st.sampled_from(["r", "r:8", "r:2"]),
    st.builds(lambda ps, s: "<" + " ".join(ps) + ">" + s, st.lists(GOOD_PITCH, min_size=1, max_size=3),
              GOOD_SUFFIX),
    st.builds(lambda p: f"3:2{{ {p}:8 {p} {p} }}", GOOD_PITCH),
    st.builds(lambda p: f"{p}:4~ {p}:8", GOOD_PITCH),
)
#: Mostly well-formed lines (so that the realizer and the renderer are reached), some hostile.
NOTES = st.one_of(st.lists(GOOD_TOKEN, min_size=1, max_size=16).map(" ".join),
                  st.lists(GOOD_TOKEN, min_size=1, max_size=16).map(" ".join),
                  st.lists(TOKEN, max_size=24).map(" ".join))

SCORE = """[chapter]
title = "Fuzz"
sample_rate = 22050
tail_seconds = 0.1

[section.lead]
instrument = "poly_lead"
voices = 2

[[passage]]
name = "p"
bar = 1
sections = ["lead"]
notes = {notes}
"""


def _notes_score(notes: str) -> str:
    return SCORE.replace("{notes}", json.dumps(notes))


def _event(name: str) -> None:
    try:
        event(name)
    except InvalidArgument:  # outside a hypothesis test
        pass


def _load(text: str) -> Score | None:
    """The loader's contract: a Score or a ScoreError that says something, at a position."""
    try:
        score = load("fuzz.toml", text=text)
    except ScoreError as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.message and p.path == "fuzz.toml" and p.line >= 0 and p.column >= 0
        _event("ScoreError")
        return None
    assert isinstance(score, Score)
    _event("valid Score")
    return score


def _check_model(score: Score, *, render_frames: int = 1024) -> None:
    """A valid model can be estimated, timed and played for ``render_frames`` frames."""
    est = estimate(score)
    assert est.n_frames >= 0 and math.isfinite(est.render_seconds) and est.memory_bytes > 0
    try:
        check_limits(score, Limits())
    except LimitError as exc:
        assert "render refused" in exc.message and exc.hint
        _event("LimitError")
        return
    build_timeline(score, TempoMap(score.tempos, score.sample_rate))
    conductor = Conductor(score)
    assert conductor.n_frames == est.n_frames
    try:
        for block in conductor.blocks(512, end_frame=min(render_frames, conductor.n_frames)):
            assert np.isfinite(block.mix).all()  # else the section bus should have raised
    except RenderError as exc:
        assert "produced" in str(exc) and " at bar " in str(exc)
        _event("RenderError (NaN/Inf at the section bus)")


@FUZZ
@given(NOTES)
def test_note_parser_returns_tokens_or_its_own_error(text):
    try:
        tokens = parse_notes(text)
    except NoteSyntaxError as exc:
        assert str(exc)
        return
    again = parse_notes(format_notes(tokens))
    assert format_notes(again) == format_notes(tokens)


@FUZZ
@given(NOTES)
def test_notes_in_a_score_give_a_score_or_a_score_error(notes):
    score = _load(_notes_score(notes))
    if score is None:
        return
    # format_notes round trip: the same notes again
    tokens = parse_notes(notes)
    again = _load(_notes_score(format_notes(tokens)))
    assert again is not None
    assert [(n.pitch, n.start_beat, n.duration_beats, n.velocity) for n in again.notes] == \
        [(n.pitch, n.start_beat, n.duration_beats, n.velocity) for n in score.notes]
    _check_model(score, render_frames=512)


# ------------------------------------------------------------------ the schema
SAFE_TEXT = st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FFF)


def hostile():
    return st.one_of(st.integers(-10**20, 10**20), st.floats(allow_nan=NAN_OK, allow_infinity=True),
                     st.text(SAFE_TEXT, max_size=8), st.booleans(), st.lists(st.integers(-3, 3), max_size=3),
                     st.just({}), st.just({"x": 1}))


def maybe(valid):
    """Mostly valid values, sometimes a hostile one (3:1)."""
    return st.one_of(valid, valid, valid, hostile())


def num(low, high):
    return maybe(st.floats(low, high, allow_nan=False))


PARAM_NAMES = sorted({p.name for cls in REGISTRY.values() for p in cls.PARAMS})
SECTION_NAMES = ["lead", "bass", "drums", "../x", "a b"]
BUS_NAMES = ["hall", "echo"]

CHAPTER = st.fixed_dictionaries(
    {"title": maybe(st.text(SAFE_TEXT, min_size=1, max_size=12))},
    optional={"number": maybe(st.integers(1, 99)), "seed": maybe(st.integers(0, 2**40)),
              "sample_rate": maybe(st.sampled_from([22050, 22050, 44100, 12345])),
              "key": maybe(st.sampled_from(["D minor", "C major", "Bb lydian", "H major", "c# dorian"])),
              "bars": maybe(st.integers(1, 12)), "tail_seconds": num(0, 1), "titel": hostile()})
TEMPO = st.lists(st.fixed_dictionaries({"bar": maybe(st.integers(1, 5)), "bpm": num(20, 400)},
                                       optional={"beat": maybe(st.integers(1, 4)), "ramp_bars": num(0, 3)}),
                 max_size=3)
METER = st.lists(st.fixed_dictionaries({"bar": maybe(st.integers(1, 5)),
                                        "signature": maybe(st.sampled_from(["4/4", "7/8", "3/4", "5/16", "0/4",
                                                                            "4/3", "33/4"]))}), max_size=2)
MASTER = st.fixed_dictionaries({}, optional={"gain_db": num(-60, 12), "ceiling_dbtp": num(-20, 0),
                                             "lufs": num(-40, -5)})
BUS = st.dictionaries(st.sampled_from(BUS_NAMES), st.fixed_dictionaries(
    {"effect": maybe(st.sampled_from(["reverb", "delay", "delay", "revreb"]))},
    optional={"gain_db": num(-60, 12), "time_ms": num(1, 4000), "feedback": num(0, 1),
              "time_beats": num(0.0625, 8), "space": maybe(st.sampled_from(["catacomb", "room", "attic"]))}),
    max_size=2)
SECTION = st.dictionaries(st.sampled_from(SECTION_NAMES), st.fixed_dictionaries(
    {"instrument": maybe(st.sampled_from(sorted(REGISTRY) + ["poly_leed"]))},
    optional={"voices": maybe(st.integers(1, 4)), "gain_db": num(-60, 12), "pan": num(-1, 1),
              "params": st.dictionaries(st.sampled_from(PARAM_NAMES), maybe(st.floats(-1e4, 1e5, allow_nan=False)),
                                        max_size=3),
              "sends": st.dictionaries(st.sampled_from(BUS_NAMES + ["nowhere"]), num(0, 1), max_size=2),
              "compressor": st.fixed_dictionaries({}, optional={"ratio": num(1, 20),
                                                                "sidechain": st.sampled_from(SECTION_NAMES)})}),
    min_size=1, max_size=3)
GENERATE = st.fixed_dictionaries(
    {"kind": maybe(st.sampled_from(["euclid", "probability", "walk", "markov", "arpeggio", "chaos"]))},
    optional={"pulses": maybe(st.integers(0, 16)), "steps": maybe(st.one_of(st.integers(1, 16),
                                                                           st.sampled_from(["9090", "12|34"]))),
              "pitch": maybe(st.sampled_from(["d2", "c4", "h9"])), "voice": st.sampled_from(["kick", "kik"]),
              "scale": st.sampled_from(["key", "D dorian", "X"]), "start": st.sampled_from(["d3", "q"]),
              "low": st.sampled_from(["a2", "c9"]), "high": st.sampled_from(["d4", "a0"]),
              "states": st.lists(st.sampled_from(["d2", "Dm7", "<d3 f3>", "Zz"]), max_size=3),
              "transitions": st.lists(st.lists(num(0, 1), max_size=3), max_size=3),
              "chords": st.sampled_from(["Dm7 | Bb", "C/E", "<c3 e3>", "Q7"]),
              "mode": st.sampled_from(["up", "down", "sideways"]), "step": st.sampled_from(["1/16", "1/8.", "1/0"])})
PASSAGE = st.lists(st.fixed_dictionaries(
    {"name": maybe(st.sampled_from(["a", "b", "c"])), "bar": maybe(st.integers(1, 4))},
    optional={"sections": maybe(st.lists(st.sampled_from(SECTION_NAMES), min_size=1, max_size=2)),
              "players": st.lists(st.fixed_dictionaries({"section": st.sampled_from(SECTION_NAMES)},
                                                        optional={"transpose": maybe(st.integers(-48, 48)),
                                                                  "spread_ms": num(0, 200)}), max_size=2),
              "notes": maybe(NOTES), "bars": maybe(st.integers(1, 4)), "repeat": maybe(st.integers(1, 3)),
              "pattern": st.dictionaries(st.sampled_from(["kick", "snare", "kik"]),
                                         st.sampled_from(["x...x...x...x...", "x.x.", "X|", "xoXo" * 4]),
                                         max_size=2),
              "generate": GENERATE, "dynamics": st.sampled_from(["1:p 1:< 2:ff", "1:q", "9:p"]),
              "legato": num(0.01, 1), "velocity": num(0, 1), "swing": num(0, 0.5),
              "space": st.sampled_from(["catacomb", "attic"])}),
    max_size=3)
DOCUMENT = st.fixed_dictionaries({"chapter": maybe(CHAPTER)},
                                 optional={"tempo": TEMPO, "meter": METER, "master": MASTER, "bus": BUS,
                                           "section": SECTION, "passage": PASSAGE, "chorus": hostile()})


def toml_value(value) -> str:
    """A TOML value (inline tables and arrays), written the way a composer might."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"


def toml_document(doc: dict) -> str:
    lines = []
    for key, value in doc.items():
        if isinstance(value, dict) and key in ("chapter", "master"):
            lines.append(f"[{key}]")
            lines.extend(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                lines.append(f"[[{key}]]")
                lines.extend(f"{json.dumps(k)} = {toml_value(v)}" for k, v in item.items())
        else:
            lines.insert(0, f"{json.dumps(key)} = {toml_value(value)}")  # top-level keys come first
        lines.append("")
    return "\n".join(lines)


MELODIC = sorted(n for n, cls in REGISTRY.items() if not cls.DRUM_VOICES)
DRUMS = sorted(n for n, cls in REGISTRY.items() if cls.DRUM_VOICES)
PATTERNS = ["x...x...x...x...", "x.x.x.x.x.x.x.x.", "X...o...x..o.X..", "....x.......x..."]


def _param_value(p):
    """Anywhere in the declared range, extremes included, or one of its special values
    (fm_synth's ratio 0 = "the preset's ratio")."""
    if p.choices:
        return st.sampled_from(list(p.choices))
    values = st.floats(p.low, p.high, allow_nan=False)
    if p.special:
        values = values | st.sampled_from(list(p.special))
    return values


@st.composite
def coherent_document(draw):
    """A score that is valid by construction (parameters anywhere in their declared ranges,
    extremes included), then, half of the time, one leaf replaced by a hostile value."""
    buses = {}
    for name in draw(st.lists(st.sampled_from(BUS_NAMES), unique=True, max_size=2)):
        buses[name] = ({"effect": "reverb", "space": draw(st.sampled_from(["catacomb", "room", "plate"]))}
                       if name == "hall" else
                       {"effect": "delay", "time_ms": draw(st.floats(1, 4000)), "feedback": draw(st.floats(0, 1))})
    sections = {}
    for name in draw(st.lists(st.sampled_from(["lead", "bass", "drums"]), unique=True, min_size=1, max_size=3)):
        inst = draw(st.sampled_from(DRUMS if name == "drums" else MELODIC))
        params = {p.name: draw(_param_value(p))
                  for p in draw(st.lists(st.sampled_from(REGISTRY[inst].PARAMS), unique=True, max_size=4))}
        sections[name] = {"instrument": inst, "voices": draw(st.integers(1, 4)), "params": params,
                          "gain_db": draw(st.floats(-60, 12)), "pan": draw(st.floats(-1, 1)),
                          "sends": {b: draw(st.floats(0, 1)) for b in buses}}
    passages = []
    for k in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(sections)))
        passage = {"name": f"p{k}", "bar": draw(st.integers(1, 3)), "sections": [name]}
        if REGISTRY[sections[name]["instrument"]].DRUM_VOICES:
            passage.update(bars=draw(st.integers(1, 2)), pattern={"kick": draw(st.sampled_from(PATTERNS))})
        elif draw(st.booleans()):
            passage["notes"] = draw(st.lists(GOOD_TOKEN, min_size=1, max_size=12).map(" ".join))
        else:
            passage.update(bars=draw(st.integers(1, 2)), generate=draw(st.sampled_from([
                {"kind": "walk", "scale": "key", "start": "d3", "low": "a2", "high": "d4"},
                {"kind": "arpeggio", "chords": "Dm7 | Bb", "mode": "updown"},
                {"kind": "euclid", "pulses": 3, "steps": 8, "pitch": "d2"}])))
        passages.append(passage)
    doc = {"chapter": {"title": "Fuzz", "sample_rate": 22050, "tail_seconds": draw(st.floats(0, 0.5)),
                       "seed": draw(st.integers(0, 2**32))},
           "tempo": [{"bar": 1, "bpm": draw(st.floats(40, 240))}],
           "meter": [{"bar": 1, "signature": draw(st.sampled_from(["4/4", "7/8", "3/4", "5/16"]))}],
           "bus": buses, "section": sections, "passage": passages}
    if draw(st.booleans()):  # one defect: a leaf replaced by a hostile value
        table, key = _random_leaf(draw, doc)
        table[key] = draw(hostile())
    return doc


def _random_leaf(draw, doc):
    node, key = doc, draw(st.sampled_from(sorted(doc)))
    while isinstance(node[key], (dict, list)) and node[key]:
        node = node[key]
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
    return node, key


@FUZZ
@given(coherent_document())
def test_coherent_documents_render_or_fail_cleanly(doc):
    score = _load(toml_document(doc))
    if score is not None:
        _check_model(score)


@FUZZ
@given(DOCUMENT)
def test_any_document_gives_a_score_or_a_score_error(doc):
    score = _load(toml_document(doc))
    if score is not None:
        _check_model(score)


def test_the_document_strategy_reaches_valid_scores():
    """Guard against a fuzzer that only ever produces errors (which would prove little)."""
    doc = {"chapter": {"title": "T", "sample_rate": 22050, "tail_seconds": 0.1},
           "bus": {"echo": {"effect": "delay", "time_ms": 100.0}},
           "section": {"lead": {"instrument": "poly_lead", "voices": 2, "sends": {"echo": 0.5}}},
           "passage": [{"name": "a", "bar": 1, "sections": ["lead"], "notes": "c4:4 d4 e4 f4 |"}]}
    score = _load(toml_document(doc))
    assert score is not None and len(score.notes) == 4
    _check_model(score)


def test_fm_ratio_below_quarter_is_caught_by_the_validator():
    text = _notes_score("c4:4 d4").replace('"poly_lead"', '"fm_synth"').replace(
        "voices = 2", "voices = 2\nparams = { ratio_2 = 0.125 }")
    with pytest.raises(ScoreError, match=r"ratio_2 must be in \[0.25, 16.0\] or 0, got 0.125") as info:
        load("fuzz.toml", text=text)
    assert info.value.line > 0
    # 0 (the preset's ratio) and the range itself still load and play
    for ok in ("0", "0.25", "3.5"):
        _check_model(_load(text.replace("ratio_2 = 0.125", f"ratio_2 = {ok}")))
