//! A private pcscd for one test run, with the vpcd virtual reader, isolated from the host.
//!
//! Two limits of Debian 12's packages shape this:
//! - pcsc-lite 1.9.9 ignores `PCSCLITE_CSOCK_NAME` in the daemon: it always creates
//!   `/run/pcscd/pcscd.comm` and refuses to start when another pcscd owns that file (only the
//!   client library honours the variable).
//! - vpcd 3.3 crashes pcscd in reversed mode once a slot is empty (see [`crate::vpcd`]), and
//!   in normal mode it listens on all interfaces.
//!
//! So the daemon runs in its own mount, network and PID namespaces (`unshare`): a per-run
//! directory is bind-mounted over `/run/pcscd`, vpcd listens on ports 35963/35964 of a network
//! namespace that only has its own loopback (nothing is reachable from outside, and parallel
//! runs cannot collide), and two `socat` relays inside the namespace expose each slot as a Unix
//! socket in the per-run directory. The test process reaches pcscd by setting
//! `PCSCLITE_CSOCK_NAME` and taps cards by connecting [`crate::vpcd::CardLink`]s to the relay
//! sockets. Killing `unshare` kills the namespace's init and with it every process inside.
//! This needs root (or CAP_SYS_ADMIN), which the CI machines have.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::vpcd::VPCD_DRIVER;

/// Set to `1` to turn a missing pcscd/vpcd into a test failure instead of a skip.
pub const REQUIRE_ENV: &str = "DMS_REQUIRE_DEVICES";

/// vpcd's default port for slot 0 (slot 1 is the next one); private to the namespace.
pub const VPCD_PORT: u16 = 35963;

/// Checks that pcscd, the vpcd driver, `unshare`, `ip` and `socat` are usable; the error says
/// what is missing and which Debian package provides it.
pub fn check_tools() -> Result<()> {
    let mut missing = Vec::new();
    if which("pcscd").is_none() {
        missing.push("pcscd (Debian package pcscd)");
    }
    if !Path::new(VPCD_DRIVER).exists() {
        missing.push("the vpcd driver (Debian package vsmartcard-vpcd)");
    }
    if which("unshare").is_none() {
        missing.push("unshare (Debian package util-linux)");
    }
    if which("ip").is_none() {
        missing.push("ip (Debian package iproute2)");
    }
    if which("socat").is_none() {
        missing.push("socat (Debian package socat)");
    }
    if !missing.is_empty() {
        return Err(Error::Missing(missing.join(", ")));
    }
    // Namespaces need root or CAP_SYS_ADMIN (or unprivileged user namespaces, not used here).
    let probe = Command::new("unshare")
        .args(["--mount", "--net", "--pid", "--fork", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match probe {
        Ok(status) if status.success() => Ok(()),
        _ => Err(Error::Missing(
            "permission to create mount/network/PID namespaces (run the tests as root)".into(),
        )),
    }
}

/// `Ok(true)` to run a device test, `Ok(false)` to skip it (with the reason printed), or an
/// error when [`REQUIRE_ENV`] demands the devices.
pub fn devices_available(test: &str) -> Result<bool> {
    match check_tools() {
        Ok(()) => Ok(true),
        Err(e) if std::env::var(REQUIRE_ENV).as_deref() == Ok("1") => Err(e),
        Err(e) => {
            eprintln!("SKIPPED {test}: {e}; set {REQUIRE_ENV}=1 to make this a failure");
            Ok(false)
        }
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// A running private pcscd; stopped (with its whole namespace) and its directory removed on
/// drop.
#[derive(Debug)]
pub struct Pcscd {
    child: Child,
    dir: PathBuf,
    /// Where the current daemon's output starts in the log (it is appended to on restart).
    log_from: usize,
}

impl Pcscd {
    /// Starts pcscd with one vpcd reader (two slots) and waits until it serves clients.
    pub fn start() -> Result<Self> {
        check_tools()?;
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "dms-pcscd-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let conf = dir.join("reader.conf.d");
        let run = dir.join("run");
        std::fs::create_dir_all(&conf)?;
        std::fs::create_dir_all(&run)?;
        std::fs::write(
            conf.join("vpcd"),
            format!(
                "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME   /dev/null:{VPCD_PORT}\nLIBPATH      {VPCD_DRIVER}\nCHANNELID    {VPCD_PORT}\n"
            ),
        )?;
        let child = spawn(&dir)?;
        let mut pcscd = Pcscd {
            child,
            dir,
            log_from: 0,
        };
        pcscd.wait_ready(Duration::from_secs(10))?;
        Ok(pcscd)
    }

    /// Stops pcscd (and the relays) and starts it again on the same sockets, as a service
    /// manager restarting the daemon would. Cards linked before are gone: tap them again.
    pub fn restart(&mut self) -> Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for stale in [self.socket(), self.slot(0), self.slot(1)] {
            let _ = std::fs::remove_file(stale);
        }
        self.log_from = self.log().len();
        self.child = spawn(&self.dir)?;
        self.wait_ready(Duration::from_secs(10))
    }
}

/// Starts the namespace with pcscd and the two slot relays, logging to `dir/pcscd.log`.
fn spawn(dir: &Path) -> Result<Child> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("pcscd.log"))?;
    let d = dir.display();
    // /run/pcscd may not exist on a fresh machine; the bind mount needs the target. The
    // mount is private to the namespace, so the host's /run/pcscd is left untouched.
    let script = format!(
        "set -e
ip link set lo up
mkdir -p /run/pcscd
mount --make-rprivate /
mount --bind '{d}/run' /run/pcscd
pcscd --foreground --info -c '{d}/reader.conf.d' &
socat UNIX-LISTEN:'{d}/slot0.sock',fork TCP:127.0.0.1:{p0} &
socat UNIX-LISTEN:'{d}/slot1.sock',fork TCP:127.0.0.1:{p1} &
wait",
        p0 = VPCD_PORT,
        p1 = VPCD_PORT + 1,
    );
    Command::new("unshare")
        .args([
            "--mount",
            "--net",
            "--pid",
            "--fork",
            "--kill-child",
            "sh",
            "-c",
            &script,
        ])
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .map_err(Error::from)
}

impl Pcscd {
    fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                return Err(Error::Protocol(format!(
                    "pcscd's namespace exited with {status}: {}",
                    self.log()
                )));
            }
            if self.socket().exists()
                && self.slot(0).exists()
                && self.slot(1).exists()
                && self
                    .log()
                    .get(self.log_from..)
                    .is_some_and(|current| current.contains("daemon ready"))
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(Error::Timeout(format!(
            "pcscd not ready after {limit:?}: {}",
            self.log()
        )))
    }

    /// The client socket, to put in `PCSCLITE_CSOCK_NAME` before the first PC/SC call.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("run").join("pcscd.comm")
    }

    /// The relay socket of vpcd's slot 0 or 1 (reader "Virtual PCD 00 00" / "00 01").
    pub fn slot(&self, index: usize) -> PathBuf {
        self.dir.join(format!("slot{}.sock", index.min(1)))
    }

    /// pcscd's output so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pcscd.log")).unwrap_or_default()
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        // SIGKILL to unshare; --kill-child then kills the namespace's init, and the kernel
        // every other process of the PID namespace.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
