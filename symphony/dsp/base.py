"""Conventions and helpers shared by every block processor.

Array layout
------------
Audio is float64 with **time last**: ``(channels, n)`` for signals, ``(voices, n)`` for
the per-voice signals inside an instrument. Sinks transpose to ``(frames, channels)``
only when they hand audio to soundfile or pyo.

Lifecycle (Faust ``dsp.h`` / pedalboard)
----------------------------------------
- ``__init__(sample_rate, *, keyword-only parameters with units)`` validates, computes
  coefficients and ends with ``self.reset()``.
- ``reset()`` clears state (``_``-prefixed attributes), keeps parameters.
- ``set(**params)`` validates and recomputes coefficients; raises ``ParameterError``.
- Generators: ``process(n) -> ndarray``; effects: ``process(x) -> ndarray``.
- Control-rate parameters are floats; audio-rate parameters are arrays of length ``n``
  (or ``(voices, n)``). Each docstring says which.

Block-size invariance
---------------------
Rendering ``n`` frames in one call or in any split of calls gives the same samples
(``atol=1e-12``): every bit of state that affects future output is carried between
calls, including smoothing ramps and random generators.
"""

from __future__ import annotations

import numpy as np

from symphony.errors import ParameterError

#: Sample rates the engine supports end to end.
SUPPORTED_SAMPLE_RATES = (22050, 44100, 48000, 88200, 96000)

#: Smallest magnitude kept in recursive state; below this it is flushed to zero so that
#: decaying filters never run into denormal slow paths.
DENORMAL_FLOOR = 1e-30


def check_sample_rate(sample_rate: int) -> int:
    """Validate a sample rate in Hz and return it as ``int``.

    Raises
    ------
    ParameterError
        If ``sample_rate`` is not a positive integer between 8000 and 384000.
    """
    try:
        value = int(sample_rate)
    except (TypeError, ValueError):
        raise ParameterError(f"sample_rate must be an integer in Hz, got {sample_rate!r}") from None
    if value != sample_rate or not 8000 <= value <= 384000:
        raise ParameterError(f"sample_rate must be an integer in [8000, 384000] Hz, got {sample_rate!r}")
    return value


def check_range(name: str, value: float, low: float, high: float, *,
                low_open: bool = False, high_open: bool = False) -> float:
    """Return ``float(value)`` if it lies in the interval, else raise ``ParameterError``.

    Examples
    --------
    >>> check_range("q", 0.7, 0.0, 100.0, low_open=True)
    0.7
    """
    v = float(value)
    lo_ok = v > low if low_open else v >= low
    hi_ok = v < high if high_open else v <= high
    if not (np.isfinite(v) and lo_ok and hi_ok):
        lb = "(" if low_open else "["
        rb = ")" if high_open else "]"
        raise ParameterError(f"{name} must be in {lb}{low}, {high}{rb}, got {value!r}")
    return v


def db_to_gain(gain_db: float | np.ndarray) -> float | np.ndarray:
    """Convert decibels to a linear amplitude factor (20 log10 convention).

    Examples
    --------
    >>> round(db_to_gain(-6.0206), 4)
    0.5
    """
    return 10.0 ** (np.asarray(gain_db, dtype=np.float64) / 20.0) if isinstance(gain_db, np.ndarray) \
        else 10.0 ** (gain_db / 20.0)


def gain_to_db(gain: float | np.ndarray, floor_db: float = -300.0) -> float | np.ndarray:
    """Convert a linear amplitude to decibels, clamped below at ``floor_db``."""
    g = np.maximum(np.abs(np.asarray(gain, dtype=np.float64)), 10.0 ** (floor_db / 20.0))
    out = 20.0 * np.log10(g)
    return float(out) if np.ndim(out) == 0 else out


def midi_to_hz(pitch: float | np.ndarray, a4_hz: float = 440.0) -> float | np.ndarray:
    """Equal-tempered frequency of a (fractional) MIDI pitch; 69 = A4 = ``a4_hz``.

    Examples
    --------
    >>> midi_to_hz(81)
    880.0
    """
    return a4_hz * 2.0 ** ((np.asarray(pitch, dtype=np.float64) - 69.0) / 12.0) \
        if isinstance(pitch, np.ndarray) else a4_hz * 2.0 ** ((pitch - 69.0) / 12.0)


class Processor:
    """Base class of block processors. Subclasses implement ``reset`` and ``process``."""

    sample_rate: int

    def reset(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def process(self, *args, **kwargs) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def __call__(self, *args, **kwargs) -> np.ndarray:
        return self.process(*args, **kwargs)
