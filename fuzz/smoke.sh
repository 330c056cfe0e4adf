#!/usr/bin/env bash
# Fuzz smoke run: builds every cargo-fuzz target and runs each for a short
# time (20 s by default), so that a target that no longer builds, or that
# crashes at once, fails. Exits non-zero on any build failure or finding.
#
#   fuzz/smoke.sh                      # every target, 20 s each
#   FUZZ_SMOKE_SECONDS=5 fuzz/smoke.sh decode_v5 roundtrip
#
# Uses the nightly toolchain when rustup has one, else stable with
# RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Z flags for the sanitizer).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SMOKE_SECONDS:-20}
# Over-allocation is a finding: a hostile length must never size memory.
limits=(-rss_limit_mb=512 -malloc_limit_mb=64)

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

if command -v rustup >/dev/null 2>&1 && rustup run nightly rustc --version >/dev/null 2>&1; then
    fuzz=(cargo +nightly fuzz)
    echo "== toolchain: nightly"
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
    echo "== toolchain: stable with RUSTC_BOOTSTRAP=1"
fi

# Lower priority: the smoke run shares the machine with other builds.
nice_cmd=()
if command -v nice >/dev/null 2>&1; then
    nice_cmd=(nice -n 10)
fi

echo "== build"
"${nice_cmd[@]}" "${fuzz[@]}" build

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <("${fuzz[@]}" list)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=()
for target in "${targets[@]}"; do
    echo "== $target (${seconds} s)"
    # New inputs go to a scratch directory; the committed seeds are read only.
    mkdir -p "$work/$target"
    seeds=()
    if [ -d "fuzz/corpus/$target" ]; then
        seeds=("fuzz/corpus/$target")
    fi
    log="$work/$target.log"
    if "${nice_cmd[@]}" "${fuzz[@]}" run "$target" "$work/$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" "${limits[@]}" -dict=fuzz/mqtt.dict \
        >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true
    else
        failed+=("$target")
        tail -n 40 "$log"
        echo "!! $target failed; reproduce with: cargo +nightly fuzz run $target fuzz/artifacts/$target/<file>"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "== fuzz smoke run FAILED: ${failed[*]}"
    exit 1
fi
echo "== fuzz smoke run passed (${#targets[@]} targets)"
