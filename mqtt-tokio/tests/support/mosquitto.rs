//! A real mosquitto for the peer tests: finding the executable, a
//! temporary folder it can write to, a free port, and the process started
//! from a configuration the test writes, stopped when its guard drops.
//! Included with `#[path]` by the tests that need it, so each test keeps
//! its own configuration lines (listeners, persistence, certificates).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long mosquitto may take to listen, or to stop after SIGTERM, on a
/// loaded machine.
const STARTUP: Duration = Duration::from_secs(10);

/// The mosquitto executable, where Debian's package and a local build put
/// it.
pub fn mosquitto() -> PathBuf {
    [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("mosquitto is not installed; scripts/test.sh installs it from the system packages")
}

/// A free port on 127.0.0.1 (free when asked; mosquitto binds it next).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A temporary folder, removed when dropped (kept when the environment
/// variable `KEEP` is set, to read mosquitto's log after a failure).
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `mqttkit-tokio-{name}-{pid}` in the system's temporary folder;
    /// `name` tells the tests of one process apart.
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mqttkit-tokio-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Started as root, mosquitto drops to the `mosquitto` user: it must
        // still be able to read its files and write its persistence file
        // and log here.
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A child process, killed (SIGKILL) when dropped.
pub struct Proc(pub Option<Child>);

impl Proc {
    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, so that mosquitto saves its persistence file, and wait for
    /// the process to exit; SIGKILL if it has not within [`STARTUP`].
    pub fn terminate(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let start = Instant::now();
            while start.elapsed() < STARTUP {
                if let Ok(Some(_)) = child.try_wait() {
                    self.0 = None;
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            eprintln!("mosquitto did not stop within {STARTUP:?} of SIGTERM; killing it");
        }
        self.kill();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts mosquitto from `dir/mosquitto.conf`, made of `config` (the
/// test's listeners on 127.0.0.1 and other settings) and a `log_dest` to
/// `dir/mosquitto.log`, and waits until each of `ports` accepts
/// connections. Fails the test with mosquitto's log if it exits or does
/// not listen within [`STARTUP`].
pub fn start(dir: &Path, config: &str, ports: &[u16]) -> Proc {
    let conf = dir.join("mosquitto.conf");
    let log = dir.join("mosquitto.log");
    std::fs::write(
        &conf,
        format!("{config}\nlog_dest file {}\n", log.display()),
    )
    .unwrap();
    let child = Command::new(mosquitto())
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut proc = Proc(Some(child));
    let start = Instant::now();
    for &port in ports {
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = proc.0.as_mut().unwrap().try_wait().unwrap();
            if exited.is_some() || start.elapsed() > STARTUP {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("mosquitto does not listen on {port} ({exited:?}): {log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    proc
}
