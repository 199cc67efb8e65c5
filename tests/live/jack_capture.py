"""A separate JACK client that records its two input ports (float32) until told to stop.

Run as a child process by the live tests::

    python -m tests.live.jack_capture OUT.npy SECONDS_MAX

It registers ``capture:in_1`` and ``capture:in_2``, prints ``ready`` once active, and
records every period from then on into a preallocated array. It stops when a line arrives
on stdin (or at SECONDS_MAX), then writes the recorded frames to OUT.npy and, to OUT.xruns,
the number of xruns the server reported (first line) and the capture frame at which each
was reported (second line).
"""

from __future__ import annotations

import sys
import threading

import numpy as np


def main() -> None:
    import jack

    out_path, seconds = sys.argv[1], float(sys.argv[2])
    client = jack.Client("capture", no_start_server=True)
    n_max = int(seconds * client.samplerate)
    data = np.zeros((2, n_max), dtype=np.float32)
    state = {"frames": 0, "xruns": 0}
    xrun_frames: list[int] = []  # capture position of each xrun the server reported
    ports = [client.inports.register(f"in_{i}") for i in (1, 2)]

    @client.set_process_callback
    def process(frames):
        start = state["frames"]
        stop = min(start + frames, n_max)
        if stop > start:
            data[0, start:stop] = ports[0].get_array()[:stop - start]
            data[1, start:stop] = ports[1].get_array()[:stop - start]
        state["frames"] = stop

    @client.set_xrun_callback
    def xrun(delay):
        state["xruns"] += 1
        xrun_frames.append(state["frames"])

    done = threading.Event()
    with client:
        print("ready", flush=True)
        threading.Thread(target=lambda: (sys.stdin.readline(), done.set()), daemon=True).start()
        done.wait(seconds)
    np.save(out_path, data[:, :state["frames"]])
    with open(out_path + ".xruns", "w") as f:
        f.write(f"{state['xruns']}\n{' '.join(map(str, xrun_frames))}\n")


if __name__ == "__main__":
    main()
