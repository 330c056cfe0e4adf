#!/usr/bin/env bash
# Runs the whole benchmark suite once and writes every report from that run:
# mqtt-codec/BENCHMARKS.md and benchmarks.svg, mqtt-topic/BENCHMARKS.md,
# mqtt-session/BENCHMARKS.md, and
# the Performance section of README.md. Takes about 25 minutes on 2 vCPUs.
#
#   benches/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf target/criterion
criterion_args=(--warm-up-time 0.5 --measurement-time 1.5 --noplot)
cargo bench -p mqttkit-benches --bench codec -- "${criterion_args[@]}"
cargo bench -p mqttkit-benches --bench codec_allocs > target/codec-allocs.md
cargo bench -p mqttkit-benches --bench topic -- "${criterion_args[@]}" | tee target/topic-bench.log
cargo bench -p mqttkit-benches --bench session -- "${criterion_args[@]}"
cargo bench -p mqttkit-benches --bench session_allocs > target/session-allocs.md
python3 benches/scripts/codec_report.py target/codec-allocs.md > mqtt-codec/BENCHMARKS.md
python3 benches/scripts/topic_report.py target/topic-bench.log > mqtt-topic/BENCHMARKS.md
python3 benches/scripts/session_report.py target/session-allocs.md > mqtt-session/BENCHMARKS.md
python3 benches/scripts/readme_performance.py
echo "reports written: mqtt-codec/BENCHMARKS.md, mqtt-codec/benchmarks.svg, mqtt-topic/BENCHMARKS.md, mqtt-session/BENCHMARKS.md, README.md"
