#!/usr/bin/env bash
# Interoperability of a broker with paho-mqtt (Python) and MQTT.js
# (Node), in MQTT 3.1.1 and 5.0: connect, subscribe, publish QoS 0/1/2,
# retained messages, will on an abnormal close, persistent session, clean
# disconnect, invalid packets. CI calls this from scripts/test.sh on a fresh
# machine, so it installs the two clients itself, here, in git-ignored
# folders: paho-mqtt with `pip --target .pydeps`, MQTT.js with `npm ci` into
# node_modules.
#
# Usage: mqtt-session/tests/interop/run.sh [--package PKG]
#            [--bin NAME | --example NAME] [--skip CASE,...]
#            (from anywhere in the repo)
# By default the broker is the `mqttkit-broker` binary of the package of the
# same name; `--bin` names another binary of PKG, `--example` an example of
# it instead. mqttkit-tokio's interop test runs its `server` example with
# `--skip retained`, as that example keeps no retained messages. The broker
# must take `--port 0` and print `listening on 127.0.0.1:PORT` first.
# Needs python3 with pip, node and npm, cargo.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"

package=mqttkit-broker
# What cargo builds: --bin NAME or --example NAME.
kind=bin
name=mqttkit-broker
skip=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --package) package="$2"; shift 2 ;;
        --bin) kind=bin name="$2"; shift 2 ;;
        --example) kind=example name="$2"; shift 2 ;;
        --skip) skip=(--skip "$2"); shift 2 ;;
        *) echo "usage: $0 [--package PKG] [--bin NAME | --example NAME] [--skip CASE,...]" >&2; exit 2 ;;
    esac
done

# paho-mqtt 2.x into a folder of its own: a system Python may be "externally
# managed" (PEP 668) or not writable, and --target needs neither.
spec='paho-mqtt>=2,<3'
if ! PYTHONPATH="$here/.pydeps" python3 -c 'import paho.mqtt, sys; sys.exit(not paho.mqtt.__version__.startswith("2."))' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check --upgrade --target "$here/.pydeps" "$spec"
fi
export PYTHONPATH="$here/.pydeps"
# Exactly the MQTT.js the lock file names.
(cd "$here" && npm ci --no-audit --no-fund --silent)

cargo build -q -p "$package" "--$kind" "$name"
broker_bin="${CARGO_TARGET_DIR:-$root/target}/debug"
[ "$kind" = bin ] || broker_bin="$broker_bin/examples"
broker_bin="$broker_bin/$name"

log="$(mktemp -d)"
broker=""
cleanup() {
    if [ -n "$broker" ]; then
        kill "$broker" 2>/dev/null || true
        wait "$broker" 2>/dev/null || true
    fi
    rm -rf "$log"
}
trap cleanup EXIT

# Port 0: the OS picks a free port and the broker's first line names it,
# so parallel runs and other services on the machine cannot collide.
"$broker_bin" --port 0 >"$log/stdout" 2>"$log/stderr" &
broker=$!
port=""
for _ in $(seq 100); do
    port="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log/stdout")"
    [ -n "$port" ] && break
    kill -0 "$broker" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "interop: $package's $kind $name did not start" >&2
    cat "$log/stderr" >&2
    exit 1
fi
echo "interop: $package's $kind $name on 127.0.0.1:$port"

status=0
# Each script has its own watchdog below 60 s; timeout is the last resort.
timeout 90 python3 "$here/paho_interop.py" "$port" "${skip[@]}" || status=1
timeout 90 node "$here/mqttjs_interop.mjs" "$port" "${skip[@]}" || status=1
if [ "$status" -ne 0 ]; then
    echo "interop: failures; the broker's log:" >&2
    tail -n 50 "$log/stderr" >&2
fi
exit "$status"
