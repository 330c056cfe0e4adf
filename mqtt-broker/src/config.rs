//! The broker's configuration: what a TOML file (see `broker.toml` in the
//! crate) and the command line set. Every field has a default, so an
//! empty file, or none, gives a broker on 127.0.0.1:1883.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Where to accept connections; by default MQTT over TCP on
    /// 127.0.0.1:1883.
    #[serde(rename = "listener")]
    pub listeners: Vec<Listener>,
    /// The longest Keep Alive a client may ask for, in seconds: a 5.0
    /// client asking for more (or 0) is told this one as Server Keep
    /// Alive, a 3.1.1 client is refused. `None`: any.
    pub max_keep_alive: Option<u16>,
    /// The largest packet accepted from a client, in bytes (sent to 5.0
    /// clients as Maximum Packet Size).
    pub max_packet_size: u32,
    /// Refuse client identifiers, topic names and filters that hold the
    /// control characters U+0001..U+001F or U+007F..U+009F, as the
    /// protocol allows (v5 §1.5.4).
    pub refuse_control_characters: bool,
    /// Seconds a new connection has to send its CONNECT.
    pub connect_timeout: u64,
    /// Per-client limits.
    pub limits: Limits,
    /// Retained message limits.
    pub retained: RetainedLimits,
    /// Who may connect, and what they may do.
    pub auth: AuthConfig,
    /// The `$SYS/broker/...` statistics tree.
    pub sys: SysConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listeners: vec![Listener::tcp(SocketAddr::from(([127, 0, 0, 1], 1883)))],
            max_keep_alive: None,
            max_packet_size: 1 << 20,
            refuse_control_characters: false,
            connect_timeout: 10,
            limits: Limits::default(),
            retained: RetainedLimits::default(),
            auth: AuthConfig::default(),
            sys: SysConfig::default(),
        }
    }
}

/// The transport of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// MQTT over TCP.
    Tcp,
    /// MQTT over TLS.
    Tls,
    /// MQTT over WebSocket (subprotocol `mqtt`).
    Ws,
    /// MQTT over WebSocket over TLS.
    Wss,
}

impl Protocol {
    /// The name used in the configuration and the logs.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Tls => "tls",
            Protocol::Ws => "ws",
            Protocol::Wss => "wss",
        }
    }

    /// Whether the listener needs a certificate and key.
    pub fn needs_tls(self) -> bool {
        matches!(self, Protocol::Tls | Protocol::Wss)
    }
}

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Listener {
    /// The transport.
    pub protocol: Protocol,
    /// Address and port; port 0 lets the system choose.
    pub bind: SocketAddr,
    /// The certificate chain (PEM, leaf first), for `tls` and `wss`.
    pub cert: Option<PathBuf>,
    /// The private key (PEM), for `tls` and `wss`.
    pub key: Option<PathBuf>,
}

impl Listener {
    /// MQTT over TCP on `bind`.
    pub fn tcp(bind: SocketAddr) -> Self {
        Self {
            protocol: Protocol::Tcp,
            bind,
            cert: None,
            key: None,
        }
    }
}

/// Per-client bounds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Limits {
    /// QoS 1 and 2 messages in flight to a client that announces no
    /// Receive Maximum (every 3.1.1 client).
    pub max_inflight: u16,
    /// Messages queued for a client beyond those in flight; more are
    /// refused (QoS 0 ones dropped first).
    pub max_queued: usize,
    /// Topic and payload bytes queued for a client.
    pub max_queued_bytes: usize,
    /// QoS 1 and 2 messages a client may have unacknowledged to us (our
    /// Receive Maximum).
    pub receive_maximum: u16,
    /// Bytes waiting to be written to a client before the broker stops
    /// reading from it.
    pub max_unwritten: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_inflight: 20,
            max_queued: 1000,
            max_queued_bytes: 1 << 20,
            receive_maximum: 64,
            max_unwritten: 64 * 1024,
        }
    }
}

/// Bounds on retained messages.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RetainedLimits {
    /// Whether retained messages are kept at all.
    pub enabled: bool,
    /// The most retained messages; a new topic beyond it is not retained.
    pub max_messages: usize,
    /// The most topic and payload bytes of all retained messages.
    pub max_bytes: usize,
}

impl Default for RetainedLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            max_messages: 100_000,
            max_bytes: 64 << 20,
        }
    }
}

/// Authentication and authorization.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthConfig {
    /// Lines `user:argon2-hash`; with it, clients must give a known user
    /// name and its password.
    pub password_file: Option<PathBuf>,
    /// Allow/deny rules for publish and subscribe.
    pub acl_file: Option<PathBuf>,
    /// Whether clients without a user name may connect when a password
    /// file is set.
    pub allow_anonymous: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            password_file: None,
            acl_file: None,
            allow_anonymous: true,
        }
    }
}

/// The `$SYS/broker/...` statistics.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SysConfig {
    /// Whether they are published.
    pub enabled: bool,
    /// Seconds between updates.
    pub interval: u64,
}

impl Default for SysConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            interval: 10,
        }
    }
}
