"""Machine instruments, registered by name.

Each module is imported explicitly (no directory scanning). ``REGISTRY`` maps the name a
score uses (``instrument = "acid_bass"``) to the class.
"""

from __future__ import annotations

from typing import Callable

from symphony.instruments.base import Instrument

REGISTRY: dict[str, type[Instrument]] = {}


def register(name: str) -> Callable[[type[Instrument]], type[Instrument]]:
    """Class decorator: add an instrument to ``REGISTRY`` under ``name``."""
    def decorate(cls: type[Instrument]) -> type[Instrument]:
        if name in REGISTRY:
            raise ValueError(f"instrument name {name!r} registered twice")
        cls.NAME = name
        REGISTRY[name] = cls
        return cls
    return decorate


# Explicit imports: each module registers its instruments.
from symphony.instruments import (  # noqa: E402,F401
    drums, bass, ensemble, lead, noise, risers, fm, drone, pluck, modal, timpani, organ, choir)
