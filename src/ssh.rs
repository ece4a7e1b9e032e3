//! SSH to hosts: one multiplexed OpenSSH connection per host (the `openssh`
//! crate drives the system's `ssh`, so `~/.ssh/config`, agents and ProxyJump
//! apply), shell scripts run as data, file pushes over stdin, and local port
//! forwards to reach a member's client port when the controller cannot.

use crate::inventory::{HostKeyPolicy, Member};
use crate::script::Script;
use futures_util::future::BoxFuture;
use openssh::{ForwardType, KnownHosts, Session, SessionBuilder, Stdio};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// A failure on one host, naming the step and carrying the remote stderr.
#[derive(Debug, thiserror::Error)]
#[error("{host}: {step}: {detail}")]
pub struct HostError {
    pub host: String,
    pub step: String,
    pub detail: String,
}

impl HostError {
    pub fn new(host: &str, step: &str, detail: impl Into<String>) -> Self {
        HostError {
            host: host.to_string(),
            step: step.to_string(),
            detail: detail.into(),
        }
    }
}

/// An open connection to one member's host.
pub struct Host {
    pub name: String,
    conn: Conn,
    become_root: bool,
}

enum Conn {
    /// Shared with the scripts held open (`Host::spawn_held`).
    Ssh(Arc<Session>),
    /// Anything else that runs scripts by name (the executor's tests: an
    /// in-process fake of the hosts).
    Other(Arc<dyn Transport>),
}

/// Runs a script on host `host` by other means than SSH: the seam the
/// executor's tests plug their fake of the hosts into (`Host::over`).
/// No streams: a script's stdin and stdout as files are SSH's only.
pub(crate) trait Transport: Send + Sync {
    /// The script's stdout, or its stderr as the error.
    fn run<'a>(
        &'a self,
        host: &'a str,
        script: &'a Script,
    ) -> BoxFuture<'a, Result<String, String>>;
}

/// Opens connections to hosts that are not in the session's set (a former
/// member's, from etcd-deploy's records): SSH, or the executor's tests'
/// fake.
pub(crate) trait Dial: Send + Sync {
    fn connect<'a>(&'a self, member: &'a Member) -> BoxFuture<'a, Result<Host, HostError>>;
}

/// Connections over SSH (`Host::connect`).
pub(crate) struct Ssh;

impl Dial for Ssh {
    fn connect<'a>(&'a self, member: &'a Member) -> BoxFuture<'a, Result<Host, HostError>> {
        Box::pin(Host::connect(member))
    }
}

/// This run's directory for control sockets: short (a socket path must stay
/// under ~107 bytes), new and private (0700, made by this process, never one
/// found in place), removed at the end (`remove_control_dir`).
static CONTROL_DIR: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

fn control_dir() -> Result<PathBuf, String> {
    CONTROL_DIR
        .get_or_init(|| {
            use std::os::unix::fs::DirBuilderExt;
            let base = std::env::temp_dir();
            let pid = std::process::id();
            (0..100u32).find_map(|i| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos());
                let dir = base.join(format!("edssh-{pid}-{:x}", nanos ^ i));
                std::fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&dir)
                    .ok()
                    .map(|()| dir)
            })
        })
        .clone()
        .ok_or_else(|| "cannot make a private directory for SSH control sockets".to_string())
}

/// Removes this run's control socket directory (after every session closed).
pub fn remove_control_dir() {
    if let Some(Some(dir)) = CONTROL_DIR.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

impl Host {
    /// Opens the host's master connection.
    pub async fn connect(member: &Member) -> Result<Host, HostError> {
        let t = &member.ssh;
        let mut b = SessionBuilder::default();
        if let Some(u) = &t.user {
            b.user(u.clone());
        }
        if let Some(p) = t.port {
            b.port(p);
        }
        if let Some(k) = &t.identity_file {
            b.keyfile(k);
        }
        if let Some(k) = &t.known_hosts_file {
            b.user_known_hosts_file(k);
        }
        b.known_hosts_check(match t.host_key_policy {
            HostKeyPolicy::Strict => KnownHosts::Strict,
            HostKeyPolicy::AcceptNew => KnownHosts::Add,
            HostKeyPolicy::Off => KnownHosts::Accept,
        });
        b.connect_timeout(Duration::from_secs(t.connect_timeout_secs));
        b.server_alive_interval(Duration::from_secs(5));
        b.control_directory(control_dir().map_err(|e| HostError::new(&member.name, "connect", e))?);
        let started = std::time::Instant::now();
        let session = b.connect_mux(&t.address).await;
        crate::progress::detail(
            &member.name,
            &format!(
                "connected ({:.2} s, {})",
                started.elapsed().as_secs_f64(),
                if session.is_ok() { "ok" } else { "failed" }
            ),
        );
        let session = session.map_err(|e| {
            HostError::new(
                &member.name,
                "connect",
                format!("cannot connect to {} over SSH: {}", t.address, describe(&e)),
            )
        })?;
        Ok(Host {
            name: member.name.clone(),
            conn: Conn::Ssh(Arc::new(session)),
            become_root: t.become_root,
        })
    }

    /// A host reached through `transport` instead of SSH.
    #[cfg_attr(not(test), expect(dead_code, reason = "the executor's tests' seam"))]
    pub(crate) fn over(name: &str, transport: Arc<dyn Transport>) -> Host {
        Host {
            name: name.to_string(),
            conn: Conn::Other(transport),
            become_root: false,
        }
    }

    /// `sh -c BODY NAME ARG...` (under `sudo -n` when `become` is set); the
    /// openssh crate escapes every word for the remote shell.
    fn command<'s>(
        &self,
        session: &'s Session,
        script: &Script,
    ) -> openssh::OwningCommand<&'s Session> {
        let argv = script.argv();
        if self.become_root {
            let mut c = session.command("sudo");
            c.args(["-n", "--"]).args(argv);
            c
        } else {
            let mut c = session.command(argv[0]);
            c.args(&argv[1..]);
            c
        }
    }

    /// Starts a script that runs until its stdin closes (the host side of the
    /// run lock, `host_lock.rs`), stdin and stdout piped; it keeps this
    /// host's connection open while it runs.
    pub(crate) async fn spawn_held(
        &self,
        step: &str,
        script: &Script,
    ) -> Result<openssh::Child<Arc<Session>>, HostError> {
        let Conn::Ssh(session) = &self.conn else {
            return Err(HostError::new(&self.name, step, "no streams here"));
        };
        let argv = script.argv();
        let mut c = if self.become_root {
            let mut c = Session::to_command(session.clone(), "sudo");
            c.args(["-n", "--"]).args(argv);
            c
        } else {
            let mut c = Session::to_command(session.clone(), argv[0]);
            c.args(&argv[1..]);
            c
        };
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .await
            .map_err(|e| HostError::new(&self.name, step, describe(&e)))
    }

    /// Runs a script (as root when `become` is set); returns stdout.
    pub async fn run(&self, step: &str, script: &Script) -> Result<String, HostError> {
        let session = match &self.conn {
            Conn::Ssh(s) => s,
            Conn::Other(t) => {
                return t
                    .run(&self.name, script)
                    .await
                    .map_err(|e| HostError::new(&self.name, step, e));
            }
        };
        let started = std::time::Instant::now();
        let out = self
            .command(session, script)
            .output()
            .await
            .map_err(|e| HostError::new(&self.name, step, describe(&e)));
        let r = out.and_then(|out| self.check(step, out));
        self.trace(script, started, &r);
        r
    }

    /// `-v`: which script ran, how long it took, how it ended; `-vv`: its arguments.
    fn trace(&self, script: &Script, started: std::time::Instant, r: &Result<String, HostError>) {
        use crate::progress::{Verbosity, detail, verbosity};
        if verbosity() < Verbosity::Verbose {
            return;
        }
        let outcome = if r.is_ok() { "ok" } else { "failed" };
        let secs = started.elapsed().as_secs_f64();
        let mut msg = format!("ran {} ({secs:.2} s, {outcome})", script.name);
        if verbosity() >= Verbosity::Trace {
            let args: Vec<String> = script.args.iter().map(|a| quote(a)).collect();
            msg.push_str(&format!(" with {}", args.join(" ")));
        }
        detail(&self.name, &crate::facts::printable(&msg));
    }

    /// Runs a script with `data` on its stdin.
    pub async fn run_with_input(
        &self,
        step: &str,
        script: &Script,
        data: &[u8],
    ) -> Result<String, HostError> {
        // Checked whole on the host before the script acts on it: a
        // controller killed mid-stream must not leave a truncated file.
        let checked = script.clone().after(
            include_str!("remote/checked_input.sh"),
            [crate::files::sha256_hex(data)],
        );
        self.run_with_reader(step, &checked, data).await
    }

    /// Runs a script with `file` streamed to its stdin through a fixed-size
    /// buffer (snapshots of any size, release tarballs).
    pub async fn run_with_file(
        &self,
        step: &str,
        script: &Script,
        file: &std::path::Path,
    ) -> Result<String, HostError> {
        let f = tokio::fs::File::open(file)
            .await
            .map_err(|e| HostError::new(&self.name, step, format!("{}: {e}", file.display())))?;
        self.run_with_reader(
            step,
            script,
            tokio::io::BufReader::with_capacity(1 << 20, f),
        )
        .await
    }

    /// Runs a script and streams its stdout into `dest` (created, 0600)
    /// through a fixed-size buffer: a snapshot of any size from a host.
    pub async fn run_to_file(
        &self,
        step: &str,
        script: &Script,
        dest: &std::path::Path,
    ) -> Result<u64, HostError> {
        let session = match &self.conn {
            Conn::Ssh(s) => s,
            Conn::Other(_) => return Err(HostError::new(&self.name, step, "no streams here")),
        };
        let fail = |e: String| HostError::new(&self.name, step, e);
        let started = std::time::Instant::now();
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dest)
            .await
            .map_err(|e| fail(format!("{}: {e}", dest.display())))?;
        let mut child = self
            .command(session, script)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .await
            .map_err(|e| fail(describe(&e)))?;
        let mut copied = 0;
        if let Some(stdout) = child.stdout().take() {
            let mut from = tokio::io::BufReader::with_capacity(1 << 20, stdout);
            copied = tokio::io::copy(&mut from, &mut file)
                .await
                .map_err(|e| fail(format!("receiving {}: {e}", dest.display())))?;
            file.sync_all()
                .await
                .map_err(|e| fail(format!("{}: {e}", dest.display())))?;
            file.shutdown().await.ok();
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| fail(describe(&e)));
        let r = out.and_then(|out| self.check(step, out));
        self.trace(script, started, &r);
        r.map(|_| copied)
    }

    async fn run_with_reader(
        &self,
        step: &str,
        script: &Script,
        mut data: impl tokio::io::AsyncRead + Unpin,
    ) -> Result<String, HostError> {
        let session = match &self.conn {
            Conn::Ssh(s) => s,
            // The input is the transport's to ignore: no streams there.
            Conn::Other(t) => {
                return t
                    .run(&self.name, script)
                    .await
                    .map_err(|e| HostError::new(&self.name, step, e));
            }
        };
        let started = std::time::Instant::now();
        let r = self.pipe(session, step, script, &mut data).await;
        self.trace(script, started, &r);
        r
    }

    async fn pipe(
        &self,
        session: &Session,
        step: &str,
        script: &Script,
        mut data: impl tokio::io::AsyncRead + Unpin,
    ) -> Result<String, HostError> {
        let err = |e: openssh::Error| HostError::new(&self.name, step, describe(&e));
        let mut child = self
            .command(session, script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .await
            .map_err(err)?;
        if let Some(mut stdin) = child.stdin().take() {
            let write = async {
                tokio::io::copy(&mut data, &mut stdin).await?;
                stdin.shutdown().await
            };
            if let Err(e) = write.await {
                return Err(HostError::new(
                    &self.name,
                    step,
                    format!("sending data: {e}"),
                ));
            }
        }
        let out = child.wait_with_output().await.map_err(err)?;
        self.check(step, out)
    }

    fn check(&self, step: &str, out: std::process::Output) -> Result<String, HostError> {
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out
            .status
            .code()
            .map_or_else(|| "a signal".to_string(), |c| format!("exit code {c}"));
        let stderr = stderr.trim();
        let detail = if stderr.is_empty() {
            format!("remote command failed with {code}")
        } else {
            format!("remote command failed with {code}: {stderr}")
        };
        Err(HostError::new(&self.name, step, detail))
    }

    /// Forwards a free local port to `host:port` as seen from the remote host.
    pub async fn forward(&self, host: &str, port: u16) -> Result<SocketAddr, HostError> {
        let step = "open SSH tunnel";
        let local = {
            let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .map_err(|e| HostError::new(&self.name, step, e.to_string()))?;
            l.local_addr()
                .map_err(|e| HostError::new(&self.name, step, e.to_string()))?
        };
        let session = match &self.conn {
            Conn::Ssh(s) => s,
            Conn::Other(_) => return Err(HostError::new(&self.name, step, "no tunnels here")),
        };
        let remote = openssh::Socket::TcpSocket {
            host: host.to_string().into(),
            port,
        };
        session
            .request_port_forward(ForwardType::Local, local, remote)
            .await
            .map_err(|e| {
                HostError::new(
                    &self.name,
                    step,
                    format!("forwarding {local} to {host}:{port}: {}", describe(&e)),
                )
            })?;
        Ok(local)
    }

    pub async fn close(self) {
        match self.conn {
            Conn::Ssh(s) => {
                if let Ok(s) = Arc::try_unwrap(s) {
                    let _ = s.close().await;
                }
            }
            Conn::Other(_) => {}
        }
    }
}

/// openssh errors nest the useful part (ssh's own stderr) in their source chain.
fn describe(e: &openssh::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(t.trim());
        }
        src = inner.source();
    }
    s
}

/// Quotes a string for a POSIX shell.
pub(crate) fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:=,@+".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::quote;

    /// What `quote` makes of a value, the shell reads back as that value.
    #[test]
    fn quoted_values_survive_the_shell() {
        for v in [
            "plain",
            "a b",
            "it's",
            "$(touch /tmp/x)",
            "a\"b;c`d`",
            "",
            "-n",
            "\\x",
        ] {
            let out = std::process::Command::new("sh")
                .args(["-c", &format!("printf %s {}", quote(v))])
                .output()
                .expect("sh");
            assert_eq!(String::from_utf8_lossy(&out.stdout), v, "{}", quote(v));
        }
    }
}

#[cfg(test)]
mod control_dir_tests {
    /// Issue 11, finding 9: control sockets go to a new 0700 directory of
    /// this process (never one found in place), removed at the end.
    #[test]
    fn finding_9_the_control_directory_is_new_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = super::control_dir().expect("control dir");
        let meta = std::fs::metadata(&dir).expect("exists");
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        let name = dir.file_name().expect("name").to_string_lossy().to_string();
        assert!(
            name.starts_with(&format!("edssh-{}-", std::process::id())),
            "{name}"
        );
        super::remove_control_dir();
        assert!(!dir.exists());
    }
}
