//! Progress for people: a spinner per host on a terminal, plain timestamped
//! lines otherwise (CI logs, pipes), since indicatif draws nothing there.
//! How much is shown is set once (`-q`, `-v`, `-vv`); warnings and failures
//! always are, and the `--log` file always gets everything.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How much progress stderr shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `-q`: warnings and failures only.
    Quiet = 0,
    Normal = 1,
    /// `-v`: every remote script run, with its host and time.
    Verbose = 2,
    /// `-vv`: and its arguments.
    Trace = 3,
}

static VERBOSITY: AtomicU8 = AtomicU8::new(Verbosity::Normal as u8);

/// Set once by `main`.
pub fn set_verbosity(v: Verbosity) {
    VERBOSITY.store(v as u8, Ordering::Relaxed);
}

pub fn verbosity() -> Verbosity {
    match VERBOSITY.load(Ordering::Relaxed) {
        0 => Verbosity::Quiet,
        1 => Verbosity::Normal,
        2 => Verbosity::Verbose,
        _ => Verbosity::Trace,
    }
}

/// `-q`: only the outcome.
pub(crate) fn quiet() -> bool {
    verbosity() == Verbosity::Quiet
}

/// A detail shown with `-v` (remote scripts, their times), on stderr only.
pub fn detail(host: &str, msg: &str) {
    if verbosity() >= Verbosity::Verbose {
        eprintln!("{} {host}: {msg}", timestamp());
    }
}

pub struct Progress {
    multi: Option<MultiProgress>,
    log: Option<Log>,
}

/// `--log FILE`: every event as a JSON line, for reading later.
type Log = Arc<Mutex<File>>;

fn record(log: &Option<Log>, host: Option<&str>, event: &str, msg: &str) {
    let Some(log) = log else { return };
    let line =
        serde_json::json!({ "time": timestamp(), "host": host, "event": event, "message": msg });
    if let Ok(mut f) = log.lock() {
        let _ = writeln!(f, "{line}");
    }
}

impl Progress {
    /// Progress on stderr, and as JSON lines appended to `log` if given.
    pub fn new(log: Option<&Path>) -> std::io::Result<Progress> {
        // Spinners would hide -v's detail lines; -q shows none.
        let multi = (std::io::stderr().is_terminal() && verbosity() == Verbosity::Normal)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let log = match log {
            Some(p) => Some(Arc::new(Mutex::new(
                // Progress can name hosts and paths: readable by its owner only.
                File::options()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(p)?,
            ))),
            None => None,
        };
        Ok(Progress { multi, log })
    }

    /// A line for one host and one step.
    pub fn task(&self, host: &str) -> Task {
        let bar = self.multi.as_ref().map(|m| {
            let style = ProgressStyle::with_template(
                "{spinner:.green} {prefix:<12.bold} {wide_msg} {elapsed:>4}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let b = m.add(
                ProgressBar::new_spinner()
                    .with_style(style)
                    .with_prefix(host.to_string()),
            );
            b.enable_steady_tick(Duration::from_millis(100));
            b
        });
        Task {
            host: host.to_string(),
            bar,
            log: self.log.clone(),
        }
    }

    /// A message not tied to one host.
    pub fn line(&self, msg: &str) {
        record(&self.log, None, "info", msg);
        if !quiet() {
            self.print(msg);
        }
    }

    /// A warning: shown even with `-q`.
    pub fn warn(&self, msg: &str) {
        let msg = format!("warning: {msg}");
        record(&self.log, None, "warning", &msg);
        self.print(&msg);
    }

    fn print(&self, msg: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(msg);
            }
            None => eprintln!("{} {msg}", timestamp()),
        }
    }
}

pub struct Task {
    host: String,
    bar: Option<ProgressBar>,
    log: Option<Log>,
}

impl Task {
    pub fn step(&self, msg: &str) {
        record(&self.log, Some(&self.host), "step", msg);
        if quiet() {
            return;
        }
        match &self.bar {
            Some(b) => b.set_message(msg.to_string()),
            None => eprintln!("{} {}: {msg}", timestamp(), self.host),
        }
    }

    pub fn done(&self, msg: &str) {
        record(&self.log, Some(&self.host), "done", msg);
        if quiet() {
            return;
        }
        match &self.bar {
            Some(b) => b.finish_with_message(format!("✓ {msg}")),
            None => eprintln!("{} {}: {msg}", timestamp(), self.host),
        }
    }

    pub fn fail(&self, msg: &str) {
        record(&self.log, Some(&self.host), "failed", msg);
        match &self.bar {
            Some(b) => b.abandon_with_message(format!("✗ {msg}")),
            None => eprintln!("{} {}: failed: {msg}", timestamp(), self.host),
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(b) = &self.bar
            && !b.is_finished()
        {
            b.abandon();
        }
    }
}

fn timestamp() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    /// Issue 11, finding 9: the --log file names hosts and paths: 0600.
    #[test]
    fn finding_9_the_log_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run.log");
        let p = super::Progress::new(Some(&path)).expect("progress");
        p.line("hello");
        let mode = std::fs::metadata(&path).expect("log").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
