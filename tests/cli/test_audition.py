"""Every registered instrument's demo phrase renders through the score path."""

from __future__ import annotations

import numpy as np
import pytest

from symphony.audition import demo_score_text
from symphony.catalog import load
from symphony.conductor import Conductor
from symphony.errors import ParameterError
from symphony.instruments import REGISTRY


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_demo_renders_clean(name):
    score = load(f"<audition {name}>", text=demo_score_text(name, sample_rate=22050))
    audio = Conductor(score).render(block_size=1024)
    assert np.isfinite(audio).all()
    peak = np.abs(audio).max()
    assert 10 ** (-30 / 20) < peak <= 10 ** (-1 / 20) + 1e-9, f"{name}: peak {peak}"


def test_unknown_instrument_suggests():
    with pytest.raises(ParameterError, match="did you mean 'string_ensemble'"):
        demo_score_text("string_ensembel")
