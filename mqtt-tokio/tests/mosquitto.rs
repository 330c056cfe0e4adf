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

#[path = "support/mosquitto.rs"]
mod mosquitto;
mod support;

use std::path::{Path, PathBuf};

use mosquitto::{Proc, TempDir, free_port};
use mqttkit_tokio::{ConnectOptions, ProtocolVersion};

/// A mosquitto with its three listeners and temporary folder; the process
/// is stopped before the folder is removed (fields drop in order).
struct Broker {
    _process: Proc,
    _dir: TempDir,
    tcp: u16,
    tls: u16,
    ws: u16,
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

impl Broker {
    fn start(name: &str) -> Self {
        let (tcp, tls, ws) = (free_port(), free_port(), free_port());
        let dir = TempDir::new(&format!("transport-{name}-{tcp}"));
        for file in ["server.pem", "server.key"] {
            let copy = dir.0.join(file);
            std::fs::copy(data(file), &copy).unwrap();
            // Readable by the `mosquitto` user that mosquitto started as
            // root drops to, whatever the mode of the checkout's file.
            std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o644))
                .unwrap();
        }
        let config = format!(
            "per_listener_settings false\n\
             allow_anonymous true\n\
             persistence false\n\
             listener {tcp} 127.0.0.1\n\
             listener {tls} 127.0.0.1\n\
             certfile {cert}\n\
             keyfile {key}\n\
             listener {ws} 127.0.0.1\n\
             protocol websockets",
            cert = dir.0.join("server.pem").display(),
            key = dir.0.join("server.key").display(),
        );
        let process = mosquitto::start(&dir.0, &config, &[tcp, tls, ws]);
        Self {
            _process: process,
            _dir: dir,
            tcp,
            tls,
            ws,
        }
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
