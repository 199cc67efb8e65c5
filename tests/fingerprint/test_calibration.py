"""Calibration: numerical noise is "same", the smallest musical changes "differ", and the
findings of one-note changes point at that note.

Renders 8 s of ``scores/example-01-foundry.toml`` from bar 9 (drums, bass, strings and the
theme in unison) at 22050 Hz, then each perturbation of ``symphony.fingerprint.calibration``.
The same table, next to Chromaprint's verdicts, is in docs/fingerprints.md
(``benchmarks/chromaprint_table.py``).
"""

from __future__ import annotations

import pytest

from symphony.catalog import load
from symphony.fingerprint import compare, fingerprint_audio
from symphony.fingerprint.audio import unnormalized
from symphony.fingerprint.calibration import Excerpt, calibration_cases
from tests.conftest import REPO

SCORE = REPO / "scores" / "example-01-foundry.toml"
EXCERPT = Excerpt(start_bar=9, seconds=8.0)
CASES = [p for p, _ in calibration_cases(load(SCORE), EXCERPT)]


@pytest.fixture(scope="module")
def setup():
    score = load(SCORE)
    reference = EXCERPT.render(unnormalized(score))
    makers = {p.name: make for p, make in calibration_cases(score, EXCERPT)}
    return reference, fingerprint_audio(reference, EXCERPT.sample_rate), makers


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_verdict(setup, case):
    reference, fp_reference, makers = setup
    perturbed = makers[case.name](reference)
    result = compare(fingerprint_audio(perturbed, EXCERPT.sample_rate), fp_reference)
    report = "\n".join(f"{f.where} {f.kind} {f.detail}" for f in result.findings)
    assert result.same == (case.expected == "same"), f"{case.name}: {case.description}\n{report}"
    if case.expected == "same":
        assert result.similarity > 0.98
        return
    assert result.similarity < 0.99
    if case.at_s is not None:
        # a one-note change is found where the note is (a frame window reaches 186 ms around
        # its centre; the note sounds on after its onset)
        near = [f for f in result.findings if f.start_s - 0.4 <= case.at_s <= f.end_s + 0.1]
        assert near, f"{case.name}: nothing found near {case.at_s:.2f} s\n{report}"
        assert all(f.start_s >= case.at_s - 0.6 for f in result.findings), report


BURIED_SCORE = REPO / "scores" / "example-02-chance.toml"
BURIED = Excerpt(start_bar=13, seconds=8.0)
BURIED_CASES = ("one note +1 semitone", "one note +50 cents", "one event 20 ms late", "one event dropped",
                "one section +1 dB")


@pytest.fixture(scope="module")
def buried():
    """chance, bars 13-: the note picked is an arpeggio 16th whose section sits about 36 dB
    under the mix; in the mix its changes stay under the quantization (docs: "Limits")."""
    score = unnormalized(load(BURIED_SCORE))

    def stems_of(variant):
        _, stems = BURIED.render_stems(variant)
        return {name: fingerprint_audio(x, BURIED.sample_rate) for name, x in stems.items()}

    makers = {p.name: (p, make) for p, make in calibration_cases(score, BURIED)}
    return score, stems_of, stems_of(score), makers


@pytest.mark.parametrize("name", BURIED_CASES)
def test_changes_buried_in_the_mix_are_caught_by_the_stems(buried, name):
    from symphony.fingerprint.report import compare_stems

    score, stems_of, reference, makers = buried
    case, _ = makers[name]
    result = compare_stems(stems_of(case.variant), reference)
    assert not result.same
    assert not result.comparisons[case.section].same, result.format()
    untouched = [n for n in result.comparisons if not n.startswith("bus-") and n != case.section]
    assert all(result.comparisons[n].same for n in untouched), result.format()
