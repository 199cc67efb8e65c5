"""symphony: a generative electronic-symphonic audio renderer."""

__version__ = "0.1.0"
