//! The broker example on 127.0.0.1 (a port chosen at run time), driven by
//! the crate's own example client (3.1.1 and 5.0: QoS 0/1/2, link loss,
//! persistent session resumed) and by `mosquitto_pub` / `mosquitto_sub`
//! (retained messages, wildcards, QoS 0/1/2, wills, shared subscriptions,
//! queued QoS 1 messages for an offline persistent session), and by raw
//! invalid packets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs,
    // Both examples include their shared `transport` module.
    clippy::duplicate_mod
)]

#[path = "../examples/broker.rs"]
mod broker;
#[path = "../examples/client.rs"]
mod client;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use mqttkit_session::ProtocolVersion;

/// One broker for the whole test binary, on its own runtime thread.
fn broker_addr() -> &'static str {
    static ADDR: OnceLock<String> = OnceLock::new();
    ADDR.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                broker::serve(listener).await.unwrap();
            });
        });
        addr
    })
}

fn port() -> String {
    broker_addr().rsplit(':').next().unwrap().to_owned()
}

fn tool(name: &str) -> Command {
    let path = format!("/usr/bin/{name}");
    assert!(
        std::path::Path::new(&path).exists(),
        "{name} is not installed; scripts/test.sh installs mosquitto-clients"
    );
    let mut c = Command::new(path);
    c.args(["-h", "127.0.0.1", "-p", &port()]);
    c
}

fn run(mut c: Command) -> Output {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn spawn(mut c: Command) -> Child {
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts `mosquitto_sub` and waits until its SUBACK has surely arrived.
fn subscriber(args: &[&str]) -> Child {
    let mut c = tool("mosquitto_sub");
    c.args(args);
    let child = spawn(c);
    std::thread::sleep(Duration::from_millis(400));
    child
}

fn publish(version: &str, topic: &str, message: &str, qos: &str, retain: bool) {
    let mut c = tool("mosquitto_pub");
    c.args(["-V", version, "-t", topic, "-m", message, "-q", qos]);
    if retain {
        c.arg("-r");
    }
    run(c);
}

fn check_example_client(version: ProtocolVersion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let summary = rt.block_on(client::run(broker_addr(), version)).unwrap();
    // Clean start, then a new persistent session, then the resumed one.
    assert_eq!(summary.session_present, [false, false, true]);
    assert_eq!(summary.published, 7);
    assert_eq!(summary.received.len(), 7, "{:?}", summary.received);
    for ((qos, payload), n) in &summary.received {
        if *qos == 2 {
            assert_eq!(*n, 1, "QoS 2 message {payload} delivered {n} times");
        }
    }
}

/// Both versions in one test: the example client uses one client id.
#[test]
fn example_client_v5_and_v3_1_1() {
    check_example_client(ProtocolVersion::V5);
    check_example_client(ProtocolVersion::V3_1_1);
}

#[test]
#[ignore = "needs mosquitto-clients: run scripts/test.sh, which installs them"]
fn mosquitto_clients_qos_wildcards_retained() {
    for (v, n) in [("mqttv5", "5"), ("mqttv311", "3")] {
        let t = format!("mosq{n}");
        publish(v, &format!("{t}/retained"), "kept", "1", true);
        let sub = subscriber(&[
            "-V",
            v,
            "-t",
            &format!("{t}/#"),
            "-q",
            "2",
            "-C",
            "4",
            "-W",
            "10",
            "-v",
        ]);
        for q in ["0", "1", "2"] {
            publish(v, &format!("{t}/live/{q}"), &format!("m{q}"), q, false);
        }
        let got = wait(sub);
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(
            lines,
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

#[test]
#[ignore = "needs mosquitto-clients: run scripts/test.sh, which installs them"]
fn mosquitto_clients_will() {
    for v in ["mqttv5", "mqttv311"] {
        let topic = format!("will/{v}");
        let sub = subscriber(&["-V", v, "-t", &topic, "-C", "1", "-W", "10"]);
        // A client with a will whose connection is cut.
        let mut c = tool("mosquitto_sub");
        c.args([
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
        let mut doomed = spawn(c);
        std::thread::sleep(Duration::from_millis(400));
        doomed.kill().unwrap();
        let _ = doomed.wait();
        assert_eq!(wait(sub).trim(), "bye", "{v}");
    }
}

#[test]
#[ignore = "needs mosquitto-clients: run scripts/test.sh, which installs them"]
fn mosquitto_clients_persistent_session_resumes_queued_qos1() {
    for v in ["mqttv5", "mqttv311"] {
        let id = format!("persist-{v}");
        let topic = format!("persist/{v}");
        let mut first = tool("mosquitto_sub");
        first.args(["-V", v, "-i", &id, "-c", "-q", "1", "-t", &topic, "-E"]);
        if v == "mqttv5" {
            first.args(["-x", "300"]);
        }
        run(first);
        for i in 0..3 {
            publish(v, &topic, &format!("queued-{i}"), "1", false);
        }
        let mut again = tool("mosquitto_sub");
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

#[test]
#[ignore = "needs mosquitto-clients: run scripts/test.sh, which installs them"]
fn mosquitto_clients_shared_subscription_round_robin() {
    let a = subscriber(&["-V", "mqttv5", "-t", "$share/g/jobs", "-C", "2", "-W", "10"]);
    let b = subscriber(&["-V", "mqttv5", "-t", "$share/g/jobs", "-C", "2", "-W", "10"]);
    for i in 0..4 {
        publish("mqttv5", "jobs", &format!("job-{i}"), "1", false);
    }
    let (a, b) = (wait(a), wait(b));
    let mut all: Vec<&str> = a.lines().chain(b.lines()).collect();
    all.sort_unstable();
    assert_eq!(all, ["job-0", "job-1", "job-2", "job-3"]);
    assert_eq!(a.lines().count(), 2);
}

/// Sends `bytes` on a raw socket and returns what the broker answers
/// until it closes the connection.
fn raw(bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(broker_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn raw_invalid_packets() {
    // 3.1.1 CONNECT, then a PUBLISH with QoS 3: malformed, 3.1.1 closes.
    let connect = [
        0x10, 0x0d, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 1, b'r',
    ];
    let mut bytes = connect.to_vec();
    bytes.extend_from_slice(&[0x36, 0x03, 0, 1, b't']);
    assert_eq!(
        raw(&bytes),
        [0x20, 0x02, 0x00, 0x00],
        "CONNACK, then closed"
    );
    // 5.0 CONNECT, then a PUBLISH with QoS 3: DISCONNECT 0x81 Malformed Packet.
    let connect = [
        0x10, 0x0e, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 0, 0, 1, b's',
    ];
    let mut bytes = connect.to_vec();
    bytes.extend_from_slice(&[0x36, 0x04, 0, 1, b't', 0]);
    let got = raw(&bytes);
    assert_eq!(got[0], 0x20, "CONNACK first");
    // No properties: the short form without a property length (v5 §3.14.2.2.1).
    let tail = &got[got.len() - 3..];
    assert_eq!(tail, [0xE0, 0x01, 0x81], "DISCONNECT Malformed Packet");
    // Protocol level 9: CONNACK 0x01, closed.
    let bad = [
        0x10, 0x0d, 0, 4, b'M', b'Q', b'T', b'T', 9, 2, 0, 60, 0, 1, b'x',
    ];
    assert_eq!(raw(&bad), [0x20, 0x02, 0x00, 0x01]);
    // Not CONNECT first: closed without a reply.
    assert_eq!(raw(&[0xC0, 0x00]), Vec::<u8>::new());
}

/// v5 [MQTT-4.12.0-1]: this broker supports no Authentication Method, so a
/// CONNECT with one is refused with CONNACK 0x8C and closed (it used to be
/// accepted, the method echoed as if the client had been authenticated by
/// it). Found by the mosquitto corpus replay (`INTEROP.md`).
#[test]
fn v5_mqtt_4_12_0_1_unknown_authentication_method_refused() {
    // CONNECT 5.0, Authentication Method "x", client id "a".
    let connect = [
        0x10, 0x12, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 4, 0x15, 0, 1, b'x', 0, 1, b'a',
    ];
    assert_eq!(raw(&connect), [0x20, 0x03, 0x00, 0x8C, 0x00]);
}

/// Sends `bytes` on a raw socket and returns the first `n` bytes the
/// broker answers, leaving the connection open until then.
fn raw_reply(bytes: &[u8], n: usize) -> Vec<u8> {
    let mut s = TcpStream::connect(broker_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = vec![0; n];
    s.read_exact(&mut out).unwrap();
    out
}

/// v5 §3.4.2.1 (PUBACK 0x10 "No matching subscribers", a MAY): a 5.0 QoS 1
/// PUBLISH nobody subscribed to is acknowledged with 0x10; 3.1.1 has no
/// reason code and gets a plain PUBACK.
#[test]
fn v5_puback_0x10_without_subscribers() {
    // CONNECT 5.0 "n5", PUBLISH QoS 1 id 1 on "nobody5".
    let v5 = [
        0x10, 0x0f, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 0, 0, 2, b'n', b'5', 0x32, 0x0d, 0,
        7, b'n', b'o', b'b', b'o', b'd', b'y', b'5', 0, 1, 0, b'm',
    ];
    let got = raw_reply(&v5, 5);
    assert_eq!(got[0], 0x20, "CONNACK first");
    let connack_len = usize::from(got[1]) + 2;
    let got = raw_reply(&v5, connack_len + 5);
    assert_eq!(&got[connack_len..], [0x40, 0x03, 0, 1, 0x10]);

    // CONNECT 3.1.1 "n3", PUBLISH QoS 1 id 1 on "nobody3".
    let v3 = [
        0x10, 0x0e, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 2, b'n', b'3', 0x32, 0x0c, 0, 7,
        b'n', b'o', b'b', b'o', b'd', b'y', b'3', 0, 1, b'm',
    ];
    assert_eq!(
        raw_reply(&v3, 8),
        [0x20, 0x02, 0x00, 0x00, 0x40, 0x02, 0, 1],
        "CONNACK, PUBACK"
    );
}
