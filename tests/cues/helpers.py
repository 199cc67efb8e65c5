"""Small score texts for the cue tests and an independent reference for film times."""

from __future__ import annotations

from fractions import Fraction

from symphony.params import Catalog
from symphony.score.load import load_score


def timecode_seconds(text: str, fps: int = 24) -> Fraction:
    """Film seconds of ``hh:mm:ss:ff``, computed by hand (not through symphony)."""
    h, m, s, f = (int(x) for x in text.split(":"))
    return Fraction(h * 3600 + m * 60 + s) + Fraction(f, fps)


def score_text(*, tempos=(("1", 120),), meters=(), cues=(), cues_table="", bars=40) -> str:
    """A score without sections: tempos (bar[.beat] str, bpm[, ramp_bars]), meters (bar, sig),
    cues (dicts of [[cue]] keys, values as TOML source text)."""
    out = [f'[chapter]\ntitle = "Cues"\nbars = {bars}\n']
    if cues_table:
        out.append(f"[cues]\n{cues_table}\n")
    for tempo in tempos:
        bar, _, beat = str(tempo[0]).partition(".")
        out.append(f"[[tempo]]\nbar = {bar}\n" + (f"beat = {beat}\n" if beat else "") + f"bpm = {tempo[1]}\n"
                   + (f"ramp_bars = {tempo[2]}\n" if len(tempo) > 2 else ""))
    for bar, sig in meters:
        out.append(f'[[meter]]\nbar = {bar}\nsignature = "{sig}"\n')
    for cue in cues:
        out.append("[[cue]]\n" + "".join(f"{k} = {v}\n" for k, v in cue.items()))
    return "\n".join(out)


def load_text(text: str, path: str = "cues.toml"):
    return load_score(path, Catalog(), text=text)
