#!/usr/bin/env bash
# Continuo for Windows, cross-built here and tested under Wine (issue #27), as a Windows user
# gets it: the zip of `cargo xtask windows`, unpacked.
# 1. `trainer.exe generate` continues the example phrase and writes the same MIDI file, byte
#    for byte, as the Linux trainer with the same random seed.
# 2. The CLAP test host, cross-built for Windows, loads the zip's `Continuo.clap` (its model
#    through the zip's `onnxruntime.dll`), plays a phrase and gets an answer on the grid.
# 3. The standalone `Continuo.exe` starts on its dummy audio backend and exits cleanly.
# 4. clap-validator (github.com/free-audio/clap-validator, not on crates.io), cross-built for
#    Windows, passes the zip's `Continuo.clap` with 0 failed.
# The plugin makes a message window as it is created (nice-plug's Windows event loop), so
# the programs that load it run under Wine on a virtual X display (Xvfb).
# Wine 8 has no bcryptprimitives.dll (Windows 10 has): a stand-in built from
# scripts/windows/bcryptprimitives.c is put beside the test programs, never into the zip.
# Where Wine, MinGW-w64 or the Rust target cannot be installed, or GitHub (for clap-validator)
# cannot be reached, this says so and stops without failing the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
skip() {
  echo "windows: SKIPPED, $*"
  exit 0
}
bash scripts/setup.sh gcc-mingw-w64-x86-64 wine wine64 xvfb ||
  skip "Wine and MinGW-w64 could not be installed (apt-get install gcc-mingw-w64-x86-64 wine wine64 xvfb)"
target=x86_64-pc-windows-gnu
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  rustup target add "$target" || skip "the Rust target $target could not be installed (rustup target add $target)"
fi

cargo xtask windows
tests=target/windows-test
rm -rf "$tests" && mkdir -p "$tests"
(cd "$tests" && python3 -m zipfile -e ../windows/Continuo-windows-x86_64.zip .)
unpacked=$tests/Continuo
x86_64-w64-mingw32-gcc -O2 -shared -o "$tests/bcryptprimitives.dll" scripts/windows/bcryptprimitives.c -ladvapi32
cp "$tests/bcryptprimitives.dll" "$unpacked/"
# One virtual display for every Wine program (the Wine server keeps the display of its first
# program), and a Wine prefix of the tests' own.
Xvfb -displayfd 3 -nolisten tcp 3>"$tests/display" >/dev/null 2>&1 &
xvfb=$!
trap 'wineserver -k 2>/dev/null || true; kill "$xvfb" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$tests/display" ] && break; sleep 0.1; done
export DISPLAY=":$(cat "$tests/display")" WINEPREFIX=$PWD/target/wine-prefix WINEDEBUG=-all
wineserver -k 2>/dev/null || true
wineboot --init >/dev/null 2>&1 || true
win() { winepath -w "$1"; }

# 1. The trainer.
args=(generate --seed core/tests/fixtures/example-phrase.krn --bars 8 --temperature 0.9 --random-seed 1)
cargo build --release --locked -p continuo-trainer
./target/release/trainer "${args[@]}" --model models/folk-melody.onnx --out "$tests/linux.mid" >/dev/null
wine "$unpacked/trainer.exe" "${args[@]}" --model "$(win "$unpacked/models/folk-melody.onnx")" \
  --out "$(win "$tests/windows.mid")" | tail -n 2
cmp "$tests/linux.mid" "$tests/windows.mid"
echo "windows: trainer.exe generate wrote the Linux trainer's MIDI file, byte for byte"

# 2. The CLAP test host on the zip's Continuo.clap.
host=$(cargo test --locked -p continuo --test clap_host --target "$target" --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "clap_host" and m.get("executable"):
        print(m["executable"])')
cp "$tests/bcryptprimitives.dll" "$(dirname "$host")/"
CONTINUO_CLAP=$(win "$unpacked/Continuo.clap") wine "$host" --test-threads 1 --nocapture \
  the_clap_build_answers_a_phrase_on_the_grid_in_a_host >"$tests/clap-host.log" 2>&1 ||
  { cat "$tests/clap-host.log"; exit 1; }
grep -E "answer notes|^test |test result" "$tests/clap-host.log"
echo "windows: the CLAP test host answered through the zip's Continuo.clap under Wine"

# 3. The standalone starts, still runs ten seconds later, and stops when asked.
wine "$unpacked/Continuo.exe" --backend dummy >"$tests/standalone.log" 2>&1 &
pid=$!
sleep 10
kill -0 "$pid" 2>/dev/null || { cat "$tests/standalone.log"; echo "windows: the standalone did not keep running"; exit 1; }
kill -INT "$pid"
wait "$pid" || true
wineserver -k 2>/dev/null || true
if grep -q "panicked" "$tests/standalone.log"; then
  cat "$tests/standalone.log"
  exit 1
fi
echo "windows: the standalone ran ten seconds under Wine and stopped"

# 4. clap-validator 0.4.1: the checkout in CLAP_VALIDATOR_SRC, else cloned from GitHub with
#    its dependencies (where this machine cannot reach GitHub, it says so and stops here).
src=${CLAP_VALIDATOR_SRC:-target/clap-validator}
if [ ! -d "$src" ] && ! timeout 120 git clone --quiet --depth 1 --branch 0.4.1 \
  https://github.com/free-audio/clap-validator "$src"; then
  rm -rf "$src"
  skip "clap-validator: github.com cannot be reached; set CLAP_VALIDATOR_SRC to a checkout of it"
fi
(cd "$src" && timeout 300 cargo fetch --quiet) ||
  skip "clap-validator: its dependencies (github.com/prokopyl/clack) cannot be fetched"
(cd "$src" && cargo build --release --target "$target")
validator=$src/target/$target/release/clap-validator.exe
cp "$tests/bcryptprimitives.dll" "$(dirname "$validator")/"
wine "$validator" validate "$(win "$unpacked/Continuo.clap")" >"$tests/validator.log" 2>&1 || true
summary=$(grep -E "[0-9]+ tests run" "$tests/validator.log" | tail -n 1)
echo "windows: clap-validator: $summary"
echo "$summary" | grep -q " 0 failed" || { cat "$tests/validator.log"; exit 1; }
