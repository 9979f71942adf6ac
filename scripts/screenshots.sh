#!/usr/bin/env bash
# The editor's screenshots in docs/: the standalone app under Xvfb on a JACK dummy server,
# with a phrase played into it (scripts/jack_player.py) and taken while the answer plays,
# at 100 % and at 200 % (the X server's Xft.dpi at 96 and 192, which the editor's windowing
# library reads as the scale). Needs the release bundle (`cargo xtask bundle continuo
# --release`); installs xvfb, scrot, xrdb, jackd2 and python3-jack-client when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh xvfb scrot x11-xserver-utils jackd2 python3-jack-client
standalone=target/bundled/Continuo
[ -x "$standalone" ] || cargo xtask bundle continuo --release

work=$(mktemp -d /tmp/continuo-shots.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
# A throw-away HOME: no takes or settings of the user's are touched.
export HOME=$work/home
mkdir -p "$HOME"
display=:${CONTINUO_DISPLAY:-97}
# -noreset: the resources set below survive between the clients.
Xvfb "$display" -screen 0 2400x1800x24 -nolisten tcp -noreset >"$work/xvfb.log" 2>&1 &
pids+=("$!")
export DISPLAY=$display
jackd -d dummy -r 48000 -p 512 >"$work/jackd.log" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do jack_lsp >/dev/null 2>&1 && break; sleep 0.1; done

shot() { # scale width height file
  local scale=$1 width=$2 height=$3 file=$4
  echo "Xft.dpi: $((96 * scale))" | xrdb -nocpp -merge
  # A 2-bar phrase at 120 BPM from 3 s to 7 s; the answer follows it.
  /usr/bin/python3 scripts/jack_player.py --tempo 120 --start 3 --seconds 14 --out "$work/player.json" &
  local player=$!
  for _ in $(seq 60); do jack_lsp | grep -q "continuo-player:answer" && break; sleep 0.5; done
  "$standalone" --backend jack --connect-jack-midi-input continuo-player:phrase \
    --connect-jack-midi-output continuo-player:answer >"$work/app.log" 2>&1 &
  local app=$!
  sleep "${CONTINUO_SHOT_AFTER:-9}"
  scrot --overwrite --autoselect "0,0,$width,$height" "$file"
  kill -INT "$app"
  wait "$app" || true
  wait "$player" || true
  echo "wrote $file (${width}x$height)"
}
shot 1 1120 820 docs/editor-100.png
shot 2 2240 1640 docs/editor-200.png
