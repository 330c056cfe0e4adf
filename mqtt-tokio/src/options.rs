//! Where the broker is and what CONNECT says.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use mqttkit_session::bytes::Bytes;
use mqttkit_session::{Connect, ConnectProperties, LastWill, MqttString, ProtocolVersion};

use crate::Error;
use crate::reconnect::{Reconnect, SharedStore};
use crate::transport::{Transport, TransportOptions};

/// The port of `mqtt://` when the URL names none (IANA, v5 §4.2).
pub const DEFAULT_PORT: u16 = 1883;

/// How to reach the broker and what to put in CONNECT, plus the driver's
/// queue sizes. Built from a URL ([`ConnectOptions::from_url`], or
/// `"mqtt://host:port".parse()`) or a host and port
/// ([`ConnectOptions::new`]), then adjusted with the builder methods.
///
/// Defaults: MQTT 5.0, empty client identifier (the server assigns one),
/// Clean Start, Session Expiry 0, keep alive 60 s, no login, no will,
/// automatic acknowledgement, 64 commands and 64 events queued.
///
/// ```
/// use std::time::Duration;
/// use mqttkit_tokio::{ConnectOptions, ProtocolVersion};
///
/// let options = ConnectOptions::from_url("mqtt://broker.example:1884")?
///     .client_id("sensor-7")
///     .protocol_version(ProtocolVersion::V3_1_1)
///     .keep_alive(Duration::from_secs(30))
///     .username("alice")
///     .password("secret");
/// assert_eq!(options.host(), "broker.example");
/// assert_eq!(options.port(), 1884);
/// # Ok::<(), mqttkit_tokio::Error>(())
/// ```
#[derive(Clone)]
pub struct ConnectOptions {
    host: String,
    port: u16,
    pub(crate) client_id: String,
    pub(crate) protocol_version: ProtocolVersion,
    clean_start: bool,
    session_expiry: Option<u32>,
    keep_alive: u16,
    username: Option<String>,
    password: Option<Bytes>,
    will: Option<LastWill>,
    pub(crate) manual_ack: bool,
    pub(crate) command_capacity: usize,
    pub(crate) event_capacity: usize,
    // The transport, from the URL's scheme, and its options.
    transport: Transport,
    pub(crate) transport_options: TransportOptions,
    /// The rest of the CONNECT properties (5.0); the session expiry above
    /// wins over the one here.
    pub(crate) properties: ConnectProperties,
    pub(crate) reconnect: Option<Reconnect>,
    pub(crate) store: Option<SharedStore>,
}

impl fmt::Debug for ConnectOptions {
    /// Everything but the password, which is only said to be there.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("client_id", &self.client_id)
            .field("protocol_version", &self.protocol_version)
            .field("clean_start", &self.clean_start)
            .field("session_expiry", &self.session_expiry)
            .field("keep_alive", &self.keep_alive)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("will", &self.will)
            .field("manual_ack", &self.manual_ack)
            .field("command_capacity", &self.command_capacity)
            .field("event_capacity", &self.event_capacity)
            .field("transport", &self.transport)
            .field("transport_options", &self.transport_options)
            .field("properties", &self.properties)
            .field("reconnect", &self.reconnect)
            .field("store", &self.store.as_ref().map(|_| "<store>"))
            .finish()
    }
}

impl ConnectOptions {
    /// Options for the broker at `host` and `port` (a name or an IP
    /// address, without brackets), with the defaults.
    ///
    /// ```
    /// use mqttkit_tokio::ConnectOptions;
    ///
    /// let options = ConnectOptions::new("127.0.0.1", 1883).client_id("sensor-7");
    /// assert_eq!(options.port(), 1883);
    /// ```
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            client_id: String::new(),
            protocol_version: ProtocolVersion::V5,
            clean_start: true,
            session_expiry: None,
            keep_alive: 60,
            username: None,
            password: None,
            will: None,
            manual_ack: false,
            command_capacity: 64,
            event_capacity: 64,
            transport: Transport::Tcp,
            transport_options: TransportOptions::default(),
            properties: ConnectProperties::default(),
            reconnect: None,
            store: None,
        }
    }

    /// Options for the broker at `url`, `scheme://host[:port][/path]`,
    /// with the defaults. The scheme picks the [`Transport`] (ASCII case
    /// ignored):
    ///
    /// | URL                        | Transport          | Default port | Cargo features        |
    /// |----------------------------|--------------------|--------------|-----------------------|
    /// | `mqtt://host[:port][/]`    | TCP                | 1883         | none                  |
    /// | `mqtts://host[:port][/]`   | TLS                | 8883         | `tls`                 |
    /// | `ws://host[:port][/path]`  | WebSocket          | 80           | `websocket`           |
    /// | `wss://host[:port][/path]` | WebSocket over TLS | 443          | `tls` and `websocket` |
    ///
    /// An IPv6 address is written in brackets (`mqtt://[::1]:1883`). The
    /// WebSocket path, with its query if any, is sent as is in the HTTP
    /// request; it is `/mqtt` when the URL has none, the path most brokers
    /// serve MQTT on. TLS checks the server's certificate for the host
    /// (or [`ConnectOptions::tls_server_name`]), trusting the CAs given
    /// with [`ConnectOptions::tls_ca_pem_file`] or
    /// [`ConnectOptions::tls_ca_pem`], or the whole configuration given
    /// with [`ConnectOptions::tls_client_config`].
    ///
    /// Fails with [`Error::UnsupportedScheme`] for an unknown scheme or
    /// one whose feature is off (the error names the feature), and with
    /// [`Error::InvalidUrl`] for a missing scheme or host, a bad port, a
    /// path or query with `mqtt://` or `mqtts://`, a fragment, or
    /// credentials (give the login with [`ConnectOptions::username`] and
    /// [`ConnectOptions::password`]).
    ///
    /// ```
    /// use mqttkit_tokio::{ConnectOptions, Error};
    ///
    /// let options = ConnectOptions::from_url("mqtt://[::1]")?;
    /// assert_eq!((options.host(), options.port()), ("::1", 1883));
    /// let unknown = ConnectOptions::from_url("tcp://broker.example");
    /// assert!(matches!(unknown, Err(Error::UnsupportedScheme { feature: None, .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("expected scheme://host[:port], such as mqtt://localhost"))?;
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        if path.contains('#') {
            return Err(invalid("a fragment is not supported"));
        }
        let transport = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "mqtts" if !matches!(path, "" | "/") => {
                return Err(invalid(
                    "a path or query is not supported with mqtt:// and mqtts://",
                ));
            }
            "mqtt" => Transport::Tcp,
            "mqtts" => Transport::Tls,
            ws_scheme @ ("ws" | "wss") => {
                let path = match path {
                    "" => "/mqtt".to_owned(),
                    query if query.starts_with('?') => format!("/{query}"),
                    path => path.to_owned(),
                };
                match ws_scheme {
                    "ws" => Transport::WebSocket { path },
                    _ => Transport::SecureWebSocket { path },
                }
            }
            _ => {
                return Err(Error::UnsupportedScheme {
                    scheme: scheme.to_owned(),
                    feature: None,
                });
            }
        };
        if let Some(feature) = transport.missing_features() {
            return Err(Error::UnsupportedScheme {
                scheme: scheme.to_owned(),
                feature: Some(feature),
            });
        }
        if authority.contains('@') {
            return Err(invalid(
                "credentials in the URL are not supported; use username() and password()",
            ));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| invalid("bad port"))?;
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let mut options = Self::new(host, port.unwrap_or(transport.default_port()));
        options.transport = transport;
        Ok(options)
    }

    /// The transport, from the URL's scheme: [`Transport::Tcp`] for
    /// options made with [`ConnectOptions::new`].
    ///
    /// ```
    /// use mqttkit_tokio::{ConnectOptions, transport::Transport};
    ///
    /// let options = ConnectOptions::from_url("mqtt://localhost")?;
    /// assert_eq!(options.transport(), &Transport::Tcp);
    /// # Ok::<(), mqttkit_tokio::Error>(())
    /// ```
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Adds the CA certificates in the PEM file at `path` to those a TLS
    /// connection trusts (feature `tls`). The file is read when
    /// connecting; a file that cannot be read or holds no certificate
    /// fails [`crate::Client::connect`] with [`Error::Tls`]. Without any
    /// CA and without [`ConnectOptions::tls_client_config`], TLS fails
    /// with [`crate::transport::TlsError::NoTrustedCa`]: the crate trusts
    /// no public roots by itself.
    ///
    /// ```
    /// let options = mqttkit_tokio::ConnectOptions::from_url("mqtts://broker.example")?
    ///     .tls_ca_pem_file("/etc/mqtt/ca.pem");
    /// # Ok::<(), mqttkit_tokio::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_ca_pem_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.transport_options
            .tls
            .ca
            .push(crate::transport::tls::CaSource::File(path.into()));
        self
    }

    /// Adds the CA certificates in `pem` (one or more `CERTIFICATE`
    /// blocks) to those a TLS connection trusts (feature `tls`); see
    /// [`ConnectOptions::tls_ca_pem_file`].
    ///
    /// ```
    /// let ca = b"-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n";
    /// let options = mqttkit_tokio::ConnectOptions::from_url("mqtts://broker.example")?
    ///     .tls_ca_pem(&ca[..]);
    /// # Ok::<(), mqttkit_tokio::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.transport_options
            .tls
            .ca
            .push(crate::transport::tls::CaSource::Pem(pem.into()));
        self
    }

    /// The name the server's certificate must be valid for, and the one
    /// sent in SNI (feature `tls`): a DNS name or an IP address. By default
    /// the host of the URL; set it when connecting by address to a server
    /// whose certificate names its host.
    ///
    /// ```
    /// let options = mqttkit_tokio::ConnectOptions::from_url("mqtts://10.0.0.7")?
    ///     .tls_server_name("broker.example");
    /// # Ok::<(), mqttkit_tokio::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.transport_options.tls.server_name = Some(name.into());
        self
    }

    /// The whole rustls client configuration (feature `tls`), for what the
    /// CA options do not cover: the platform's or public roots, client
    /// certificates, ALPN, other protocol versions. It replaces the CAs
    /// given with [`ConnectOptions::tls_ca_pem_file`] and
    /// [`ConnectOptions::tls_ca_pem`]; the server name still comes from
    /// the URL or [`ConnectOptions::tls_server_name`]. Build it with the
    /// [`rustls`](crate::transport::rustls) this crate re-exports.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mqttkit_tokio::transport::rustls;
    ///
    /// let provider = Arc::new(rustls::crypto::ring::default_provider());
    /// let config = rustls::ClientConfig::builder_with_provider(provider)
    ///     .with_safe_default_protocol_versions()?
    ///     .with_root_certificates(rustls::RootCertStore::empty())
    ///     .with_no_client_auth();
    /// let options = mqttkit_tokio::ConnectOptions::from_url("mqtts://broker.example")?
    ///     .tls_client_config(Arc::new(config));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_client_config(
        mut self,
        config: std::sync::Arc<crate::transport::rustls::ClientConfig>,
    ) -> Self {
        self.transport_options.tls.config = Some(config);
        self
    }

    /// The largest WebSocket message the client takes from the server, in
    /// bytes (feature `websocket`; default
    /// [`DEFAULT_MAX_WEBSOCKET_MESSAGE`](crate::transport::DEFAULT_MAX_WEBSOCKET_MESSAGE),
    /// at least 1024). A message is held whole until the driver read it,
    /// so this bounds what the server can make the client buffer; a
    /// larger message ends the connection with [`Error::Io`]. Raise it for
    /// a server that sends large packets in one message.
    ///
    /// ```
    /// let options = mqttkit_tokio::ConnectOptions::from_url("ws://broker.example")?
    ///     .websocket_max_message(16 << 20);
    /// # Ok::<(), mqttkit_tokio::Error>(())
    /// ```
    #[cfg(feature = "websocket")]
    pub fn websocket_max_message(mut self, size: usize) -> Self {
        self.transport_options.websocket_max_message = size.max(1024);
        self
    }

    /// The Client Identifier. Empty (the default) lets a 5.0 server assign
    /// one (v5 [MQTT-3.1.3-6]); a 3.1.1 server accepts an empty one only
    /// with Clean Session (v3.1.1 [MQTT-3.1.3-7]).
    ///
    /// ```
    /// let options = mqttkit_tokio::ConnectOptions::new("localhost", 1883).client_id("sensor-7");
    /// ```
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// The protocol version: [`ProtocolVersion::V5`] (the default) or
    /// [`ProtocolVersion::V3_1_1`].
    ///
    /// ```
    /// use mqttkit_tokio::{ConnectOptions, ProtocolVersion};
    /// let options = ConnectOptions::new("localhost", 1883).protocol_version(ProtocolVersion::V3_1_1);
    /// ```
    pub fn protocol_version(mut self, version: ProtocolVersion) -> Self {
        self.protocol_version = version;
        self
    }

    /// Clean Start (5.0) or Clean Session (3.1.1); on by default.
    ///
    /// ```
    /// let options = mqttkit_tokio::ConnectOptions::new("localhost", 1883).clean_start(false);
    /// ```
    pub fn clean_start(mut self, clean_start: bool) -> Self {
        self.clean_start = clean_start;
        self
    }

    /// The Session Expiry Interval (5.0 only; 3.1.1 leaves it out), in
    /// whole seconds rounded down; [`Duration::MAX`] (or anything from
    /// `u32::MAX` seconds) means the session never expires.
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = mqttkit_tokio::ConnectOptions::new("localhost", 1883)
    ///     .session_expiry(Duration::from_secs(3600));
    /// ```
    pub fn session_expiry(mut self, expiry: Duration) -> Self {
        self.session_expiry = Some(u32::try_from(expiry.as_secs()).unwrap_or(u32::MAX));
        self
    }

    /// The Keep Alive interval, in whole seconds rounded up (at most
    /// 65535 s); [`Duration::ZERO`] turns keep-alive off. The session
    /// sends PINGREQ after this long without sending anything and closes
    /// the connection ([`Error::KeepAliveTimeout`]) when no PINGRESP
    /// follows within one more interval.
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = mqttkit_tokio::ConnectOptions::new("localhost", 1883)
    ///     .keep_alive(Duration::from_secs(30));
    /// ```
    pub fn keep_alive(mut self, interval: Duration) -> Self {
        let secs = interval
            .as_secs()
            .saturating_add(u64::from(interval.subsec_nanos() > 0));
        self.keep_alive = u16::try_from(secs).unwrap_or(u16::MAX);
        self
    }

    /// The User Name.
    ///
    /// ```
    /// let options = mqttkit_tokio::ConnectOptions::new("localhost", 1883).username("alice");
    /// ```
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The Password (binary data). 3.1.1 allows it only with a User Name
    /// (v3.1.1 [MQTT-3.1.2-22]); [`crate::Client::connect`] reports the
    /// combination as [`Error::Op`].
    ///
    /// ```
    /// let options = mqttkit_tokio::ConnectOptions::new("localhost", 1883)
    ///     .username("alice")
    ///     .password("secret");
    /// ```
    pub fn password(mut self, password: impl Into<Bytes>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// The Will Message, published by the server if the connection ends
    /// without a normal DISCONNECT.
    ///
    /// ```
    /// use mqttkit_tokio::{ConnectOptions, LastWill, TopicName};
    /// let will = LastWill::new(TopicName::try_from("status/sensor-7")?, "offline");
    /// let options = ConnectOptions::new("localhost", 1883).will(will);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn will(mut self, will: LastWill) -> Self {
        self.will = Some(will);
        self
    }

    /// Whether received QoS 1 and 2 messages wait for [`crate::Client::ack`]
    /// (off by default: each is acknowledged with Success as it arrives).
    /// On, [`crate::Event::Message`] carries the token to pass to `ack`
    /// once the message is processed; a message never acked holds a slot
    /// of the Receive Maximum.
    ///
    /// ```
    /// let options = mqttkit_tokio::ConnectOptions::new("localhost", 1883).manual_ack(true);
    /// ```
    pub fn manual_ack(mut self, manual_ack: bool) -> Self {
        self.manual_ack = manual_ack;
        self
    }

    /// How many commands (publish, subscribe, ...) may wait for the driver
    /// (at least 1, default 64). When the queue is full, or the session
    /// already holds as many operations as it may queue, the next command
    /// waits: a fast publisher is slowed down to the connection's pace.
    ///
    /// ```
    /// let options = mqttkit_tokio::ConnectOptions::new("localhost", 1883).command_capacity(16);
    /// ```
    pub fn command_capacity(mut self, capacity: usize) -> Self {
        self.command_capacity = capacity.max(1);
        self
    }

    /// How many events may wait for [`crate::Events::recv`] (at least 1,
    /// default 64). When they are not read, the driver stops reading the
    /// socket (see [`crate::Events`]).
    ///
    /// ```
    /// let options = mqttkit_tokio::ConnectOptions::new("localhost", 1883).event_capacity(256);
    /// ```
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// The broker's host name or IP address.
    ///
    /// ```
    /// let options = mqttkit_tokio::ConnectOptions::new("localhost", 1883);
    /// assert_eq!(options.host(), "localhost");
    /// ```
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The broker's TCP port.
    ///
    /// ```
    /// let options = mqttkit_tokio::ConnectOptions::from_url("mqtt://localhost")?;
    /// assert_eq!(options.port(), 1883);
    /// # Ok::<(), mqttkit_tokio::Error>(())
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CONNECT these options describe; the strings are validated here.
    pub(crate) fn connect_packet(&self) -> Result<Connect, Error> {
        let string = |option, s: &str| {
            MqttString::try_from(s).map_err(|source| Error::InvalidOption { option, source })
        };
        let mut connect =
            Connect::new(self.protocol_version, string("client_id", &self.client_id)?);
        connect.clean_start = self.clean_start;
        connect.keep_alive = self.keep_alive;
        connect.will.clone_from(&self.will);
        connect.login.username = match &self.username {
            Some(name) => Some(string("username", name)?),
            None => None,
        };
        connect.login.password.clone_from(&self.password);
        if self.protocol_version.is_v5() {
            connect.properties.clone_from(&self.properties);
            if self.session_expiry.is_some() {
                connect.properties.session_expiry_interval = self.session_expiry;
            }
        }
        Ok(connect)
    }
}

impl FromStr for ConnectOptions {
    type Err = Error;

    /// [`ConnectOptions::from_url`].
    fn from_str(url: &str) -> Result<Self, Error> {
        Self::from_url(url)
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; `None` for a bad port.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok().filter(|&p| p != 0)?),
        None => None,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<(String, u16), Error> {
        ConnectOptions::from_url(url).map(|o| (o.host, o.port))
    }

    #[test]
    fn urls() {
        let ok = |h: &str, p| Ok::<_, ()>((h.to_owned(), p));
        let parsed = |url| parse(url).map_err(|_| ());
        assert_eq!(parsed("mqtt://localhost"), ok("localhost", 1883));
        assert_eq!(parsed("mqtt://localhost/"), ok("localhost", 1883));
        assert_eq!(parsed("MQTT://10.0.0.1:1884"), ok("10.0.0.1", 1884));
        assert_eq!(parsed("mqtt://[::1]:8883"), ok("::1", 8883));
        assert_eq!(parsed("mqtt://[::1]"), ok("::1", 1883));
    }

    #[test]
    fn bad_urls_say_why() {
        let err = parse("tcp://localhost").unwrap_err();
        assert!(
            matches!(err, Error::UnsupportedScheme { feature: None, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("expected mqtt, mqtts, ws or wss"));
        for url in [
            "localhost:1883",
            "mqtt://",
            "mqtt://:1883",
            "mqtt://host:0",
            "mqtt://host:65536",
            "mqtt://host:x",
            "mqtt://host/path",
            "mqtt://host?query",
            "mqtt://host#fragment",
            "mqtt://user:pw@host",
            "mqtt://[::1",
            "mqtt://[::1]x",
        ] {
            let err = parse(url).unwrap_err();
            assert!(matches!(err, Error::InvalidUrl { .. }), "{url}: {err}");
        }
    }

    /// The scheme picks the transport and its default port; the
    /// WebSocket path is kept, `/mqtt` when absent.
    #[test]
    fn schemes_pick_the_transport() {
        let transport = |url| {
            let o = ConnectOptions::from_url(url).unwrap();
            (o.transport, o.host, o.port)
        };
        let ws = |path: &str| Transport::WebSocket { path: path.into() };
        let wss = |path: &str| Transport::SecureWebSocket { path: path.into() };
        let h = |host: &str| host.to_owned();
        assert_eq!(transport("mqtt://b"), (Transport::Tcp, h("b"), 1883));
        if cfg!(feature = "tls") {
            assert_eq!(transport("mqtts://b"), (Transport::Tls, h("b"), 8883));
            assert_eq!(transport("MQTTS://b:1/"), (Transport::Tls, h("b"), 1));
        }
        if cfg!(feature = "websocket") {
            assert_eq!(transport("ws://b"), (ws("/mqtt"), h("b"), 80));
            assert_eq!(transport("ws://b/"), (ws("/"), h("b"), 80));
            assert_eq!(transport("ws://b:9001/a/b"), (ws("/a/b"), h("b"), 9001));
            assert_eq!(transport("ws://[::1]?t=1"), (ws("/?t=1"), h("::1"), 80));
            assert_eq!(transport("Ws://b/m?t=1"), (ws("/m?t=1"), h("b"), 80));
            let err = parse("ws://b/m#f").unwrap_err();
            assert!(matches!(err, Error::InvalidUrl { .. }), "{err}");
            let err = parse("ws://u@b/m").unwrap_err();
            assert!(matches!(err, Error::InvalidUrl { .. }), "{err}");
        }
        if cfg!(all(feature = "tls", feature = "websocket")) {
            assert_eq!(transport("wss://b"), (wss("/mqtt"), h("b"), 443));
            assert_eq!(transport("wss://b:8443/ws"), (wss("/ws"), h("b"), 8443));
        }
    }

    /// A scheme whose feature is off is refused, naming the feature.
    #[test]
    fn schemes_without_their_feature_name_it() {
        let missing = |url| match parse(url) {
            Err(Error::UnsupportedScheme { feature, .. }) => feature,
            _ => None,
        };
        let tls = cfg!(feature = "tls");
        let ws = cfg!(feature = "websocket");
        assert_eq!(missing("mqtts://b"), (!tls).then_some(r#""tls""#));
        assert_eq!(missing("ws://b"), (!ws).then_some(r#""websocket""#));
        let wss = match (tls, ws) {
            (true, true) => None,
            (false, true) => Some(r#""tls""#),
            (true, false) => Some(r#""websocket""#),
            (false, false) => Some(r#""tls", "websocket""#),
        };
        assert_eq!(missing("wss://b"), wss);
        if !tls {
            let err = parse("mqtts://b").unwrap_err().to_string();
            assert!(err.contains(r#"features = ["tls"]"#), "{err}");
        }
    }

    #[test]
    fn durations_become_whole_seconds() {
        let o = ConnectOptions::new("h", 1)
            .keep_alive(Duration::from_millis(1500))
            .session_expiry(Duration::MAX);
        assert_eq!(o.keep_alive, 2);
        assert_eq!(o.session_expiry, Some(u32::MAX));
        let o = o.keep_alive(Duration::from_secs(1 << 20));
        assert_eq!(o.keep_alive, u16::MAX);
    }

    #[test]
    fn connect_packet_carries_the_options() {
        let o = ConnectOptions::new("h", 1)
            .client_id("c")
            .clean_start(false)
            .session_expiry(Duration::from_secs(60))
            .username("u")
            .password("p");
        let c = o.connect_packet().unwrap();
        assert_eq!(c.client_id.as_str(), "c");
        assert!(!c.clean_start);
        assert_eq!(c.properties.session_expiry_interval, Some(60));
        assert_eq!(c.login.password.as_deref(), Some(&b"p"[..]));
        let v3 = o.protocol_version(ProtocolVersion::V3_1_1);
        assert_eq!(
            v3.connect_packet()
                .unwrap()
                .properties
                .session_expiry_interval,
            None
        );
        let bad = ConnectOptions::new("h", 1)
            .client_id("a\0b")
            .connect_packet();
        assert!(matches!(
            bad,
            Err(Error::InvalidOption {
                option: "client_id",
                ..
            })
        ));
    }

    #[test]
    fn debug_hides_the_password() {
        let o = ConnectOptions::new("h", 1).password("hunter2");
        assert!(!format!("{o:?}").contains("hunter2"));
    }
}
