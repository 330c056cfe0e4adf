//! The client over each transport against a real mosquitto, in MQTT 5.0
//! and 3.1.1: TCP, TLS (with the certificate of `tests/data`) and
//! WebSocket. Each test starts its own broker from a temporary
//! configuration, with the three listeners on 127.0.0.1 and ports chosen
//! at run time, and stops it when done.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mqttkit_tokio::{ConnectOptions, ProtocolVersion};

/// A mosquitto process with its temporary folder, killed and removed
/// when dropped.
struct Broker {
    child: Child,
    dir: PathBuf,
    tcp: u16,
    tls: u16,
    ws: u16,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn mosquitto() -> PathBuf {
    [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("mosquitto is not installed; scripts/test.sh installs it")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A free port on 127.0.0.1 (free when asked; mosquitto binds it next).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Broker {
    fn start(name: &str) -> Self {
        let (tcp, tls, ws) = (free_port(), free_port(), free_port());
        let dir = std::env::temp_dir().join(format!(
            "mqttkit-tokio-transport-{name}-{}-{tcp}",
            std::process::id()
        ));
        // Created readable by all (the umask's default): mosquitto started
        // as root reads its files as the mosquitto user.
        std::fs::create_dir_all(&dir).unwrap();
        for file in ["server.pem", "server.key"] {
            std::fs::copy(data(file), dir.join(file)).unwrap();
        }
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "per_listener_settings false\n\
                 allow_anonymous true\n\
                 persistence false\n\
                 log_dest file {log}\n\
                 listener {tcp} 127.0.0.1\n\
                 listener {tls} 127.0.0.1\n\
                 certfile {cert}\n\
                 keyfile {key}\n\
                 listener {ws} 127.0.0.1\n\
                 protocol websockets\n",
                log = dir.join("mosquitto.log").display(),
                cert = dir.join("server.pem").display(),
                key = dir.join("server.key").display(),
            ),
        )
        .unwrap();
        let child = Command::new(mosquitto())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut broker = Self {
            child,
            dir,
            tcp,
            tls,
            ws,
        };
        for port in [tcp, tls, ws] {
            broker.wait_for(port);
        }
        broker
    }

    /// Waits until `port` accepts connections, or fails the test with
    /// mosquitto's log.
    fn wait_for(&mut self, port: u16) {
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("mosquitto.log"));
                panic!("mosquitto exited ({status}): {}", log.unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("mosquitto did not listen on port {port}");
    }
}

/// The round trip of `support` (subscribe, publish at QoS 0, 1 and 2,
/// receive, unsubscribe, disconnect) over `scheme`.
fn check(scheme: &str, version: ProtocolVersion) {
    let name = format!("{scheme}-{}", if version.is_v5() { "5" } else { "3" });
    let broker = Broker::start(&name);
    let url = match scheme {
        "mqtt" => format!("mqtt://127.0.0.1:{}", broker.tcp),
        "mqtts" => format!("mqtts://localhost:{}", broker.tls),
        "ws" => format!("ws://127.0.0.1:{}/mqtt", broker.ws),
        _ => panic!("no listener for {scheme}"),
    };
    let options = ConnectOptions::from_url(&url)
        .unwrap()
        .client_id(format!("mqttkit-{name}"))
        .protocol_version(version);
    #[cfg(feature = "tls")]
    let options = options.tls_ca_pem_file(data("ca.pem"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(support::round_trip(options, &format!("mqttkit/{name}")));
    drop(broker);
}

#[test]
#[ignore = "needs mosquitto: run scripts/test.sh"]
fn mosquitto_tcp_v5() {
    check("mqtt", ProtocolVersion::V5);
}

#[test]
#[ignore = "needs mosquitto: run scripts/test.sh"]
fn mosquitto_tcp_v3_1_1() {
    check("mqtt", ProtocolVersion::V3_1_1);
}

#[cfg(feature = "tls")]
#[test]
#[ignore = "needs mosquitto: run scripts/test.sh"]
fn mosquitto_tls_v5() {
    check("mqtts", ProtocolVersion::V5);
}

#[cfg(feature = "tls")]
#[test]
#[ignore = "needs mosquitto: run scripts/test.sh"]
fn mosquitto_tls_v3_1_1() {
    check("mqtts", ProtocolVersion::V3_1_1);
}

#[cfg(feature = "websocket")]
#[test]
#[ignore = "needs mosquitto: run scripts/test.sh"]
fn mosquitto_websocket_v5() {
    check("ws", ProtocolVersion::V5);
}

#[cfg(feature = "websocket")]
#[test]
#[ignore = "needs mosquitto: run scripts/test.sh"]
fn mosquitto_websocket_v3_1_1() {
    check("ws", ProtocolVersion::V3_1_1);
}
