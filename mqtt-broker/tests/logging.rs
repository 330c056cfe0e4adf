//! What an operator reads: one line per connection that sends junk, and
//! one per connect and disconnect. One test in this binary, as it installs
//! the process's log subscriber.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Log lines, collected.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn mentioning(&self, what: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(what))
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_is_closed_with_one_line_and_a_client_gets_two() {
    let lines = Lines::default();
    let writer = lines.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .init();
    let (_broker, addr) = support::start(support::config()).await;

    // Junk before CONNECT, in many writes: closed once, said once.
    let mut junk = TcpStream::connect(addr).await.unwrap();
    let peer = junk.local_addr().unwrap().to_string();
    for _ in 0..64 {
        if junk.write_all(b"GET / HTTP/1.1\r\n").await.is_err() {
            break;
        }
    }
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(support::PATIENCE, junk.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the junk connection was not closed");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let said = lines.mentioning(&peer);
    assert_eq!(said.len(), 1, "{said:#?}");

    // A client: one line as it connects, one as it leaves, with its id,
    // address, version and the reason in words.
    let (client, _ev) =
        support::client(addr, "operator-view", mqttkit_tokio::ProtocolVersion::V5).await;
    client.disconnect().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let said = lines.mentioning("operator-view");
    assert_eq!(said.len(), 2, "{said:#?}");
    assert!(
        said[0].contains("connected") && said[0].contains("5.0"),
        "{}",
        said[0]
    );
    assert!(said[1].contains("the client disconnected"), "{}", said[1]);
}
