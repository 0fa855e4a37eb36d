//! A Redis of the test's own on its own port (nothing kept on disk), to kill and start again
//! under a running router without touching the machine's.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct OwnRedis {
    pub port: u16,
    /// Where its output goes (appended across restarts); discarded when `None`.
    log: Option<PathBuf>,
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts `redis-server` on `port` and waits until it accepts connections.
    pub fn start_on(port: u16) -> Self {
        Self::start_logged(port, None)
    }

    pub fn start_logged(port: u16, log: Option<PathBuf>) -> Self {
        let mut redis = Self {
            port,
            log,
            child: None,
        };
        redis.start();
        redis
    }

    /// Starts it again on the same port (empty: it keeps nothing on disk).
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "redis-server on {} runs", self.port);
        let output = || -> Stdio {
            match &self.log {
                Some(path) => std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
                None => Stdio::null(),
            }
        };
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdin(Stdio::null())
            .stdout(output())
            .stderr(output())
            .spawn()
            .expect("redis-server runs (Debian's redis-server package)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server on {} did not start",
                self.port
            );
            // Polling a port that is not open yet: there is nothing to wait on instead.
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
    }

    /// `kill -9`: it loses everything.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
