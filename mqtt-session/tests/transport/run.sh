#!/usr/bin/env bash
# MQTT over TCP, WebSocket and TLS with mqttkit-broker and the example
# client: MQTT.js over WebSocket exchanging QoS 0/1/2 messages with
# mosquitto_sub and mosquitto_pub over TCP, WebSocket framing at the byte
# level, MQTT.js in headless Chromium, and the example client over every
# transport to mqttkit-broker and over TLS to mosquitto, with a throwaway
# certificate authority. CI calls this from scripts/test.sh on a fresh
# machine, so it installs what it needs.
#
# Usage: mqtt-session/tests/transport/run.sh   (from anywhere in the repo)
# Needs node and npm, cargo, mosquitto and mosquitto-clients (installed by
# scripts/test.sh), openssl and chromium (installed here when missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"

# System packages, as scripts/test.sh installs mosquitto: loudly failing later
# rather than skipping when the install fails.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || true
fi
mosquitto_bin=""
for p in /usr/sbin/mosquitto /usr/bin/mosquitto /usr/local/sbin/mosquitto; do
    [ -x "$p" ] && { mosquitto_bin="$p"; break; }
done
for need in openssl node npm mosquitto_pub mosquitto_sub stdbuf /usr/bin/chromium "$mosquitto_bin"; do
    if [ -z "$need" ] || ! command -v "$need" >/dev/null 2>&1; then
        echo "transport: ${need:-mosquitto} is not installed" >&2
        exit 1
    fi
done
# Exactly the MQTT.js, ws and playwright-core the lock file names.
(cd "$here" && npm ci --no-audit --no-fund --silent)

cargo build -q -p mqttkit-broker --bin mqttkit-broker
cargo build -q -p mqttkit-session --example client
broker_bin="${CARGO_TARGET_DIR:-$root/target}/debug/mqttkit-broker"
examples="${CARGO_TARGET_DIR:-$root/target}/debug/examples"
shots="${CARGO_TARGET_DIR:-$root/target}/transport-test"

tmp="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

# A throwaway certificate authority and a server certificate it signs, for
# both names a client may use: IP:127.0.0.1 and DNS:localhost. A second,
# unrelated CA is what an impostor would have.
(
    cd "$tmp"
    for ca in ca other-ca; do
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mqttkit-session test $ca" \
            -keyout "$ca.key" -out "$ca.pem" 2>/dev/null
    done
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout server.key -out server.csr 2>/dev/null
    printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'basicConstraints=CA:FALSE' \
        'keyUsage=digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' >server.ext
    openssl x509 -req -days 2 -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
        -extfile server.ext -out server.pem 2>/dev/null
)

# Port 0 everywhere: the broker prints one line per listener with the
# port the system chose.
"$broker_bin" --listen tcp://127.0.0.1:0 --listen ws://127.0.0.1:0 \
    --listen tls://127.0.0.1:0 --listen wss://127.0.0.1:0 \
    --cert "$tmp/server.pem" --key "$tmp/server.key" >"$tmp/broker.out" 2>"$tmp/broker.err" &
pids+=($!)
listening() { sed -n "s/^listening $1on 127\.0\.0\.1:\([0-9]*\)\$/\1/p" "$tmp/broker.out"; }
wss=""
for _ in $(seq 100); do
    wss="$(listening 'wss ')"
    [ -n "$wss" ] && break
    kill -0 "${pids[0]}" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$wss" ]; then
    echo "transport: the broker did not start" >&2
    cat "$tmp/broker.err" >&2
    exit 1
fi
tcp="$(listening '')" ws="$(listening 'ws ')" tls="$(listening 'tls ')"
echo "transport: broker on 127.0.0.1: tcp $tcp, ws $ws, tls $tls, wss $wss"

# mosquitto with a TLS listener only, from a temporary configuration. As
# root it would switch to its own user, which cannot read our temporary
# directory; it keeps ours.
mosq_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat >"$tmp/mosquitto.conf" <<CONF
user $(id -un)
persistence false
allow_anonymous true
listener $mosq_port 127.0.0.1
certfile $tmp/server.pem
keyfile $tmp/server.key
CONF
"$mosquitto_bin" -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$mosq_port") 2>/dev/null && break
    sleep 0.1
done
echo "transport: mosquitto (TLS) on 127.0.0.1:$mosq_port"

results="$tmp/results"
: >"$results"
status=0
report() { echo "$1" | tee -a "$results"; }

# One run of the example client's scenario (QoS 0/1/2 both ways, link
# lost with flows in flight, session resumed) over one transport.
client_case() {
    local name="$1"; shift
    if timeout 60 "$examples/client" "$@" >"$tmp/client.log" 2>&1; then
        report "PASS client $name"
    else
        report "FAIL client $name"
        tail -n 20 "$tmp/client.log" >&2
        status=1
    fi
}
statements='[MQTT-4.3.2-4] [MQTT-4.3.3-8] [MQTT-4.4.0-1]'
client_case "v5 §4.2 $statements over mqtt:// to mqttkit-broker" \
    "mqtt://127.0.0.1:$tcp" 5
client_case "v3.1.1 §4.2 $statements over mqtt:// to mqttkit-broker" \
    "mqtt://127.0.0.1:$tcp" 3.1.1
client_case "v5 §4.2 $statements over mqtts://127.0.0.1 (IP SAN) to mqttkit-broker" \
    "mqtts://127.0.0.1:$tls" 5 --ca "$tmp/ca.pem"
client_case "v3.1.1 §4.2 $statements over mqtts://localhost (DNS SAN) to mqttkit-broker" \
    "mqtts://localhost:$tls" 3.1.1 --ca "$tmp/ca.pem"
client_case "v5 §4.2 $statements over mqtts://localhost to mosquitto" \
    "mqtts://localhost:$mosq_port" 5 --ca "$tmp/ca.pem"
client_case "v3.1.1 §4.2 $statements over mqtts://127.0.0.1 to mosquitto" \
    "mqtts://127.0.0.1:$mosq_port" 3.1.1 --ca "$tmp/ca.pem"
client_case "v5 §6 [MQTT-6.0.0-3] $statements over ws:// to mqttkit-broker" \
    "ws://127.0.0.1:$ws/mqtt" 5
client_case "v3.1.1 §6 [MQTT-6.0.0-3] $statements over wss://localhost to mqttkit-broker" \
    "wss://localhost:$wss/mqtt" 3.1.1 --ca "$tmp/ca.pem"
# TLS is what lets the client know it talks to the broker it named
# (v5 §5.4.9): a certificate from a CA it does not trust must fail.
if timeout 30 "$examples/client" "mqtts://localhost:$tls" 5 --ca "$tmp/other-ca.pem" >"$tmp/client.log" 2>&1; then
    report "FAIL client v5 §5.4.9 refuses a server certificate from an untrusted CA: it connected"
    status=1
elif grep -qi 'certificate' "$tmp/client.log"; then
    report "PASS client v5 §5.4.9 refuses a server certificate from an untrusted CA"
else
    report "FAIL client v5 §5.4.9 refuses a server certificate from an untrusted CA: $(tail -n 1 "$tmp/client.log")"
    status=1
fi
# Another TLS client than ours: mosquitto_pub over TLS to mqttkit-broker,
# mosquitto_sub over TCP receives.
topic="transport/$$/tls"
# -d prints "received SUBACK" once subscribed (line-buffered by stdbuf), so
# the publish cannot overtake the subscription.
stdbuf -oL mosquitto_sub -d -h 127.0.0.1 -p "$tcp" -t "$topic" -q 1 -C 1 -W 10 >"$tmp/sub.out" 2>&1 &
sub=$!
pids+=("$sub")
for _ in $(seq 50); do
    grep -q 'received SUBACK' "$tmp/sub.out" && break
    sleep 0.1
done
if mosquitto_pub -h localhost -p "$tls" --cafile "$tmp/ca.pem" -V mqttv5 -t "$topic" -m 'over tls' -q 1 &&
    wait "$sub" && grep -qx 'over tls' "$tmp/sub.out"; then
    report "PASS mosquitto v5 §4.2 [MQTT-4.3.2-4] mosquitto_pub over TLS to mqttkit-broker, mosquitto_sub over TCP receives"
else
    report "FAIL mosquitto v5 §4.2 [MQTT-4.3.2-4] mosquitto_pub over TLS to mqttkit-broker: $(tail -n 3 "$tmp/sub.out")"
    status=1
fi

# Each node script has its own watchdog; timeout is the last resort.
for script in "mqttjs_ws.mjs $ws $tcp $wss $tmp/ca.pem" "ws_frames.mjs $ws" "browser.mjs $ws $tcp $shots"; do
    # shellcheck disable=SC2086 # the arguments are words on purpose
    timeout 120 node "$here/"$script | tee -a "$results" || status=1
done

passed="$(grep -c '^PASS' "$results" || true)"
failed="$(grep -c '^FAIL' "$results" || true)"
if [ "$status" -ne 0 ]; then
    echo "transport: failures; the broker's log:" >&2
    tail -n 50 "$tmp/broker.err" >&2
    echo "transport: mosquitto's log:" >&2
    tail -n 20 "$tmp/mosquitto.log" >&2
fi
echo "transport: $passed passed, $failed failed"
exit "$status"
