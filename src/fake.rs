//! Tests only: an in-process fake of the hosts and the etcd cluster, so that
//! the executor's decisions (order, rollback, quorum refusals, resuming a
//! lost `member add`) are tested in milliseconds; what the scripts and etcd
//! really do is the lab's business. A `Fake` holds one world (its members,
//! leader, log) and is handed to the executor through its seams: it is the
//! hosts' transport (`ssh::Transport`: scripts run by name), the dialer for
//! former members' hosts (`ssh::Dial`) and the cluster's API
//! (`etcd::EtcdApi`: `http://ADDRESS:PORT` URLs answer from the same world).
//! No global state: each test makes its own.

use crate::etcd::{Downgrade, EtcdApi, EtcdError, Kind, Versions};
use crate::facts::{MemberInfo, MemberStatus};
use crate::inventory::{Member, Version};
use crate::script::Script;
use crate::ssh::{Dial, Host, HostError, Transport};
use futures_util::future::BoxFuture;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub(crate) struct FakeMember {
    pub(crate) id: u64,
    /// The inventory name of the host it runs on; etcd's name once started.
    pub(crate) host: String,
    pub(crate) started: bool,
    pub(crate) peer_url: String,
    pub(crate) client_url: String,
    pub(crate) learner: bool,
    pub(crate) running: bool,
    pub(crate) version: Version,
    /// The version its host's `current` link points at (what a start runs).
    pub(crate) linked: Version,
}

#[derive(Debug, Default)]
pub(crate) struct World {
    pub(crate) members: Vec<FakeMember>,
    pub(crate) leader: u64,
    /// Every script run and every etcd change, in order: `host: name args`.
    pub(crate) log: Vec<String>,
    /// Versions whose etcd fails to start.
    pub(crate) broken: BTreeSet<Version>,
    /// The next `member add` is applied, but its answer is lost (a timeout).
    pub(crate) lose_add_answer: bool,
    /// Hosts whose etcd, once started, reports a version other than the one
    /// it runs (a member that came up wrong after the cluster saw it).
    pub(crate) misreports: BTreeSet<String>,
    /// The cluster version as etcd keeps it: it only rises, to the lowest
    /// minor every member runs, unless a downgrade is enabled.
    pub(crate) cluster_minor: (u32, u32),
    /// The minor etcd's downgrade is enabled to.
    pub(crate) downgrade: Option<(u32, u32)>,
    next_id: u64,
}

/// The fake hosts and cluster of one test.
#[derive(Clone)]
pub(crate) struct Fake {
    world: Arc<Mutex<World>>,
}

impl Fake {
    pub(crate) fn new(w: World) -> Fake {
        Fake {
            world: Arc::new(Mutex::new(w)),
        }
    }

    /// Looks at (or changes) the world.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut w = self
            .world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut w)
    }

    /// The host `name`, reached through this fake.
    pub(crate) fn host(&self, name: &str) -> Host {
        Host::over(name, Arc::new(self.clone()))
    }
}

impl World {
    /// A cluster of running voters `(host, address, version)`; the first leads.
    pub(crate) fn cluster(members: &[(&str, &str, Version)]) -> World {
        let mut w = World {
            next_id: 0x100,
            ..World::default()
        };
        for (host, addr, v) in members {
            let id = w.add(host, addr, *v);
            let m = w.by_id(id);
            m.started = true;
            m.running = true;
            m.learner = false;
        }
        w.leader = w.members.first().map_or(0, |m| m.id);
        w
    }

    fn add(&mut self, host: &str, addr: &str, v: Version) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.members.push(FakeMember {
            id,
            host: host.to_string(),
            started: false,
            peer_url: format!("http://{addr}:2380"),
            client_url: format!("http://{addr}:2379"),
            learner: true,
            running: false,
            version: v,
            linked: v,
        });
        id
    }

    fn by_id(&mut self, id: u64) -> &mut FakeMember {
        let i = self.members.iter().position(|m| m.id == id).unwrap_or(0);
        &mut self.members[i]
    }

    pub(crate) fn member(&self, host: &str) -> Option<&FakeMember> {
        self.members.iter().find(|m| m.host == host)
    }

    fn member_mut(&mut self, host: &str) -> Option<&mut FakeMember> {
        self.members.iter_mut().find(|m| m.host == host)
    }

    /// The cluster version now (etcd's leader moves it as members change).
    pub(crate) fn cluster_version(&mut self) -> (u32, u32) {
        if let Some(t) = self.downgrade {
            // etcd ends a downgrade once every member runs its target.
            if self
                .members
                .iter()
                .all(|m| (m.version.major, m.version.minor) == t)
            {
                self.downgrade = None;
            }
            self.cluster_minor = t;
            return t;
        }
        if let Some(low) = self
            .members
            .iter()
            .map(|m| (m.version.major, m.version.minor))
            .min()
        {
            self.cluster_minor = self.cluster_minor.max(low);
        }
        self.cluster_minor
    }

    /// etcd elects a running voter when the leader stops.
    fn elect(&mut self) {
        let leads = self
            .members
            .iter()
            .any(|m| m.id == self.leader && m.running && !m.learner);
        if !leads {
            self.leader = self
                .members
                .iter()
                .find(|m| m.running && !m.learner)
                .map_or(0, |m| m.id);
        }
    }

    /// The log lines of one host.
    pub(crate) fn host_log(&self, host: &str) -> Vec<&str> {
        let prefix = format!("{host}: ");
        self.log
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .collect()
    }
}

/// A script run on a fake host: the effects the executor relies on; the
/// error is the script's stderr.
fn run(w: &mut World, host: &str, script: &Script) -> Result<String, String> {
    {
        // Logged without the path rule's lists (`Script::under_path_rule`).
        let rule = crate::inventory::path_rule::script_args();
        let args = script
            .args
            .strip_prefix(rule.as_slice())
            .unwrap_or(&script.args);
        w.log
            .push(format!("{host}: {} {}", script.name, args.join(" ")));
        match script.name {
            "etcd-deploy-use-version" => {
                // (The path rule's lists come first: the target is found by name.)
                let v = script
                    .args
                    .iter()
                    .find_map(|t| t.strip_prefix("etcd-v"))
                    .and_then(Version::parse);
                if let (Some(m), Some(v)) = (w.member_mut(host), v) {
                    m.linked = v;
                }
                Ok(String::new())
            }
            "etcd-deploy-start" => {
                let broken = w.broken.clone();
                let Some(m) = w.member_mut(host) else {
                    return Err("no such member in the fake cluster".to_string());
                };
                m.running = false;
                let linked = (m.linked.major, m.linked.minor);
                if broken.contains(&m.linked) {
                    let v = m.linked;
                    w.elect();
                    return Err(format!("etcd {v} exited at start"));
                }
                let cv = w.cluster_version();
                if linked < cv && w.downgrade != Some(linked) {
                    w.elect();
                    return Err(format!(
                        "cluster cannot be downgraded (current version: {}.{} is lower than determined cluster version: {}.{})",
                        linked.0, linked.1, cv.0, cv.1
                    ));
                }
                let Some(m) = w.member_mut(host) else {
                    return Err("no such member in the fake cluster".to_string());
                };
                m.running = true;
                m.started = true;
                m.version = m.linked;
                w.elect();
                Ok(String::new())
            }
            "etcd-deploy-stop" => {
                if let Some(m) = w.member_mut(host) {
                    m.running = false;
                }
                w.elect();
                Ok(String::new())
            }
            "etcd-deploy-logs" => Ok(format!("fake journal of {host}\n")),
            _ => Ok(String::new()),
        }
    }
}

fn err(kind: Kind, message: impl Into<String>) -> EtcdError {
    EtcdError {
        message: message.into(),
        kind,
    }
}

fn refused(url: &str) -> EtcdError {
    err(Kind::Transient, format!("{url}: connection refused"))
}

/// The member serving `urls` (any running one).
fn serving<'a>(w: &'a World, urls: &[String]) -> Option<&'a FakeMember> {
    w.members
        .iter()
        .find(|m| m.running && urls.contains(&m.client_url))
}

fn status(w: &mut World, url: &str) -> Result<MemberStatus, EtcdError> {
    {
        let cv = w.cluster_version();
        let m = serving(w, &[url.to_string()]).ok_or_else(|| refused(url))?;
        let storage = if m.version.minor >= 6 {
            format!("{}.{}.0", cv.0, cv.1)
        } else {
            String::new()
        };
        let downgrade_target = match w.downgrade {
            Some((a, b)) if m.version.minor >= 6 => format!("{a}.{b}.0"),
            _ => String::new(),
        };
        Ok(MemberStatus {
            id: m.id,
            version: if w.misreports.contains(&m.host) {
                "0.0.0".to_string()
            } else {
                m.version.to_string()
            },
            leader: w.leader,
            raft_term: 2,
            cluster_id: 1,
            raft_index: 10,
            raft_applied_index: 10,
            db_size: 20480,
            is_learner: m.learner,
            errors: vec![],
            revision: 1,
            db_size_in_use: 16384,
            storage_version: storage,
            downgrade_target,
        })
    }
}

fn member_list(w: &mut World, urls: &[String]) -> Result<Vec<MemberInfo>, EtcdError> {
    {
        serving(w, urls).ok_or_else(|| refused(&urls.join(",")))?;
        Ok(w.members
            .iter()
            .map(|m| MemberInfo {
                id: m.id,
                name: if m.started {
                    m.host.clone()
                } else {
                    String::new()
                },
                peer_urls: vec![m.peer_url.clone()],
                client_urls: if m.started {
                    vec![m.client_url.clone()]
                } else {
                    vec![]
                },
                is_learner: m.learner,
            })
            .collect())
    }
}

fn add_learner(w: &mut World, urls: &[String], peer_url: &str) -> Result<u64, EtcdError> {
    {
        serving(w, urls).ok_or_else(|| refused(&urls.join(",")))?;
        if w.members.iter().any(|m| m.peer_url == peer_url) {
            return Err(err(
                Kind::PeerUrlExists,
                "etcdserver: Peer URLs already exists",
            ));
        }
        let addr = crate::inventory::host_of_url(peer_url).unwrap_or_default();
        // The joining host is named by the test's inventory: etcd-N at 10.0.0.N.
        let host = format!("etcd-{}", addr.rsplit('.').next().unwrap_or("0"));
        let v = w.members.first().map_or(
            Version {
                major: 3,
                minor: 5,
                patch: 1,
            },
            |m| m.version,
        );
        let id = w.add(&host, &addr, v);
        w.log.push(format!("etcd: member add {host} ({id:x})"));
        if std::mem::take(&mut w.lose_add_answer) {
            return Err(err(Kind::Transient, "Timeout expired"));
        }
        Ok(id)
    }
}

fn promote(w: &mut World, urls: &[String], id: u64) -> Result<(), EtcdError> {
    {
        serving(w, urls).ok_or_else(|| refused(&urls.join(",")))?;
        let m = w.by_id(id);
        if !m.learner {
            return Err(err(
                Kind::NotALearner,
                "etcdserver: can only promote a learner member; not a learner",
            ));
        }
        m.learner = false;
        w.log.push(format!("etcd: member promote {id:x}"));
        Ok(())
    }
}

fn remove_member(w: &mut World, urls: &[String], id: u64) -> Result<(), EtcdError> {
    {
        serving(w, urls).ok_or_else(|| refused(&urls.join(",")))?;
        let before = w.members.len();
        w.members.retain(|m| m.id != id);
        if w.members.len() == before {
            return Err(err(Kind::MemberNotFound, "etcdserver: member not found"));
        }
        w.log.push(format!("etcd: member remove {id:x}"));
        w.elect();
        Ok(())
    }
}

fn move_leader(w: &mut World, url: &str, target: u64) -> Result<(), EtcdError> {
    {
        serving(w, &[url.to_string()]).ok_or_else(|| refused(url))?;
        w.leader = target;
        w.log.push(format!("etcd: move leader to {target:x}"));
        Ok(())
    }
}

/// `(etcdserver, etcdcluster)` as `/version` says them.
fn versions(w: &mut World, url: &str) -> Result<(String, String), EtcdError> {
    {
        let cv = w.cluster_version();
        let m = serving(w, &[url.to_string()]).ok_or_else(|| refused(url))?;
        Ok((m.version.to_string(), format!("{}.{}.0", cv.0, cv.1)))
    }
}

/// A call the fake cluster has no model of (maintenance): refused.
fn unmodelled<T>(what: &str) -> Result<T, EtcdError> {
    Err(err(
        Kind::Permanent,
        format!("the fake cluster does not {what}"),
    ))
}

impl Transport for Fake {
    fn run<'a>(
        &'a self,
        host: &'a str,
        script: &'a Script,
    ) -> BoxFuture<'a, Result<String, String>> {
        let r = self.with(|w| run(w, host, script));
        Box::pin(async move { r })
    }
}

impl Dial for Fake {
    fn connect<'a>(&'a self, member: &'a Member) -> BoxFuture<'a, Result<Host, HostError>> {
        let h = self.host(&member.name);
        Box::pin(async move { Ok(h) })
    }
}

/// A cluster's answer, later (as `EtcdApi` gives them).
type Answer<'a, T> = BoxFuture<'a, Result<T, EtcdError>>;

/// An answer the fake has already: the world is changed at the call.
fn now<'a, T: Send + 'a>(r: Result<T, EtcdError>) -> Answer<'a, T> {
    Box::pin(async move { r })
}

impl EtcdApi for Fake {
    fn status<'a>(&'a self, url: &'a str) -> Answer<'a, MemberStatus> {
        now(self.with(|w| status(w, url)))
    }
    fn linearizable_read<'a>(&'a self, url: &'a str) -> Answer<'a, ()> {
        now(self.with(|w| status(w, url).map(|_| ())))
    }
    fn member_list<'a>(&'a self, urls: &'a [String]) -> Answer<'a, Vec<MemberInfo>> {
        now(self.with(|w| member_list(w, urls)))
    }
    fn add_learner<'a>(&'a self, urls: &'a [String], peer_url: &'a str) -> Answer<'a, u64> {
        now(self.with(|w| add_learner(w, urls, peer_url)))
    }
    fn promote<'a>(&'a self, urls: &'a [String], id: u64) -> Answer<'a, ()> {
        now(self.with(|w| promote(w, urls, id)))
    }
    fn remove_member<'a>(&'a self, urls: &'a [String], id: u64) -> Answer<'a, ()> {
        now(self.with(|w| remove_member(w, urls, id)))
    }
    fn move_leader<'a>(&'a self, leader_url: &'a str, target: u64) -> Answer<'a, ()> {
        now(self.with(|w| move_leader(w, leader_url, target)))
    }
    fn update_peer_urls<'a>(
        &'a self,
        _urls: &'a [String],
        _id: u64,
        _peer_urls: Vec<String>,
    ) -> Answer<'a, ()> {
        now(unmodelled("update peer URLs"))
    }
    fn versions<'a>(&'a self, url: &'a str) -> Answer<'a, Versions> {
        now(self.with(|w| {
            versions(w, url).map(|(etcdserver, etcdcluster)| Versions {
                etcdserver,
                etcdcluster,
            })
        }))
    }
    fn alarms<'a>(&'a self, _urls: &'a [String]) -> Answer<'a, Vec<(u64, String)>> {
        now(Ok(Vec::new()))
    }
    fn disarm<'a>(&'a self, _urls: &'a [String], _member: u64, _kind: &'a str) -> Answer<'a, ()> {
        now(unmodelled("disarm alarms"))
    }
    fn defragment<'a>(&'a self, _url: &'a str) -> Answer<'a, ()> {
        now(unmodelled("defragment"))
    }
    fn compact<'a>(&'a self, _urls: &'a [String], _revision: i64) -> Answer<'a, ()> {
        now(unmodelled("compact"))
    }
    fn commit_pending_frees<'a>(&'a self, _urls: &'a [String]) -> Answer<'a, ()> {
        now(unmodelled("free pages"))
    }
    fn downgrade<'a>(&'a self, urls: &'a [String], call: Downgrade) -> Answer<'a, String> {
        now(self.with(|w| {
            serving(w, urls).ok_or_else(|| refused(&urls.join(",")))?;
            let cv = w.cluster_version();
            let minor = |t: &str| {
                let (a, b) = t.split_once('.')?;
                Some((a.parse().ok()?, b.parse().ok()?))
            };
            w.log.push(format!("etcd: downgrade {call:?}"));
            match call {
                Downgrade::Validate(t) | Downgrade::Enable(t)
                    if minor(&t).is_none_or(|(a, b): (u32, u32)| a != cv.0 || b + 1 != cv.1) =>
                {
                    Err(err(
                        Kind::Permanent,
                        format!("invalid downgrade target {t}"),
                    ))
                }
                Downgrade::Validate(_) => Ok(format!("{}.{}", cv.0, cv.1)),
                Downgrade::Enable(t) => {
                    w.downgrade = minor(&t);
                    Ok(format!("{}.{}", cv.0, cv.1))
                }
                Downgrade::Cancel => {
                    w.downgrade = None;
                    Ok(format!("{}.{}", cv.0, cv.1))
                }
            }
        }))
    }
}
