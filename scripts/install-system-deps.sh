#!/usr/bin/env bash
# Install the Debian packages symphony needs, only those that are missing.
# The pip wheels of soundfile and pyo bundle libsndfile, PortAudio and JACK's client
# library, so rendering needs no system package. The live-playback tests need a JACK
# server (jackd2) and Debian's PortAudio (libportaudio2: built with JACK support, which
# pyo's bundled copy lacks; symphony/live/output.py loads it for --backend portaudio);
# the fingerprint calibration needs fpcalc; the benchmarks need Csound.
set -euo pipefail

PACKAGES=(libchromaprint-tools jackd2 libportaudio2)
# `install-system-deps.sh bench` installs the benchmark's packages (benchmarks/bench.py) instead.
BENCH_PACKAGES=(csound jackd2)
[ "${1:-}" = "bench" ] && PACKAGES=("${BENCH_PACKAGES[@]}")

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "error: missing system packages: ${missing[*]}; install them with apt-get as root" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
