"""Declared parameters: the data the score validator checks score values against.

Instruments and effect buses declare their parameters as a tuple of :class:`Param`
(supriya ``param()`` / Faust ``buildUserInterface``). This module is pure data so that
``symphony.score`` can validate a score without importing any DSP code: the caller hands
the validator a :class:`Catalog`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class Param:
    """One parameter: numeric in ``[low, high]`` with a unit, or a choice among strings.

    Examples
    --------
    >>> Param("cutoff_hz", 2000.0, 20.0, 20000.0, doc="filter cutoff").check(500)
    500.0
    """

    name: str
    default: float | str
    low: float | None = None
    high: float | None = None
    doc: str = ""
    choices: tuple[str, ...] = ()
    #: Values allowed besides ``[low, high]``, e.g. ``(0.0,)`` for "0 = the preset's value".
    special: tuple[float, ...] = ()

    def check(self, value: object) -> float | str:
        """Return the validated value or raise ``ValueError`` saying what is allowed."""
        if self.choices:
            if not isinstance(value, str) or value not in self.choices:
                raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{self.name} must be a number, got {value!r}")
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"{self.name} must be a finite number, got {value!r}")
        if v in self.special:
            return v
        if self.low is not None and v < self.low or self.high is not None and v > self.high:
            also = "".join(f" or {x:g}" for x in self.special)
            raise ValueError(f"{self.name} must be in [{self.low}, {self.high}]{also}, got {value!r}")
        return v

    def describe(self) -> str:
        """One line for listings: name, range or choices, default, doc."""
        if self.choices:
            rng = "{" + "|".join(self.choices) + "}"
        else:
            rng = f"[{self.low:g}, {self.high:g}]" + "".join(f" or {x:g}" for x in self.special)
        default = self.default if isinstance(self.default, str) else f"{self.default:g}"
        return f"{self.name:<18} {rng:<28} default {default:<10} {self.doc}"


@dataclass(frozen=True)
class Spec:
    """What the validator needs to know about an instrument or an effect."""

    name: str
    params: tuple[Param, ...]
    drum_voices: tuple[str, ...] = ()  # non-empty: step patterns may address these names
    doc: str = ""

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None


@dataclass(frozen=True)
class Catalog:
    """The instruments and bus effects a score may name."""

    instruments: Mapping[str, Spec] = field(default_factory=lambda: MappingProxyType({}))
    effects: Mapping[str, Spec] = field(default_factory=lambda: MappingProxyType({}))
    #: Reads ``[passage.midi]`` material (``symphony.midi.MidiPassageReader``). The score
    #: layer may not import mido, so the caller hands the reader in; None = no MIDI import.
    midi: Callable[..., Any] | None = None
