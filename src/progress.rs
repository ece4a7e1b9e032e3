//! Progress for people: a spinner per host on a terminal, plain timestamped
//! lines otherwise (CI logs, pipes), since indicatif draws nothing there.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, SystemTime};

pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    pub fn new() -> Progress {
        let multi = std::io::stderr().is_terminal().then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress { multi }
    }

    /// A line for one host and one step.
    pub fn task(&self, host: &str) -> Task {
        let bar = self.multi.as_ref().map(|m| {
            let style = ProgressStyle::with_template("{spinner:.green} {prefix:<12.bold} {wide_msg} {elapsed:>4}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let b = m.add(ProgressBar::new_spinner().with_style(style).with_prefix(host.to_string()));
            b.enable_steady_tick(Duration::from_millis(100));
            b
        });
        Task { host: host.to_string(), bar }
    }

    /// A message not tied to one host.
    pub fn line(&self, msg: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(msg);
            }
            None => eprintln!("{} {msg}", timestamp()),
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

pub struct Task {
    host: String,
    bar: Option<ProgressBar>,
}

impl Task {
    pub fn step(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.set_message(msg.to_string()),
            None => eprintln!("{} {}: {msg}", timestamp(), self.host),
        }
    }

    pub fn done(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.finish_with_message(format!("✓ {msg}")),
            None => eprintln!("{} {}: {msg}", timestamp(), self.host),
        }
    }

    pub fn fail(&self, msg: &str) {
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
