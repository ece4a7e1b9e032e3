//! Remote actions as data: a shell script compiled into the binary and the
//! arguments it takes. Values never become script text: the SSH layer runs
//! `sh -c BODY NAME ARG...`, each argument escaped for the remote shell, so
//! a name or path from the inventory, a host or etcd reaches the script as
//! `"$1"`, whatever it contains.
//!
//! A script may be made of parts (a lock, a shell function, the action):
//! each part takes its own arguments from the front and `shift`s them away,
//! so the parts' argument lists are simply laid end to end. A part taking a
//! variable number of arguments (`"$@"`) must be the last.

/// A script and its arguments, ready to run on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Shown as `$0` (in the shell's own error messages) and in tests.
    pub name: &'static str,
    pub body: String,
    pub args: Vec<String>,
}

impl Script {
    /// A script of one part.
    pub fn new<I, S>(name: &'static str, body: &str, args: I) -> Script
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Script {
            name,
            body: String::new(),
            args: Vec::new(),
        }
        .then(body, args)
    }

    /// Appends a part and its arguments.
    pub fn then<I, S>(mut self, body: &str, args: I) -> Script
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.body.push_str(body);
        if !self.body.ends_with('\n') {
            self.body.push('\n');
        }
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Puts a part in front (e.g. the host lock), with its arguments first.
    pub fn after<I, S>(self, body: &str, args: I) -> Script
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut s = Script::new(self.name, body, args);
        s.body.push_str(&self.body);
        s.args.extend(self.args);
        s
    }

    /// Puts the path rule's part in front (`remote/path_rule.sh`: `checked
    /// WHAT PATH KIND`), its lists from `inventory::path_rule`: for a script
    /// that creates, hands over, writes or removes a managed directory.
    pub fn under_path_rule(self) -> Script {
        self.after(
            include_str!("remote/path_rule.sh"),
            crate::inventory::path_rule::script_args(),
        )
    }

    /// The command line: `sh -c BODY NAME ARG...` (the SSH layer escapes each word).
    pub fn argv(&self) -> Vec<&str> {
        let mut v = vec!["sh", "-c", self.body.as_str(), self.name];
        v.extend(self.args.iter().map(String::as_str));
        v
    }
}

/// Serialises host-level changes (release, link, unit, compose file) between
/// members that share a host and are prepared at the same time.
pub(crate) const HOST_LOCK: &str = include_str!("remote/lock.sh");

/// Runs the rest of a script at idle CPU and I/O priority: preparation work
/// (unpacking a release, building an image) on hosts whose etcd serves.
pub(crate) const IDLE: &str = include_str!("remote/idle.sh");

/// `yes` or `no`, for flags passed to scripts.
pub(crate) fn flag(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_lay_their_arguments_end_to_end() {
        let s = Script::new("x", "a=$1; shift", ["1"])
            .then("b=$1; shift\n", ["2"])
            .after(HOST_LOCK, Vec::<String>::new());
        assert!(s.body.starts_with("# shellcheck shell=sh"), "{}", s.body);
        assert!(s.body.ends_with("a=$1; shift\nb=$1; shift\n"), "{}", s.body);
        assert_eq!(s.argv()[3..], ["x", "1", "2"]);
    }
}
