"""Tiny scores for the manifest and API tests: two bars of one lead at 22050 Hz (4.5 s)."""

from __future__ import annotations

TINY_SCORE = """
[chapter]
title = "Tiny"
number = 9
seed = 7
sample_rate = 22050
tail_seconds = 0.5

[[tempo]]
bar = 1
bpm = 120

[[meter]]
bar = 1
signature = "4/4"

[section.lead]
instrument = "poly_lead"
gain_db = -10.0

[[passage]]
name = "theme"
bar = 1
players = [ { section = "lead" } ]
notes = "d4:4 f4 a4 d5 | c5:2 a4:2 |"
"""

#: The same score with one note changed (the last a4 becomes a bb4).
ONE_NOTE_CHANGED = TINY_SCORE.replace("c5:2 a4:2 |", "c5:2 bb4:2 |")
#: The same music, other bytes (a comment).
COMMENT_ADDED = TINY_SCORE + "# a comment changes the bytes, not the music\n"

assert ONE_NOTE_CHANGED != TINY_SCORE
