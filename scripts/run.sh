#!/usr/bin/env bash
# Continuo's main job, as far as it exists today: prepare the three corpora in
# ../shared/data (or $CONTINUO_DATA) for training, and show how one Essen song becomes
# tokens. Outputs go to data-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
data="${CONTINUO_DATA:-../shared/data}"
[ -d "$data" ] || { echo "error: corpus folder $data not found (set CONTINUO_DATA)" >&2; exit 1; }
cargo build --release --locked -p continuo-trainer
trainer=target/release/trainer
$trainer prepare --input "$data/essen-kern" --out data-out/essen --encoding melody
$trainer prepare --input "$data/oneills-midi" --out data-out/oneills --encoding melody
$trainer prepare --input "$data/bach-chorales-midi" --out data-out/bach --encoding chords
$trainer inspect "$data/essen-kern/altdeu2/deut4181.krn" --notes 8
