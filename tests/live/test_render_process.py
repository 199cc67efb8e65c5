"""The live render process when the player dies under it: it exits quietly, no traceback.

``symphony play`` forks the render process first, then starts the audio server; if the
player dies in between (pyo aborts when JACK vanishes during its start-up), the render
process finds its pipe closed before any command came. No audio server is needed here.
"""

from __future__ import annotations

import multiprocessing

from symphony.live.engine import PlaySettings
from symphony.live.ring import BlockRing, _render_process
from tests.conftest import SMALL_SCORE, write_score


def _run_render_process(tmp_path, before_close) -> int:
    score = write_score(tmp_path, SMALL_SCORE)
    ctx = multiprocessing.get_context("fork")
    ring = BlockRing()
    player_end, child_end = ctx.Pipe()
    proc = ctx.Process(target=_render_process, args=(child_end, ring, str(score), SMALL_SCORE, PlaySettings(),
                                                      player_end))
    proc.start()
    child_end.close()
    before_close(player_end)
    player_end.close()  # the player is gone
    proc.join(timeout=120)
    assert not proc.is_alive()
    return proc.exitcode


def test_player_gone_before_the_start_command(tmp_path, capfd):
    assert _run_render_process(tmp_path, lambda conn: None) == 0  # an exception would exit 1
    assert "Traceback" not in capfd.readouterr().err


def test_player_gone_after_the_start_command(tmp_path, capfd):
    # the render process builds its engine and then finds no one to report "ready" to
    assert _run_render_process(tmp_path, lambda conn: conn.send(("start", 22050, 1024))) == 0
    assert "Traceback" not in capfd.readouterr().err
