//! The server under test: a `keyfort serve` process (with CPU and memory read from
//! `/proc`), or an in-process server for quick correctness runs.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub enum Target {
    Process { child: Child, pid: u32 },
    InProcess { task: tokio::task::JoinHandle<()> },
}

pub struct Server {
    pub base: String,
    pub target: Target,
}

pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Linux's USER_HZ, the unit of utime/stime in /proc/<pid>/stat.
const CLOCK_TICKS_PER_SEC: u64 = 100;

/// User + system CPU time of a process so far.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis(
        (utime + stime) * 1000 / CLOCK_TICKS_PER_SEC,
    ))
}

/// A `/proc/<pid>/status` memory figure (`VmHWM`, `VmRSS`) in bytes.
pub fn memory(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

impl Server {
    /// Starts `keyfort serve` on `data_dir` (already provisioned) and waits until it listens.
    pub fn spawn(
        keyfort: &Path,
        data_dir: &Path,
        port: u16,
        database_url: Option<&str>,
    ) -> Result<Server> {
        let base = format!("http://localhost:{port}");
        let mut cmd = Command::new(keyfort);
        cmd.arg("serve")
            .env("KEYFORT_LISTEN", format!("127.0.0.1:{port}"))
            .env("KEYFORT_PUBLIC_URL", &base)
            .env("KEYFORT_DATA_DIR", data_dir)
            .env("KEYFORT_LOG", "warn")
            // One generator address sends thousands of sign-ins a second: per-address
            // limits off (the per-account ones in the store still apply).
            .env("KEYFORT_THROTTLE_PASS_PER_IP_PER_MINUTE", "0")
            .env("KEYFORT_THROTTLE_SIGNIN_PER_IP_PER_MINUTE", "0")
            .current_dir(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        match database_url {
            Some(url) => cmd.env("KEYFORT_DATABASE_URL", url),
            None => cmd.env_remove("KEYFORT_DATABASE_URL"),
        };
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", keyfort.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("Keyfort listening on") => break,
                Some(Ok(_)) => continue,
                _ => {
                    let _ = child.kill();
                    bail!("keyfort serve exited before listening");
                }
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let pid = child.id();
        Ok(Server {
            base,
            target: Target::Process { child, pid },
        })
    }

    /// Runs the server inside this process (no separate CPU accounting).
    pub async fn in_process(
        data_dir: &Path,
        port: u16,
        database_url: Option<&str>,
    ) -> Result<Server> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let base = format!("http://localhost:{port}");
        let dir = data_dir.display().to_string();
        let url = database_url.map(str::to_string);
        let env = |k: &str| match k {
            "KEYFORT_PUBLIC_URL" => Some(base.clone()),
            "KEYFORT_DATA_DIR" => Some(dir.clone()),
            "KEYFORT_DATABASE_URL" => url.clone(),
            "KEYFORT_THROTTLE_PASS_PER_IP_PER_MINUTE"
            | "KEYFORT_THROTTLE_SIGNIN_PER_IP_PER_MINUTE" => Some("0".into()),
            _ => None,
        };
        let config = keyfort_server::Config::load(keyfort_server::config::Sources {
            file: None,
            env: &env,
        })?;
        let store = keyfort_store::Store::open(&config.database_url).await?;
        let state = keyfort_server::state::AppState::new(&config, store).await?;
        let task = tokio::spawn(async move {
            let _ = keyfort_server::serve(listener, state, std::future::pending()).await;
        });
        Ok(Server {
            base,
            target: Target::InProcess { task },
        })
    }

    pub fn pid(&self) -> Option<u32> {
        match &self.target {
            Target::Process { pid, .. } => Some(*pid),
            Target::InProcess { .. } => None,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.target {
            Target::Process { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Target::InProcess { task } => task.abort(),
        }
    }
}

/// The `keyfort` binary next to this one (both live in the same target directory).
pub fn sibling_keyfort() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let dir = me.parent()?;
    [dir.join("keyfort"), dir.parent()?.join("keyfort")]
        .into_iter()
        .find(|p| p.exists())
}
