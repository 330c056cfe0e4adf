#!/usr/bin/env bash
# Interoperability of the example broker with paho-mqtt (Python) and MQTT.js
# (Node), in MQTT 3.1.1 and 5.0. CI calls this from .ci/run on a fresh
# machine, so it installs the two clients itself.
#
# Usage: mqtt-session/tests/interop/run.sh   (from anywhere in the repo)
# Needs python3 with pip, node and npm, cargo.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"

# paho-mqtt 2.x: a system Python may be "externally managed" (PEP 668) or
# not writable, so try the ordinary install first, then the fallbacks.
spec='paho-mqtt>=2,<3'
pip_install() { python3 -m pip install --quiet --disable-pip-version-check "$@" "$spec" 2>/dev/null; }
pip_install || pip_install --user || pip_install --break-system-packages ||
    pip_install --user --break-system-packages || true
python3 -c 'import paho.mqtt, sys; sys.exit(not paho.mqtt.__version__.startswith("2."))' || {
    echo "interop: could not install $spec; pip says:" >&2
    python3 -m pip install "$spec" >&2 || true
    exit 1
}
# Exactly the MQTT.js the lock file names.
(cd "$here" && npm ci --no-audit --no-fund --silent)

cargo build -q -p mqttkit-session --example broker
broker_bin="${CARGO_TARGET_DIR:-$root/target}/debug/examples/broker"

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
    echo "interop: the broker did not start" >&2
    cat "$log/stderr" >&2
    exit 1
fi
echo "interop: broker on 127.0.0.1:$port"

status=0
# Each script has its own watchdog below 60 s; timeout is the last resort.
timeout 90 python3 "$here/paho_interop.py" "$port" || status=1
timeout 90 node "$here/mqttjs_interop.mjs" "$port" || status=1
if [ "$status" -ne 0 ]; then
    echo "interop: failures; the broker's log:" >&2
    tail -n 50 "$log/stderr" >&2
fi
exit "$status"
