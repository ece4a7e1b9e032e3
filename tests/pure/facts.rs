//! Facts parsing as data: each `tests/fixtures/facts/NAME.txt` is the raw
//! output of a facts script (real shapes: fresh host, running, crash-looping
//! and compose members, and hostile output a host could send); `NAME.json`
//! is what it must parse into (`UPDATE_GOLDEN=1` rewrites them).

use super::common::*;
use std::collections::BTreeSet;

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
    // Not fingerprints: no CA.
    assert!(f.ca_certs.is_empty(), "{:?}", f.ca_certs);
    // Records whose entries break the inventory's rules (an SSH option as
    // the address, a shell command as a name or user, an escape sequence)
    // keep none of those entries.
    let r = f.records.expect("records");
    assert_eq!(
        r.members.keys().collect::<Vec<_>>(),
        ["etcd-3"].iter().collect::<Vec<_>>()
    );
    // A run lock's holder is shown with its escape neutralised.
    let l = f.run_lock.expect("run lock");
    assert!(!l.chars().any(char::is_control), "{l:?}");
}

/// The cause quoted when a member fails (issue 12, defects 2 and 5): etcd's
/// own fatal/panic entry, not the tail of a Go stack trace. Lines as etcd
/// 3.5.1 wrote them on a lab host (stack traces shortened).
#[test]
fn log_cause_finds_etcds_own_reason() {
    use etcd_deploy::etcd_log::log_cause;
    let disk_full = r#"{"level":"info","ts":"2026-11-25T16:19:35.300Z","caller":"etcdmain/etcd.go:73","msg":"Running: "}
{"level":"warn","ts":"2026-11-25T16:19:35.309Z","caller":"wal/wal.go:148","msg":"failed to preallocate an initial WAL file","path":"/mnt/small/d/member/wal.tmp/0000000000000000-0000000000000000.wal","segment-bytes":64000000,"error":"no space left on device"}
{"level":"panic","ts":"2026-11-25T16:19:35.309Z","caller":"etcdserver/raft.go:433","msg":"failed to create WAL","error":"no space left on device","stacktrace":"go.etcd.io/etcd/server/v3/etcdserver.startNode\n\t/tmp/raft.go:433"}
panic: failed to create WAL

goroutine 1 [running]:
go.uber.org/zap/zapcore.(*CheckedEntry).Write(0xc000096780, 0xc00057ff40, 0x1, 0x1)
	/home/remote/go/pkg/mod/go.uber.org/zap@v1.17.0/zapcore/entry.go:234 +0x58d
main.main()
	/tmp/etcd-release-3.5.1/etcd/release/etcd/server/main.go:32 +0x45
"#;
    assert_eq!(
        log_cause(disk_full).as_deref(),
        Some("failed to create WAL: no space left on device")
    );
    let denied = r#"{"level":"fatal","ts":"2026-11-25T16:19:37.809Z","caller":"etcdmain/etcd.go:434","msg":"failed to list data directory","dir":"/var/lib/etcd","error":"open /var/lib/etcd: permission denied","stacktrace":"x"}"#;
    assert_eq!(
        log_cause(denied).as_deref(),
        Some("failed to list data directory: open /var/lib/etcd: permission denied")
    );
    // journalctl without `-o cat` puts a prefix before the JSON.
    let prefixed = r#"Nov 25 16:19:32 h etcd[77]: {"level":"fatal","msg":"discovery failed","error":"auth: invalid auth options"}"#;
    assert_eq!(
        log_cause(prefixed).as_deref(),
        Some("discovery failed: auth: invalid auth options")
    );
    assert_eq!(
        log_cause("{\"level\":\"info\",\"msg\":\"ready\"}\n\tat x\n"),
        None
    );
    // etcd's flag parsing prints plain lines, once per start.
    let plain = "unexpected error setting up listen-metrics-urls: URL scheme must be http, https, unix, or unixs: nonsense://m2\n";
    assert_eq!(log_cause(plain).as_deref(), Some(plain.trim()));
    // gRPC's warnings are not the cause; systemd's exit line is, when etcd
    // said nothing itself.
    let systemd = "WARNING: 2026/11/25 16:51:43 [core] grpc: addrConn.createTransport failed to connect. Err: connection error\nthis etcd is broken on purpose\netcd@etcd-2.service: Main process exited, code=exited, status=1/FAILURE\n";
    assert_eq!(
        log_cause(systemd).as_deref(),
        Some("etcd@etcd-2.service: Main process exited, code=exited, status=1/FAILURE")
    );
    // Control characters from the host never reach the terminal.
    assert_eq!(log_cause("panic: a\u{1b}[2Jb").as_deref(), Some("a?[2Jb"));
}

/// Issue 21, defect 3: a restarted member that cannot reach the leader is
/// named from etcd's own log, counting only what this run of etcd wrote
/// and only the leader (a peer that is down for good does not count).
#[test]
fn peer_trouble_names_the_leader_it_cannot_reach() {
    use etcd_deploy::etcd_log::peer_trouble;
    let earlier = r#"{"level":"warn","ts":"2026-12-07T01:20:00.000Z","caller":"rafthttp/probing_status.go:68","msg":"prober detected unhealthy status","round-tripper-name":"ROUND_TRIPPER_RAFT_MESSAGE","remote-peer-id":"8fd049c026d7b949","rtt":"0s","error":"connection refused"}"#;
    let start = r#"{"level":"info","ts":"2026-12-07T01:27:32.700Z","caller":"etcdmain/etcd.go:73","msg":"Running: ","args":["/opt/etcd/current/etcd","--config-file","/etc/etcd/etcd-3.conf.yml"]}"#;
    let other = r#"{"level":"warn","ts":"2026-12-07T01:27:38.000Z","caller":"rafthttp/probing_status.go:68","msg":"prober detected unhealthy status","round-tripper-name":"ROUND_TRIPPER_SNAPSHOT","remote-peer-id":"1234","rtt":"0s","error":"dial tcp 127.0.53.2:2380: connect: connection refused"}"#;
    let leader = r#"{"level":"warn","ts":"2026-12-07T01:27:38.816Z","caller":"rafthttp/probing_status.go:68","msg":"prober detected unhealthy status","round-tripper-name":"ROUND_TRIPPER_RAFT_MESSAGE","remote-peer-id":"8fd049c026d7b949","rtt":"0s","error":"dial tcp 127.0.53.1:2380: i/o timeout"}"#;
    let said = "prober detected unhealthy status (remote-peer-id 8fd049c026d7b949): dial tcp 127.0.53.1:2380: i/o timeout";
    let log = [earlier, start, other, leader].join("\n");
    assert_eq!(
        peer_trouble(&log, Some(0x8fd0_49c0_26d7_b949)).as_deref(),
        Some(said)
    );
    // Only the lines since the last start; only the leader when it is known.
    assert_eq!(peer_trouble(&[earlier, start].join("\n"), None), None);
    assert_eq!(
        peer_trouble(&[start, other].join("\n"), Some(0x8fd0_49c0_26d7_b949)),
        None
    );
    assert!(peer_trouble(&[start, other].join("\n"), None).is_some());
    // The leader reached after all (it came up later, as in a restore where
    // every member starts together): the earlier trouble no longer counts.
    let reached = r#"{"level":"info","ts":"2026-12-07T01:27:40.100Z","caller":"rafthttp/peer_status.go:53","msg":"peer became active","peer-id":"8fd049c026d7b949"}"#;
    assert_eq!(
        peer_trouble(
            &[start, leader, reached].join("\n"),
            Some(0x8fd0_49c0_26d7_b949)
        ),
        None
    );
    // Another peer reached does not clear the leader's trouble.
    let reached_other = r#"{"level":"info","ts":"2026-12-07T01:27:40.100Z","caller":"rafthttp/stream.go:250","msg":"established TCP streaming connection with remote peer","stream-writer-type":"stream Message","local-member-id":"1","remote-peer-id":"1234"}"#;
    assert_eq!(
        peer_trouble(
            &[start, leader, reached_other].join("\n"),
            Some(0x8fd0_49c0_26d7_b949)
        )
        .as_deref(),
        Some(said)
    );
}

/// The keys `HostFacts::parse` reads: the string literals of its match arms.
fn parser_keys() -> BTreeSet<String> {
    let src = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/facts.rs"))
        .expect("src/facts.rs");
    let body = &src[src.find("pub fn parse(out: &str)").expect("parse")..];
    let body = &body[body.find("match k {").expect("match")..body.find("_ => {}").expect("end")];
    let mut keys = BTreeSet::new();
    for line in body.lines().map(str::trim).filter(|l| l.starts_with('"')) {
        let arm = line.split("=>").next().unwrap_or_default();
        let arm = arm.split(" if ").next().unwrap_or_default();
        keys.extend(
            arm.split('|')
                .map(|k| k.trim().trim_matches('"').to_string()),
        );
    }
    keys
}

/// The keys the facts scripts print: `echo "KEY=`, awk's `print "KEY=`,
/// Docker's `KEY={{` templates, and the config's numbered lines.
fn script_keys() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut keys = BTreeSet::new();
    for f in [
        "src/remote/facts.sh",
        "src/remote/named_etcd.sh",
        "src/runtime/systemd/facts.sh",
        "src/runtime/compose/facts.sh",
    ] {
        let text = std::fs::read_to_string(root.join(f)).expect(f);
        for (i, _) in text.match_indices('=') {
            let before = &text[..i];
            let start = before
                .rfind(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .map_or(0, |p| p + 1);
            let key = &before[start..];
            let lead = &before[..start];
            let printed = ["echo \"", "echo ", "print \"", "printf \""]
                .iter()
                .any(|p| lead.ends_with(p))
                || text[i + 1..].starts_with("{{");
            if printed && !key.is_empty() {
                keys.insert(key.to_string());
            }
        }
        if text.contains("\"config_line\" NR \"=\"") {
            keys.extend(["config_line1".to_string(), "config_line2".to_string()]);
        }
    }
    keys
}

/// Every key a facts script prints is one the parser reads, and the
/// hostile fixture gives every key the parser reads a value a host could
/// send to harm: nothing the plan takes from a host escapes that test.
#[test]
fn the_hostile_fixture_covers_every_key_the_scripts_print() {
    let parsed = parser_keys();
    let printed = script_keys();
    assert!(printed.len() >= 35, "{printed:?}");
    let unread: Vec<_> = printed.difference(&parsed).collect();
    assert!(unread.is_empty(), "printed but never read: {unread:?}");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/facts");
    let hostile = std::fs::read_to_string(dir.join("hostile.txt")).expect("fixture");
    let given: BTreeSet<String> = hostile
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_string()))
        .collect();
    let missing: Vec<_> = parsed.difference(&given).collect();
    assert!(missing.is_empty(), "hostile.txt lacks {missing:?}");
}
