#!/usr/bin/env python3
"""Interoperability of a broker with paho-mqtt 2.x, in 3.1.1 and 5.0.

Usage: paho_interop.py PORT [--skip CASE,...]  (the broker listens on
127.0.0.1:PORT; --skip leaves out cases the broker does not offer, e.g.
`retained`, each named in a `SKIP` line)

Prints one line `PASS paho <version> <case>` or `FAIL paho <version> <case>:
<why>` per case and exits 1 if any case failed. Every wait has a timeout, so
a message that never arrives is a failure, never a silent pass; a watchdog
ends the whole run if something hangs anyway.
"""

import os
import signal
import socket
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

HOST = "127.0.0.1"
CLIENT = "paho"
# A message that should arrive is waited for this long; one that should not
# arrive is given GRACE to show up before we conclude it did not.
TIMEOUT = 5.0
GRACE = 0.5
# The whole script must end by itself even if a paho call blocks.
WATCHDOG = 50

VERSIONS = [("3.1.1", mqtt.MQTTv311), ("5.0", mqtt.MQTTv5)]

# A fresh prefix per run: one broker may serve several runs, and a session
# or retained message left by an earlier run must not satisfy this one.
RUN = uuid.uuid4().hex[:8]


class Failed(Exception):
    pass


def check(cond, why):
    if not cond:
        raise Failed(why)


class Client:
    """A paho client on its own network thread that records what it sees."""

    def __init__(self, port, protocol, client_id=None, clean=True, expiry=None, will=None):
        self.protocol = protocol
        self.cond = threading.Condition()
        self.messages = []
        self.connacks = []
        self.subacks = {}
        cid = client_id or f"paho-{RUN}-{uuid.uuid4().hex[:6]}"
        kwargs = {}
        if protocol == mqtt.MQTTv311:
            # paho refuses clean_session for v5, where it is a CONNECT option.
            kwargs["clean_session"] = clean
        self.c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=protocol, **kwargs
        )
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        if will is not None:
            topic, payload, qos = will
            self.c.will_set(topic, payload, qos=qos)
        connect = {}
        if protocol == mqtt.MQTTv5:
            connect["clean_start"] = clean
            if expiry is not None:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = expiry
                connect["properties"] = props
        self.c.connect(HOST, port, keepalive=30, **connect)
        self.c.loop_start()
        flags, rc = self.wait(lambda: self.connacks and self.connacks[0], "CONNACK")
        check(not rc.is_failure, f"CONNACK refused: {rc}")
        self.session_present = bool(flags.session_present)

    def _on_connect(self, _c, _u, flags, rc, _p):
        with self.cond:
            self.connacks.append((flags, rc))
            self.cond.notify_all()

    def _on_message(self, _c, _u, msg):
        with self.cond:
            self.messages.append((msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))
            self.cond.notify_all()

    def _on_subscribe(self, _c, _u, mid, codes, _p):
        with self.cond:
            self.subacks[mid] = codes
            self.cond.notify_all()

    def wait(self, pred, what, timeout=TIMEOUT):
        with self.cond:
            if not self.cond.wait_for(pred, timeout):
                raise Failed(f"timeout waiting for {what}")
            return pred()

    def subscribe(self, filters):
        """Subscribes to [(filter, qos)] and checks the granted QoS."""
        rc, mid = self.c.subscribe(filters)
        check(rc == mqtt.MQTT_ERR_SUCCESS, f"subscribe: {rc}")
        codes = self.wait(lambda: self.subacks.get(mid), f"SUBACK {filters}")
        granted = [c.value for c in codes]
        check(granted == [q for _, q in filters], f"granted {granted} for {filters}")

    def publish(self, topic, payload, qos=0, retain=False):
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        # QoS 1/2: wait for PUBACK / PUBCOMP, so that the broker has the
        # message before the next step of a case relies on it.
        info.wait_for_publish(TIMEOUT)
        check(info.is_published(), f"publish {topic} qos {qos} not acknowledged")

    def wait_messages(self, n, what):
        return self.wait(lambda: len(self.messages) >= n and list(self.messages), what)

    def settle(self):
        """Gives stray messages GRACE to arrive, then returns all received."""
        time.sleep(GRACE)
        with self.cond:
            return list(self.messages)

    def close(self):
        # Still connected: paho drops the link on anything from the broker
        # it finds invalid, and the broker closes on what it refuses.
        connected = self.c.is_connected()
        self.c.disconnect()
        self.c.loop_stop()
        check(connected, "the connection was lost before the client's DISCONNECT")

    def kill(self):
        """Drops the TCP connection without a DISCONNECT, as a crash would."""
        self.c.loop_stop()
        sock = self.c.socket()
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def case_wildcards(port, proto, base):
    sub = Client(port, proto)
    try:
        sub.subscribe([(f"{base}/+/temp", 1), (f"{base}/deep/#", 1)])
        pub = Client(port, proto)
        try:
            # Non-matching first: once the matching ones are in, the others
            # had time to arrive had they been routed.
            for t in [f"{base}/room1/hum", f"{base}/room1/x/temp", f"{base}/deeper/a"]:
                pub.publish(t, b"no", qos=1)
            want = [f"{base}/room1/temp", f"{base}/room2/temp", f"{base}/deep", f"{base}/deep/a/b"]
            for t in want:
                pub.publish(t, b"yes", qos=1)
        finally:
            pub.close()
        sub.wait_messages(len(want), "the matching messages")
        got = sorted(t for t, _, _, _ in sub.settle())
        # `#` also matches its parent level [MQTT-4.7.1-2].
        check(got == sorted(want), f"received {got}, want {sorted(want)}")
    finally:
        sub.close()


def case_qos(pub_qos):
    def run(port, proto, base):
        sub = Client(port, proto)
        try:
            sub.subscribe([(f"{base}/s{q}/#", q) for q in range(3)])
            pub = Client(port, proto)
            try:
                for q in range(3):
                    pub.publish(f"{base}/s{q}/m", f"p{pub_qos}s{q}".encode(), qos=pub_qos)
            finally:
                pub.close()
            sub.wait_messages(3, "one message per subscription QoS")
            got = sorted(sub.settle())
            want = sorted(
                (f"{base}/s{q}/m", f"p{pub_qos}s{q}".encode(), min(pub_qos, q), False)
                for q in range(3)
            )
            # Exactly once each: a duplicate on this clean loopback link
            # would mean the broker resent without cause.
            check(got == want, f"received {got}, want {want}")
        finally:
            sub.close()

    return run


def case_retained(port, proto, base):
    topic = f"{base}/r"
    pub = Client(port, proto)
    try:
        pub.publish(topic, b"kept", qos=1, retain=True)
        sub = Client(port, proto)
        try:
            sub.subscribe([(topic, 1)])
            got = sub.wait_messages(1, "the retained message")
            check(got[0] == (topic, b"kept", 1, True), f"on subscribe: {got[0]}")
            # Clear it; the live copy to an existing subscriber has RETAIN 0
            # (v3.1.1 [MQTT-3.3.1-9], v5 Retain As Published off).
            pub.publish(topic, b"", qos=1, retain=True)
            got = sub.wait_messages(2, "the empty retained message live")
            check(got[1] == (topic, b"", 1, False), f"live empty retained: {got[1]}")
        finally:
            sub.close()
        late = Client(port, proto)
        try:
            late.subscribe([(topic, 1)])
            stray = late.settle()
            check(stray == [], f"cleared retained message still delivered: {stray}")
            # The subscription works, so the silence above means something.
            pub.publish(topic, b"live", qos=1)
            got = late.wait_messages(1, "a live message after clearing")
            check(got == [(topic, b"live", 1, False)], f"after clearing: {got}")
        finally:
            late.close()
    finally:
        pub.close()


def case_will(port, proto, base):
    topic = f"{base}/will"
    sub = Client(port, proto)
    try:
        sub.subscribe([(topic, 1)])
        # A normal DISCONNECT discards the will [MQTT-3.1.2-10] / [MQTT-3.14.4-3].
        polite = Client(port, proto, will=(topic, b"polite", 1))
        polite.close()
        doomed = Client(port, proto, will=(topic, b"bye", 1))
        doomed.kill()
        got = sub.wait_messages(1, "the will")
        stray = sub.settle()
        check(got[0] == (topic, b"bye", 1, False), f"will: {got[0]}")
        check(len(stray) == 1, f"received {stray}, want only the abrupt client's will")
    finally:
        sub.close()


def case_persistent(port, proto, base):
    topic = f"{base}/p"
    cid = f"paho-persist-{RUN}-{proto}"
    expiry = 300 if proto == mqtt.MQTTv5 else None
    first = Client(port, proto, client_id=cid, clean=(proto == mqtt.MQTTv5), expiry=expiry)
    check(not first.session_present, "session present on the first connection")
    first.subscribe([(topic, 1)])
    first.close()
    pub = Client(port, proto)
    try:
        for i in range(3):
            pub.publish(topic, f"queued-{i}".encode(), qos=1)
    finally:
        pub.close()
    again = Client(port, proto, client_id=cid, clean=False, expiry=expiry)
    try:
        check(again.session_present, "session present is 0 on reconnection")
        got = again.wait_messages(3, "the queued messages")
        got = again.settle()
        want = [(topic, f"queued-{i}".encode(), 1, False) for i in range(3)]
        check(got == want, f"received {got}, want {want}")
    finally:
        # Leave no session behind: a clean reconnection ends it.
        again.close()
        Client(port, proto, client_id=cid, clean=True, expiry=0).close()


def remaining_length(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(first, body):
    return bytes([first]) + remaining_length(len(body)) + body


def mqtt_str(s):
    b = s.encode()
    return len(b).to_bytes(2, "big") + b


def raw_connect(v5, cid):
    body = mqtt_str("MQTT") + bytes([5 if v5 else 4, 0x02]) + (30).to_bytes(2, "big")
    if v5:
        body += b"\x00"  # no properties
    return packet(0x10, body + mqtt_str(cid))


def raw_exchange(port, data):
    """Sends data, returns everything the broker sends until it closes."""
    s = socket.create_connection((HOST, port), timeout=TIMEOUT)
    try:
        s.sendall(data)
        out = b""
        deadline = time.monotonic() + TIMEOUT
        while True:
            if time.monotonic() > deadline:
                raise Failed(f"broker did not close; sent so far {out.hex()}")
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                return out
            except socket.timeout:
                raise Failed(f"broker did not close; sent so far {out.hex()}")
            if not chunk:
                return out
            out += chunk
    finally:
        s.close()


def case_invalid(port, proto, base):
    v5 = proto == mqtt.MQTTv5
    props = b"\x00" if v5 else b""
    invalid = {
        # A wildcard in a PUBLISH Topic Name [MQTT-3.3.2-2].
        "publish-topic-wildcard": packet(0x30, mqtt_str(f"{base}/+") + props + b"x"),
        # SUBSCRIBE with its reserved flags 0000 instead of 0010 [MQTT-3.8.1-1].
        "subscribe-reserved-flags": packet(
            0x80, (1).to_bytes(2, "big") + props + mqtt_str(f"{base}/s") + b"\x00"
        ),
        # PUBLISH with both QoS bits set [MQTT-3.3.1-4].
        "publish-qos-3": packet(0x36, mqtt_str(f"{base}/q") + b"\x00\x01" + props + b"x"),
    }
    for name, bad in invalid.items():
        got = raw_exchange(port, raw_connect(v5, f"raw-{RUN}-{name}") + bad)
        # CONNACK accepted (v5 adds properties, so take its length as sent).
        ok = len(got) >= 4 and got[0] == 0x20 and got[2:4] == b"\x00\x00"
        check(ok, f"{name}: want CONNACK Success first, got {got.hex()}")
        rest = got[2 + got[1]:]
        if v5:
            # DISCONNECT with Malformed Packet or Protocol Error, then closed.
            ok = len(rest) >= 3 and rest[0] == 0xE0 and rest[2] in (0x81, 0x82)
            check(ok, f"{name}: want DISCONNECT 0x81/0x82, got {rest.hex()}")
        else:
            # 3.1.1 has no DISCONNECT from the server: just the close.
            check(rest == b"", f"{name}: want a bare close, got {rest.hex()}")


CASES = [
    ("wildcards", case_wildcards),
    ("qos0", case_qos(0)),
    ("qos1", case_qos(1)),
    ("qos2", case_qos(2)),
    ("retained", case_retained),
    ("will", case_will),
    ("persistent-session", case_persistent),
    ("invalid-packet", case_invalid),
]


def main():
    usage = "usage: paho_interop.py PORT [--skip CASE,...]"
    args = sys.argv[1:]
    skip = set()
    if len(args) == 3 and args[1] == "--skip":
        skip = set(args[2].split(","))
    elif len(args) != 1:
        sys.exit(usage)
    unknown = skip - {name for name, _ in CASES}
    if unknown:
        sys.exit(f"paho_interop.py: no such case: {', '.join(sorted(unknown))}")
    port = int(args[0])

    def watchdog(*_):
        print(f"FAIL {CLIENT} - watchdog: the run took more than {WATCHDOG} s", flush=True)
        os._exit(2)

    signal.signal(signal.SIGALRM, watchdog)
    signal.alarm(WATCHDOG)
    failed = 0
    for vname, proto in VERSIONS:
        for cname, case in CASES:
            if cname in skip:
                print(f"SKIP {CLIENT} {vname} {cname}", flush=True)
                continue
            base = f"interop/{CLIENT}/{RUN}/{vname}/{cname}"
            try:
                case(port, proto, base)
                print(f"PASS {CLIENT} {vname} {cname}", flush=True)
            except Exception as e:  # any error is this case's failure
                failed += 1
                print(f"FAIL {CLIENT} {vname} {cname}: {type(e).__name__}: {e}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
