//! etcd's answers as errors, classified once (`Kind`) for every caller:
//! by gRPC code where it tells, by etcd's own message where not.

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct EtcdError {
    pub message: String,
    pub kind: Kind,
}

/// What an etcd error means to a caller: the one place etcd's answers are
/// classified (by gRPC code where it tells, by etcd's message where not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The cluster may allow the call shortly (it is settling, a member is
    /// restarting, a learner catching up): worth retrying.
    Transient,
    /// `member add`: a member with this peer URL exists already.
    PeerUrlExists,
    /// `member promote`: the member votes already.
    NotALearner,
    /// `member remove`, `move leader`: no such member (any more).
    MemberNotFound,
    /// Retrying will not cure it.
    Permanent,
}

/// What etcd says while a membership change or a restart settles; etcd sends
/// some of these as FailedPrecondition, so the code alone does not tell.
const SETTLING: [&str; 7] = [
    "unhealthy cluster",
    "in sync with leader",
    "too many learner",
    "not enough started members",
    "leader changed",
    "no leader",
    "raft proposal dropped",
];

impl EtcdError {
    /// An error that retrying will not cure.
    pub(crate) fn new(message: impl Into<String>) -> EtcdError {
        EtcdError {
            message: message.into(),
            kind: Kind::Permanent,
        }
    }

    /// A state that is expected to pass (retry).
    pub(crate) fn transient(message: impl Into<String>) -> EtcdError {
        EtcdError {
            message: message.into(),
            kind: Kind::Transient,
        }
    }

    pub(crate) fn is_transient(&self) -> bool {
        self.kind == Kind::Transient
    }

    /// The same error, to be retried (a caller knows it will pass).
    pub(crate) fn retried(self) -> EtcdError {
        EtcdError {
            kind: Kind::Transient,
            ..self
        }
    }
}

/// Classifies an etcd gRPC answer.
fn classify(code: tonic::Code, message: &str) -> Kind {
    use tonic::Code;
    if message.contains("Peer URLs already exists") {
        return Kind::PeerUrlExists;
    }
    if message.contains("not a learner") {
        return Kind::NotALearner;
    }
    if message.contains("member not found") {
        return Kind::MemberNotFound;
    }
    let transient = matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::ResourceExhausted
            | Code::Unknown
    ) || SETTLING.iter().any(|t| message.contains(t))
        // The client's own deadline (tonic reports it as cancelled):
        // a loaded or re-electing cluster, worth another try.
        || (code == Code::Cancelled && message == "Timeout expired");
    if transient {
        Kind::Transient
    } else {
        Kind::Permanent
    }
}

impl From<etcd_client::Error> for EtcdError {
    fn from(e: etcd_client::Error) -> Self {
        match e {
            // A connection that failed below gRPC: its causes say why.
            etcd_client::Error::GRpcStatus(s) if s.code() == tonic::Code::Unavailable => {
                EtcdError {
                    message: with_causes(s.message(), std::error::Error::source(&s)),
                    kind: classify(s.code(), s.message()),
                }
            }
            etcd_client::Error::GRpcStatus(s) => EtcdError {
                message: s.message().to_string(),
                kind: classify(s.code(), s.message()),
            },
            // Connection-level failures: the member may be restarting.
            etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => {
                EtcdError::transient(with_causes(&e.to_string(), std::error::Error::source(&e)))
            }
            other => EtcdError::new(other.to_string()),
        }
    }
}

/// `top` and each cause under it that says something new, joined by ": ".
fn with_causes(top: &str, mut cause: Option<&(dyn std::error::Error + 'static)>) -> String {
    let mut out = top.to_string();
    while let Some(c) = cause {
        let said = c.to_string();
        if !out.contains(&said) {
            out.push_str(": ");
            out.push_str(&said);
        }
        cause = c.source();
    }
    out
}

/// Why a member did not answer, in the words an operator looks for:
/// `TLS handshake refused (…)`, `connection refused`, `timed out`, or
/// the error itself.
pub(crate) fn why_silent(message: &str) -> String {
    let m = message.to_ascii_lowercase();
    let tls = ["certificate", "handshake", "tls", "alert", "unknownissuer"];
    if tls.iter().any(|w| m.contains(w)) {
        // The words that say what the handshake met, not the layers around.
        let said: Vec<&str> = message
            .split(": ")
            .filter(|p| !p.eq_ignore_ascii_case("transport error"))
            .collect();
        format!("TLS handshake refused ({})", said.join(": "))
    } else if m.contains("connection refused") || m.contains("connectionrefused") {
        "connection refused".into()
    } else if m.contains("timed out") || m.contains("timeout") || m.contains("deadline") {
        "timed out".into()
    } else {
        message.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::why_silent;

    #[test]
    fn a_silent_member_s_reason_is_named() {
        let cases = [
            (
                "transport error: invalid peer certificate: UnknownIssuer",
                "TLS handshake refused (invalid peer certificate: UnknownIssuer)",
            ),
            (
                "received fatal alert: BadCertificate: transport error",
                "TLS handshake refused (received fatal alert: BadCertificate)",
            ),
            (
                "tcp connect error: tcp connect error: Connection refused (os error 111)",
                "connection refused",
            ),
            ("Timeout expired", "timed out"),
            ("no leader", "no leader"),
        ];
        for (message, want) in cases {
            assert_eq!(why_silent(message), want, "{message}");
        }
    }
}
