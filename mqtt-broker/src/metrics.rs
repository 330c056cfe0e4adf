//! Counters of what the broker does, and the `$SYS/broker/...` tree that
//! publishes them (names as mosquitto's, so dashboards built for it work).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Counters updated as the broker works; read with [`crate::Broker::metrics`].
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    clients_connected: AtomicU64,
    messages_received: AtomicU64,
    messages_sent: AtomicU64,
    messages_dropped: AtomicU64,
    publish_bytes_received: AtomicU64,
    publish_bytes_sent: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            clients_connected: AtomicU64::new(0),
            messages_received: AtomicU64::new(0),
            messages_sent: AtomicU64::new(0),
            messages_dropped: AtomicU64::new(0),
            publish_bytes_received: AtomicU64::new(0),
            publish_bytes_sent: AtomicU64::new(0),
        }
    }
}

/// The counters at one moment, with the router's sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Snapshot {
    /// Seconds since the broker started.
    pub uptime_secs: u64,
    /// Clients connected now.
    pub clients_connected: u64,
    /// Sessions kept for disconnected clients.
    pub clients_disconnected: u64,
    /// PUBLISH packets received from clients.
    pub messages_received: u64,
    /// Messages handed to clients' sessions for delivery.
    pub messages_sent: u64,
    /// Messages a full client queue refused.
    pub messages_dropped: u64,
    /// Topic and payload bytes received in PUBLISH packets.
    pub publish_bytes_received: u64,
    /// Topic and payload bytes handed to clients' sessions.
    pub publish_bytes_sent: u64,
    /// Subscriptions (shared ones included).
    pub subscriptions: u64,
    /// Retained messages.
    pub retained_messages: u64,
    /// Resident memory of the process in bytes, where the system says.
    pub resident_bytes: Option<u64>,
}

impl Metrics {
    pub(crate) fn connected(&self) {
        self.clients_connected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn disconnected(&self) {
        self.clients_connected.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn received(&self, bytes: usize) {
        self.messages_received.fetch_add(1, Ordering::Relaxed);
        self.publish_bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn sent(&self, bytes: usize) {
        self.messages_sent.fetch_add(1, Ordering::Relaxed);
        self.publish_bytes_sent
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self) {
        self.messages_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now; the router's sizes are filled in by the caller.
    pub(crate) fn counters(&self) -> Snapshot {
        Snapshot {
            uptime_secs: self.started.elapsed().as_secs(),
            clients_connected: self.clients_connected.load(Ordering::Relaxed),
            messages_received: self.messages_received.load(Ordering::Relaxed),
            messages_sent: self.messages_sent.load(Ordering::Relaxed),
            messages_dropped: self.messages_dropped.load(Ordering::Relaxed),
            publish_bytes_received: self.publish_bytes_received.load(Ordering::Relaxed),
            publish_bytes_sent: self.publish_bytes_sent.load(Ordering::Relaxed),
            resident_bytes: resident_bytes(),
            ..Snapshot::default()
        }
    }
}

impl Snapshot {
    /// The `$SYS` topics and their payloads (decimal text).
    ///
    /// ```
    /// use mqttkit_broker::metrics::Snapshot;
    ///
    /// let topics = Snapshot::default().sys_topics();
    /// assert!(topics.iter().any(|(t, v)| *t == "$SYS/broker/clients/connected" && v == "0"));
    /// ```
    pub fn sys_topics(&self) -> Vec<(&'static str, String)> {
        let mut topics = vec![
            (
                "$SYS/broker/version",
                format!("mqttkit-broker {}", env!("CARGO_PKG_VERSION")),
            ),
            (
                "$SYS/broker/uptime",
                format!("{} seconds", self.uptime_secs),
            ),
            (
                "$SYS/broker/clients/connected",
                self.clients_connected.to_string(),
            ),
            (
                "$SYS/broker/clients/disconnected",
                self.clients_disconnected.to_string(),
            ),
            (
                "$SYS/broker/clients/total",
                self.clients_connected
                    .saturating_add(self.clients_disconnected)
                    .to_string(),
            ),
            (
                "$SYS/broker/messages/received",
                self.messages_received.to_string(),
            ),
            ("$SYS/broker/messages/sent", self.messages_sent.to_string()),
            (
                "$SYS/broker/messages/dropped",
                self.messages_dropped.to_string(),
            ),
            (
                "$SYS/broker/publish/bytes/received",
                self.publish_bytes_received.to_string(),
            ),
            (
                "$SYS/broker/publish/bytes/sent",
                self.publish_bytes_sent.to_string(),
            ),
            (
                "$SYS/broker/subscriptions/count",
                self.subscriptions.to_string(),
            ),
            (
                "$SYS/broker/retained messages/count",
                self.retained_messages.to_string(),
            ),
        ];
        if let Some(rss) = self.resident_bytes {
            topics.push(("$SYS/broker/memory/resident", rss.to_string()));
        }
        topics
    }
}

/// Resident memory from `/proc/self/statm` (Linux), in bytes.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    pages.checked_mul(4096)
}
