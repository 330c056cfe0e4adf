#!/usr/bin/env bash
# Interoperability of the mqttkit-tokio server example (examples/server.rs,
# on the server-side Connection driver) with paho-mqtt (Python) and MQTT.js
# (Node), in MQTT 3.1.1 and 5.0: connect, subscribe, publish QoS 0/1/2,
# receive, will on an abnormal close, persistent session, clean disconnect,
# invalid packets. Adapted from mqtt-session/tests/interop/run.sh.
#
# Usage: mqtt-tokio/tests/interop/run.sh   (from anywhere in the repo)
# Needs python3 with pip, node and npm, cargo. The clients are installed
# here, in git-ignored folders: paho-mqtt with `pip --target .pydeps`,
# MQTT.js with `npm ci` into node_modules.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"

spec='paho-mqtt>=2,<3'
if ! PYTHONPATH="$here/.pydeps" python3 -c 'import paho.mqtt, sys; sys.exit(not paho.mqtt.__version__.startswith("2."))' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check --target "$here/.pydeps" "$spec"
fi
export PYTHONPATH="$here/.pydeps"
# Exactly the MQTT.js the lock file names.
(cd "$here" && npm ci --no-audit --no-fund --silent)

cargo build -q -p mqttkit-tokio --example server
server_bin="${CARGO_TARGET_DIR:-$root/target}/debug/examples/server"

log="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$log"
}
trap cleanup EXIT

# Port 0: the OS picks a free port and the first line names it.
"$server_bin" --port 0 >"$log/stdout" 2>"$log/stderr" &
server=$!
port=""
for _ in $(seq 100); do
    port="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log/stdout")"
    [ -n "$port" ] && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "interop: the server example did not start" >&2
    cat "$log/stderr" >&2
    exit 1
fi
echo "interop: server example on 127.0.0.1:$port"

status=0
# Each script has its own watchdog below 60 s; timeout is the last resort.
timeout 90 python3 "$here/paho_interop.py" "$port" || status=1
timeout 90 node "$here/mqttjs_interop.mjs" "$port" || status=1
if [ "$status" -ne 0 ]; then
    echo "interop: failures; the server's log:" >&2
    tail -n 50 "$log/stderr" >&2
fi
exit "$status"
