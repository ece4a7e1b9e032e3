//! How a member's etcd runs on its host: one type per way, behind one
//! interface the executor and the fact gathering use. `systemd.rs`: an
//! instance `etcd@NAME` of one template unit; `compose.rs`: a service in the
//! host's Docker Compose file. A new way of running members is a new type
//! here (and a `Runtime` variant with its `RuntimeTraits` in the
//! inventory, which is all the plan reads of it); nothing else asks which
//! one a member has.

mod compose;
mod systemd;

use crate::inventory::{Inventory, Member, Runtime, Version};
use crate::script::Script;
use crate::templates::{TemplateError, Templates};

/// A host file as rendered for a member: the systemd template unit, or the
/// host's compose file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFile {
    pub text: String,
    pub digest: String,
    /// Compose: this member's service digest (a difference recreates it).
    pub service_digest: Option<String>,
}

/// What the executor and the facts need of a way of running members.
pub trait MemberRuntime {
    /// What its log is called in messages ("journal", "container log").
    fn log_name(&self) -> &'static str;
    /// The runtime's part of the host's facts script (before `remote::facts`).
    fn facts(&self, inv: &Inventory, m: &Member) -> Script;
    /// The host file with every member on `m`'s host at `version_of` it.
    fn host_file(
        &self,
        t: &Templates,
        inv: &Inventory,
        m: &Member,
        version_of: &dyn Fn(&Member) -> Version,
    ) -> Result<HostFile, TemplateError>;
    /// Writes the host file (from stdin).
    fn write_host_file(&self, inv: &Inventory, m: &Member) -> Script;
    /// Makes the member's next (re)start run `v`: the script, and the bytes
    /// it reads from stdin.
    fn switch_version(
        &self,
        t: &Templates,
        inv: &Inventory,
        m: &Member,
        v: Version,
    ) -> Result<(Script, Option<String>), TemplateError>;
    /// Starts the member, or (`restart`) restarts it with its current files.
    fn start(&self, inv: &Inventory, m: &Member, restart: bool) -> Script;
    fn stop(&self, inv: &Inventory, m: &Member) -> Script;
    /// The last lines of its log.
    fn logs(&self, inv: &Inventory, m: &Member) -> Script;
    /// A script whose output `crashed` reads while waiting for health, for
    /// runtimes that keep restarting a failing etcd instead of failing the start.
    fn watch(&self, inv: &Inventory, m: &Member) -> Option<Script>;
    /// Why `watch`'s output says etcd is not running, if it does.
    fn crashed(&self, watched: &str) -> Option<String>;
    /// The runtime's part of a restore (after `remote::receive_snapshot`).
    fn restore(&self, inv: &Inventory, m: &Member, restore: &Restore) -> Script;
    /// Prints the status of a stopped member's database as JSON (`etcdutl
    /// snapshot status`), for `recover`; `None` where the runtime has no
    /// etcd tool on the host (compose: the tools live in the image).
    fn data_revision(&self, _inv: &Inventory, _m: &Member) -> Option<Script> {
        None
    }
    /// etcd 3.5's offline check of a stopped member's v2 store (`etcdutl
    /// check v2store`), before its first start on 3.6; `None` where the
    /// runtime has no etcd tool on the host (compose: the tools live in the
    /// image).
    fn check_v2store(&self, _inv: &Inventory, _m: &Member) -> Option<Script> {
        None
    }
    /// The runtime's part of `destroy`: the member's unit or container gone.
    fn remove(&self, inv: &Inventory, m: &Member) -> Script;
    /// Gets the image a member runs (`Build` it from the release of `v`
    /// unpacked on the host, or `Pull` it); `None` for runtimes that run
    /// no images.
    fn get_image(&self, _inv: &Inventory, _v: Version, _image: GetImage<'_>) -> Option<Script> {
        None
    }
}

/// How a host gets an image (the plan's `ImageStep`).
#[derive(Debug, Clone, Copy)]
pub enum GetImage<'a> {
    /// Built `FROM scratch` from the release's binaries, tagged so.
    Build(&'a str),
    /// Pulled from its registry unless the host has it.
    Pull(&'a str),
}

/// What a member's data is restored as.
#[derive(Debug, Clone)]
pub struct Restore {
    pub initial_cluster: String,
    pub token: String,
}

/// The runtime `m` runs under.
pub fn of(m: &Member) -> Box<dyn MemberRuntime + '_> {
    match &m.runtime {
        Runtime::Systemd => Box::new(systemd::Systemd),
        Runtime::Compose(c) => Box::new(compose::Compose { c }),
    }
}

/// A systemd member's own drop-in for the template unit (what it may
/// write); `None` in compose mode.
pub fn unit_drop_in(m: &Member) -> Option<String> {
    (m.runtime == Runtime::Systemd).then(|| systemd::drop_in(m))
}

/// The member's whole facts script: its runtime's part within the common
/// parts (`remote::facts`).
pub fn facts_script(inv: &Inventory, m: &Member) -> Script {
    crate::remote::facts(inv, m, of(m).facts(inv, m))
}
