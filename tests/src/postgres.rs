//! A PostgreSQL cluster of the test's own, to restart and crash without touching the machine's.

/// A PostgreSQL cluster of our own (initdb in a temp dir, its own port), to restart and crash.
pub struct OwnPostgres {
    dir: std::path::PathBuf,
    pub port: u16,
    bin: std::path::PathBuf,
}

impl OwnPostgres {
    pub fn start() -> Self {
        let bin = std::process::Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| std::path::PathBuf::from(s.trim()))
            .filter(|p| p.join("initdb").exists())
            .unwrap_or_else(|| std::path::PathBuf::from("/usr/lib/postgresql/15/bin"));
        let dir = std::env::temp_dir().join(format!("hotline-pg-{}", uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Self { dir, port, bin };
        // PostgreSQL refuses to run as root: run it as the postgres user when we are root.
        pg.chown();
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        pg.ctl(&["start", "-w", "-t", "60"]);
        pg
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// A shell command that stops this cluster (for a cluster left running on purpose).
    pub fn stop_command(&self) -> String {
        let ctl = self.bin.join("pg_ctl").display().to_string();
        let run_as = if is_root() {
            "runuser -u postgres -- "
        } else {
            ""
        };
        format!("{run_as}{ctl} -D {} stop -m immediate", self.data())
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn chown(&self) {
        if is_root() {
            let status = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres", &self.dir.display().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let mut command = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            std::process::Command::new(&program)
        };
        let output = command.args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `pg_ctl` on this cluster, e.g. `["restart", "-m", "fast", "-w"]`.
    pub fn ctl(&self, args: &[&str]) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        let data = self.data();
        let mut full = vec!["-D", &data, "-l", &log, "-o", &options];
        full.extend_from_slice(args);
        self.run("pg_ctl", &full);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.data();
        let program = self.bin.join("pg_ctl");
        let mut command = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            std::process::Command::new(&program)
        };
        let _ = command
            .args(["-D", &data, "stop", "-m", "immediate"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .is_some_and(|o| o.stdout.trim_ascii() == b"0")
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}
