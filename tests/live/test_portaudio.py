"""``symphony play --backend portaudio`` for real, through PortAudio's JACK host API.

This machine has no sound card, but PortAudio can play to JACK: with the system's
PortAudio (Debian ``libportaudio2``, built with JACK; pyo's wheel bundles one with ALSA
and OSS only, which symphony replaces, see ``symphony.live.output``) every JACK client
with input ports is an output device. The test's capture client (``capture:in_1/2``) is
such a device, so ``--device capture`` plays straight into it, through the private
dummy JACK server of ``conftest.py``, and the capture is compared block by block with the
offline render exactly as ``test_jack.py`` does (xruns excused only where JACK reported
them).
"""

from __future__ import annotations

import ctypes.util
import subprocess
import sys
import time

import pytest

from symphony.live.engine import NoAudioDeviceError
from symphony.live.output import _portaudio_device
from tests.conftest import REPO, SMALL_SCORE, write_score
from tests.live.conftest import PAD_SCORE, SAMPLE_RATE, symphony_play
from tests.live.test_jack import check_played_offline_render, unexplained_clicks


@pytest.fixture(scope="module")
def system_portaudio():
    name = ctypes.util.find_library("portaudio")
    if name is None:
        pytest.fail("the system's PortAudio is not installed (Debian package libportaudio2); pyo's "
                    "bundled PortAudio has no JACK host API, so the PortAudio backend cannot be tested")
    return name


def _jack_clients(server) -> set[str]:
    ports = subprocess.run(["jack_lsp"], env=server.env, capture_output=True, text=True).stdout.split()
    return {p.partition(":")[0] for p in ports}


def test_portaudio_plays_the_offline_render_through_jack(system_portaudio, jack_server, capture, tmp_path):
    # SMALL_SCORE is a 22050 Hz score: PortAudio's JACK device runs only at JACK's 48 kHz,
    # so the player plays at the device's rate (as the JACK backend does)
    path = write_score(tmp_path, SMALL_SCORE)
    cap = capture()
    record = tmp_path / "played.wav"
    player = symphony_play(jack_server, str(path), "--backend", "portaudio", "--device", "capture",
                           "--from-bar", "2", "--osc-port", "0", "--record", str(record))
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while player.poll() is None and time.monotonic() < deadline and "symphony" not in seen:
        seen |= _jack_clients(jack_server)  # PortAudio's JACK client carries the player's name
        time.sleep(0.2)
    out, err = player.communicate(timeout=90)
    captured, xruns = cap.stop()
    assert player.returncode == 0, err
    assert "Traceback" not in err
    assert f"at {SAMPLE_RATE} Hz, 256-frame blocks (portaudio)" in err
    assert "symphony" in seen, f"no 'symphony' JACK client while playing: {sorted(seen)}"
    assert "symphony" not in _jack_clients(jack_server), "PortAudio's JACK client is still there"
    ref, m = check_played_offline_render(path, record, captured, xruns, cap.xrun_frames, err,
                                         "PortAudio capture")
    assert m.offset % 256 == 0, "PortAudio's blocks are not JACK's periods"
    assert not unexplained_clicks(captured, ref, m, cap.xrun_frames)


def test_portaudio_unknown_device_lists_the_devices(system_portaudio, jack_server, tmp_path):
    path = write_score(tmp_path, PAD_SCORE)
    result = subprocess.run([sys.executable, "-m", "symphony.cli", "play", str(path), "--backend", "portaudio",
                             "--device", "hdmi", "--osc-port", "0"], env=jack_server.env, cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "no PortAudio output device matches 'hdmi'; devices: " in result.stderr
    assert ": system" in result.stderr  # the dummy driver, as PortAudio's JACK device
    assert "Traceback" not in result.stderr + result.stdout


def _no_jack_env(tmp_path) -> dict:
    return {"JACK_DEFAULT_SERVER": f"symphony-absent-{time.time_ns()}", "JACK_NO_START_SERVER": "1",
            "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}


def test_portaudio_without_a_device_says_how_to_start_jack(system_portaudio, tmp_path):
    """No sound card and no JACK server: exit 2, how to start JACK, no traceback."""
    path = write_score(tmp_path, PAD_SCORE)
    result = subprocess.run([sys.executable, "-m", "symphony.cli", "play", str(path), "--backend", "portaudio"],
                            env=_no_jack_env(tmp_path), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "PortAudio finds no audio output device" in result.stderr
    assert "jackd -d dummy -r 48000 -p 256" in result.stderr
    assert "--device system" in result.stderr and "--backend jack" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bundled_portaudio_does_not_see_jack(system_portaudio, jack_server, tmp_path):
    """The reason for loading the system's PortAudio: pyo's own finds no device even with
    JACK running (its host APIs are ALSA and OSS)."""
    path = write_score(tmp_path, PAD_SCORE)
    env = dict(jack_server.env, SYMPHONY_PORTAUDIO="bundled")
    result = subprocess.run([sys.executable, "-m", "symphony.cli", "play", str(path), "--backend", "portaudio"],
                            env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "PortAudio finds no audio output device" in result.stderr
    assert "pyo's own PortAudio has no JACK support" in result.stderr and "libportaudio2" in result.stderr
    assert "jackd -d dummy -r 48000 -p 256" in result.stderr and "--backend jack" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


class _FakePyo:
    def __init__(self, names, default=0):
        self._names, self._default = names, default

    def pa_get_output_devices(self):
        return list(self._names), list(range(len(self._names)))

    def pa_get_default_output(self):
        return self._default


def test_device_names_exact_first_then_one_substring():
    fake = _FakePyo(["default", "sysdefault", "HDA Intel PCH: ALC892 Analog (hw:0,0)",
                     "HDA Intel PCH: HDMI 0 (hw:0,3)", "system"])
    assert _portaudio_device(fake, "default") == 0        # not "sysdefault"
    assert _portaudio_device(fake, "SYSTEM") == 4          # exact, case-insensitive
    assert _portaudio_device(fake, "hdmi") == 3            # the one name that contains it
    assert _portaudio_device(fake, " 2 ") == 2             # an index
    with pytest.raises(NoAudioDeviceError, match=r"'hda intel' matches several PortAudio output devices "
                                                 r"\(2: HDA Intel PCH: ALC892 .*3: HDA Intel PCH: HDMI"):
        _portaudio_device(fake, "hda intel")
    with pytest.raises(NoAudioDeviceError, match="no PortAudio output device matches 'usb'; devices: 0: default"):
        _portaudio_device(fake, "usb")


def test_boot_failure_reason_is_portaudios_own_words():
    from symphony.live.output import _pyo_reason

    said = ("ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM default\n"
            "Portaudio error in Pa_OpenStream: Invalid sample rate\n"
            "Pyo error: From portaudio, Invalid sample rate\n"
            "Portaudio error in Pa_CloseStream (pa_deinit): PortAudio not initialized\n"
            "Pyo error: \nServer not booted.\n")
    assert _pyo_reason(said) == "Invalid sample rate"
    assert _pyo_reason("Portaudio error in Pa_OpenStream: Device unavailable\nServer not booted.\n") == \
        "Portaudio error in Pa_OpenStream: Device unavailable"
    assert _pyo_reason("Server not booted.\n") == "no reason given"
