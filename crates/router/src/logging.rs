//! Logs an operator can read during an outage.
//!
//! - One line per error, with its cause chain (`outer: inner: root`), never a backtrace unless
//!   asked for with `HOTLINE_LOG_BACKTRACE=1` (then internal errors carry theirs).
//! - A repeated error (same place, same message) is written once a second at most; the next
//!   line says how many were left out (`repeated=N`), so a Redis outage that fails thousands of
//!   operations a second writes one line a second, not thousands.
//! - Colour codes only when standard output is a terminal, so `grep ' WARN '` works on files.

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use crate::config::LogFormat;

/// How often one repeated error is written at most.
const SUMMARY_WINDOW: Duration = Duration::from_secs(1);

/// Installs the tracing subscriber (text or JSON, filtered by `RUST_LOG`, default `info`).
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal());
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Whether internal errors are logged with their backtrace (`HOTLINE_LOG_BACKTRACE=1`).
pub fn backtraces_wanted() -> bool {
    static WANTED: LazyLock<bool> = LazyLock::new(|| {
        std::env::var("HOTLINE_LOG_BACKTRACE").is_ok_and(|v| v == "1" || v == "true")
    });
    *WANTED
}

/// The error and its sources on one line: `outer: inner: root`.
pub fn chain(err: &(dyn Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Wrappers often repeat their source's text; say it once.
        if !line.ends_with(&text) {
            let _ = write!(line, ": {text}");
        }
        source = cause.source();
    }
    line
}

/// An anyhow error on one line, with its backtrace only when asked for.
pub fn describe(err: &anyhow::Error) -> String {
    if backtraces_wanted() {
        format!("{err:?}")
    } else {
        format!("{err:#}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Level {
    Warn,
    Error,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    left_out: u64,
}

type Key = (Level, &'static str, String);

static WINDOWS: LazyLock<Mutex<HashMap<Key, Window>>> = LazyLock::new(Default::default);

/// A warning about `err` at `site` (say "store", "timers"), summarised when repeated.
pub fn warn_summarised(site: &'static str, err: &(dyn Error + 'static)) {
    report(Level::Warn, site, &chain(err));
}

/// An error about `err` at `site`, summarised when repeated.
pub fn error_summarised(site: &'static str, err: &(dyn Error + 'static)) {
    report(Level::Error, site, &chain(err));
}

/// An error line already formatted (say, from [`describe`]), summarised when repeated.
pub fn error_line_summarised(site: &'static str, line: &str) {
    report(Level::Error, site, line);
}

fn report(level: Level, site: &'static str, line: &str) {
    let now = Instant::now();
    let repeated = {
        let mut windows = WINDOWS.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: forget quiet windows once there are many distinct messages.
        if windows.len() > 1024 {
            windows.retain(|_, w| now.duration_since(w.started) < SUMMARY_WINDOW);
        }
        match windows.get_mut(&(level, site, line.to_owned())) {
            Some(window) if now.duration_since(window.started) < SUMMARY_WINDOW => {
                window.left_out += 1;
                return;
            }
            Some(window) => {
                let left_out = window.left_out;
                window.started = now;
                window.left_out = 0;
                left_out
            }
            None => {
                windows.insert(
                    (level, site, line.to_owned()),
                    Window {
                        started: now,
                        left_out: 0,
                    },
                );
                0
            }
        }
    };
    emit(level, site, line, repeated);
}

fn emit(level: Level, site: &'static str, line: &str, repeated: u64) {
    match (level, repeated) {
        (Level::Warn, 0) => tracing::warn!(site, "{line}"),
        (Level::Warn, n) => tracing::warn!(site, repeated = n, "{line}"),
        (Level::Error, 0) => tracing::error!(site, "{line}"),
        (Level::Error, n) => tracing::error!(site, repeated = n, "{line}"),
    }
}

/// Writes the count of errors left out in windows that have ended, so the last burst of an
/// outage is accounted for even when nothing follows it. Called once a second by the server.
pub fn flush_summaries() {
    let now = Instant::now();
    let ended: Vec<(Key, u64)> = {
        let mut windows = WINDOWS.lock().unwrap_or_else(|e| e.into_inner());
        let ended: Vec<(Key, u64)> = windows
            .iter()
            .filter(|(_, w)| w.left_out > 0 && now.duration_since(w.started) >= SUMMARY_WINDOW)
            .map(|(k, w)| (k.clone(), w.left_out))
            .collect();
        windows.retain(|_, w| now.duration_since(w.started) < SUMMARY_WINDOW * 10);
        for (key, _) in &ended {
            windows.remove(key);
        }
        ended
    };
    for ((level, site, line), left_out) in ended {
        emit(level, site, &line, left_out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connection refused")]
    struct Root;

    #[derive(Debug, thiserror::Error)]
    #[error("the ticket database is unavailable")]
    struct Outer(#[source] Root);

    #[test]
    fn an_error_is_one_line_with_its_causes() {
        assert_eq!(
            chain(&Outer(Root)),
            "the ticket database is unavailable: connection refused"
        );
    }

    #[test]
    fn a_repeated_error_is_counted_not_written_again_within_its_window() {
        let line = "test-only repeated error";
        report(Level::Warn, "test", line);
        for _ in 0..5 {
            report(Level::Warn, "test", line);
        }
        let windows = WINDOWS.lock().unwrap();
        let window = windows
            .get(&(Level::Warn, "test", line.to_owned()))
            .expect("window kept");
        assert_eq!(window.left_out, 5);
    }
}
