//! The command line of `mqttkit-broker`: a configuration file, options
//! that override it, and the `passwd` command.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{self, Config, ConfigError, Listener, Protocol};

/// The command line of `mqttkit-broker`.
///
/// Options override the configuration file; `--listen` and `--port`
/// replace its listeners.
///
/// ```
/// use clap::Parser;
/// use mqttkit_broker::cli::Args;
///
/// let args = Args::try_parse_from(["mqttkit-broker", "--port", "1884", "--sys-interval", "5"])?;
/// let config = args.config()?;
/// assert_eq!(config.listeners[0].bind.to_string(), "127.0.0.1:1884");
/// assert!(config.sys.enabled);
/// assert!(args.command().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Parser)]
// The doc comment above speaks to the library's users; the binary's help
// is this.
#[command(
    name = "mqttkit-broker",
    version,
    about = "An MQTT 3.1.1 and 5.0 broker",
    long_about = "An MQTT 3.1.1 and 5.0 broker.\n\nOptions override the configuration \
                  file; --listen and --port replace its listeners."
)]
pub struct Args {
    /// Read the configuration from this TOML file (see broker.toml);
    /// without it, the defaults: MQTT over TCP on 127.0.0.1:1883.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Listen on URL, one of tcp://, tls://, ws:// or wss:// followed by
    /// ADDRESS:PORT (port 0: any free port). Repeat it for several; it
    /// replaces the listeners of the file.
    #[arg(long, value_name = "URL", value_parser = parse_listen)]
    listen: Vec<Listen>,

    /// Listen for MQTT over TCP on 127.0.0.1:PORT only (0: any free port),
    /// instead of the listeners of the file.
    #[arg(short, long, value_name = "PORT", conflicts_with = "listen")]
    port: Option<u16>,

    /// The certificate chain (PEM, leaf first) of the tls:// and wss://
    /// --listen addresses.
    #[arg(long, value_name = "FILE", requires_all = ["key", "listen"])]
    cert: Option<PathBuf>,

    /// The private key (PEM) of the tls:// and wss:// --listen addresses.
    #[arg(long, value_name = "FILE", requires_all = ["cert", "listen"])]
    key: Option<PathBuf>,

    /// The longest Keep Alive, in seconds, a client may ask for
    /// (mosquitto: max_keepalive).
    #[arg(long, value_name = "SECONDS")]
    max_keep_alive: Option<u16>,

    /// The largest packet accepted from a client, in bytes
    /// (mosquitto: max_packet_size).
    #[arg(long, value_name = "BYTES")]
    max_packet_size: Option<u32>,

    /// Check the user names and passwords of clients against this file
    /// (mosquitto: password_file; write it with the passwd command).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,

    /// Allow or deny publishing and subscribing by the rules of this file
    /// (mosquitto: acl_file).
    #[arg(long, value_name = "FILE")]
    acl_file: Option<PathBuf>,

    /// Whether clients without a user name may connect when a password
    /// file is set: true or false (mosquitto: allow_anonymous).
    #[arg(long, value_name = "BOOL", value_parser = clap::builder::BoolishValueParser::new())]
    allow_anonymous: Option<bool>,

    /// Publish the $SYS/broker/... statistics every SECONDS
    /// (mosquitto: sys_interval).
    #[arg(long, value_name = "SECONDS")]
    sys_interval: Option<u64>,

    /// Refuse client identifiers, topic names and filters that hold
    /// control characters.
    #[arg(long)]
    refuse_control_characters: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

/// What to do instead of running the broker.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Add USER to the password FILE, or change their password. The
    /// password is read from standard input, one line.
    Passwd {
        /// The password file; created when missing.
        file: PathBuf,
        /// The user name.
        user: String,
    },
}

impl Args {
    /// Parses the process's command line; on a bad one, prints the error
    /// and usage and exits with status 2, and on `--help` or `--version`
    /// prints them and exits with status 0.
    ///
    /// ```no_run
    /// let args = mqttkit_broker::cli::Args::parse_from_env();
    /// ```
    pub fn parse_from_env() -> Args {
        Args::parse()
    }

    /// The configuration to run: the file given with `--config` (else the
    /// defaults), then the options, then [`Config::validate`].
    ///
    /// ```
    /// use clap::Parser;
    /// use mqttkit_broker::cli::Args;
    ///
    /// let args = Args::try_parse_from(["mqttkit-broker", "--max-packet-size", "1"])?;
    /// assert_eq!(
    ///     args.config().unwrap_err().to_string(),
    ///     "--max-packet-size: 1 is not in 2..=268435455",
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn config(&self) -> Result<Config, ConfigError> {
        let (mut config, file) = match &self.config {
            Some(path) => {
                let text = config::read(path)?;
                (Config::parse_unvalidated(&text, path)?, Some((text, path)))
            }
            None => (Config::default(), None),
        };
        self.apply(&mut config)?;
        config.validate().map_err(|err| match err {
            ConfigError::Invalid {
                at: None,
                key,
                reason,
            } => match self.option_for(&key) {
                Some(option) => ConfigError::Option { option, reason },
                None => {
                    let err = ConfigError::invalid(key, reason);
                    match &file {
                        Some((text, path)) => err.locate(text, path),
                        None => err,
                    }
                }
            },
            other => other,
        })?;
        Ok(config)
    }

    /// The command given instead of running the broker, if any.
    ///
    /// ```
    /// use clap::Parser;
    /// use mqttkit_broker::cli::{Args, Command};
    ///
    /// let args = Args::try_parse_from(["mqttkit-broker", "passwd", "passwords", "alice"])?;
    /// assert!(matches!(args.command(), Some(Command::Passwd { user, .. }) if user == "alice"));
    /// # Ok::<(), clap::Error>(())
    /// ```
    pub fn command(&self) -> Option<&Command> {
        self.command.as_ref()
    }

    fn apply(&self, config: &mut Config) -> Result<(), ConfigError> {
        if let Some(port) = self.port {
            config.listeners = vec![Listener::tcp(SocketAddr::from(([127, 0, 0, 1], port)))];
        }
        if !self.listen.is_empty() {
            config.listeners = self.listeners()?;
        }
        if let Some(seconds) = self.max_keep_alive {
            config.max_keep_alive = Some(seconds);
        }
        if let Some(bytes) = self.max_packet_size {
            config.max_packet_size = bytes;
        }
        if let Some(file) = &self.password_file {
            config.auth.password_file = Some(file.clone());
        }
        if let Some(file) = &self.acl_file {
            config.auth.acl_file = Some(file.clone());
        }
        if let Some(allow) = self.allow_anonymous {
            config.auth.allow_anonymous = allow;
        }
        if let Some(seconds) = self.sys_interval {
            config.sys.enabled = true;
            config.sys.interval = seconds;
        }
        if self.refuse_control_characters {
            config.refuse_control_characters = true;
        }
        Ok(())
    }

    /// The `--listen` listeners, with `--cert` and `--key` on the TLS ones.
    fn listeners(&self) -> Result<Vec<Listener>, ConfigError> {
        let tls = self
            .listen
            .iter()
            .find(|listen| listen.protocol.needs_tls());
        match (tls, &self.cert) {
            (Some(listen), None) => Err(ConfigError::Option {
                option: format!("--listen {listen}"),
                reason: "needs --cert and --key".to_owned(),
            }),
            (None, Some(_)) => Err(ConfigError::Option {
                option: "--cert".to_owned(),
                reason: "only tls:// and wss:// --listen addresses take one".to_owned(),
            }),
            _ => Ok(self
                .listen
                .iter()
                .map(|listen| {
                    let tls = listen.protocol.needs_tls();
                    Listener {
                        protocol: listen.protocol,
                        bind: listen.bind,
                        cert: self.cert.clone().filter(|_| tls),
                        key: self.key.clone().filter(|_| tls),
                    }
                })
                .collect()),
        }
    }

    /// The option that set the value of a configuration key, if one did.
    fn option_for(&self, key: &str) -> Option<String> {
        let index = key
            .strip_prefix("listener[")
            .and_then(|rest| rest.split_once(']'))
            .and_then(|(index, _)| index.parse::<usize>().ok());
        if let Some(listen) = index.and_then(|index| self.listen.get(index)) {
            return Some(format!("--listen {listen}"));
        }
        let option = match key {
            "max_packet_size" if self.max_packet_size.is_some() => "--max-packet-size",
            "sys.interval" if self.sys_interval.is_some() => "--sys-interval",
            _ => return None,
        };
        Some(option.to_owned())
    }
}

/// One `--listen` URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Listen {
    protocol: Protocol,
    bind: SocketAddr,
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.protocol.name(), self.bind)
    }
}

fn parse_listen(url: &str) -> Result<Listen, String> {
    let (scheme, address) = url
        .split_once("://")
        .ok_or("expected PROTOCOL://ADDRESS:PORT, such as tcp://127.0.0.1:1883")?;
    let protocol = [Protocol::Tcp, Protocol::Tls, Protocol::Ws, Protocol::Wss]
        .into_iter()
        .find(|protocol| protocol.name() == scheme)
        .ok_or_else(|| format!("unknown protocol \"{scheme}\": use tcp, tls, ws or wss"))?;
    let bind = address
        .parse()
        .map_err(|err| format!("\"{address}\": {err}; expected ADDRESS:PORT"))?;
    Ok(Listen { protocol, bind })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        <Args as CommandFactory>::command().debug_assert();
    }

    #[test]
    fn listen_urls_name_protocol_address_and_port() {
        let listen = parse_listen("wss://[::1]:8884").unwrap();
        assert_eq!(listen.protocol, Protocol::Wss);
        assert_eq!(
            listen.bind,
            SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], 8884))
        );
        assert_eq!(listen.to_string(), "wss://[::1]:8884");
        for bad in [
            "127.0.0.1:1883",
            "mqtt://127.0.0.1:1883",
            "tcp://localhost:1883",
            "tcp://127.0.0.1",
        ] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
    }
}
