"""``symphony plot``: a PNG with waveform, spectrogram and short-term loudness of a render.

matplotlib is an optional extra (``pip install symphony[plot]``); it is imported here only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from symphony.dsp.loudness import LoudnessMeter
from symphony.errors import ParameterError
from symphony.measure import audio_info, stereo_blocks

#: Frames read per step, so a 60-minute file does not have to fit in memory twice.
READ_BLOCK = 1 << 16


def plot_audio(path: str | Path, out_png: str | Path | None = None, *, title: str | None = None,
               max_spectrogram_hz: float = 16000.0) -> Path:
    """Draw waveform (min/max envelope), spectrogram (dB) and short-term loudness (LUFS).

    Returns the PNG path (default: next to the audio, ``.png``).

    Raises
    ------
    ParameterError
        If matplotlib is missing or the file cannot be read as audio.
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - depends on the install
        raise ParameterError("plotting needs matplotlib: pip install 'symphony[plot]'") from None
    path = Path(path)
    info = audio_info(path)
    sr = info.samplerate
    meter = LoudnessMeter(sr, channels=2)
    hop = max(1, info.frames // 4000)  # waveform envelope: ~4000 columns
    env_min, env_max, mono_parts = [], [], []
    decim = max(1, int(sr // (2 * max_spectrogram_hz)))
    for x in stereo_blocks(path, READ_BLOCK - READ_BLOCK % hop):
        meter.process(x)
        mono = x.mean(axis=0)
        usable = mono[: mono.size - mono.size % hop] if mono.size >= hop else mono
        if usable.size:
            cols = usable.reshape(-1, hop) if usable.size >= hop else usable[None, :]
            env_min.append(cols.min(axis=1))
            env_max.append(cols.max(axis=1))
        mono_parts.append(mono[::decim].astype(np.float32))
    mono_all = np.concatenate(mono_parts) if mono_parts else np.zeros(1, dtype=np.float32)
    lo = np.concatenate(env_min) if env_min else np.zeros(1)
    hi = np.concatenate(env_max) if env_max else np.zeros(1)
    duration = info.frames / sr
    fig, axes = plt.subplots(3, 1, figsize=(14, 9), sharex=True,
                             gridspec_kw={"height_ratios": [1, 2.2, 1]})
    t_env = np.arange(lo.size) * hop / sr
    axes[0].fill_between(t_env, lo, hi, color="#35608d", linewidth=0)
    axes[0].set_ylim(-1, 1)
    axes[0].set_ylabel("amplitude")
    peak_db = meter.sample_peak_dbfs()
    meter.flush_true_peak()
    lufs = meter.integrated_lufs()
    axes[0].set_title(title or f"{path.name}   {duration:.1f} s   {lufs:.1f} LUFS   "
                               f"true peak {meter.true_peak_dbtp():.1f} dBTP   peak {peak_db:.1f} dBFS")
    nfft = 2048 if sr // decim >= 32000 else 1024
    with np.errstate(divide="ignore"):  # digital silence has -inf dB; drawn as the floor
        axes[1].specgram(mono_all, NFFT=nfft, Fs=sr / decim, noverlap=nfft // 2, cmap="magma",
                         vmin=-120, vmax=-20, scale="dB", mode="psd")
    axes[1].set_yscale("symlog", linthresh=500)
    axes[1].set_ylim(30, min(max_spectrogram_hz, sr / decim / 2))
    axes[1].set_ylabel("Hz")
    st = meter.short_term_lufs()
    t_st = 3.0 + 0.1 * np.arange(st.size)
    axes[2].plot(t_st, np.maximum(st, -60), color="#c0392b", label="short-term (3 s)")
    axes[2].axhline(lufs, color="k", linestyle="--", linewidth=0.8, label=f"integrated {lufs:.1f}")
    axes[2].set_ylim(-50, 0)
    axes[2].set_ylabel("LUFS")
    axes[2].set_xlabel("seconds")
    axes[2].legend(loc="lower right")
    for ax in axes:
        ax.set_xlim(0, duration)
        ax.grid(alpha=0.25)
    fig.tight_layout()
    out = Path(out_png) if out_png else path.with_suffix(".png")
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out
