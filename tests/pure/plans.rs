//! Plans as data: each directory under `tests/fixtures/plans/` holds an
//! `inventory.toml`, the `facts.json` gathered from its hosts and cluster,
//! and optionally `options.json` (the command's scope and flags); the plan
//! computed from them must read as `plan.txt` and serialise as `plan.json`
//! (`UPDATE_GOLDEN=1` rewrites both). In `facts.json` a digest written as
//! `"desired"` stands for the digest the member's rendered files have, so
//! that a template edit does not rewrite every fixture.

use super::common::*;
use serde::Deserialize;

/// `options.json`: what the command line would give.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CaseOptions {
    /// apply | upgrade | prepare-upgrade | certs-rotate | replace
    scope: Option<String>,
    old: Option<String>,
    new: Option<String>,
    allow_downgrade: bool,
    snapshot_dir: Option<String>,
    wipe_removed: bool,
}

impl CaseOptions {
    fn options(self) -> Options {
        let scope = match self.scope.as_deref().unwrap_or("apply") {
            "apply" => Scope::Apply,
            "upgrade" => Scope::Upgrade,
            "prepare-upgrade" => Scope::PrepareUpgrade,
            "certs-rotate" => Scope::CertsRotate,
            "replace" => Scope::Replace {
                old: self.old.expect("replace needs old"),
                new: self.new.expect("replace needs new"),
            },
            other => panic!("unknown scope {other}"),
        };
        Options {
            scope,
            allow_downgrade: self.allow_downgrade,
            snapshot_dir: self.snapshot_dir.map(Into::into),
            wipe_removed: self.wipe_removed,
        }
    }
}

/// Replaces `"desired"` digests with the member's desired ones.
fn resolve(mut facts: Facts, d: &BTreeMap<String, Desired>) -> Facts {
    for (name, h) in &mut facts.hosts {
        let Some(want) = d.get(name) else { continue };
        let is = |x: &Option<String>| x.as_deref() == Some("desired");
        if is(&h.config_digest) {
            h.config_digest = Some(want.config_digest.clone());
        }
        if is(&h.host_file_digest) {
            h.host_file_digest = Some(want.host_file_digest.clone());
        }
        if is(&h.service_digest) {
            h.service_digest = want.service_digest.clone();
        }
    }
    facts
}

#[test]
fn plan_fixtures_plan_as_recorded() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plans");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    for dir in &cases {
        let case = dir.file_name().expect("name").to_string_lossy().to_string();
        let path = dir.join("inventory.toml");
        let text = std::fs::read_to_string(&path).expect("inventory.toml");
        let i = parse(&path, &text).unwrap_or_else(|e| panic!("{case}: {e}"));
        let facts: Facts =
            serde_json::from_str(&std::fs::read_to_string(dir.join("facts.json")).expect("facts"))
                .unwrap_or_else(|e| panic!("{case}/facts.json: {e}"));
        let opts: CaseOptions = match std::fs::read_to_string(dir.join("options.json")) {
            Ok(t) => {
                serde_json::from_str(&t).unwrap_or_else(|e| panic!("{case}/options.json: {e}"))
            }
            Err(_) => CaseOptions::default(),
        };
        let d = desired(&i);
        let p = plan_with(&i, &resolve(facts, &d), &d, &opts.options());
        golden(
            &format!("../fixtures/plans/{case}/plan.txt"),
            &p.to_string(),
        );
        let json = serde_json::to_string_pretty(&p).expect("json") + "\n";
        golden(&format!("../fixtures/plans/{case}/plan.json"), &json);
    }
    assert!(cases.len() >= 8, "{} cases", cases.len());
}
