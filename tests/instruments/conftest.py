"""Generic helpers for instrument tests, offered as fixtures.

- ``render_events(inst, n, events, splits=None, skip_silent=False)``: render ``n`` frames,
  applying ``events`` (``(frame, "on", note_id, pitch, velocity, voice)`` or
  ``(frame, "off", note_id)``) exactly at their frames, with ``process`` calls whose
  sizes cycle through ``splits`` (also split at every event, like the Conductor).
  ``skip_silent`` does what the Conductor does: no ``process`` call while ``is_silent``.
- ``click_ratio(x, sample_rate)``: the click detector of :mod:`symphony.dsp.analysis`.
- ``spectral_centroid(x, sample_rate, window="hann")``: power-weighted mean frequency in Hz
  (``window="fade_out"``: a falling half-Hann that keeps an onset at the start at full weight).

The instrument contract, shared by the families' test files (imported, not fixtures):
``SPLITS``, ``check_block_size_invariance``, ``check_deterministic_and_reset`` and
``chord_then_release``.
"""

from __future__ import annotations

import numpy as np
import pytest

from symphony.dsp.analysis import click_ratio


def _render_events(inst, n, events, splits=None, skip_silent=False):
    events = sorted(events, key=lambda e: e[0])
    out = np.zeros((2, n))
    sizes = list(splits) if splits else [n]
    pos, k, e = 0, 0, 0
    while pos < n:
        while e < len(events) and events[e][0] <= pos:
            ev = events[e]
            if ev[1] == "on":
                inst.note_on(ev[2], ev[3], ev[4], voice=ev[5] if len(ev) > 5 else None)
            else:
                inst.note_off(ev[2])
            e += 1
        stop = min(n, pos + sizes[k % len(sizes)])
        if e < len(events):
            stop = min(stop, events[e][0])
        k += 1
        if not (skip_silent and inst.is_silent):
            block = inst.process(stop - pos)
            assert block.shape == (2, stop - pos) and block.dtype == np.float64
            out[:, pos:stop] = block
        pos = stop
    return out


_click_ratio = click_ratio  # the project's detector, symphony.dsp.analysis

#: Block sizes the block-size invariance checks cycle through.
SPLITS = [1, 64, 65, 512, 8193]


def check_block_size_invariance(make_inst, n, events, *, min_peak, silent_gap):
    """Rendering in one call, in SPLITS-sized calls and skipping silent stretches (as the
    Conductor does) gives the same audio within 1e-12. ``make_inst()`` builds a fresh
    instrument; ``silent_gap`` (a slice) must be exactly silent in the reference, so the
    skipping is exercised; the reference must peak above ``min_peak``."""
    ref = _render_events(make_inst(), n, events)
    split = _render_events(make_inst(), n, events, splits=SPLITS)
    skipped = _render_events(make_inst(), n, events, splits=[700, 33], skip_silent=True)
    assert np.abs(ref).max() > min_peak
    assert np.all(ref[:, silent_gap] == 0.0)
    np.testing.assert_allclose(split, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(skipped, ref, rtol=0, atol=1e-12)


def check_deterministic_and_reset(make_inst, n, events):
    """Two fresh instruments render the same samples; one that played, then ``reset()``, is
    silent and renders what a fresh one does (1e-12). Returns the reference render."""
    a = _render_events(make_inst(), n, events)
    assert np.array_equal(a, _render_events(make_inst(), n, events))
    inst = make_inst()
    _render_events(inst, n // 2, events[:6])
    inst.reset()
    assert inst.is_silent
    np.testing.assert_allclose(_render_events(inst, n, events), a, rtol=0, atol=1e-12)
    return a


def chord_then_release(inst, pitches=(21, 45, 69, 93, 108), *, hold=8000, tail=8000):
    """Strike ``pitches`` at full velocity (note ids 0, 1, ...), render ``hold`` frames,
    release them all and render ``tail`` more: the extreme-settings workout."""
    for i, p in enumerate(pitches):
        inst.note_on(i, p, 1.0)
    y = inst.process(hold)
    for i in range(len(pitches)):
        inst.note_off(i)
    return np.concatenate([y, inst.process(tail)], axis=1)


def _spectral_centroid(x, sample_rate, window="hann"):
    """Power-weighted mean frequency; ``window="fade_out"`` keeps an onset at full weight."""
    x = np.asarray(x, dtype=np.float64)
    w = np.hanning(x.size) if window == "hann" else np.hanning(2 * x.size)[x.size:]
    spec = np.abs(np.fft.rfft(x * w)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / sample_rate)
    return float(np.sum(spec * freqs) / np.sum(spec))


@pytest.fixture
def render_events():
    return _render_events


@pytest.fixture
def click_ratio():
    return _click_ratio


@pytest.fixture
def spectral_centroid():
    return _spectral_centroid
