"""Every score in scores/ still sounds like its golden fingerprints (mix and stems).

Each score is rendered once, whole (tail included), at 22050 Hz without loudness
normalization; the mix and every section and bus stem are compared. A mismatch prints
where the music moved (time, bar:beat, band, section stem). A changed sha256 of the
samples is reported, never a failure (float bits drift across builds).
Goldens change only through ``pytest --update-goldens``, ``make goldens`` or
``symphony fingerprint --update-golden``: commit them with the change that explains them.
"""

from __future__ import annotations

import warnings

import pytest

from symphony.fingerprint.fileformat import FORMAT_VERSION, header_of
from symphony.fingerprint.golden import check_golden, golden_paths, make_golden, write_golden
from tests.conftest import REPO

GOLDEN_DIR = REPO / "tests" / "golden"
SCORES = sorted((REPO / "scores").glob("*.toml"))


@pytest.mark.parametrize("score_path", SCORES, ids=lambda p: p.stem)
def test_score_matches_its_golden(score_path, update_goldens):
    rel = score_path.relative_to(REPO).as_posix()
    # goldens record the repository-relative path, so they do not depend on the checkout
    fresh = make_golden(score_path, display_path=rel)
    if update_goldens:
        write_golden(score_path, *fresh, golden_dir=GOLDEN_DIR)
        return
    result = check_golden(score_path, GOLDEN_DIR, fresh=fresh)
    if result.mix.audio_sha256_equal is False:
        warnings.warn(f"{rel}: samples differ bit-wise from the golden (reported only)", stacklevel=1)
    assert result.same, "\n" + result.format()


@pytest.mark.parametrize("score_path", SCORES, ids=lambda p: p.stem)
def test_golden_records_how_it_was_made(score_path):
    from symphony.catalog import load

    mix_path, stems_dir = golden_paths(score_path, GOLDEN_DIR)
    header = header_of(mix_path)
    assert header["score"]["sha256"] == load(score_path).source_sha256, (
        f"{mix_path} was made from another version of {score_path.name}; run `make goldens` "
        f"and commit the result with the score change")
    assert header["source"]["sample_rate"] == 22050
    assert header["version"] == FORMAT_VERSION, (
        f"{mix_path} has format version {header['version']}; run `make goldens` (the music must not have changed)")
    # the whole score, tail included (not windows of it), for the mix and every stem
    from symphony.conductor import Conductor

    n_frames = Conductor(load(score_path), sample_rate=22050).n_frames
    for path in [mix_path, *sorted(stems_dir.glob("*.fp"))]:
        source = header_of(path)["source"]
        assert source["n_frames"] == n_frames and "segments" not in source, (
            f"{path} covers {source['n_frames']} frames of {n_frames}; run `make goldens`")
    assert header["made_by"]["symphony"]
    assert "make goldens" in header["made_by"]["command"]
    assert sorted(p.stem for p in stems_dir.glob("*.fp"))  # stems are there too
