"""The Python API: load a score, render it in memory, listen in a notebook.

``symphony.load_score``, ``symphony.render`` and ``symphony.render_file`` are the functions
the ``symphony`` command line calls too; :class:`Audio` is what ``render`` returns, a
``(channels, n)`` float64 ndarray that knows its sample rate and shows a player in a
Jupyter notebook (``_repr_html_``, no IPython import). See docs/api.md.

Examples
--------
>>> import symphony
>>> score = symphony.load_score(TINY_SCORE)            # doctest: +SKIP
>>> audio = symphony.render(score, sample_rate=22050)  # doctest: +SKIP
>>> audio.shape, audio.sample_rate                     # doctest: +SKIP
((2, 99225), 22050)
"""

from __future__ import annotations

import base64
import io
import os
import wave
from pathlib import Path

import numpy as np

from symphony.errors import ParameterError, RenderError

#: What ``render(..., sample_rate=...)`` uses by default (None: the score's own rate).
DEFAULT_SAMPLE_RATE = 48000


class Audio(np.ndarray):
    """Rendered audio: float64 ndarray of shape ``(channels, n)`` plus its ``sample_rate`` (Hz).

    It is an ordinary ndarray (slicing, arithmetic, ``np.asarray``) that carries
    ``sample_rate`` along. In a notebook it shows an HTML5 player (a 16-bit WAV data URI);
    ``IPython.display.Audio(audio, rate=audio.sample_rate)`` works too, since IPython reads
    a 2-D array as ``(channels, n)``.

    Parameters
    ----------
    data : array_like, shape (channels, n) or (n,)
    sample_rate : int > 0

    Examples
    --------
    >>> a = Audio(np.zeros((2, 4410)), 44100)
    >>> a
    Audio(2 channels x 4410 frames at 44100 Hz, 0.100 s)
    >>> a.duration_seconds
    0.1
    """

    sample_rate: int | None

    def __new__(cls, data, sample_rate: int) -> "Audio":
        obj = np.asarray(data, dtype=np.float64).view(cls)
        if int(sample_rate) <= 0:
            raise ParameterError(f"sample_rate must be > 0 Hz, got {sample_rate}")
        obj.sample_rate = int(sample_rate)
        return obj

    def __array_finalize__(self, obj) -> None:
        self.sample_rate = getattr(obj, "sample_rate", None)

    def __array_wrap__(self, obj, context=None, return_scalar=False):
        # Reductions give plain numbers and arrays (``audio.max()``, ``audio.mean(axis=1)``):
        # only a result with the same time axis is still audio at this rate.
        if obj.ndim == 0 or return_scalar:
            return obj[()]
        if self.ndim == 0 or obj.shape[-1] != self.shape[-1]:
            return np.asarray(obj)
        return super().__array_wrap__(obj, context, return_scalar)

    def __reduce__(self):
        constructor, args, state = super().__reduce__()
        return constructor, args, (state, self.sample_rate)

    def __setstate__(self, state) -> None:
        array_state, self.sample_rate = state
        super().__setstate__(array_state)

    @property
    def n_frames(self) -> int:
        """Samples per channel."""
        return int(self.shape[-1]) if self.ndim else 0

    @property
    def channels(self) -> int:
        return int(self.shape[0]) if self.ndim == 2 else 1

    @property
    def duration_seconds(self) -> float:
        return self.n_frames / self.sample_rate if self.sample_rate else float("nan")

    def __repr__(self) -> str:
        if self.ndim not in (1, 2) or not self.sample_rate:
            return repr(np.asarray(self))
        word = "channel" if self.channels == 1 else "channels"
        return (f"Audio({self.channels} {word} x {self.n_frames} frames at {self.sample_rate} Hz, "
                f"{self.duration_seconds:.3f} s)")

    def to_wav_bytes(self) -> bytes:
        """The audio as a 16-bit PCM WAV file in memory (clipped to [-1, 1], rounded).

        Examples
        --------
        >>> Audio(np.zeros((2, 10)), 22050).to_wav_bytes()[:4]
        b'RIFF'
        """
        x = np.asarray(self, dtype=np.float64)
        x = x[np.newaxis] if x.ndim == 1 else x
        if x.ndim != 2:
            raise ParameterError(f"Audio must be (channels, n) or (n,) to become a WAV, got shape {x.shape}")
        pcm = np.round(np.clip(np.nan_to_num(x), -1.0, 1.0) * 32767.0).astype("<i2")
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as w:  # stdlib: no soundfile needed for a notebook player
            w.setnchannels(x.shape[0])
            w.setsampwidth(2)
            w.setframerate(int(self.sample_rate))
            w.writeframes(np.ascontiguousarray(pcm.T).tobytes())
        return buffer.getvalue()

    def _repr_html_(self) -> str:
        """An HTML5 audio player with the audio embedded as a WAV data URI (Jupyter calls this)."""
        data = base64.b64encode(self.to_wav_bytes()).decode("ascii")
        return (f'<audio controls preload="metadata" title="{self!r}" '
                f'src="data:audio/wav;base64,{data}">your browser cannot play WAV audio</audio>')

    def to_ipython(self, **kwargs):
        """``IPython.display.Audio`` of this audio (needs IPython; symphony does not depend on it).

        Peaks up to full scale play at their real level (``normalize=False``); louder audio
        is scaled to fit, as IPython does by default.
        """
        try:
            from IPython.display import Audio as IPythonAudio
        except ImportError:
            raise ImportError("to_ipython() needs IPython (pip install ipython); in a notebook the Audio "
                              "object shows a player by itself") from None
        x = np.asarray(self)
        kwargs.setdefault("normalize", bool(np.max(np.abs(x), initial=0.0) > 1.0))
        return IPythonAudio(x, rate=self.sample_rate, **kwargs)


def load_score(source, *, name: str = "<string>"):
    """Load and validate a score from a file path or from TOML text.

    Parameters
    ----------
    source : str or os.PathLike
        A path (``Path`` or a one-line string such as ``"scores/01-masters.toml"``), or the
        score text itself: a string that contains a newline, or starts with ``[`` and is
        not the name of an existing file.
    name : str
        The file name that error messages and the manifest show for score text.

    Returns
    -------
    Score
        Frozen, validated; generative passages realized.

    Raises
    ------
    ScoreError
        Every defect of the score, each with its line and column.

    Examples
    --------
    >>> load_score('[chapter]\\ntitle = "T"\\nsample_rate = 22050').title
    'T'
    """
    from symphony.catalog import load

    if isinstance(source, os.PathLike):
        return load(source)
    if not isinstance(source, str):
        raise ParameterError(f"load_score takes a file path or TOML text, got {type(source).__name__}")
    if "\n" in source or (source.lstrip().startswith("[") and not os.path.exists(source)):
        return load(name, text=source)
    return load(source)


def _as_score(score):
    from symphony.score.model import Score

    return score if isinstance(score, Score) else load_score(score)


def render(score, *, seed: int | None = None, sample_rate: int | None = DEFAULT_SAMPLE_RATE,
           start_bar: int | None = None, end_bar: int | None = None, lufs: float | None = None,
           master: bool = True, block_size: int = 4096) -> Audio:
    """Render a score in memory: the same samples ``symphony render`` writes, as float64.

    Parameters
    ----------
    score : Score, path or TOML text
        A loaded score, or anything :func:`load_score` takes.
    seed : int, optional
        Overrides the score's seed.
    sample_rate : int, optional
        Hz, one of the supported rates; None renders at the score's own rate.
    start_bar, end_bar : int, optional
        Render bars ``start_bar`` .. ``end_bar`` (1-based, inclusive). Notes that start before
        ``start_bar`` are not played; with ``end_bar`` the audio stops at the start of bar
        ``end_bar + 1`` (no release tail). Default: the whole chapter with its tail.
    lufs : float, optional
        Integrated loudness target (ITU-R BS.1770), in [-40, -5] LUFS, reached as the file
        render does (gain, then the true-peak limiter, repeated within 0.02 LU). Default: the
        score's ``[master] lufs``, or no normalization.
    master : bool
        Apply the master chain (gain, DC blocker, true-peak limiter); False returns the
        pre-master mix.
    block_size : int
        Frames per block (the audio does not depend on it).

    Returns
    -------
    Audio
        float64, shape ``(2, n)``, with ``sample_rate``.

    Raises
    ------
    ScoreError
        The score does not load.
    ParameterError
        An unsupported rate, bars outside the score, a target out of range.
    RenderError
        A loudness target for a silent mix.
    """
    from symphony.conductor import Conductor
    from symphony.dsp.base import SUPPORTED_SAMPLE_RATES, db_to_gain
    from symphony.dsp.loudness import integrated_loudness
    from symphony.render import LUFS_TOLERANCE_LU, MAX_LOUDNESS_PASSES

    score = _as_score(score)
    rate = int(sample_rate) if sample_rate is not None else score.sample_rate
    if rate not in SUPPORTED_SAMPLE_RATES:
        raise ParameterError(f"sample_rate must be one of {', '.join(map(str, SUPPORTED_SAMPLE_RATES))} Hz, "
                             f"got {sample_rate}")
    if not 1 <= block_size <= 65536:
        raise ParameterError(f"block_size must be in [1, 65536] frames, got {block_size}")
    target = lufs if lufs is not None else score.master.lufs
    if target is not None and not -40.0 <= target <= -5.0:
        raise ParameterError(f"lufs target must be in [-40, -5] LUFS, got {target}")
    conductor = Conductor(score, sample_rate=rate, seed=seed)
    start_frame, end_frame = _bar_frames(score, conductor, start_bar, end_bar)
    if target is None:
        out = conductor.render(block_size=block_size, master=master, start_frame=start_frame, end_frame=end_frame)
        return Audio(out, rate)
    # As symphony.render: the pre-master mix times the master gain is measured; the gain to
    # the target replaces the master gain in front of the limiter; repeat until on target.
    pre = conductor.render(block_size=block_size, master=False, start_frame=start_frame, end_frame=end_frame)
    pre *= float(db_to_gain(score.master.gain_db))
    measured = integrated_loudness(pre, rate)
    if not np.isfinite(measured):
        raise RenderError(f"{score.path}: the mix is silent, so it cannot be normalized to {target} LUFS; "
                          f"render without lufs")
    gain_db = target - measured
    if not master:
        return Audio(pre * float(db_to_gain(gain_db)), rate)
    for _ in range(MAX_LOUDNESS_PASSES):
        chain = conductor.master_chain()
        chain.gain = float(db_to_gain(gain_db))
        lat = chain.latency_frames
        out = chain.process(np.concatenate([pre, np.zeros((2, lat))], axis=1))[:, lat:]
        error = target - integrated_loudness(out, rate)
        if abs(error) <= LUFS_TOLERANCE_LU:
            break
        gain_db += error
    return Audio(out, rate)


def _bar_frames(score, conductor, start_bar: int | None, end_bar: int | None) -> tuple[int, int | None]:
    first = 1 if start_bar is None else int(start_bar)
    last = score.n_bars if end_bar is None else int(end_bar)
    if not 1 <= first <= score.n_bars:
        raise ParameterError(f"start_bar must be in [1, {score.n_bars}] (the score has {score.n_bars} bars), "
                             f"got {start_bar}")
    if not first <= last <= score.n_bars:
        raise ParameterError(f"end_bar must be in [{first}, {score.n_bars}], got {end_bar}")
    start_frame = conductor.frame_of_bar(first) if start_bar is not None else 0
    end_frame = conductor.frame_of_bar(last + 1) if end_bar is not None else None
    return start_frame, end_frame


def render_file(score, out_path: str | os.PathLike | None = None, settings=None, *, out_dir="renders",
                progress=None):
    """Render to a file with its manifest, as ``symphony render`` does (atomically).

    Parameters
    ----------
    score : Score, path or TOML text
    out_path : path, optional
        Default: ``<out_dir>/<score file stem>.<format>``.
    settings : RenderSettings, optional
    progress : callable(stage, done, total), optional

    Returns
    -------
    RenderSummary

    Raises
    ------
    RenderError
        On I/O failure; nothing is left behind.
    """
    from symphony.render import RenderSettings, output_path, render_score

    score = _as_score(score)
    settings = settings or RenderSettings()
    target = Path(out_path) if out_path is not None else output_path(score.path, out_dir, settings.format)
    return render_score(score, target, settings, progress=progress)


__all__ = ["Audio", "load_score", "render", "render_file"]
