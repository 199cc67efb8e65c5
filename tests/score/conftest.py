"""A hand-written Catalog with the real instrument/effect names (no DSP imports)."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest

from symphony.params import Catalog, Param, Spec

HERE = Path(__file__).parent
ROOT = HERE.parent.parent

DRUM_VOICES = ("kick", "snare", "clap", "closed_hat", "open_hat", "rim", "tom_low", "tom_mid", "tom_high")


def make_catalog() -> Catalog:
    """Instruments drum_machine, acid_bass, string_ensemble, poly_lead; effects reverb, delay."""
    P = Param
    instruments = {
        "drum_machine": Spec("drum_machine", (
            P("tune_semitones", 0.0, -24.0, 24.0), P("decay", 1.0, 0.1, 4.0), P("drive", 0.0, 0.0, 1.0)),
            drum_voices=DRUM_VOICES),
        "acid_bass": Spec("acid_bass", (
            P("cutoff_hz", 800.0, 20.0, 20000.0), P("resonance", 0.5, 0.0, 1.2), P("env_mod", 0.5, 0.0, 1.0),
            P("glide_ms", 60.0, 0.0, 2000.0), P("accent", 0.5, 0.0, 1.0),
            P("waveform", "saw", choices=("saw", "square")))),
        "string_ensemble": Spec("string_ensemble", (
            P("attack_ms", 300.0, 0.0, 10000.0), P("release_ms", 800.0, 0.0, 20000.0),
            P("brightness", 0.5, 0.0, 1.0), P("detune_cents", 8.0, 0.0, 50.0), P("chorus", 0.3, 0.0, 1.0))),
        "poly_lead": Spec("poly_lead", (
            P("attack_ms", 5.0, 0.0, 10000.0), P("decay_ms", 200.0, 0.0, 10000.0), P("sustain", 0.7, 0.0, 1.0),
            P("release_ms", 300.0, 0.0, 20000.0), P("cutoff_hz", 4000.0, 20.0, 20000.0),
            P("resonance", 0.2, 0.0, 1.2), P("env_mod", 0.3, 0.0, 1.0), P("detune_cents", 6.0, 0.0, 50.0),
            P("waveform", "saw", choices=("saw", "square", "pulse")))),
    }
    effects = {
        "reverb": Spec("reverb", (
            P("space", "room", choices=("catacomb", "cathedral", "factory_hall", "laboratory", "nightclub",
                                        "room", "plate")),
            P("decay_s", 2.0, 0.1, 30.0), P("predelay_ms", 20.0, 0.0, 500.0),
            P("damping_hz", 8000.0, 500.0, 20000.0), P("width", 1.0, 0.0, 1.0))),
        "delay": Spec("delay", (
            P("time_ms", 375.0, 1.0, 4000.0), P("time_beats", 0.75, 0.0625, 8.0), P("feedback", 0.4, 0.0, 0.95),
            P("ping_pong", 0.0, 0.0, 1.0), P("damping_hz", 6000.0, 500.0, 20000.0))),
    }
    return Catalog(MappingProxyType(instruments), MappingProxyType(effects))


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return make_catalog()
