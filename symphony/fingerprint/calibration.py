"""Calibration pairs: a score excerpt and its perturbations, with the verdict each must get.

Used by ``tests/fingerprint/test_calibration.py`` and ``benchmarks/chromaprint_table.py``
(which writes the table in docs/fingerprints.md). Musical perturbations are made on the
loaded ``Score`` model (``dataclasses.replace`` on one note, section, tempo change or the
master); numerical ones on the rendered samples.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from symphony.fingerprint.audio import RENDER_RATE, render_score_audio, unnormalized

#: Seed of the dither and noise generators.
CALIBRATION_SEED = 1927


@dataclass(frozen=True)
class Excerpt:
    """``seconds`` of the score starting at the first frame of ``start_bar`` (each score
    variant uses its own tempo map for that frame, so "tempo 1 % faster" drifts from there)."""

    start_bar: int = 1
    seconds: float = 8.0
    sample_rate: int = RENDER_RATE

    def render(self, score, *, block_size: int = 4096) -> np.ndarray:
        """The mastered mix ``(2, n)`` of the excerpt."""
        return self.render_stems(score, block_size=block_size, stems=False)[0]

    def render_stems(self, score, *, block_size: int = 4096, stems: bool = True
                     ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The mix and the stems (name -> ``(2, n)`` float32) of the excerpt."""
        from symphony.conductor import Conductor

        start = Conductor(score, sample_rate=self.sample_rate).frame_of_bar(self.start_bar)
        end = start + int(round(self.seconds * self.sample_rate))
        return render_score_audio(score, sample_rate=self.sample_rate, start_frame=start, end_frame=end,
                                  block_size=block_size, stems=stems)


@dataclass(frozen=True)
class Perturbation:
    """One calibration case.

    ``expected`` is ``"same"`` or ``"differs"``; ``at_s`` is where in the excerpt a one-note
    change starts (None for global changes); ``section`` the section it touches (None: all);
    ``variant`` the perturbed Score for score-level cases (None for numerical ones).
    """

    name: str
    expected: str
    description: str
    at_s: float | None = None
    section: str | None = None
    variant: object | None = field(default=None, repr=False, compare=False)


def pick_note(score, excerpt: Excerpt):
    """The pitched note the note perturbations act on: the one sounding closest to the middle
    of the excerpt (ties: the longer, then the higher), so the choice is reproducible."""
    from symphony.tempo import TempoMap

    tm = TempoMap(score.tempos, excerpt.sample_rate)
    t0 = float(tm.seconds_at(score.bar_to_beat(excerpt.start_bar)))
    mid = t0 + excerpt.seconds / 2.0
    best, best_key = None, None
    for index, note in enumerate(score.notes):
        if note.voice is not None:
            continue
        start = float(tm.seconds_at(note.start_beat))
        if not t0 + 0.5 <= start <= t0 + excerpt.seconds - 1.5:
            continue
        key = (abs(start - mid), -float(note.duration_beats), -note.pitch)
        if best_key is None or key < best_key:
            best, best_key = index, key
    if best is None:
        raise ValueError(f"no pitched note starts inside the excerpt from bar {excerpt.start_bar}")
    return best


def _cutoff_section(score) -> tuple[str, float]:
    """The first section with a ``cutoff_hz`` parameter (written, or the instrument default)."""
    from symphony.instruments import REGISTRY

    for section in score.sections:
        if "cutoff_hz" in section.params:
            return section.name, float(section.params["cutoff_hz"])
    for section in score.sections:
        for p in REGISTRY[section.instrument].PARAMS:
            if p.name == "cutoff_hz":
                return section.name, float(p.default)
    raise ValueError("no section has a cutoff_hz parameter")


def _with_note(score, index: int, note) -> object:
    notes = list(score.notes)
    if note is None:
        del notes[index]
    else:
        notes[index] = note
    return dataclasses.replace(score, notes=tuple(notes))


def _with_section(score, name: str, **changes) -> object:
    sections = tuple(dataclasses.replace(s, **changes) if s.name == name else s for s in score.sections)
    return dataclasses.replace(score, sections=sections)


def calibration_cases(score, excerpt: Excerpt
                      ) -> Iterator[tuple[Perturbation, Callable[[np.ndarray], np.ndarray]]]:
    """(perturbation, make) pairs: ``make(reference)`` returns the perturbed audio, where
    ``reference = excerpt.render(unnormalized(score))``. Score-level cases ignore the argument.

    The score is used without its loudness target (see ``audio.unnormalized``).
    """
    score = unnormalized(score)
    index = pick_note(score, excerpt)
    note = score.notes[index]
    from symphony.score.notes import midi_to_name

    beat = note.start_beat
    bar, in_bar = score.beat_to_bar(beat)
    what = f"{note.section} {midi_to_name(round(note.pitch))} at bar {bar} beat {float(in_bar):g}"
    cut_name, cutoff = _cutoff_section(score)
    from symphony.tempo import TempoMap

    tm = TempoMap(score.tempos, excerpt.sample_rate)
    at = (float(tm.seconds_at(note.start_beat)) + note.offset_ms / 1000.0
          - float(tm.seconds_at(score.bar_to_beat(excerpt.start_bar))))

    def numeric(fn) -> Callable[[np.ndarray], np.ndarray]:
        return lambda reference: fn(reference, np.random.default_rng(CALIBRATION_SEED))

    def dither16(x, rng):
        # as symphony.render._Quantizer: TPDF dither of +-1 LSB, rounding to int16 steps
        q = np.round(x * 32767.0 + rng.random(x.shape) - rng.random(x.shape))
        return np.clip(q, -32768, 32767) / 32767.0

    yield (Perturbation("block size 64 vs 4096", "same", "the Conductor renders in blocks of 64 frames"),
           lambda reference: excerpt.render(score, block_size=64))
    yield (Perturbation("float32 round trip", "same", "samples stored as float32 and read back"),
           numeric(lambda x, rng: x.astype(np.float32).astype(np.float64)))
    yield (Perturbation("16-bit TPDF dither", "same", "quantized to 16 bits with +-1 LSB TPDF dither"),
           numeric(dither16))
    yield (Perturbation("noise at -100 dBFS", "same", "white noise of -100 dBFS RMS added"),
           numeric(lambda x, rng: x + 1e-5 * rng.standard_normal(x.shape)))
    section = score.section(note.section)
    tempos = tuple(dataclasses.replace(t, bpm=t.bpm * 1.01) for t in score.tempos)
    musical = [
        ("one note +1 semitone", f"{what} raised by 100 cents", at, note.section,
         _with_note(score, index, dataclasses.replace(note, pitch=note.pitch + 1.0))),
        ("one note +50 cents", f"{what} raised by 50 cents", at, note.section,
         _with_note(score, index, dataclasses.replace(note, pitch=note.pitch + 0.5))),
        ("one event dropped", f"{what} removed", at, note.section, _with_note(score, index, None)),
        ("one event 20 ms late", f"{what} starts (and ends) 20 ms later", at, note.section,
         _with_note(score, index, dataclasses.replace(note, offset_ms=note.offset_ms + 20.0))),
        ("one section +1 dB", f"section '{section.name}' gain_db {section.gain_db:g} -> {section.gain_db + 1:g}",
         None, section.name, _with_section(score, section.name, gain_db=section.gain_db + 1.0)),
        ("mix +0.5 dB", "[master] gain_db +0.5", None, None,
         dataclasses.replace(score, master=dataclasses.replace(score.master, gain_db=score.master.gain_db + 0.5))),
        ("cutoff x1.2 on one section", f"section '{cut_name}' cutoff_hz {cutoff:g} -> {cutoff * 1.2:g}", None,
         cut_name, _with_section(score, cut_name, params=dict(score.section(cut_name).params, cutoff_hz=cutoff * 1.2))),
        ("tempo 1% faster", "every tempo change x1.01", None, None, dataclasses.replace(score, tempos=tempos)),
    ]
    for name, description, at_s, touched, variant in musical:
        yield (Perturbation(name, "differs", description, at_s, touched, variant),
               lambda reference, variant=variant: excerpt.render(variant))
