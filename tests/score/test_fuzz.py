"""Any input yields a Score or a ScoreError, never another exception (bounded hypothesis runs)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from symphony.errors import ScoreError
from symphony.score import Score, load_score
from symphony.score.positions import PositionMap

LINES = [
    "[chapter]", 'title = "T"', "seed = 3", 'key = "D minor"', "bars = 4", "bars = 0", "tail_seconds = -1",
    "[[tempo]]", "bar = 1", "bar = 2", "bpm = 96", 'bpm = "fast"', "ramp_bars = 2", "beat = 3",
    "[[meter]]", 'signature = "7/8"', 'signature = "0/3"', "[master]", "lufs = -14.0",
    "[bus.hall]", 'effect = "reverb"', 'space = "factory_hall"', "decay_s = 99",
    "[section.s]", 'instrument = "string_ensemble"', 'instrument = "drum_machine"', "voices = 99",
    "sends = { hall = 0.3 }", "params = { attack_ms = 10 }", "[[passage]]", 'name = "p"',
    'sections = ["s"]', 'players = [{ section = "s", transpose = -12, spread_ms = 3 }]',
    'notes = "c4:8 d e f | R |"', 'notes = "<c4 e4>:2~ <c4 e4> 3:2{ a:8 b c5 }"', "repeat = 3",
    'pattern = { kick = "x...x...x...x..." }', "swing = 0.2", 'step = "1/8"', "[passage.generate]",
    'kind = "walk"', 'kind = "euclid"', "pulses = 3", "steps = 8", 'voice = "kick"', 'pitch = "d2"',
    'start = "d3"', 'low = "a2"', 'high = "d4"', 'kind = "markov"', 'states = ["d2", "Dm"]',
    "transitions = [[0.5, 0.5], [1, 0]]", 'kind = "arpeggio"', 'chords = "Dm7 | Bb"',
    'kind = "probability"', 'dynamics = "1:p 1:< 2:ff"', "legato = 1.0", "x = [[[[1]]]]", "= 3", '"',
]

documents = st.lists(st.one_of(st.sampled_from(LINES), st.text(max_size=20)), max_size=40).map("\n".join)


def check(text: str, catalog) -> None:
    try:
        result = load_score("fuzz.toml", catalog, text=text)
    except ScoreError as e:
        assert e.problems and all(p.message for p in e.problems)
        return
    assert isinstance(result, Score)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents)
def test_fuzz_documents(catalog, text) -> None:
    check(text, catalog)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_fuzz_any_text(catalog, text) -> None:
    check(text, catalog)
    PositionMap(text)  # the scanner is tolerant of anything


def test_deep_nesting_is_a_score_error(catalog) -> None:
    for text in ["x = " + "[" * 5000 + "]" * 5000, "x = " + "[" * 40 + "]" * 40, "a" + ".a" * 3000 + " = 1"]:
        check("[chapter]\ntitle = \"t\"\n" + text, catalog)
