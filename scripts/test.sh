#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this verbatim).
# Tests that read ../shared/data fail with a clear message when it is missing; set
# CONTINUO_DATA to its location, or CONTINUO_ALLOW_MISSING_DATA=1 to skip them loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
# ONNX Runtime's telemetry off for every test, the plugin in Ardour included (docs/HOSTS.md).
export ORT_DISABLE_TELEMETRY=1
bash scripts/setup.sh
# Gates: the house format (rustfmt.toml) and no clippy warning, before any test runs.
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Build everything first, so the test run itself only runs tests.
cargo build --workspace --all-targets --locked
# The ONNX Runtime library the inference tests load (fetched once into target/onnxruntime).
cargo xtask ort
cargo test --workspace --locked
# The built CLAP plugin again, with nice-plug's check that aborts on any allocation in `process`.
# `--workspace` keeps the dependencies' features those of the run above, so only nice-plug and
# the plugin are built again.
cargo test --workspace --locked --features continuo/assert_process_allocs --test clap_host
# Real hosts: Ardour (VST3) and the standalone on a JACK dummy server (installs ardour and
# jackd2 when missing, builds the release bundle).
bash scripts/host-test.sh
# Windows: the zip of `cargo xtask windows`, cross-built with MinGW-w64 and tested under Wine
# (skipped, saying why, where Wine, MinGW-w64 or the Rust target cannot be installed).
bash scripts/windows-test.sh
