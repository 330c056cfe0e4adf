//! `mqttkit-broker`: runs the broker, or manages its password file.
//!
//! ```text
//! mqttkit-broker                          # 127.0.0.1:1883, no configuration file
//! mqttkit-broker --config broker.toml
//! mqttkit-broker passwd passwords alice   # the password is read from stdin
//! ```
//!
//! It prints one line per listener on standard output, TCP first:
//! `listening on 127.0.0.1:1883`, then `listening tls on ...`, so that a
//! script that starts it with port 0 can read the ports. Logs go to
//! standard error; `RUST_LOG` sets their level (`info` by default).

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use mqttkit_broker::cli::{Args, Command};
use mqttkit_broker::config::Protocol;
use mqttkit_broker::{Broker, Config, auth};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let args = Args::parse_from_env();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Some(Command::Passwd { file, user }) = args.command() {
        return match passwd(file, user) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mqttkit-broker: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match args.config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("mqttkit-broker: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mqttkit-broker: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: Config) -> ExitCode {
    let broker = match Broker::start(config).await {
        Ok(broker) => broker,
        Err(e) => {
            eprintln!("mqttkit-broker: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut addrs: Vec<_> = broker.local_addrs().to_vec();
    // TCP first: scripts read the first line.
    addrs.sort_by_key(|(p, _)| *p != Protocol::Tcp);
    let mut out = std::io::stdout().lock();
    for (protocol, addr) in addrs {
        let _ = match protocol {
            Protocol::Tcp => writeln!(out, "listening on {addr}"),
            other => writeln!(out, "listening {} on {addr}", other.name()),
        };
    }
    let _ = out.flush();
    drop(out);
    shutdown_signal().await;
    tracing::info!("shutting down");
    broker.shutdown();
    // The DISCONNECTs go out on the connections' own tasks.
    tokio::time::sleep(Duration::from_millis(200)).await;
    ExitCode::SUCCESS
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Sets `user`'s password in `file` (created when missing) to the line
/// read from standard input.
fn passwd(file: &Path, user: &str) -> Result<(), Box<dyn std::error::Error>> {
    if user.is_empty() || user.contains(':') {
        return Err("a user name is not empty and holds no ':'".into());
    }
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err("no password on standard input".into());
    }
    let hash = auth::hash_password(password.as_bytes())?;
    let old = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("{}: {e}", file.display()).into()),
    };
    let entry = format!("{user}:{hash}");
    let prefix = format!("{user}:");
    let mut replaced = false;
    let mut lines: Vec<String> = old
        .lines()
        .map(|line| {
            if line.starts_with(&prefix) {
                replaced = true;
                entry.clone()
            } else {
                line.to_owned()
            }
        })
        .collect();
    if !replaced {
        lines.push(entry);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    // Written beside, then renamed: a crash leaves the old file whole.
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, file)?;
    // The result must load.
    auth::PasswordFile::load(file)?;
    Ok(())
}
