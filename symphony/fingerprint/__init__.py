"""Regression fingerprints: catch every musical change, ignore numerical noise, say where.

A fingerprint (:class:`Fingerprint`) holds quantized time-frequency features of a render
(band levels, chroma, stereo balance, onsets); :func:`compare` decides "same" or "differs"
with calibrated :class:`Tolerances` and lists :class:`Finding` s (time range, bar:beat,
frequency range, amount). The ``.fp`` file format is versioned JSON (``fileformat``).
See docs/fingerprints.md for the design, the calibration table and the file format.

Examples
--------
>>> import numpy as np
>>> t = np.arange(22050) / 22050
>>> x = np.stack([0.5 * np.sin(2 * np.pi * 440 * t)] * 2)
>>> compare(fingerprint_audio(x, 22050), fingerprint_audio(x * 1.0000001, 22050)).same
True
>>> compare(fingerprint_audio(x, 22050), fingerprint_audio(x * 1.12, 22050)).same
False
"""

from symphony.fingerprint.audio import (fingerprint_audio, fingerprint_file, fingerprint_score,
                                        load_fingerprint, read_audio, render_score_audio)
from symphony.fingerprint.compare import Comparison, Finding, Tolerances, compare
from symphony.fingerprint.fileformat import (FORMAT_VERSION, Fingerprint, read_fingerprint,
                                             write_fingerprint)
from symphony.fingerprint.timegrid import TimeGrid

__all__ = ["Comparison", "Finding", "Fingerprint", "FORMAT_VERSION", "TimeGrid", "Tolerances", "compare",
           "fingerprint_audio", "fingerprint_file", "fingerprint_score", "load_fingerprint", "read_audio",
           "read_fingerprint", "render_score_audio", "write_fingerprint"]
