"""The default catalog: symphony's instruments and bus effects, as the validator sees them."""

from __future__ import annotations

from types import MappingProxyType

from symphony.params import Catalog, Param, Spec

#: Parameters the Orchestra adds to an effect before building it (tempo-synced delay time).
TEMPO_SYNCED = {"delay": Param("time_beats", 0.5, 0.0625, 8.0,
                               doc="delay time in beats at the opening tempo (overrides time_ms)")}


def default_catalog() -> Catalog:
    """Specs of every registered instrument and bus effect."""
    from symphony.dsp.effects import EFFECTS
    from symphony.instruments import REGISTRY

    instruments = {name: cls.spec() for name, cls in REGISTRY.items()}
    effects = {}
    for name, cls in EFFECTS.items():
        params = tuple(cls.PARAMS) + ((TEMPO_SYNCED[name],) if name in TEMPO_SYNCED else ())
        effects[name] = Spec(name, params, (), (cls.__doc__ or "").strip().splitlines()[0])
    from symphony.midi import MidiPassageReader  # light: mido loads only when a score uses MIDI

    return Catalog(MappingProxyType(instruments), MappingProxyType(effects), midi=MidiPassageReader())


def load(path, *, text: str | None = None):
    """Load and validate a score against the default catalog (``symphony.load_score``)."""
    from symphony.score.load import load_score

    return load_score(path, default_catalog(), text=text)
