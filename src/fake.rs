//! Tests only: an in-process fake of the hosts and the etcd cluster, so that
//! the executor's decisions (order, rollback, quorum refusals, resuming a
//! lost `member add`) are tested in milliseconds; what the scripts and etcd
//! really do is the lab's business. One world per test thread (`#[tokio::test]`
//! runs the test on its own thread): hosts run scripts by name, and the etcd
//! calls for `http://ADDRESS:PORT` URLs answer from the same world.
//! It depends on nothing it stands in for: `ssh` and `etcd` turn its answers
//! into their own errors (`FakeError`).

use crate::facts::{MemberInfo, MemberStatus};
use crate::inventory::Version;
use crate::script::Script;
use std::cell::RefCell;
use std::collections::BTreeSet;

/// How the fake cluster refuses a call; `etcd.rs` makes it an `EtcdError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Transient,
    PeerUrlExists,
    NotALearner,
    MemberNotFound,
    Permanent,
}

#[derive(Debug, Clone)]
pub(crate) struct FakeError {
    pub(crate) message: String,
    pub(crate) refusal: Refusal,
}

impl FakeError {
    fn new(refusal: Refusal, message: impl Into<String>) -> FakeError {
        FakeError {
            message: message.into(),
            refusal,
        }
    }
}

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
    next_id: u64,
}

thread_local! {
    static WORLD: RefCell<Option<World>> = const { RefCell::new(None) };
}

/// Installs a world for this thread's test.
pub(crate) fn install(w: World) {
    WORLD.with(|c| *c.borrow_mut() = Some(w));
}

pub(crate) fn active() -> bool {
    WORLD.with(|c| c.borrow().is_some())
}

pub(crate) fn with<R>(f: impl FnOnce(&mut World) -> R) -> Option<R> {
    WORLD.with(|c| c.borrow_mut().as_mut().map(f))
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
pub(crate) fn run(host: &str, script: &Script) -> Result<String, String> {
    let r = with(|w| {
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
                if broken.contains(&m.linked) {
                    let v = m.linked;
                    w.elect();
                    return Err(format!("etcd {v} exited at start"));
                }
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
    });
    r.unwrap_or_else(|| Err("no fake world installed".to_string()))
}

fn refused(url: &str) -> FakeError {
    FakeError::new(Refusal::Transient, format!("{url}: connection refused"))
}

fn world<R>(f: impl FnOnce(&mut World) -> Result<R, FakeError>) -> Result<R, FakeError> {
    with(f).unwrap_or_else(|| {
        Err(FakeError::new(
            Refusal::Permanent,
            "no fake world installed",
        ))
    })
}

/// The member serving `urls` (any running one).
fn serving<'a>(w: &'a World, urls: &[String]) -> Option<&'a FakeMember> {
    w.members
        .iter()
        .find(|m| m.running && urls.contains(&m.client_url))
}

pub(crate) fn status(url: &str) -> Result<MemberStatus, FakeError> {
    world(|w| {
        let m = serving(w, &[url.to_string()]).ok_or_else(|| refused(url))?;
        Ok(MemberStatus {
            id: m.id,
            version: m.version.to_string(),
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
        })
    })
}

pub(crate) fn member_list(urls: &[String]) -> Result<Vec<MemberInfo>, FakeError> {
    world(|w| {
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
    })
}

pub(crate) fn add_learner(urls: &[String], peer_url: &str) -> Result<u64, FakeError> {
    world(|w| {
        serving(w, urls).ok_or_else(|| refused(&urls.join(",")))?;
        if w.members.iter().any(|m| m.peer_url == peer_url) {
            return Err(FakeError::new(
                Refusal::PeerUrlExists,
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
            return Err(FakeError::new(Refusal::Transient, "Timeout expired"));
        }
        Ok(id)
    })
}

pub(crate) fn promote(urls: &[String], id: u64) -> Result<(), FakeError> {
    world(|w| {
        serving(w, urls).ok_or_else(|| refused(&urls.join(",")))?;
        let m = w.by_id(id);
        if !m.learner {
            return Err(FakeError::new(
                Refusal::NotALearner,
                "etcdserver: can only promote a learner member; not a learner",
            ));
        }
        m.learner = false;
        w.log.push(format!("etcd: member promote {id:x}"));
        Ok(())
    })
}

pub(crate) fn remove_member(urls: &[String], id: u64) -> Result<(), FakeError> {
    world(|w| {
        serving(w, urls).ok_or_else(|| refused(&urls.join(",")))?;
        let before = w.members.len();
        w.members.retain(|m| m.id != id);
        if w.members.len() == before {
            return Err(FakeError::new(
                Refusal::MemberNotFound,
                "etcdserver: member not found",
            ));
        }
        w.log.push(format!("etcd: member remove {id:x}"));
        w.elect();
        Ok(())
    })
}

pub(crate) fn move_leader(url: &str, target: u64) -> Result<(), FakeError> {
    world(|w| {
        serving(w, &[url.to_string()]).ok_or_else(|| refused(url))?;
        w.leader = target;
        w.log.push(format!("etcd: move leader to {target:x}"));
        Ok(())
    })
}

/// `(etcdserver, etcdcluster)` as `/version` says them.
pub(crate) fn versions(url: &str) -> Result<(String, String), FakeError> {
    world(|w| {
        let m = serving(w, &[url.to_string()]).ok_or_else(|| refused(url))?;
        let low = w
            .members
            .iter()
            .map(|m| m.version)
            .min()
            .unwrap_or(m.version);
        Ok((
            m.version.to_string(),
            format!("{}.{}.0", low.major, low.minor),
        ))
    })
}
