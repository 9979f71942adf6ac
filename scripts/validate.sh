#!/usr/bin/env bash
# Runs the two plugin validators on the release bundle and prints their verdicts.
#
#   CLAP_VALIDATOR=/path/to/clap-validator VST3_VALIDATOR=/path/to/validator bash scripts/validate.sh
#
# Neither validator is vendored or fetched here (this repository never commits their code):
# - clap-validator: a checkout of github.com/free-audio/clap-validator, `cargo build --release`
#   with the workspace's `members` reduced to "." (its test plugins pull git dependencies).
# - VST3 validator: a checkout of github.com/steinbergmedia/vst3sdk with the submodules base,
#   cmake, pluginterfaces and public.sdk; `cmake -DSMTG_ENABLE_VSTGUI_SUPPORT=OFF
#   -DSMTG_ENABLE_VST3_PLUGIN_EXAMPLES=OFF ..` and `make validator` (the hosting samples other
#   than the validator need GTK: leave them out of public.sdk/samples/vst-hosting/CMakeLists.txt).
# Fails when either reports a failed test or the fuzzer a warning or an error.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CLAP_VALIDATOR:?set CLAP_VALIDATOR to a clap-validator binary}"
: "${VST3_VALIDATOR:?set VST3_VALIDATOR to the VST3 SDK validator binary}"
fuzz_time=${FUZZ_TIME:-120s}

if [ ! -e target/bundled/Continuo.clap ] || [ -n "$(find plugin/src core/src -newer target/bundled/Continuo.clap -name '*.rs' | head -n 1)" ]; then
  cargo xtask bundle continuo --release
fi
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$(ls "$PWD"/target/onnxruntime/libonnxruntime.so* | head -n 1)}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
plain() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }

"$CLAP_VALIDATOR" validate --hide-output target/bundled/Continuo.clap >"$log/clap" 2>&1 || true
clap_summary=$(plain "$log/clap" | grep -E '^[0-9]+ tests run' || echo "no summary")
echo "clap-validator validate: $clap_summary"

"$CLAP_VALIDATOR" fuzz --duration "$fuzz_time" -j 1 target/bundled/Continuo.clap >"$log/fuzz" 2>&1 && fuzz_ok=1 || fuzz_ok=0
fuzz_warnings=$(plain "$log/fuzz" | grep -ci 'warn' || true)
echo "clap-validator fuzz ($fuzz_time): $(plain "$log/fuzz" | tail -n 1), $fuzz_warnings warnings"

"$VST3_VALIDATOR" target/bundled/Continuo.vst3 >"$log/vst3" 2>&1 || true
vst3_summary=$(grep -E '^Result: ' "$log/vst3" || echo "no summary")
echo "VST3 validator: $vst3_summary"

failed=0
[[ $clap_summary =~ ([0-9]+)\ failed && ${BASH_REMATCH[1]} == 0 ]] || failed=1
[[ $fuzz_ok == 1 && $fuzz_warnings == 0 ]] || failed=1
[[ $vst3_summary =~ ([0-9]+)\ tests\ failed && ${BASH_REMATCH[1]} == 0 ]] || failed=1
if [ "$failed" != 0 ]; then
  echo "validators: FAILED (logs: clap, fuzz, vst3 below)"
  plain "$log/clap" | grep -B3 -A6 FAILED || true
  plain "$log/fuzz" | tail -n 20
  grep -B3 -A3 '\[Failed\]' "$log/vst3" || true
  exit 1
fi
echo "validators: passed"
