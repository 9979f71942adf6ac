#!/usr/bin/env bash
# Continuo's main job on a fresh Debian machine: build and bundle the plugin (CLAP, VST3,
# standalone), install it with the ONNX Runtime library and the shipped default model, and
# continue an example phrase with that model, writing the continuation to a MIDI file.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo xtask ort
cargo xtask bundle continuo --release
cargo xtask install
cargo build --release --locked -p continuo-trainer
mkdir -p data-out
# The example phrase: the first bars of an Essen folk song, shipped with the tests.
./target/release/trainer generate --model models/folk-melody.onnx \
  --seed core/tests/fixtures/example-phrase.krn --bars 8 --out data-out/continued.mid \
  --temperature 0.9 --random-seed 1
./target/release/trainer inspect data-out/continued.mid --notes 0
# The standalone starts (dummy audio backend) and exits cleanly.
./target/release/continuo --backend dummy & pid=$!
sleep 2
kill -INT "$pid"
wait "$pid"
echo "standalone: started and exited cleanly"
