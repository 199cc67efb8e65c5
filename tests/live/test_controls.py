"""Live control end to end on the JACK test server: keys, OSC messages, hot reload."""

from __future__ import annotations

import os
import pty
import socket
import struct
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, write_score
from tests.live.conftest import PAD_SCORE


def osc_message(address: str, *args) -> bytes:
    """Encode one OSC 1.0 message (int32 'i', float32 'f', string 's' arguments)."""
    def padded(b: bytes) -> bytes:
        return b + b"\0" * (4 - len(b) % 4)
    tags = "," + "".join("i" if isinstance(a, int) else "f" if isinstance(a, float) else "s" for a in args)
    body = b"".join(struct.pack(">i", a) if isinstance(a, int) else struct.pack(">f", a)
                    if isinstance(a, float) else padded(a.encode()) for a in args)
    return padded(address.encode()) + padded(tags.encode()) + body


def _save(path, text: str) -> None:
    """Save as editors do: write a temporary next to the file, rename it over."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(stream_lines: list, text: str, proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if any(text in line for line in stream_lines):
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in: {stream_lines}")


def _reader(proc, lines: list):
    import threading

    def run():
        for line in proc.stderr:
            lines.append(line)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_keys_osc_and_watch_control_the_performance(jack_server, tmp_path):
    path = write_score(tmp_path, PAD_SCORE)
    port = _free_udp_port()
    controller, terminal = pty.openpty()  # the player sees a terminal on stdin
    player = subprocess.Popen([sys.executable, "-m", "symphony.cli", "play", str(path), "--loop", "1-4",
                               "--watch", "--osc-port", str(port)], env=jack_server.env, cwd=REPO, stdin=terminal,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(terminal)
    lines: list = []
    reader = _reader(player, lines)
    send = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        _wait_for(lines, "keys: space pause/resume", player)
        _wait_for(lines, f"OSC on port {port}", player)
        os.write(controller, b" ")            # pause ...
        time.sleep(0.5)
        os.write(controller, b" ")            # ... and resume
        os.write(controller, b"\x1b[C")       # right arrow: next passage (bar 3)
        _wait_for(lines, "jump at bar 3", player)
        for message in [osc_message("/symphony/mute", "strings", 1), osc_message("/symphony/solo", "celo", 1),
                        osc_message("/symphony/tempo", 4.0), osc_message("/symphony/jump", "chords")]:
            send.sendto(message, ("127.0.0.1", port))
        _wait_for(lines, "jump to passage 'chords' at bar 1", player)
        # --watch: a saved edit is taken at the next bar line; a broken one is reported
        time.sleep(0.05)
        _save(path, path.read_text().replace("bpm = 150", "bpm = 120"))
        _wait_for(lines, "reloaded score.toml at bar", player)
        time.sleep(0.05)
        _save(path, path.read_text().replace("bpm = 120", 'bpm = "fast"'))
        _wait_for(lines, "still playing the last good version", player)
        os.write(controller, b"q")
        player.wait(30)
    finally:
        os.close(controller)
        if player.poll() is None:
            player.kill()
    reader.join(5)
    text = "".join(lines)
    assert player.returncode == 0, text
    assert "mute strings on" in text
    assert "error: unknown section 'celo'; sections: strings, lead" in text
    assert "tempo x1.040" in text
    assert "score.toml:" in text and "error: bpm must be a number" in text
    assert "underruns:" in text and "Traceback" not in text


class _FakePyo:
    """Stands in for pyo's PortAudio queries (this machine has no sound card)."""

    def __init__(self, names, indexes, default):
        self._devices, self._default = (names, indexes), default

    def pa_get_output_devices(self):
        return self._devices

    def pa_get_default_output(self):
        return self._default


def test_portaudio_device_choice():
    from symphony.live.engine import NoAudioDeviceError
    from symphony.live.output import _portaudio_device

    with pytest.raises(NoAudioDeviceError, match="(?s)PortAudio finds no audio output device.*jackd -d dummy"):
        _portaudio_device(_FakePyo([], [], -1), None)
    fake = _FakePyo(["HDA Intel: ALC892 Analog", "USB Audio CODEC"], [0, 3], 0)
    assert _portaudio_device(fake, None) is None          # the default device
    assert _portaudio_device(fake, "usb") == 3            # by name, case-insensitive
    assert _portaudio_device(fake, "0") == 0              # by index
    with pytest.raises(NoAudioDeviceError, match="no PortAudio output device matches 'hdmi'; devices: 0: HDA"):
        _portaudio_device(fake, "hdmi")
