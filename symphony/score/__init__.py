"""Score files: TOML -> validated, immutable :class:`~symphony.score.model.Score`."""

from symphony.score.model import Score

__all__ = ["Score", "load_score"]


def __getattr__(name: str):
    # Lazy so that importing the model (the Conductor does) does not pull in the parser.
    if name == "load_score":
        from symphony.score.load import load_score
        return load_score
    raise AttributeError(name)
