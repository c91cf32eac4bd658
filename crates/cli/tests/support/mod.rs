//! Shared by the end-to-end tests: server processes, fresh PostgreSQL databases.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const KEYFORT: &str = env!("CARGO_BIN_EXE_keyfort");

/// A port that was free a moment ago (the server binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .unwrap()
        .port()
}

/// The PostgreSQL server the test command provides, if any (`KEYFORT_TEST_POSTGRES`,
/// a URL of a database the tests may create databases from).
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("KEYFORT_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Says why a PostgreSQL test does nothing; the test command reports skipped suites.
pub fn skip_without_postgres(test: &str) -> Option<String> {
    let url = postgres_admin_url();
    if url.is_none() {
        eprintln!(
            "SKIPPED {test}: KEYFORT_TEST_POSTGRES is not set (scripts/test sets it when PostgreSQL is available)"
        );
    }
    url
}

/// Creates an empty database for one test and returns its URL.
pub async fn fresh_postgres_database(admin_url: &str) -> String {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let name = format!("keyfort_test_{}", uuid_like());
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url)
        .await
        .expect("connect to the test PostgreSQL");
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create a test database");
    let after_scheme = admin_url.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match admin_url[after_scheme..].find('/') {
        Some(j) => &admin_url[..after_scheme + j],
        None => admin_url,
    };
    format!("{base}/{name}")
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", nanos, std::process::id())
}

/// A `keyfort serve` process with its own data directory, killed on drop.
pub struct ServerProcess {
    child: Child,
    pub base: String,
    pub port: u16,
    /// The one-time pass printed at first start, if this start printed one.
    pub first_pass: Option<String>,
    pub data_dir: std::path::PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl ServerProcess {
    /// Starts a server on a fresh port with a fresh data directory and the given extra environment.
    pub fn start(extra_env: &[(&str, &str)]) -> ServerProcess {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        let mut s = ServerProcess::start_in(&dir, free_port(), extra_env);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server with the given data directory and port.
    pub fn start_in(
        data_dir: &std::path::Path,
        port: u16,
        extra_env: &[(&str, &str)],
    ) -> ServerProcess {
        ServerProcess::start_logging(data_dir, port, extra_env, Stdio::inherit())
    }

    /// [`ServerProcess::start_in`] with the server's log (stderr) sent to `stderr`.
    pub fn start_logging(
        data_dir: &std::path::Path,
        port: u16,
        extra_env: &[(&str, &str)],
        stderr: Stdio,
    ) -> ServerProcess {
        let base = format!("http://localhost:{port}");
        let mut cmd = Command::new(KEYFORT);
        cmd.arg("serve")
            .env_remove("KEYFORT_DATABASE_URL")
            .env("KEYFORT_LISTEN", format!("127.0.0.1:{port}"))
            .env("KEYFORT_PUBLIC_URL", &base)
            .env("KEYFORT_DATA_DIR", data_dir)
            .current_dir(data_dir)
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn keyfort serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut first_pass = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(code) = line
                        .split("Temporary Access Pass (valid ")
                        .nth(1)
                        .and_then(|r| r.split(": ").nth(1))
                    {
                        first_pass = Some(code.trim().to_string());
                    }
                    if line.starts_with("Keyfort listening on") {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("keyfort serve did not report listening within 30 s");
                }
            }
        }
        ServerProcess {
            child,
            base,
            port,
            first_pass,
            data_dir: data_dir.to_path_buf(),
            _tmp: None,
        }
    }

    /// Runs a `keyfort` admin command against this server's store.
    pub fn cli(&self, args: &[&str], extra_env: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = Command::new(KEYFORT);
        cmd.args(args)
            .env_remove("KEYFORT_DATABASE_URL")
            .env("KEYFORT_DATA_DIR", &self.data_dir)
            .env("KEYFORT_PUBLIC_URL", &self.base)
            .current_dir(&self.data_dir);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.output().expect("run keyfort")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub mod api;
pub mod inproc;
