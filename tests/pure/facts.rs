//! Facts parsing as data: each `tests/fixtures/facts/NAME.txt` is the raw
//! output of a facts script (real shapes: fresh host, running, crash-looping
//! and compose members, and hostile output a host could send); `NAME.json`
//! is what it must parse into (`UPDATE_GOLDEN=1` rewrites them).

use super::common::*;

#[test]
fn facts_fixtures_parse_as_recorded() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/facts");
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    entries.sort();
    for raw in entries {
        let out = std::fs::read_to_string(&raw).expect("read fixture");
        let parsed = HostFacts::parse(&out);
        let json = serde_json::to_string_pretty(&parsed).expect("json") + "\n";
        let name = raw
            .file_name()
            .expect("name")
            .to_string_lossy()
            .replace(".txt", ".json");
        golden(&format!("../fixtures/facts/{name}"), &json);
        n += 1;
    }
    assert!(n >= 5, "{n} fixtures");
}

#[test]
fn hostile_facts_never_reach_the_plan_raw() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/facts");
    let out = std::fs::read_to_string(dir.join("hostile.txt")).expect("fixture");
    let f = HostFacts::parse(&out);
    // Not etcd-deploy's markers or not digests: no digest, no cluster.
    assert_eq!(
        (
            f.config_digest,
            f.host_file_digest,
            f.pki_digest,
            f.unit_cluster
        ),
        (None, None, None, None)
    );
    // A name with an escape sequence is shown with the escape neutralised.
    let c = f.config_cluster.expect("a foreign cluster");
    assert!(!c.chars().any(char::is_control), "{c:?}");
    assert!(f.installed.is_empty() && f.current.is_none() && f.pid.is_none());
}
