//! Scheduled snapshots (`[backup]`): what etcd-deploy puts on each member's
//! host for them (a job script, a template service and timer shared by the
//! host's members, an environment file per member), rendered here as text
//! with its digest (the plan compares it with the host's), the remote
//! actions that install, remove and list them, and the names of the files
//! the job saves.
//!
//! The job runs on the host as the etcd user, at idle priority: `etcdctl
//! snapshot save` from its own member, `etcdutl snapshot status` reads it
//! through, and only then is it renamed to `<cluster>-<member>-<UTC
//! time>-rev<revision>.db` in `<dir>/<member>/`; the newest `keep` stay.

use crate::files::sha256_hex;
use crate::inventory::{Backup, Inventory, Member, VersionBy};
use crate::layout;
use crate::script::{HOST_LOCK, Script};

const JOB: &str = include_str!("remote/backup_job.sh");
/// Where the job script and the members' environment files live.
pub(crate) const DIR: &str = "/etc/etcd/backup";
const SCRIPT: &str = "/etc/etcd/backup/etcd-deploy-backup.sh";
const SERVICE: &str = "/etc/systemd/system/etcd-deploy-backup@.service";
const TIMER: &str = "/etc/systemd/system/etcd-deploy-backup@.timer";

/// The member's environment file (read by the template service).
pub(crate) fn env_path(m: &Member) -> String {
    format!("{DIR}/{}.env", m.name)
}

/// The member's timer instance.
pub(crate) fn unit(m: &Member) -> String {
    format!("etcd-deploy-backup@{}.timer", m.name)
}

/// Where the member's snapshots are saved on its host.
pub(crate) fn member_dir(b: &Backup, m: &Member) -> String {
    format!("{}/{}", b.dir, m.name)
}

/// Every saved file's name starts with this.
pub(crate) fn prefix(inv: &Inventory, m: &Member) -> String {
    format!("{}-{}", inv.cluster.name, m.name)
}

/// The files on the member's host, in the order the digest covers them
/// (and `facts.sh` reads them): environment, service, timer, job.
pub(crate) struct Files {
    pub env: String,
    pub service: String,
    pub timer: String,
    pub job: &'static str,
}

impl Files {
    /// What the plan compares with the host's `backup_digest`.
    pub(crate) fn digest(&self) -> String {
        sha256_hex(format!("{}{}{}{}", self.env, self.service, self.timer, self.job).as_bytes())
    }
}

/// The member's files under `b`. Every value in them is validated by the
/// inventory (paths, names, URLs, the calendar expression).
pub(crate) fn files(inv: &Inventory, b: &Backup, m: &Member) -> Files {
    // systemd members run the `current` release; compose hosts have the
    // inventory's release unpacked (the image is built from it).
    let bin = match m.runtime.traits().version_by {
        VersionBy::Link => layout::current_link(inv),
        VersionBy::Image => layout::version_dir(inv, inv.cluster.version),
    };
    let pki = if m.tls {
        layout::pki_dir(m)
    } else {
        String::new()
    };
    let env = format!(
        "# etcd-deploy: scheduled snapshots of {name} ([backup] in the inventory); edits are overwritten.\nENDPOINT={endpoint}\nDIR={dir}\nKEEP={keep}\nPREFIX={prefix}\nBIN={bin}\nPKI={pki}\n",
        name = m.name,
        endpoint = m.client_url(),
        dir = member_dir(b, m),
        keep = b.keep,
        prefix = prefix(inv, m),
    );
    let service = format!(
        "# etcd-deploy: a snapshot of etcd member %i ([backup]); edits are overwritten.\n[Unit]\nDescription=etcd snapshot of member %i (etcd-deploy)\n\n[Service]\nType=oneshot\nUser=etcd\nGroup=etcd\nNice=10\nIOSchedulingClass=idle\nEnvironmentFile={DIR}/%i.env\nExecStart=/bin/sh {SCRIPT}\n"
    );
    let timer = format!(
        "# etcd-deploy: scheduled snapshots of etcd member %i ([backup]); edits are overwritten.\n[Unit]\nDescription=scheduled etcd snapshots of member %i (etcd-deploy)\n\n[Timer]\nOnCalendar={}\nAccuracySec=1s\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
        b.schedule
    );
    Files {
        env,
        service,
        timer,
        job: JOB,
    }
}

/// Writes the member's files and starts its timer.
pub(crate) fn install(inv: &Inventory, b: &Backup, m: &Member) -> Script {
    let f = files(inv, b, m);
    Script::new(
        "etcd-deploy-backup-install",
        include_str!("remote/backup_install.sh"),
        [
            SCRIPT.to_string(),
            SERVICE.to_string(),
            TIMER.to_string(),
            env_path(m),
            b.dir.clone(),
            m.name.clone(),
            unit(m),
            f.job.to_string(),
            f.service,
            f.timer,
            f.env,
        ],
    )
    .after(HOST_LOCK, Vec::<String>::new())
    .under_path_rule()
}

/// Stops the member's timer and removes its files (snapshots stay).
pub(crate) fn remove(m: &Member) -> Script {
    Script::new(
        "etcd-deploy-backup-remove",
        include_str!("remote/backup_remove.sh"),
        [
            SCRIPT.to_string(),
            SERVICE.to_string(),
            TIMER.to_string(),
            env_path(m),
            unit(m),
        ],
    )
    .after(HOST_LOCK, Vec::<String>::new())
}

/// The member's saved snapshots: `SIZE MTIME PATH` lines, newest first.
pub(crate) fn list(inv: &Inventory, b: &Backup, m: &Member) -> Script {
    Script::new(
        "etcd-deploy-backup-list",
        include_str!("remote/backup_list.sh"),
        [member_dir(b, m), prefix(inv, m)],
    )
}

/// Prints one saved snapshot (a path `parse_list` accepted) to stdout,
/// read without following a link.
pub(crate) fn read(path: &str) -> Script {
    Script::new(
        "etcd-deploy-backup-read",
        include_str!("remote/read_snapshot.sh"),
        [path],
    )
}

/// The arguments `facts.sh` reads the installed files' digest from.
pub(crate) fn fact_paths(m: &Member) -> [String; 4] {
    [
        env_path(m),
        SERVICE.to_string(),
        TIMER.to_string(),
        SCRIPT.to_string(),
    ]
}

/// One saved snapshot on a host, as `backup_list.sh` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Saved {
    pub member: String,
    pub path: String,
    pub bytes: u64,
    /// Seconds since the epoch.
    pub mtime: u64,
    pub revision: Option<i64>,
    /// `YYYYMMDDTHHMMSSZ`, from the name: what "newest" compares.
    pub stamp: String,
    /// `None` when the host's check passed (a regular file of the etcd
    /// user's with an etcd database header); else why it is no snapshot.
    pub problem: Option<&'static str>,
}

/// What `backup_list.sh` found wrong with a name in the snapshot directory.
const PROBLEMS: [(&str, &str); 5] = [
    ("link", "skipped: a symbolic link"),
    ("not-a-file", "skipped: not a regular file"),
    ("not-etcds", "skipped: not the etcd user's file"),
    ("too-small", "not an etcd snapshot (too small)"),
    (
        "no-database-header",
        "not an etcd snapshot (no database header)",
    ),
];

/// Parses `backup_list.sh`'s lines; a line that does not name a file of
/// this member's, in its directory, is dropped (host output is untrusted).
pub(crate) fn parse_list(out: &str, b: &Backup, inv: &Inventory, m: &Member) -> Vec<Saved> {
    let dir = format!("{}/", member_dir(b, m));
    let pre = format!("{}-", prefix(inv, m));
    out.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(4, ' ');
            let bytes = parts.next()?.parse().ok()?;
            let mtime = parts.next()?.parse().ok()?;
            let problem = match parts.next()? {
                "ok" => None,
                word => Some(PROBLEMS.iter().find(|(w, _)| *w == word)?.1),
            };
            let path = parts.next()?;
            let name = path.strip_prefix(&dir)?;
            let rest = name.strip_prefix(&pre)?.strip_suffix(".db")?;
            let (stamp, rev) = rest.split_once("-rev")?;
            let ok_stamp = stamp.len() == 16
                && stamp
                    .bytes()
                    .all(|c| c.is_ascii_digit() || c == b'T' || c == b'Z');
            if !ok_stamp || name.contains('/') {
                return None;
            }
            Some(Saved {
                member: m.name.clone(),
                path: path.to_string(),
                bytes,
                mtime,
                revision: rev.parse().ok(),
                stamp: stamp.to_string(),
                problem,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv() -> Inventory {
        crate::inventory::parse(
            std::path::Path::new("inventory.toml"),
            "[cluster]\nname = \"prod\"\nversion = \"3.5.1\"\n[backup]\nschedule = \"*:0/15\"\nkeep = 3\n[[hosts]]\nname = \"etcd-1\"\naddress = \"10.0.0.1\"\n",
        )
        .expect("inventory")
    }

    #[test]
    fn files_name_the_schedule_the_member_and_its_directory() {
        let i = inv();
        let b = i.backup.clone().expect("backup");
        let f = files(&i, &b, &i.members[0]);
        assert!(f.timer.contains("OnCalendar=*:0/15\n"), "{}", f.timer);
        assert!(
            f.env.contains("DIR=/var/backups/etcd/etcd-1\n"),
            "{}",
            f.env
        );
        assert!(f.env.contains("KEEP=3\n") && f.env.contains("PREFIX=prod-etcd-1\n"));
        assert!(f.env.contains("ENDPOINT=http://10.0.0.1:2379\n"));
        assert!(f.env.contains("PKI=\n"));
        assert_eq!(f.digest().len(), 64);
    }

    #[test]
    fn only_this_members_files_are_listed() {
        let i = inv();
        let b = i.backup.clone().expect("backup");
        let m = &i.members[0];
        let out = "20480 1796570000 ok /var/backups/etcd/etcd-1/prod-etcd-1-20261206T150000Z-rev42.db\n\
                   0 0 link /var/backups/etcd/etcd-1/prod-etcd-1-20261206T160000Z-rev100.db\n\
                   20480 1796570000 ok /var/backups/etcd/etcd-1/other-etcd-1-20261206T150000Z-rev42.db\n\
                   20480 1796570000 ok /etc/passwd\n\
                   20480 1796570000 fine /var/backups/etcd/etcd-1/prod-etcd-1-20261206T150000Z-rev43.db\n\
                   x y z\n\
                   9 9 ok /var/backups/etcd/etcd-1/prod-etcd-1-../../x-rev1.db\n";
        let l = parse_list(out, &b, &i, m);
        assert_eq!(l.len(), 2, "{l:?}");
        assert_eq!(l[0].revision, Some(42));
        assert_eq!(l[0].stamp, "20261206T150000Z");
        assert_eq!(l[0].problem, None);
        assert_eq!(l[1].problem, Some("skipped: a symbolic link"));
    }
}
