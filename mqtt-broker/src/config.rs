//! The broker's configuration: what a TOML file (see `broker.toml` in the
//! crate) and the command line set. Every field has a default, so an
//! empty file, or none, gives a broker on 127.0.0.1:1883.
//!
//! [`Config::load`] reads a file, [`Config::validate`] checks the rules
//! that no single key can; a refused file gives one [`ConfigError`] that
//! names the file, the line and the key. Paths in the file (certificates,
//! password and ACL files) are used as written: relative ones are relative
//! to the broker's working directory, as in mosquitto.

use std::fs;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod error;

pub use error::{ConfigError, Location};

/// The largest Maximum Packet Size: a remaining length takes at most four
/// bytes of seven bits (v5 §1.5.5).
pub const MAX_PACKET_SIZE: u32 = 268_435_455;

/// The longest period, in seconds, of the connect timeout and the `$SYS`
/// interval: a day is more than any broker needs, and the bound keeps
/// every deadline the broker computes from them far from overflowing.
pub const MAX_PERIOD: u64 = 24 * 60 * 60;

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
    /// Refuse client identifiers, user names, topic names (will topics
    /// included) and filters that hold the control characters
    /// U+0001..U+001F or U+007F..U+009F, as the protocol allows (v5
    /// §1.5.4): a CONNECT is refused (closed without CONNACK in 3.1.1),
    /// any other packet closes the connection as malformed, except a 5.0
    /// SUBSCRIBE, whose filter gets SUBACK 0x8F.
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

impl Config {
    /// Reads, parses and validates the TOML file at `path`.
    ///
    /// ```
    /// use mqttkit_broker::Config;
    ///
    /// let path = std::env::temp_dir().join(format!("mqttkit-doc-{}.toml", std::process::id()));
    /// std::fs::write(&path, "[[listener]]\nprotocol = \"tcp\"\nbind = \"127.0.0.1:0\"\n")?;
    /// let config = Config::load(&path);
    /// std::fs::remove_file(&path)?;
    /// assert_eq!(config?.listeners[0].bind.port(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read(path)?;
        Config::parse(&text, path)
    }

    /// Parses and validates the TOML `text`; `origin` is the file it came
    /// from, named in errors.
    ///
    /// ```
    /// use std::path::Path;
    /// use mqttkit_broker::Config;
    ///
    /// let config = Config::parse("max_packet_size = 65536\n", Path::new("broker.toml"))?;
    /// assert_eq!(config.max_packet_size, 65536);
    ///
    /// let err = Config::parse("\nmax_keep_alive = \"60\"\n", Path::new("broker.toml")).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     r#"broker.toml:2: key "max_keep_alive": invalid type: string "60", expected u16"#,
    /// );
    /// # Ok::<(), mqttkit_broker::config::ConfigError>(())
    /// ```
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let config = Config::parse_unvalidated(text, origin)?;
        config.validate().map_err(|err| err.locate(text, origin))?;
        Ok(config)
    }

    /// Parses `text` without the checks of [`Config::validate`], for the
    /// command line to apply its options first.
    pub(crate) fn parse_unvalidated(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|err| ConfigError::from_toml(&err, text, origin))
    }

    /// Checks the rules no single key can: at least one listener, a
    /// certificate and key for exactly the `tls` and `wss` ones, no two on
    /// the same address and port, and limits that leave the broker able
    /// to work.
    ///
    /// ```
    /// use mqttkit_broker::Config;
    ///
    /// let mut config = Config::default();
    /// assert!(config.validate().is_ok());
    /// config.limits.max_inflight = 0;
    /// assert_eq!(
    ///     config.validate().unwrap_err().to_string(),
    ///     r#"key "limits.max_inflight": must be at least 1"#,
    /// );
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_listeners()?;
        in_range(
            "max_packet_size",
            u64::from(self.max_packet_size),
            2..=u64::from(MAX_PACKET_SIZE),
        )?;
        in_range("connect_timeout", self.connect_timeout, 1..=MAX_PERIOD)?;
        in_range("sys.interval", self.sys.interval, 1..=MAX_PERIOD)?;
        let limits = &self.limits;
        at_least_one("limits.max_inflight", u64::from(limits.max_inflight))?;
        at_least_one("limits.receive_maximum", u64::from(limits.receive_maximum))?;
        at_least_one(
            "limits.max_queued",
            u64::try_from(limits.max_queued).unwrap_or(u64::MAX),
        )?;
        Ok(())
    }

    fn validate_listeners(&self) -> Result<(), ConfigError> {
        if self.listeners.is_empty() {
            return Err(ConfigError::invalid(
                "listener",
                "at least one [[listener]] is needed",
            ));
        }
        for (index, listener) in self.listeners.iter().enumerate() {
            let key = |name: &str| format!("listener[{index}].{name}");
            let protocol = listener.protocol.name();
            for (name, file, what) in [
                ("cert", &listener.cert, "certificate chain"),
                ("key", &listener.key, "private key"),
            ] {
                match (listener.protocol.needs_tls(), file) {
                    (true, None) => {
                        return Err(ConfigError::invalid(
                            key(name),
                            format!("a {protocol} listener needs {name}, the {what} file"),
                        ));
                    }
                    (false, Some(_)) => {
                        return Err(ConfigError::invalid(
                            key(name),
                            format!("a {protocol} listener takes no {name}; only tls and wss do"),
                        ));
                    }
                    _ => {}
                }
            }
            // Port 0 asks the system for a free port, so several may share it.
            let earlier = self.listeners.iter().take(index);
            if let Some(first) = earlier.enumerate().find_map(|(i, other)| {
                (listener.bind.port() != 0 && other.bind == listener.bind).then_some(i)
            }) {
                return Err(ConfigError::invalid(
                    key("bind"),
                    format!(
                        "{} is already the address of listener[{first}]",
                        listener.bind
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Reads a configuration file, naming it in the error.
pub(crate) fn read(path: &Path) -> Result<String, ConfigError> {
    fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn in_range(key: &str, value: u64, range: RangeInclusive<u64>) -> Result<(), ConfigError> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(ConfigError::invalid(
        key,
        format!("{value} is not in {}..={}", range.start(), range.end()),
    ))
}

fn at_least_one(key: &str, value: u64) -> Result<(), ConfigError> {
    if value >= 1 {
        return Ok(());
    }
    Err(ConfigError::invalid(key, "must be at least 1"))
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
