//! The `mqttkit-broker` binary, started as users start it (`--port 0`, on
//! 127.0.0.1), driven by mosquitto's clients `mosquitto_pub` and
//! `mosquitto_sub` (retained messages, wildcards, QoS 0/1/2, wills, shared
//! subscriptions, queued QoS 1 messages for an offline persistent session)
//! and by raw packets that no client library sends. Each test starts its
//! own broker and stops it when done.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// How long a test waits for something that should happen.
const PATIENCE: Duration = Duration::from_secs(10);

/// A running `mqttkit-broker` process, killed on drop.
struct Broker {
    child: Child,
    port: u16,
}

impl Broker {
    /// Starts the binary on a free port of 127.0.0.1 and reads the port
    /// from its first line, `listening on 127.0.0.1:PORT`.
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mqttkit-broker"))
            .args(["--port", "0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(PATIENCE).unwrap_or_default();
        let port = line
            .trim()
            .strip_prefix("listening on 127.0.0.1:")
            .and_then(|port| port.parse().ok());
        match port {
            Some(port) => Broker { child, port },
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the broker did not say where it listens: {line:?}");
            }
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `mosquitto_pub` or `mosquitto_sub`, pointed at this broker.
    fn tool(&self, name: &str) -> Command {
        let mut c = Command::new(tool_path(name));
        c.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        c
    }

    /// Runs `mosquitto_pub` to completion.
    fn publish(&self, version: &str, topic: &str, message: &str, qos: &str, retain: bool) {
        let mut c = self.tool("mosquitto_pub");
        c.args(["-V", version, "-t", topic, "-m", message, "-q", qos]);
        if retain {
            c.arg("-r");
        }
        run(c);
    }

    /// Starts `mosquitto_sub` with `args` and returns once its SUBACK
    /// arrived, so that nothing published afterwards can overtake the
    /// subscription.
    fn subscriber(&self, args: &[&str]) -> Subscriber {
        // -d prints the packets it sends and receives; stdbuf makes the
        // lines reach us as they are written, not when the process ends.
        let mut c = Command::new("stdbuf");
        c.arg("-oL").arg(tool_path("mosquitto_sub"));
        c.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-d"]);
        c.args(args);
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut sub = Subscriber {
            child,
            lines,
            messages: Vec::new(),
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match sub.lines.recv_timeout(left) {
                Ok(line) if line.contains("received SUBACK") => return sub,
                Ok(line) => sub.keep(line),
                Err(_) => {
                    let _ = sub.child.kill();
                    panic!("mosquitto_sub {args:?} got no SUBACK");
                }
            }
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `mosquitto_sub -d` process and what it printed.
struct Subscriber {
    child: Child,
    lines: Receiver<String>,
    messages: Vec<String>,
}

impl Subscriber {
    /// Keeps a line unless it is one of `-d`'s packet traces.
    fn keep(&mut self, line: String) {
        if !line.starts_with("Client ") && !line.starts_with("Subscribed (mid") {
            self.messages.push(line);
        }
    }

    /// Waits for the process to end (its `-C` count reached, or its `-W`
    /// timeout) and returns the messages it printed.
    fn finish(mut self) -> Vec<String> {
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        assert!(status.success(), "mosquitto_sub: {status}: {stderr}");
        while let Ok(line) = self.lines.recv_timeout(PATIENCE) {
            self.keep(line);
        }
        self.messages
    }

    /// Ends the process as a crash would: no DISCONNECT.
    fn kill(mut self) {
        self.child.kill().unwrap();
        let _ = self.child.wait();
    }
}

/// Where a mosquitto client is installed.
fn tool_path(name: &str) -> String {
    let path = format!("/usr/bin/{name}");
    assert!(
        std::path::Path::new(&path).exists(),
        "{name} is not installed; scripts/test.sh installs mosquitto-clients"
    );
    path
}

fn run(mut c: Command) -> std::process::Output {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// v5 [MQTT-3.3.1-9], v3.1.1 [MQTT-3.3.1-6]: a new subscriber gets the
/// retained message first; then live messages of QoS 0, 1 and 2 on its
/// `#` filter (v5 [MQTT-4.7.1-1], v3.1.1 [MQTT-4.7.1-2]), each once.
#[test]
#[ignore = "needs mosquitto: run scripts/test.sh"]
fn v5_mqtt_3_3_1_9_and_v3_mqtt_3_3_1_6_mosquitto_clients_retained_then_qos_012() {
    let broker = Broker::start();
    for (v, n) in [("mqttv5", "5"), ("mqttv311", "3")] {
        let t = format!("mosq{n}");
        broker.publish(v, &format!("{t}/retained"), "kept", "1", true);
        let filter = format!("{t}/#");
        let sub = broker.subscriber(&[
            "-V", v, "-t", &filter, "-q", "2", "-C", "4", "-W", "10", "-v",
        ]);
        for q in ["0", "1", "2"] {
            broker.publish(v, &format!("{t}/live/{q}"), &format!("m{q}"), q, false);
        }
        assert_eq!(
            sub.finish(),
            [
                format!("{t}/retained kept"),
                format!("{t}/live/0 m0"),
                format!("{t}/live/1 m1"),
                format!("{t}/live/2 m2")
            ],
            "{v}"
        );
    }
}

/// v5 [MQTT-3.1.2-8], v3.1.1 [MQTT-3.1.2-8]: the will of a client whose
/// connection ends without DISCONNECT is published.
#[test]
#[ignore = "needs mosquitto: run scripts/test.sh"]
fn v5_and_v3_mqtt_3_1_2_8_mosquitto_clients_will() {
    let broker = Broker::start();
    for v in ["mqttv5", "mqttv311"] {
        let topic = format!("will/{v}");
        let sub = broker.subscriber(&["-V", v, "-t", &topic, "-C", "1", "-W", "10"]);
        let doomed = broker.subscriber(&[
            "-V",
            v,
            "-t",
            "nothing",
            "--will-topic",
            &topic,
            "--will-payload",
            "bye",
            "-W",
            "10",
        ]);
        doomed.kill();
        assert_eq!(sub.finish(), ["bye"], "{v}");
    }
}

/// v5 [MQTT-3.1.2-23], [MQTT-3.1.2-5], v3.1.1 [MQTT-3.1.2-5]: QoS 1
/// messages published while a persistent session is offline are kept and
/// delivered, in order, when it resumes.
#[test]
#[ignore = "needs mosquitto: run scripts/test.sh"]
fn v5_mqtt_3_1_2_23_and_v3_mqtt_3_1_2_5_mosquitto_clients_session_resumes_queued_qos1() {
    let broker = Broker::start();
    for v in ["mqttv5", "mqttv311"] {
        let id = format!("persist-{v}");
        let topic = format!("persist/{v}");
        let mut first = broker.tool("mosquitto_sub");
        first.args(["-V", v, "-i", &id, "-c", "-q", "1", "-t", &topic, "-E"]);
        if v == "mqttv5" {
            first.args(["-x", "300"]);
        }
        run(first);
        for i in 0..3 {
            broker.publish(v, &topic, &format!("queued-{i}"), "1", false);
        }
        let mut again = broker.tool("mosquitto_sub");
        again.args([
            "-V", v, "-i", &id, "-c", "-q", "1", "-t", &topic, "-C", "3", "-W", "10",
        ]);
        if v == "mqttv5" {
            again.args(["-x", "300"]);
        }
        let got = String::from_utf8(run(again).stdout).unwrap();
        assert_eq!(
            got.lines().collect::<Vec<_>>(),
            ["queued-0", "queued-1", "queued-2"],
            "{v}"
        );
    }
}

/// v5 §4.8.2 (shared subscriptions): each message published to a shared
/// subscription goes to one member of the group only, and two members
/// share four messages two by two.
#[test]
#[ignore = "needs mosquitto: run scripts/test.sh"]
fn v5_mosquitto_clients_shared_subscription_round_robin() {
    let broker = Broker::start();
    let shared = [
        "-V",
        "mqttv5",
        "-t",
        "$share/g/jobs",
        "-q",
        "1",
        "-C",
        "2",
        "-W",
        "10",
    ];
    let a = broker.subscriber(&shared);
    let b = broker.subscriber(&shared);
    for i in 0..4 {
        broker.publish("mqttv5", "jobs", &format!("job-{i}"), "1", false);
    }
    let (a, b) = (a.finish(), b.finish());
    assert_eq!(a.len(), 2, "{a:?} {b:?}");
    let mut all: Vec<&String> = a.iter().chain(&b).collect();
    all.sort_unstable();
    assert_eq!(all, ["job-0", "job-1", "job-2", "job-3"]);
}

/// Sends `bytes` on a raw socket and returns what the broker answers
/// until it closes the connection.
fn raw(broker: &Broker, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(broker.addr()).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("not closed: {e}; got {out:02x?}"));
    out
}

/// Sends `bytes` on a raw socket and returns the first `n` bytes the
/// broker answers, leaving the connection open until then.
fn raw_reply(broker: &Broker, bytes: &[u8], n: usize) -> Vec<u8> {
    let mut s = TcpStream::connect(broker.addr()).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = vec![0; n];
    s.read_exact(&mut out).unwrap();
    out
}

/// v3.1.1 [MQTT-3.3.1-4]: a PUBLISH with QoS 3 is malformed; 3.1.1 has
/// no DISCONNECT from the server, so the connection is closed after the
/// CONNACK with nothing else.
#[test]
fn v3_mqtt_3_3_1_4_publish_with_qos_3_closes() {
    let broker = Broker::start();
    let mut bytes = vec![
        0x10, 0x0d, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 1, b'r',
    ];
    bytes.extend_from_slice(&[0x36, 0x03, 0, 1, b't']);
    assert_eq!(raw(&broker, &bytes), [0x20, 0x02, 0x00, 0x00]);
}

/// v5 [MQTT-3.3.1-4]: a PUBLISH with QoS 3 is a Malformed Packet:
/// DISCONNECT 0x81, then the close.
#[test]
fn v5_mqtt_3_3_1_4_publish_with_qos_3_is_malformed() {
    let broker = Broker::start();
    let mut bytes = vec![
        0x10, 0x0e, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 0, 0, 1, b's',
    ];
    bytes.extend_from_slice(&[0x36, 0x04, 0, 1, b't', 0]);
    let got = raw(&broker, &bytes);
    assert_eq!(got[0], 0x20, "CONNACK first: {got:02x?}");
    let connack = usize::from(got[1]) + 2;
    // Without properties a DISCONNECT may leave out the property length
    // (v5 §3.14.2.2.1).
    let disconnect = &got[connack..];
    assert!(
        disconnect == [0xE0, 0x01, 0x81] || disconnect == [0xE0, 0x02, 0x81, 0x00],
        "DISCONNECT Malformed Packet: {got:02x?}"
    );
}

/// v3.1.1 [MQTT-3.1.2-2]: a protocol level the server does not support is
/// answered with CONNACK 0x01, then the close.
#[test]
fn v3_mqtt_3_1_2_2_unsupported_protocol_level_gets_connack_0x01() {
    let broker = Broker::start();
    let bad = [
        0x10, 0x0d, 0, 4, b'M', b'Q', b'T', b'T', 9, 2, 0, 60, 0, 1, b'x',
    ];
    assert_eq!(raw(&broker, &bad), [0x20, 0x02, 0x00, 0x01]);
}

/// v5 [MQTT-3.1.0-1], v3.1.1 [MQTT-3.1.0-1]: the first packet must be a
/// CONNECT; a PINGREQ first is answered with nothing but the close.
#[test]
fn v5_and_v3_mqtt_3_1_0_1_first_packet_not_connect_closes() {
    let broker = Broker::start();
    assert_eq!(raw(&broker, &[0xC0, 0x00]), Vec::<u8>::new());
}

/// v5 [MQTT-4.12.0-1]: the broker supports no Authentication Method, so a
/// CONNECT with one is refused with CONNACK 0x8C (Bad authentication
/// method) and closed.
#[test]
fn v5_mqtt_4_12_0_1_unknown_authentication_method_refused() {
    let broker = Broker::start();
    // CONNECT 5.0, Authentication Method "x", client id "a".
    let connect = [
        0x10, 0x12, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 4, 0x15, 0, 1, b'x', 0, 1, b'a',
    ];
    let got = raw(&broker, &connect);
    assert!(got.len() >= 4, "{got:02x?}");
    assert_eq!((got[0], got[3]), (0x20, 0x8C), "CONNACK 0x8C: {got:02x?}");
    assert_eq!(
        got.len(),
        usize::from(got[1]) + 2,
        "then closed: {got:02x?}"
    );
}

/// v3.1.1 §3.4 has no PUBACK reason code: a QoS 1 PUBLISH nobody
/// subscribed to gets the plain two-byte PUBACK, where 5.0 says 0x10 (No
/// matching subscribers, v5 §3.4.2.1).
#[test]
fn v3_puback_without_subscribers_has_no_reason_code() {
    let broker = Broker::start();
    // CONNECT 3.1.1 "n3", PUBLISH QoS 1 id 1 on "nobody3".
    let v3 = [
        0x10, 0x0e, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 2, b'n', b'3', 0x32, 0x0c, 0, 7,
        b'n', b'o', b'b', b'o', b'd', b'y', b'3', 0, 1, b'm',
    ];
    assert_eq!(
        raw_reply(&broker, &v3, 8),
        [0x20, 0x02, 0x00, 0x00, 0x40, 0x02, 0, 1],
        "CONNACK, PUBACK"
    );
}
