"""A kettledrum: the air-loaded membrane's preferred modes, a felt mallet and a tension bend.

Model
-----
Modal synthesis on the shared engine of :mod:`symphony.instruments.modal`. An ideal circular
membrane is inharmonic (1, 1.59, 2.14, 2.30, ...), but on a timpano air loading and the kettle
pull the *preferred* modes ``(m, 1)`` close to a harmonic series. Measured ratios relative to
the principal (1,1) mode, 65 cm kettledrum (Rossing, "The physics of kettledrums", *Scientific
American* 247(5), 1982; Fletcher & Rossing, *The Physics of Musical Instruments*, 2nd ed.,
sec. 18.1): (1,1) 1.00, (2,1) 1.50, (3,1) 1.98, (4,1) 2.44, (5,1) 2.89. The note's pitch is
the (1,1) mode (the perceived pitch, with the fifth and octave above as (2,1), (3,1)).
The symmetric (0,1) mode radiates efficiently and dies within a fraction of a second: we add
it as a short low "thump" at 0.85 (a designed value, not from the table).

Tension modulation: a hard stroke stretches the head, raising all modes; the pitch falls back
as the amplitude decays. We model it as a common relative frequency offset
``bend(t) = bend_cents * velocity`` (in cents) ``* exp(-t / BEND_TIME_S)``, applied on a
16-sample control grid. Repeated strikes at one pitch re-excite the same modes (rolls sum).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from symphony.instruments import register
from symphony.instruments.modal import ModalInstrument, contact_time_s
from symphony.params import Param

#: (mode, ratio to (1,1), relative amplitude, T60 at decay=1 in s)
TIMPANI_MODES: tuple[tuple[str, float, float, float], ...] = (
    ("(1,1)", 1.00, 1.0, 3.0),
    ("(2,1)", 1.50, 0.55, 2.2),
    ("(3,1)", 1.98, 0.35, 1.6),
    ("(4,1)", 2.44, 0.2, 1.1),
    ("(5,1)", 2.89, 0.12, 0.8),
    ("(0,1)", 0.85, 0.35, 0.18),
)


@register("timpani")
class Timpani(ModalInstrument):
    """Kettledrum: near-harmonic (m,1) membrane modes, (1,1) at the note, downward strike bend.

    Examples
    --------
    >>> t = Timpani(44100)
    >>> t.note_on(1, 43.0, 1.0)
    >>> t.process(441).shape
    (2, 441)
    """

    FAMILY: ClassVar[str] = "percussion"
    DOC: ClassVar[str] = "timpani: air-loaded membrane modes, felt mallet, tension pitch bend, rolls"
    DEFAULT_VOICES: ClassVar[int] = 4
    DEMO: ClassVar[str] = "g2:4 d2:4 g2:8 g2:8 g2:8 g2:8 d2:2"
    BEND_TIME_S: ClassVar[float] = 0.12
    SPREAD: ClassVar[bool] = False
    VOICE_LEVEL: ClassVar[float] = 0.3
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("hardness", 0.4, 0.0, 1.0, doc="mallet: 0 soft felt, 1 hard wood"),
        Param("decay", 1.0, 0.1, 4.0, doc="multiplies every mode's T60"),
        Param("bend_cents", 20.0, 0.0, 100.0, doc="pitch drop after a full-velocity stroke (cents)"),
    )

    def _design(self, f0_hz: float, vel: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        _, ratios, amps, t60 = (np.array(col) for col in zip(*TIMPANI_MODES))
        ratios, amps, t60 = ratios.astype(float), amps.astype(float), t60.astype(float)
        freqs = f0_hz * ratios
        keep = freqs < 0.45 * self.sample_rate
        bend = 2.0 ** (float(self.params["bend_cents"]) * vel / 1200.0) - 1.0
        contact = contact_time_s(float(self.params["hardness"]), vel, soft_s=4e-3, hard_s=5e-4)
        return freqs[keep], t60[keep] * float(self.params["decay"]), amps[keep], contact, bend
