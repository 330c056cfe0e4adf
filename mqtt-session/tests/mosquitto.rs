//! The tokio example client against a real mosquitto on 127.0.0.1, with
//! MQTT 3.1.1 and 5.0. The test starts its own broker from a temporary
//! configuration on a port chosen at run time, and stops it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

#[path = "../examples/client.rs"]
mod example;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mqttkit_session::ProtocolVersion;

struct Broker {
    child: Child,
    dir: PathBuf,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn mosquitto() -> PathBuf {
    for p in [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("mosquitto is not installed; scripts/test.sh installs it from the system packages");
}

fn start_broker() -> (Broker, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!(
        "mqttkit-session-mosquitto-{}-{port}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )
    .unwrap();
    let child = Command::new(mosquitto())
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let broker = Broker { child, dir };
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            return (broker, addr);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("mosquitto did not start on {addr}");
}

fn check(version: ProtocolVersion) {
    let (_broker, addr) = start_broker();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let summary = rt.block_on(example::run(&addr, version)).unwrap();
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

#[test]
#[ignore = "needs mosquitto: run scripts/test.sh, which installs it"]
fn mosquitto_v5() {
    check(ProtocolVersion::V5);
}

#[test]
#[ignore = "needs mosquitto: run scripts/test.sh, which installs it"]
fn mosquitto_v3_1_1() {
    check(ProtocolVersion::V3_1_1);
}
