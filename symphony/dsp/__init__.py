"""The DSP core: small stateful block processors on float64 numpy arrays.

See :mod:`symphony.dsp.base` for the conventions every processor follows.
"""
