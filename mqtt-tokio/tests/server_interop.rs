//! The server example (`examples/server.rs`, on the server-side
//! `Connection` driver) against paho-mqtt (Python) and MQTT.js (Node), in
//! 3.1.1 and 5.0: connect, subscribe, publish QoS 0/1/2, receive, will on
//! an abnormal close, persistent session, clean disconnect, invalid
//! packets. It runs mqttkit-session's interop suite
//! (`mqtt-session/tests/interop/run.sh`), which installs both clients into
//! git-ignored folders beside it, starts the example on a free port of
//! 127.0.0.1 and stops it when done; the retained-message case is skipped,
//! as the example keeps no retained messages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

#[test]
#[ignore = "needs python3 paho-mqtt and node MQTT.js: run scripts/test.sh"]
fn paho_and_mqttjs_against_the_server_example() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mqtt-session/tests/interop/run.sh");
    // The script bounds each client with `timeout 90` and kills the
    // server on exit.
    let output = Command::new("bash")
        .arg(&script)
        .args(["--package", "mqttkit-tokio", "--example", "server"])
        .args(["--skip", "retained"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "interop failed:\n{stdout}\n{stderr}"
    );
    let passed = stdout.lines().filter(|l| l.starts_with("PASS ")).count();
    // 7 cases, 2 versions, 2 clients.
    assert_eq!(passed, 28, "{stdout}");
}
