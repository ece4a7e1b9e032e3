//! etcd's downgrade procedure as the planner decides it (its guides,
//! "Downgrade etcd from v3.7 to v3.6" and "from v3.6 to v3.5"): a minor
//! down is one minor at a time, through etcd's downgrade API from 3.6 on;
//! an enabled downgrade is resumed, or cancelled when the target goes back
//! up. The executor's side is `exec/downgrade.rs`; the rest of a rolling
//! version change, `rollout.rs`.

use super::rollout::ClusterView;
use crate::inventory::Version;
use serde::{Deserialize, Serialize};

/// etcd's downgrade procedure (its downgrade guides, 3.6 on): a minor
/// downgrade is `downgrade validate` and `downgrade enable` (the cluster
/// version drops to the target at once and every member's storage version
/// follows), then members one at a time onto the older binary, the leader
/// last; etcd ends the downgrade when the last one runs it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DowngradeCall {
    /// A patch change, an upgrade, or a downgrade within the cluster version.
    #[default]
    None,
    /// Validate, then enable a downgrade to `major.minor`.
    Enable { major: u32, minor: u32 },
    /// A downgrade to `major.minor` is enabled already (an interrupted
    /// run): wait for the storage versions, then go on with the restarts.
    Resume { major: u32, minor: u32 },
    /// A downgrade to `major.minor` is enabled but the target is newer:
    /// `downgrade cancel` first (etcd's way to abort one).
    Cancel { major: u32, minor: u32 },
}

impl DowngradeCall {
    pub fn is_none(&self) -> bool {
        *self == DowngradeCall::None
    }
}

/// The legs of a downgrade from `running` (the newest version a member
/// runs) to `to`, one minor at a time as etcd requires: the newest patch of
/// each minor in between, then `to`.
pub fn legs_down(
    running: Version,
    to: Version,
    newest: impl Fn(u32, u32) -> Option<Version>,
) -> Vec<Version> {
    if to >= running || to.major != running.major {
        return vec![to];
    }
    let mut legs = Vec::new();
    let mut minor = running.minor;
    while minor > to.minor + 1 {
        minor -= 1;
        match newest(to.major, minor) {
            Some(patch) => legs.push(patch),
            None => return vec![to],
        }
    }
    legs.push(to);
    legs
}

/// What etcd's downgrade API must do for a change to `to` (`downgrade`:
/// some member runs a newer version), or why the change is refused.
pub(super) fn downgrade_call(
    view: &ClusterView,
    to: Version,
    downgrade: bool,
    allow_downgrade: bool,
) -> Result<DowngradeCall, String> {
    let target = (to.major, to.minor);
    if let Some((major, minor)) = view.downgrade_target
        && target > (major, minor)
    {
        return Ok(DowngradeCall::Cancel { major, minor });
    }
    if !downgrade {
        return Ok(DowngradeCall::None);
    }
    if !allow_downgrade {
        return Err(format!(
            "{to} is older than what the cluster runs; `etcd-deploy downgrade --to {to}` (or --allow-downgrade) if you mean it"
        ));
    }
    let Some((maj, min)) = view.cluster_version else {
        return Ok(DowngradeCall::None);
    };
    let (major, minor) = target;
    if target == (maj, min) {
        return Ok(match view.downgrade_target {
            Some(t) if t == target => DowngradeCall::Resume { major, minor },
            _ => DowngradeCall::None,
        });
    }
    if target > (maj, min) {
        return Ok(DowngradeCall::None);
    }
    if maj == 3 && min < 6 {
        return Err(format!(
            "the cluster version is {maj}.{min}: members older than that cannot join it, and etcd supports a minor downgrade (its downgrade API) only from 3.6 on; only patch downgrades within {maj}.{min} are possible"
        ));
    }
    if major != maj || minor + 1 != min {
        return Err(format!(
            "the cluster version is {maj}.{min}: etcd downgrades one minor version at a time"
        ));
    }
    Ok(DowngradeCall::Enable { major, minor })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).expect("version")
    }

    #[test]
    fn a_downgrade_goes_one_minor_at_a_time_through_each_newest_patch() {
        let newest = |major: u32, minor: u32| match (major, minor) {
            (3, 6) => Some(v("3.6.17")),
            _ => None,
        };
        let cases: [(&str, &str, &[&str]); 4] = [
            ("3.7.4", "3.5.36", &["3.6.17", "3.5.36"]),
            ("3.7.4", "3.6.8", &["3.6.8"]),
            ("3.6.17", "3.6.8", &["3.6.8"]),
            ("3.5.36", "3.6.17", &["3.6.17"]),
        ];
        for (running, to, want) in cases {
            let got: Vec<String> = legs_down(v(running), v(to), newest)
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(got, want, "{running} -> {to}");
        }
    }
}
