//! The configuration file and the command line: what they set, and the
//! one-line error each kind of mistake gives.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Parser;
use mqttkit_broker::Config;
use mqttkit_broker::cli::{Args, Command};
use mqttkit_broker::config::{ConfigError, Protocol};

const SAMPLE: &str = include_str!("../broker.toml");

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("broker.toml"))
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

/// A configuration file in the temporary directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(text: &str) -> TempFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "mqttkit-broker-config-{}-{}.toml",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn args(argv: &[&str]) -> Args {
    Args::try_parse_from(std::iter::once("mqttkit-broker").chain(argv.iter().copied())).unwrap()
}

#[test]
fn an_empty_file_gives_the_defaults() {
    assert_eq!(parse("").unwrap(), Config::default());
    assert_eq!(parse("# nothing\n\n").unwrap(), Config::default());
}

#[test]
fn the_sample_file_parses_to_the_defaults() {
    assert_eq!(parse(SAMPLE).unwrap(), Config::default());
}

/// The keys the sample shows commented out are real keys with valid
/// values: uncommented, the file still parses and validates.
#[test]
fn the_sample_file_commented_out_keys_are_valid() {
    let uncommented: String = SAMPLE
        .lines()
        .map(|line| {
            let body = line.strip_prefix("# ").unwrap_or(line);
            let is_setting = body.starts_with("[[") || body.contains(" = ");
            if is_setting { body } else { line }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let config = parse(&uncommented).unwrap();
    let protocols: Vec<_> = config.listeners.iter().map(|l| l.protocol).collect();
    assert_eq!(
        protocols,
        [Protocol::Tcp, Protocol::Tls, Protocol::Ws, Protocol::Wss]
    );
    assert_eq!(config.max_keep_alive, Some(60));
    assert!(config.auth.password_file.is_some());
    assert!(config.auth.acl_file.is_some());
}

/// Every key the configuration has appears in the sample. serde lists a
/// table's keys when it meets an unknown one.
#[test]
fn the_sample_file_shows_every_key() {
    for table in [
        "",
        "[[listener]]\nprotocol = \"tcp\"\nbind = \"127.0.0.1:0\"\n",
        "[limits]\n",
        "[retained]\n",
        "[auth]\n",
        "[sys]\n",
    ] {
        let Err(ConfigError::UnknownKey { expected, .. }) =
            parse(&format!("{table}not_a_key = 1\n"))
        else {
            panic!("an unknown key in {table:?} was accepted");
        };
        let keys: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        assert!(!keys.is_empty(), "{expected}");
        for key in keys {
            let shown = [
                format!("{key} = "),
                format!("[{key}]"),
                format!("[[{key}]]"),
            ];
            assert!(
                shown.iter().any(|s| SAMPLE.contains(s.as_str())),
                "broker.toml lacks {key}"
            );
        }
    }
}

#[test]
fn a_file_sets_every_table() {
    let config = parse(
        "max_keep_alive = 30\nconnect_timeout = 5\n\
         [[listener]]\nprotocol = \"ws\"\nbind = \"127.0.0.1:0\"\n\
         [limits]\nmax_inflight = 1\n[retained]\nenabled = false\n\
         [auth]\nallow_anonymous = false\n[sys]\nenabled = true\ninterval = 2\n",
    )
    .unwrap();
    assert_eq!(config.max_keep_alive, Some(30));
    assert_eq!(config.connect_timeout, 5);
    assert_eq!(config.listeners.len(), 1);
    assert_eq!(config.listeners[0].protocol, Protocol::Ws);
    assert_eq!(config.limits.max_inflight, 1);
    assert_eq!(
        config.limits.max_queued,
        Config::default().limits.max_queued
    );
    assert!(!config.retained.enabled);
    assert!(!config.auth.allow_anonymous);
    assert!(config.sys.enabled);
    assert_eq!(config.sys.interval, 2);
}

#[test]
fn an_unknown_key_names_its_line_and_the_keys_allowed() {
    assert_eq!(
        error("max_packet_size = 100\n\nlistner = 3\n"),
        "broker.toml:3: unknown key \"listner\" (expected one of `listener`, `max_keep_alive`, \
         `max_packet_size`, `refuse_control_characters`, `connect_timeout`, `limits`, \
         `retained`, `auth`, `sys`)"
    );
    assert_eq!(
        error("[limits]\nmax_inflight = 2\nmax_inflght = 3\n"),
        "broker.toml:3: unknown key \"limits.max_inflght\" (expected one of `max_inflight`, \
         `max_queued`, `max_queued_bytes`, `receive_maximum`, `max_unwritten`)"
    );
}

#[test]
fn a_wrong_type_names_line_key_and_type() {
    assert_eq!(
        error("connect_timeout = 3\n\nmax_keep_alive = \"60\"\n"),
        "broker.toml:3: key \"max_keep_alive\": invalid type: string \"60\", expected u16"
    );
    assert_eq!(
        error("limits.receive_maximum = 70000\n"),
        "broker.toml:1: key \"limits.receive_maximum\": invalid value: integer `70000`, expected u16"
    );
    assert_eq!(
        error("[[listener]]\nprotocol = \"tcpp\"\nbind = \"127.0.0.1:1\"\n"),
        "broker.toml:2: key \"listener[0].protocol\": unknown variant `tcpp`, expected one of \
         `tcp`, `tls`, `ws`, `wss`"
    );
}

#[test]
fn a_bad_address_names_its_listener() {
    assert_eq!(
        error(
            "[[listener]]\nprotocol = \"tcp\"\nbind = \"127.0.0.1:1883\"\n\n[[listener]]\nprotocol = \"ws\"\nbind = \"localhost:80\"\n"
        ),
        "broker.toml:7: key \"listener[1].bind\": invalid socket address syntax"
    );
    assert_eq!(
        error("[[listener]]\nprotocol = \"tcp\"\n"),
        "broker.toml:1: key \"listener[0]\": missing field `bind`"
    );
}

/// The key of a mistake among many listeners is found, and a file of
/// many unknown keys still gets its line: naming the key takes a bounded
/// number of passes over the file.
#[test]
fn a_mistake_in_a_long_file_names_its_line() {
    let mut text = String::new();
    for port in 1..=300 {
        text.push_str(&format!(
            "[[listener]]\nprotocol = \"tcp\"\nbind = \"127.0.0.1:{port}\"\n"
        ));
    }
    text.push_str("[[listener]]\nprotocol = \"tcp\"\nbind = \"nowhere\"\n");
    assert_eq!(
        error(&text),
        "broker.toml:903: key \"listener[300].bind\": invalid socket address syntax"
    );

    let mut text = String::from("[limits]\n");
    for key in 0..200 {
        text.push_str(&format!("unknown_{key:03} = 1\n"));
    }
    let err = error(&text);
    assert!(err.starts_with("broker.toml:2: unknown key \""), "{err}");
}

#[test]
fn a_syntax_error_names_its_line() {
    let err = error("max_packet_size = 10\nconnect_timeout = = 3\n");
    assert!(err.starts_with("broker.toml:2: "), "{err}");
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn a_tls_listener_needs_a_certificate_and_key() {
    assert_eq!(
        error(
            "[[listener]]\nprotocol = \"tcp\"\nbind = \"127.0.0.1:1883\"\n\n[[listener]]\nprotocol = \"tls\"\nbind = \"127.0.0.1:8883\"\n"
        ),
        "broker.toml:5: key \"listener[1].cert\": a tls listener needs cert, the certificate chain file"
    );
    assert_eq!(
        error("[[listener]]\nprotocol = \"wss\"\nbind = \"127.0.0.1:8883\"\ncert = \"c.pem\"\n"),
        "broker.toml:1: key \"listener[0].key\": a wss listener needs key, the private key file"
    );
}

#[test]
fn a_plain_listener_takes_no_certificate() {
    assert_eq!(
        error(
            "[[listener]]\nprotocol = \"ws\"\nbind = \"127.0.0.1:8080\"\ncert = \"c.pem\"\nkey = \"k.pem\"\n"
        ),
        "broker.toml:4: key \"listener[0].cert\": a ws listener takes no cert; only tls and wss do"
    );
}

#[test]
fn two_listeners_may_not_share_an_address() {
    let twice = "[[listener]]\nprotocol = \"tcp\"\nbind = \"127.0.0.1:1883\"\n\
                 [[listener]]\nprotocol = \"ws\"\nbind = \"127.0.0.1:1883\"\n";
    assert_eq!(
        error(twice),
        "broker.toml:6: key \"listener[1].bind\": 127.0.0.1:1883 is already the address of listener[0]"
    );
    // Port 0 is a different free port each time.
    let config = parse(&twice.replace(":1883", ":0")).unwrap();
    assert_eq!(config.listeners.len(), 2);
}

#[test]
fn at_least_one_listener() {
    assert_eq!(
        error("connect_timeout = 3\nlistener = []\n"),
        "broker.toml:2: key \"listener\": at least one [[listener]] is needed"
    );
}

#[test]
fn limits_out_of_range_name_their_line() {
    for (text, expected) in [
        (
            "max_packet_size = 1\n",
            "broker.toml:1: key \"max_packet_size\": 1 is not in 2..=268435455",
        ),
        (
            "max_packet_size = 268435456\n",
            "broker.toml:1: key \"max_packet_size\": 268435456 is not in 2..=268435455",
        ),
        (
            "\nconnect_timeout = 0\n",
            "broker.toml:2: key \"connect_timeout\": 0 is not in 1..=86400",
        ),
        (
            "[sys]\nenabled = true\ninterval = 0\n",
            "broker.toml:3: key \"sys.interval\": 0 is not in 1..=86400",
        ),
        (
            "[limits]\nmax_inflight = 0\n",
            "broker.toml:2: key \"limits.max_inflight\": must be at least 1",
        ),
        (
            "[limits]\nmax_queued = 0\n",
            "broker.toml:2: key \"limits.max_queued\": must be at least 1",
        ),
        (
            "limits.receive_maximum = 0\n",
            "broker.toml:1: key \"limits.receive_maximum\": must be at least 1",
        ),
    ] {
        assert_eq!(error(text), expected, "{text}");
    }
    assert_eq!(parse("max_packet_size = 2\n").unwrap().max_packet_size, 2);
    assert_eq!(
        parse("max_packet_size = 268435455\n")
            .unwrap()
            .max_packet_size,
        268_435_455
    );
}

#[test]
fn a_missing_file_is_named() {
    let path = std::env::temp_dir().join("mqttkit-broker-no-such-dir/broker.toml");
    let err = Config::load(&path).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(
        err.to_string()
            .starts_with(&format!("{}: ", path.display())),
        "{err}"
    );
}

#[test]
fn load_names_the_file_it_read() {
    let file = TempFile::new("max_packet_size = 0\n");
    let err = Config::load(&file.0).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:1: key \"max_packet_size\": 0 is not in 2..=268435455",
            file.0.display()
        )
    );
}

#[test]
fn without_a_file_the_command_line_starts_from_the_defaults() {
    assert_eq!(args(&[]).config().unwrap(), Config::default());
}

#[test]
fn options_set_the_configuration() {
    let config = args(&[
        "--max-keep-alive",
        "30",
        "--max-packet-size",
        "4096",
        "--password-file",
        "passwords",
        "--acl-file",
        "acl",
        "--allow-anonymous",
        "false",
        "--sys-interval",
        "7",
        "--refuse-control-characters",
    ])
    .config()
    .unwrap();
    assert_eq!(config.max_keep_alive, Some(30));
    assert_eq!(config.max_packet_size, 4096);
    assert_eq!(
        config.auth.password_file.as_deref(),
        Some(Path::new("passwords"))
    );
    assert_eq!(config.auth.acl_file.as_deref(), Some(Path::new("acl")));
    assert!(!config.auth.allow_anonymous);
    assert!(config.sys.enabled);
    assert_eq!(config.sys.interval, 7);
    assert!(config.refuse_control_characters);
    assert_eq!(config.listeners, Config::default().listeners);
}

#[test]
fn options_override_the_file() {
    let file = TempFile::new(
        "max_packet_size = 100\nmax_keep_alive = 10\n[[listener]]\nprotocol = \"tcp\"\nbind = \"127.0.0.1:1000\"\n\
         [auth]\nallow_anonymous = false\n[sys]\nenabled = false\ninterval = 3\n[limits]\nmax_queued = 5\n",
    );
    let path = file.0.to_str().unwrap();
    let config = args(&["--config", path]).config().unwrap();
    assert_eq!(config.max_packet_size, 100);
    assert_eq!(config.listeners[0].bind.port(), 1000);

    let config = args(&[
        "-c",
        path,
        "--max-packet-size",
        "200",
        "--port",
        "2000",
        "--allow-anonymous",
        "true",
        "--sys-interval",
        "4",
    ])
    .config()
    .unwrap();
    assert_eq!(config.max_packet_size, 200);
    assert_eq!(
        config.listeners,
        [mqttkit_broker::config::Listener::tcp(SocketAddr::from((
            [127, 0, 0, 1],
            2000
        )))]
    );
    assert!(config.auth.allow_anonymous);
    assert!(config.sys.enabled);
    assert_eq!(config.sys.interval, 4);
    // What no option names stays as the file set it.
    assert_eq!(config.max_keep_alive, Some(10));
    assert_eq!(config.limits.max_queued, 5);
}

#[test]
fn listen_options_replace_the_listeners_and_get_the_certificate() {
    let file = TempFile::new("[[listener]]\nprotocol = \"tcp\"\nbind = \"127.0.0.1:1000\"\n");
    let config = args(&[
        "--config",
        file.0.to_str().unwrap(),
        "--listen",
        "tcp://127.0.0.1:0",
        "--listen",
        "wss://[::1]:8443",
        "--listen",
        "ws://0.0.0.0:8080",
        "--cert",
        "c.pem",
        "--key",
        "k.pem",
    ])
    .config()
    .unwrap();
    let listeners: Vec<_> = config
        .listeners
        .iter()
        .map(|l| {
            (
                l.protocol,
                l.bind.to_string(),
                l.cert.clone(),
                l.key.clone(),
            )
        })
        .collect();
    let pem = |name: &str| Some(PathBuf::from(name));
    assert_eq!(
        listeners,
        [
            (Protocol::Tcp, "127.0.0.1:0".to_owned(), None, None),
            (
                Protocol::Wss,
                "[::1]:8443".to_owned(),
                pem("c.pem"),
                pem("k.pem")
            ),
            (Protocol::Ws, "0.0.0.0:8080".to_owned(), None, None),
        ]
    );
}

#[test]
fn option_mistakes_name_the_option() {
    let err = |argv: &[&str]| args(argv).config().unwrap_err().to_string();
    assert_eq!(
        err(&["--listen", "tls://127.0.0.1:8883"]),
        "--listen tls://127.0.0.1:8883: needs --cert and --key"
    );
    assert_eq!(
        err(&[
            "--listen",
            "tcp://127.0.0.1:1883",
            "--cert",
            "c",
            "--key",
            "k"
        ]),
        "--cert: only tls:// and wss:// --listen addresses take one"
    );
    assert_eq!(
        err(&[
            "--listen",
            "tcp://127.0.0.1:1883",
            "--listen",
            "ws://127.0.0.1:1883"
        ]),
        "--listen ws://127.0.0.1:1883: 127.0.0.1:1883 is already the address of listener[0]"
    );
    assert_eq!(
        err(&["--sys-interval", "0"]),
        "--sys-interval: 0 is not in 1..=86400"
    );
    // A bad value the file set is still reported in the file.
    let file = TempFile::new("\n[limits]\nmax_inflight = 0\n");
    let path = file.0.to_str().unwrap();
    assert_eq!(
        err(&["-c", path, "--port", "1"]),
        format!("{path}:3: key \"limits.max_inflight\": must be at least 1")
    );
}

#[test]
fn clap_refuses_malformed_options() {
    for argv in [
        &["--listen", "127.0.0.1:1883"][..],
        &["--listen", "quic://127.0.0.1:1883"],
        &["--port", "65536"],
        &["--port", "1", "--listen", "tcp://127.0.0.1:2"],
        &["--cert", "c", "--key", "k"],
        &["--listen", "tls://127.0.0.1:1", "--cert", "c"],
        &["--allow-anonymous", "maybe"],
        &["--max-keep-alive", "-1"],
        &["passwd", "file"],
    ] {
        let argv = std::iter::once("mqttkit-broker").chain(argv.iter().copied());
        assert!(
            Args::try_parse_from(argv.clone()).is_err(),
            "{:?}",
            argv.collect::<Vec<_>>()
        );
    }
}

#[test]
fn passwd_is_a_command() {
    let args = args(&["passwd", "/etc/mqttkit/passwords", "alice"]);
    assert_eq!(
        args.command(),
        Some(&Command::Passwd {
            file: PathBuf::from("/etc/mqttkit/passwords"),
            user: "alice".to_owned()
        })
    );
    assert_eq!(self::args(&["-p", "1"]).command(), None);
}
