#!/usr/bin/env bash
# The project's test command: every test of every crate, the ones that need
# a real peer included, and the interoperability suites.
#
#     scripts/test.sh
#
# Plain `cargo test --workspace` runs everything that needs only the Rust
# toolchain; the tests that talk to mosquitto are `#[ignore]`d there with a
# reason that names this script. This script installs the peers when they
# are missing (mosquitto and its clients, Chromium and openssl from the
# system packages; paho-mqtt and MQTT.js are installed by the suites
# themselves from PyPI and npm), runs the ignored tests too, counts them, and
# fails if any of them did not run and pass. When a peer is missing and
# cannot be installed here (no root, no package registry), it stops with one
# line that says what to install. Nothing is skipped silently.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

find_mosquitto() {
    for p in /usr/sbin/mosquitto /usr/bin/mosquitto /usr/local/sbin/mosquitto; do
        [ -x "$p" ] && { echo "$p"; return; }
    done
    command -v mosquitto 2>/dev/null || true
}

# Debian package that provides each missing command.
missing_packages() {
    local missing=()
    [ -n "$(find_mosquitto)" ] || missing+=(mosquitto)
    [ -x /usr/bin/mosquitto_pub ] && [ -x /usr/bin/mosquitto_sub ] || missing+=(mosquitto-clients)
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    echo "${missing[@]}"
}

missing="$(missing_packages)"
if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    echo "== installing the test peers: $missing"
    # shellcheck disable=SC2086 # one word per package
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q $missing; } \
        >/dev/null 2>&1 || true
    missing="$(missing_packages)"
    if [ -n "$missing" ]; then
        echo "scripts/test.sh: install $missing (Debian/Ubuntu: apt-get install $missing), or run \`cargo test --workspace\` for the tests that need no peer" >&2
        exit 1
    fi
fi

log_dir="${CARGO_TARGET_DIR:-$root/target}/test-logs"
mkdir -p "$log_dir"

echo "== cargo test, the peer tests included"
# The names of the tests that need a peer: the ones ignored by default.
# Its compiler messages go to a file, shown when the listing fails: a build
# that breaks here (a full disk, a linker killed) must say why.
if ! cargo test -q --workspace --all-features -- --ignored --list --format terse \
    >"$log_dir/test-list.txt" 2>"$log_dir/test-list.err"; then
    cat "$log_dir/test-list.err" >&2
    echo "scripts/test.sh: the tests could not be built and listed (messages above)" >&2
    exit 1
fi
sed -n 's/: test$//p' "$log_dir/test-list.txt" | sort >"$log_dir/peer-tests.txt"
status=0
cargo test --workspace --all-features --no-fail-fast -- --include-ignored 2>&1 |
    tee "$log_dir/cargo-test.log" || status=$?
expected="$(wc -l <"$log_dir/peer-tests.txt")"
passed=0
while read -r name; do
    if grep -qxF "test $name ... ok" "$log_dir/cargo-test.log"; then
        passed=$((passed + 1))
    else
        echo "peer test did not pass: $name" >&2
    fi
done <"$log_dir/peer-tests.txt"
echo "== peer tests: $passed of $expected ran and passed (mosquitto $("$(find_mosquitto)" -h 2>/dev/null | sed -n 's/^mosquitto version \([^ ]*\).*/\1/p'))"
if [ "$status" -ne 0 ] || [ "$expected" -eq 0 ] || [ "$passed" -ne "$expected" ]; then
    echo "scripts/test.sh: cargo test failed" >&2
    exit 1
fi

echo "== mosquitto's broker compliance corpus replayed against mqttkit-broker"
cargo build -q -p mqttkit-broker --bin mqttkit-broker
# With the option that refuses control characters in client identifiers,
# topic names and filters (v5 §1.5.4 allows it), as mosquitto does: more of
# the corpus passes with it. The threshold is the rate measured in
# mqtt-broker/INTEROP.md.
python3 mqtt-session/tests/interop/replay_corpus.py "${CARGO_TARGET_DIR:-target}/debug/mqttkit-broker" \
    --broker-arg=--refuse-control-characters --min-rate 98 \
    --corpus ../shared/corpus/mosquitto-broker-data \
    --failures "$log_dir/mosquitto-corpus-failures.txt"

echo "== interop: paho-mqtt and MQTT.js against mqttkit-broker"
bash mqtt-session/tests/interop/run.sh

echo "== transports: TCP, WebSocket (MQTT.js, raw frames, headless Chromium) and TLS (example client, mosquitto) with mqttkit-broker"
bash mqtt-session/tests/transport/run.sh

echo "== scripts/test.sh: all tests passed, $passed peer tests among them"
