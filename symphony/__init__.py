"""symphony: a generative electronic-symphonic audio renderer.

The Python API (docs/api.md)::

    import symphony
    score = symphony.load_score("scores/01-masters.toml")   # or the TOML text itself
    audio = symphony.render(score, sample_rate=48000)        # Audio: (2, n) float64 + sample_rate
    audio                                                    # a player in a notebook

Everything is imported on first use (module ``__getattr__``, PEP 562), so ``import symphony``
stays cheap: no numpy, scipy, numba or pyo until a name is used.
"""

__version__ = "0.1.0"

#: Public name -> module that defines it (imported on first access).
_LAZY = {
    "load_score": "symphony.api",
    "render_file": "symphony.api",
    "Audio": "symphony.api",
    "Conductor": "symphony.conductor",
    "Score": "symphony.score.model",
    "RenderSettings": "symphony.render",
    "check_manifest": "symphony.manifest",
    "read_manifest": "symphony.manifest",
}

__all__ = ["__version__", "render", *_LAZY]


def __getattr__(name: str):
    import importlib

    if name == "render":
        # The submodule symphony.render is callable and forwards to symphony.api.render
        # (a function here would be replaced by the submodule as soon as it is imported).
        return importlib.import_module("symphony.render")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'symphony' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
