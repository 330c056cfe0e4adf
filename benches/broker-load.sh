#!/usr/bin/env bash
# Puts our broker, mosquitto and rumqttd under the same load and writes
# mqtt-broker/BENCHMARKS.md: each scenario of the `broker_load` generator
# (benches/src/bin/broker_load.rs) three times per broker, each run against a
# freshly started broker listening on 127.0.0.1 on a free port.
#
#   benches/broker-load.sh           # all three brokers, the report (~10 min)
#   benches/broker-load.sh --short   # ours only, small counts, no report;
#                                    # fails if a QoS 1 message is missing or
#                                    # duplicated or a scenario fails (CI)
#
# BROKER_LOAD names a generator binary already built (no build then).
# OURS_CMD overrides how our broker starts (it must print
# `listening on ADDR` as its first stdout line); by default the release
# mqttkit-broker. Missing peers are installed: mosquitto with apt-get,
# rumqttd with cargo install into $CARGO_TARGET_DIR/rumqttd.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
short=0
case "${1:-}" in
    --short) short=1 ;;
    "") ;;
    *) echo "usage: $0 [--short]" >&2; exit 2 ;;
esac
target=${CARGO_TARGET_DIR:-$root/target}
export CARGO_TARGET_DIR=$target
work=$(mktemp -d)
broker_pid=
stop_broker() {
    if [ -n "$broker_pid" ]; then
        kill "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
        broker_pid=
    fi
}
trap 'stop_broker; rm -rf "$work"' EXIT

# 5,000 idle connections need as many descriptors in the generator and in
# the broker; both inherit this limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "== open files limit: $(ulimit -n)"

# The short mode checks delivery and the overload bounds, not speed: the
# generator is a debug build, which CI has mostly built already; the broker
# is a release build, as users run it. The report measures release builds.
if [ "$short" = 1 ]; then
    profile_flag=""
    profile_dir=debug
else
    profile_flag=--release
    profile_dir=release
fi
if [ -n "${BROKER_LOAD:-}" ]; then
    gen=$BROKER_LOAD
else
    cargo build $profile_flag -q -p mqttkit-benches --bin broker_load
    gen=$target/$profile_dir/broker_load
fi
ours_bin=$target/release/mqttkit-broker
if [ -z "${OURS_CMD:-}" ]; then
    cargo build --release -q -p mqttkit-broker
    OURS_CMD="$ours_bin --port 0"
fi
ours_cmd=$OURS_CMD
ours_name="mqttkit-broker"

# A port below the ephemeral range: the generator's thousands of client
# sockets, some still in TIME_WAIT, take their ports from that range.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
free_port() {
    local port
    while :; do
        port=$((10000 + RANDOM % (ephemeral_low - 10000)))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}

wait_port() {
    local port=$1 i
    for i in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        kill -0 "$broker_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# Starts broker $1; sets broker_pid and addr. Returns non-zero if it does
# not come up within 10 s.
start_broker() {
    local which=$1 port i
    case $which in
        ours)
            $ours_cmd > "$work/ours.out" 2> "$work/ours.err" &
            broker_pid=$!
            for i in $(seq 100); do
                addr=$(sed -n '1s/^listening on \(.*\)$/\1/p' "$work/ours.out")
                [ -n "$addr" ] && return 0
                kill -0 "$broker_pid" 2>/dev/null || break
                sleep 0.1
            done
            stop_broker
            return 1
            ;;
        mosquitto)
            port=$(free_port)
            # Bounds comparable to ours: 20 QoS 1/2 messages in flight and
            # 1,000 queued per client; no persistence.
            cat > "$work/mosquitto.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 20
max_queued_messages 1000
set_tcp_nodelay true
log_dest none
EOF
            "$mosquitto_bin" -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
            ;;
        rumqttd)
            port=$(free_port)
            # rumqttd's sample configuration with the v4 server alone, on
            # our port, accepting connections without delay, with room for
            # 10,000 connections and 500 messages in flight per client.
            cat > "$work/rumqttd.toml" <<EOF
id = 0

[router]
id = 0
max_connections = 10010
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "v4-1"
listen = "127.0.0.1:$port"
next_connection_delay_ms = 0
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = 500
    dynamic_filters = true
EOF
            "$rumqttd_bin" -q -c "$work/rumqttd.toml" > "$work/rumqttd.log" 2>&1 &
            ;;
    esac
    broker_pid=$!
    addr=127.0.0.1:$port
    if wait_port "$port"; then return 0; fi
    stop_broker
    return 1
}

if start_broker ours; then
    stop_broker
else
    echo "== $ours_cmd printed no 'listening on' line within 10 s" >&2
    exit 1
fi
echo "== ours: $ours_cmd ($ours_name)"

brokers=(ours)
mosquitto_version=
rumqttd_version=
if [ "$short" = 0 ]; then
    find_mosquitto() {
        for p in /usr/sbin/mosquitto /usr/bin/mosquitto /usr/local/sbin/mosquitto; do
            [ -x "$p" ] && { echo "$p"; return; }
        done
        command -v mosquitto 2>/dev/null || true
    }
    mosquitto_bin=$(find_mosquitto)
    if [ -z "$mosquitto_bin" ]; then
        echo "== installing mosquitto"
        if [ "$(id -u)" = 0 ]; then sudo= ; else sudo=sudo; fi
        $sudo apt-get install -y mosquitto > "$work/apt.log" 2>&1 || true
        mosquitto_bin=$(find_mosquitto)
    fi
    if [ -n "$mosquitto_bin" ]; then
        mosquitto_version=$( ("$mosquitto_bin" -h 2>/dev/null || true) | sed -n 's/^mosquitto version \([^ ]*\).*/\1/p')
        brokers+=(mosquitto)
    else
        echo "== mosquitto is not available; skipped"
    fi
    rumqttd_root=$target/rumqttd
    rumqttd_bin=$rumqttd_root/bin/rumqttd
    rumqttd_how="cargo install --locked"
    if [ ! -x "$rumqttd_bin" ]; then
        # The latest first, then older releases, each with its own lock
        # file; when every lock file pins a dependency this toolchain no
        # longer compiles, the latest with dependencies resolved afresh.
        for v in "" 0.19.0 "unlocked"; do
            echo "== installing rumqttd ${v:-(latest)}"
            if [ "$v" = unlocked ]; then
                rumqttd_how="cargo install without --locked (dependencies resolved afresh): no release builds with its own lock file on this toolchain"
                flags=()
            else
                flags=(--locked ${v:+--version "$v"})
            fi
            if cargo install rumqttd "${flags[@]}" --root "$rumqttd_root" \
                > "$work/rumqttd-install.log" 2>&1; then
                echo "$rumqttd_how" > "$rumqttd_root/how-installed"
                break
            fi
            tail -3 "$work/rumqttd-install.log"
        done
    fi
    [ -f "$rumqttd_root/how-installed" ] && rumqttd_how=$(cat "$rumqttd_root/how-installed")
    if [ -x "$rumqttd_bin" ]; then
        rumqttd_version=$(grep -o 'rumqttd [0-9.]*' "$rumqttd_root/.crates.toml" \
            | head -1 | cut -d' ' -f2)
        brokers+=(rumqttd)
    else
        echo "== rumqttd did not install; skipped (see the log above)"
    fi
fi

# Scenario lines: generator arguments. Our broker keeps 20 messages in
# flight and 1,000 queued per client, so a stalled QoS 1 subscriber must get
# 1,020 once it reads again, and a reading one every message. The stalled
# subscriber may slow the publisher down at most 2 times, and the broker
# stay under 64 MiB resident meanwhile (its queue bound is 1 MiB of topic
# and payload per client).
ours_stalled_expect=${OURS_STALLED_EXPECT:-1020}
if [ "$short" = 1 ]; then
    runs=1
    scenarios=(
        "fan-in --qos 0 --messages 20000"
        "fan-in --qos 1 --messages 20000"
        "fan-out --qos 1 --messages 2000"
        "pairs --qos 1 --rate 50 --seconds 2"
        "idle --qos 0 --connections 1000"
        "stalled --messages 200000"
    )
else
    runs=3
    scenarios=(
        "fan-in --qos 0 --messages 100000"
        "fan-in --qos 1 --messages 100000"
        "fan-out --qos 1 --messages 5000"
        "pairs --qos 1 --rate 100 --seconds 5"
        "idle --qos 0 --connections 5000"
        "stalled --messages 200000"
    )
fi

results=$work/results.jsonl
: > "$results"
failed=0
started=$(date +%s)
load_start=$(cut -d" " -f1-3 /proc/loadavg)
for b in "${brokers[@]}"; do
    for s in "${scenarios[@]}"; do
        for run in $(seq "$runs"); do
            if ! start_broker "$b" && ! start_broker "$b"; then
                echo "== $b did not start (twice)" >&2
                failed=1
                continue
            fi
            extra=()
            if [ "$b" = ours ] && [ "${s%% *}" = stalled ]; then
                extra=(--expect-stalled "$ours_stalled_expect" --max-slowdown 2 --max-rss-mib 64)
            fi
            # shellcheck disable=SC2086
            if line=$("$gen" $s --addr "$addr" --pid "$broker_pid" --broker "$b" \
                --timeout 120 "${extra[@]}"); then
                :
            else
                if [ "$b" = ours ]; then failed=1; fi
            fi
            echo "$line" | tee -a "$results"
            stop_broker
        done
    done
done
elapsed=$(( $(date +%s) - started ))
echo "== all runs took ${elapsed} s"

table=$("$gen" summarize "$results")
echo
echo "$table"

if [ "$short" = 1 ]; then
    if [ "$failed" != 0 ]; then
        echo "== FAILED: a scenario failed or a QoS 1 message was missing or duplicated" >&2
        exit 1
    fi
    echo "== all scenarios passed"
    exit 0
fi

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
cores=$(nproc)
rustc_version=$(rustc --version)
{
    echo "# Broker load: mqttkit-broker, mosquitto and rumqttd"
    echo
    echo "Measured $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD) on $cpu, $cores cores,"
    echo "$(uname -sr); load average at the start: $load_start (the machine was shared)."
    echo "Generated by \`benches/broker-load.sh\` (all runs took ${elapsed} s);"
    echo "each cell is the median of $runs runs with the range in parentheses,"
    echo "each run against a freshly started broker."
    echo
    echo "- ours: \`$(echo "$ours_cmd" | sed 's#^[^ ]*/##')\` — $ours_name (release), built with $rustc_version"
    [ -n "$mosquitto_version" ] && echo "- mosquitto $mosquitto_version (\`max_inflight_messages 20\`, \`max_queued_messages 1000\`, persistence off, \`set_tcp_nodelay true\`)"
    [ -n "$rumqttd_version" ] && echo "- rumqttd $rumqttd_version ($rumqttd_how; v4 server, \`max_inflight_count 500\`, \`max_outgoing_packet_count 200\`, \`next_connection_delay_ms 0\`)"
    echo
    echo "The generator (\`benches/src/bin/broker_load.rs\`) is one tokio"
    echo "current-thread process writing hand-encoded MQTT 3.1.1 frames"
    echo "(Keep Alive 60, 64-byte payloads carrying an id and a send time) and"
    echo "decoding only what it must. Scenarios:"
    echo
    for s in "${scenarios[@]}"; do echo "- \`broker_load $s\`"; done
    echo
    cat <<'EOF'
- **fan-in**: 16 publishers, one subscriber, one topic. QoS 1 publishers
  keep 64 messages unacknowledged each and, together, at most 512 published
  but not yet received, so that no broker's per-client queue bound drops a
  message: QoS 1 must deliver every one. QoS 0 publishers send as fast as
  TCP takes it; the delivered share is reported.
- **fan-out**: one QoS 1 publisher, 64 subscribers on the same topic (at
  most 512 messages ahead of the slowest); deliveries per second.
- **pairs**: 100 publisher/subscriber pairs on distinct topics, each
  publisher at a fixed rate; latency from the send time in the payload to
  its arrival at the subscriber (both in the generator's clock).
- **idle**: 5,000 connections, each subscribed to its own filter; broker
  RSS growth per connection once every SUBACK arrived, and RSS after all
  closed (2 s later).
- **stalled**: one publisher sends QoS 1 messages (64 in flight) to one
  QoS 1 subscriber, first one that reads, then one that stops reading until
  publishing is over; publish time of both, broker peak RSS (sampled every
  50 ms), and what the stalled subscriber receives once it reads again
  (each id checked once).

EOF
    echo "$table"
    echo
    echo "The ratio columns divide our median by the peer's: above 1 is better"
    echo "for rates, below 1 is better for latencies, memory and times."
    echo "A generator near 100% CPU means the generator, not the broker, set"
    echo "the pace of that scenario."
    echo
    echo "Raw results (one JSON line per run):"
    echo
    echo '```'
    cat "$results"
    echo '```'
} > mqtt-broker/BENCHMARKS.md
echo "== wrote mqtt-broker/BENCHMARKS.md"
exit "$failed"
