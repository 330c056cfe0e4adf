#!/usr/bin/env python3
"""Replays mosquitto's broker compliance corpus against a broker binary.

The corpus (mosquitto 2.0.20 `test/broker/data/*.json`, dual licensed
EPL-2.0 / EDL-1.0) is read in place from `../shared/corpus/mosquitto-broker-data`
beside the repository, or from --corpus / $MQTT_MOSQUITTO_CORPUS; it is never
copied into the repository.

Usage:
    replay_corpus.py [BROKER] [--broker PATH] [--corpus DIR] --failures FILE
                     [--min-rate 95] [--timeout 0.5] [--broker-arg ARG]...

The broker binary (by default mqttkit-broker, built beforehand with
`cargo build -p mqttkit-broker`) is started with `--port 0` and the
`--broker-arg` arguments, such as `--broker-arg=--refuse-control-characters`;
its first output line tells the port it bound, so concurrent runs never
collide. Each test gets its own TCP connection.

How a test is judged (the corpus' semantics, made spec-neutral where
mosquitto's bytes are only one of the allowed answers):
  * unless `connect` is false the runner first sends its own CONNECT of the
    test's protocol version and expects a successful CONNACK; every CONNACK is
    compared by type and reason code only, because our CONNACK properties
    (Receive Maximum, Topic Alias Maximum...) are not mosquitto's;
  * an expected server DISCONNECT with 0x81 (Malformed Packet) matches one
    with 0x82 (Protocol Error) and the other way round: which of the two
    applies is partly mosquitto's choice;
  * an expected server DISCONNECT may also be a plain close: v5
    [MQTT-4.13.2-1] only requires closing the Network Connection, sending
    DISCONNECT first is a MAY (v5 4.13.1);
  * with `expect_disconnect` (the default) the connection must be closed at
    the end; a v5 DISCONNECT followed by the close is accepted for the same
    reason, and so is a v5 CONNACK with a reason code of 0x80 or more when
    the test's own CONNECT was not answered yet (v5 §4.13.1: "In the case of
    an error in a CONNECT packet it MAY send a CONNACK packet containing the
    Reason Code, before closing"); otherwise a PINGREQ must still get a
    PINGRESP.

Exits 0 when the pass rate is at least --min-rate percent, 1 otherwise, 2 on
a setup error (no broker binary, no corpus, broker died).
"""

import argparse
import glob
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
DEFAULT_CORPUS = os.path.normpath(
    os.path.join(REPO, "..", "shared", "corpus", "mosquitto-broker-data")
)

DISCONNECT_EQUIVALENT = {0x81, 0x82}


class Failure(Exception):
    """A test did not get what it expected."""

    def __init__(self, expected, got):
        super().__init__(expected, got)
        self.expected = expected
        self.got = got


def vbi(n):
    out = b""
    while True:
        digit, n = n % 128, n // 128
        out += bytes([digit | (0x80 if n else 0)])
        if not n:
            return out


def connect_packet(client_id, ver):
    cid = client_id.encode()
    if ver == 3:
        vh = struct.pack("!H6sBBH", 6, b"MQIsdp", 3, 2, 60)
    else:
        vh = struct.pack("!H4sBBH", 4, b"MQTT", ver, 2, 60)
    if ver == 5:
        # Receive Maximum 20, as mosquitto's own runner sends.
        vh += b"\x03\x21\x00\x14"
    body = vh + struct.pack("!H", len(cid)) + cid
    return b"\x10" + vbi(len(body)) + body


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def read_packet(sock):
    """One MQTT packet, or b"" when the peer closed first (a truncated
    packet comes back as far as it got)."""
    head = read_exact(sock, 1)
    if not head:
        return b""
    length, mult, raw = 0, 1, b""
    for _ in range(4):
        b = read_exact(sock, 1)
        if not b:
            return head + raw
        raw += b
        length += (b[0] & 0x7F) * mult
        mult *= 128
        if not b[0] & 0x80:
            break
    return head + raw + read_exact(sock, length)


def connect_level(pkt):
    """The protocol level of a CONNECT the test sends itself, if readable:
    the corpus leaves `ver` at its default 4 on some 5.0 CONNECT rows."""
    if pkt[:1] != b"\x10":
        return None
    i = 1
    while i < len(pkt) and pkt[i] & 0x80:
        i += 1
    i += 1
    if i + 2 > len(pkt):
        return None
    at = i + 2 + int.from_bytes(pkt[i : i + 2], "big")
    return pkt[at] if at < len(pkt) else None


def describe(pkt):
    return pkt.hex() if pkt else "connection closed"


def is_disconnect(pkt):
    return len(pkt) >= 2 and pkt[0] == 0xE0


def disconnect_reason(pkt):
    # A v5 DISCONNECT without a reason byte means 0x00 (v5 3.14.2.1).
    return pkt[2] if len(pkt) >= 3 else 0


def recv_matches(expected, got, ver):
    if got == expected:
        return True
    if not got:
        # Closing instead of the expected DISCONNECT: v5 [MQTT-4.13.2-1].
        return is_disconnect(expected)
    if expected[:1] == got[:1] == b"\x20":
        # CONNACK: reason code / return code only (byte 3 in 3.1.1 and 5.0).
        return got[3:4] == expected[3:4]
    if ver == 5 and is_disconnect(expected) and is_disconnect(got):
        e, g = disconnect_reason(expected), disconnect_reason(got)
        return e == g or (e in DISCONNECT_EQUIVALENT and g in DISCONNECT_EQUIVALENT)
    return False


class Runner:
    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout

    def open(self):
        return socket.create_connection((self.host, self.port), timeout=self.timeout)

    def helper_publish(self, msg):
        """A second client publishes on the test's behalf (3.1.1, packet id 1)."""
        with self.open() as s:
            s.sendall(connect_packet("replay-helper", 4))
            read_packet(s)
            topic, payload, qos = msg["topic"].encode(), msg["payload"].encode(), msg["qos"]
            body = struct.pack("!H", len(topic)) + topic + (b"\x00\x01" if qos else b"") + payload
            s.sendall(bytes([0x30 | qos << 1]) + vbi(len(body)) + body)
            if qos == 1:
                read_packet(s)
            elif qos == 2:
                read_packet(s)
                s.sendall(b"\x62\x02\x00\x01")
                read_packet(s)
            s.sendall(b"\xe0\x00")

    def run(self, group, test):
        """Raises Failure naming the step that went wrong."""
        step = ["successful CONNACK to the runner's CONNECT"]
        try:
            self._run(group, test, step)
        except socket.timeout:
            raise Failure(step[0], "nothing within %.1f s, connection still open" % self.timeout)

    def _run(self, group, test, step):
        ver = test.get("ver", group.get("ver", 4))
        expect_close = test.get("expect_disconnect", group.get("expect_disconnect", True))
        connected = test.get("connect", group.get("connect", True))
        with self.open() as s:
            if connected:
                s.sendall(connect_packet((group["group"] + " " + test["name"])[:200], ver))
                got = read_packet(s)
                if got[:1] != b"\x20" or got[3:4] != b"\x00":
                    raise Failure(step[0], describe(got))
            closed = False
            for i, msg in enumerate(test["msgs"]):
                kind = msg["type"]
                if kind == "publish":
                    step[0] = "msg %d: helper publishes on %r" % (i, msg["topic"])
                    self.helper_publish(msg)
                    continue
                data = bytes.fromhex(msg.get("payload", "").replace(" ", ""))
                if kind == "send":
                    if not connected and connect_level(data) in (3, 4, 5):
                        ver = connect_level(data)
                    try:
                        s.sendall(data)
                    except (BrokenPipeError, ConnectionResetError):
                        # Closed early: the rest decides whether that was right.
                        closed = True
                elif kind == "recv":
                    step[0] = "msg %d: %s" % (i, data.hex())
                    got = read_packet(s)
                    if data[:1] == b"\x20" and got[:1] == b"\x20":
                        connected = True
                    if not recv_matches(data, got, ver):
                        raise Failure(step[0], describe(got))
                    if not got:
                        closed = True
                        break
            if expect_close:
                step[0] = "connection closed"
                if not closed:
                    got = read_packet(s)
                    if got and ver == 5 and is_disconnect(got):
                        # DISCONNECT before closing is allowed: v5 4.13.1.
                        got = read_packet(s)
                    elif got and ver == 5 and not connected and got[:1] == b"\x20" and got[3:4] >= b"\x80":
                        # A refusing CONNACK before closing, for an error in
                        # the CONNECT: v5 §4.13.1 ([MQTT-4.13.1-1]) MAY.
                        got = read_packet(s)
                    if got:
                        raise Failure(step[0], describe(got))
            else:
                step[0] = "PINGRESP d000 (connection kept open)"
                if closed:
                    raise Failure(step[0], "connection closed")
                try:
                    s.sendall(b"\xc0\x00")
                except OSError:
                    raise Failure(step[0], "connection closed")
                got = read_packet(s)
                if got != b"\xd0\x00":
                    raise Failure(step[0], describe(got))


def start_broker(binary, extra, log):
    proc = subprocess.Popen(
        [binary, "--port", "0"] + extra,
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline()
    # "listening on 127.0.0.1:PORT"
    addr = line.strip().rsplit(" ", 1)[-1]
    host, _, port = addr.rpartition(":")
    if not port.isdigit():
        proc.kill()
        proc.wait()
        raise SystemExit("broker did not say where it listens: %r" % line)
    return proc, host, int(port)


def find_broker(arg):
    if arg:
        return arg
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    for profile in ("debug", "release"):
        path = os.path.join(target, profile, "mqttkit-broker")
        if os.access(path, os.X_OK):
            return path
    raise SystemExit(
        "no broker binary under %s; build it with "
        "`cargo build -p mqttkit-broker` or pass --broker" % target
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("broker_path", nargs="?", help="the broker binary")
    ap.add_argument("--broker", help="the broker binary (same as the positional)")
    ap.add_argument(
        "--broker-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more argument for the broker after --port 0 (repeatable; "
        "write --broker-arg=--option for an option)",
    )
    ap.add_argument(
        "--corpus",
        default=os.environ.get("MQTT_MOSQUITTO_CORPUS", DEFAULT_CORPUS),
        help="directory of the corpus' *.json files",
    )
    ap.add_argument("--failures", required=True, help="file to write the failures to")
    ap.add_argument("--min-rate", type=float, default=95.0, help="pass rate needed, percent")
    ap.add_argument("--timeout", type=float, default=0.5, help="socket timeout per read, s")
    ap.add_argument("--broker-log", help="keep the broker's stderr in this file")
    args = ap.parse_args()

    try:
        binary = find_broker(args.broker or args.broker_path)
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    files = sorted(glob.glob(os.path.join(args.corpus, "*.json")))
    if not files:
        print("no corpus *.json in %s" % args.corpus, file=sys.stderr)
        return 2

    log = open(args.broker_log, "w") if args.broker_log else tempfile.TemporaryFile("w+")
    proc, host, port = start_broker(binary, args.broker_arg, log)
    runner = Runner(host, port, args.timeout)
    started = time.monotonic()
    per_file = []
    failures = []
    died = False
    try:
        for path in files:
            name = os.path.basename(path)
            passed = total = 0
            with open(path) as f:
                groups = json.load(f)
            for group in groups:
                if group.get("disable"):
                    continue
                for test in group["tests"]:
                    if test.get("disable"):
                        continue
                    total += 1
                    title = (group["group"] + " " + test["name"]).strip()
                    try:
                        runner.run(group, test)
                        passed += 1
                    except Failure as e:
                        failures.append((name, title, e.expected, e.got))
                    except OSError as e:
                        failures.append((name, title, "a reply", repr(e)))
                    if proc.poll() is not None:
                        failures.append((name, title, "broker running", "broker exited"))
                        died = True
                        break
                if died:
                    break
            per_file.append((name, passed, total))
            if died:
                break
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()

    elapsed = time.monotonic() - started
    passed = sum(p for _, p, _ in per_file)
    total = sum(t for _, _, t in per_file)
    rate = 100.0 * passed / total if total else 0.0
    with open(args.failures, "w") as out:
        for name, title, expected, got in failures:
            out.write("%s\t%s\texpected: %s\tgot: %s\n" % (name, title, expected, got))
    for name, p, t in per_file:
        print("%-22s %4d/%4d" % (name, p, t))
    print(
        "mosquitto corpus: %d/%d passed (%.1f%%) in %.1f s; %d failures listed in %s"
        % (passed, total, rate, elapsed, len(failures), args.failures)
    )
    if died:
        print("the broker exited during the run", file=sys.stderr)
        return 2
    if rate < args.min_rate:
        print("pass rate below %.1f%%" % args.min_rate, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
