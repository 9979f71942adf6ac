#!/usr/bin/env bash
# Prepare a fresh Debian machine for building Continuo: the system packages the build
# needs (installed only when missing) and a Rust toolchain check. Package names given as
# arguments are installed too (scripts/host-test.sh asks for its real hosts this way).
set -euo pipefail
# pkg-config and the libraries nice-plug's plugin wrappers and standalone (ALSA, JACK, X11,
# OpenGL) build against; a small General MIDI SoundFont (6 MB) that the SoundFont voice's
# tests play.
packages=(pkg-config libasound2-dev libjack-jackd2-dev libx11-dev libxcursor-dev libx11-xcb-dev libgl-dev
  timgm6mb-soundfont "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# pip fetches the ONNX Runtime library (`cargo xtask ort`) from its PyPI wheel.
if ! python3 -m pip --version >/dev/null 2>&1; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-pip
fi
command -v cargo >/dev/null || { echo "error: cargo not found; install Rust (https://rustup.rs)" >&2; exit 1; }
# The gates of scripts/test.sh: rustfmt and clippy (rustup adds them when they are missing).
for tool in rustfmt clippy; do
  if ! cargo "${tool/rustfmt/fmt}" --version >/dev/null 2>&1; then
    command -v rustup >/dev/null || { echo "error: cargo $tool not found; install it (rustup component add $tool)" >&2; exit 1; }
    rustup component add "$tool"
  fi
done
