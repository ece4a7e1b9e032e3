//! Rendered config, unit and compose files against golden files (`UPDATE_GOLDEN=1` rewrites them).

use super::common::*;

#[test]
fn templates_render_golden() {
    let text = GOOD.replace("[ssh]", "[etcd]\nsnapshot_count = 50000\nauto_compaction_mode = \"periodic\"\nauto_compaction_retention = \"1h\"\nextra = { \"max-request-bytes\" = 1572864, \"experimental-initial-corrupt-check\" = true }\n\n[ssh]");
    let i = inv(&text);
    let b = Bootstrap {
        initial_cluster: "etcd-1=http://10.0.0.1:2380,etcd-2=http://10.0.0.2:2380".into(),
        state: "existing",
    };
    let r = member_config::render(&i, &i.members[1], Some(&b)).expect("render");
    golden("etcd.conf.yml", &r.config);
    golden("etcd.service", &host_file(&i, &i.members[1]).text);
}

#[test]
fn settings_digest_ignores_bootstrap_fields() {
    let i = inv(GOOD);
    let m = &i.members[0];
    let a = member_config::render(
        &i,
        m,
        Some(&Bootstrap {
            initial_cluster: "etcd-1=http://10.0.0.1:2380".into(),
            state: "new",
        }),
    )
    .expect("render");
    let b = member_config::render(
        &i,
        m,
        Some(&Bootstrap {
            initial_cluster: "x=y".into(),
            state: "existing",
        }),
    )
    .expect("render");
    assert_ne!(a.config, b.config);
    assert_eq!(a.config_digest, b.config_digest);
    let changed = inv(&GOOD.replace("[ssh]", "[etcd]\nheartbeat_interval_ms = 150\n\n[ssh]"));
    let c = member_config::render(&changed, &changed.members[0], None).expect("render");
    assert_ne!(a.config_digest, c.config_digest);
    assert_eq!(
        host_file(&i, m).digest,
        host_file(&changed, &changed.members[0]).digest
    );
}

#[test]
fn template_override_directory_and_strict_undefined() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("etcd.service.j2"),
        "[Service]\nExecStart={{ paths.binary }} # {{ cluster.name }}\n",
    )
    .expect("write");
    let text = GOOD.replace(
        "version = \"3.5.1\"",
        &format!(
            "version = \"3.5.1\"\ntemplates_dir = \"{}\"",
            dir.path().display()
        ),
    );
    let i = inv(&text);
    // etcd-deploy's own first line stays: facts read the cluster from it.
    assert_eq!(
        host_file(&i, &i.members[0]).text,
        "# etcd-deploy: template unit of etcd cluster prod\n[Service]\nExecStart=/opt/etcd/current/etcd # prod\n"
    );
    // The unit is shared by the members of a host: member variables are not defined there.
    std::fs::write(dir.path().join("etcd.service.j2"), "{{ member.name }}\n").expect("write");
    let t = Templates::load(&i).expect("templates");
    let e = runtime::of(&i.members[0])
        .host_file(&t, &i, &i.members[0], &|_| i.cluster.version)
        .expect_err("undefined variable");
    assert!(e.to_string().contains("etcd.service.j2"), "{e}");
}

/// Finding 5 (issue 11): etcd's config file is written by the YAML emitter,
/// so a config template override is refused rather than silently ignored.
#[test]
fn finding_5_config_template_override_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("etcd.conf.yml.j2"), "name: x\n").expect("write");
    let text = GOOD.replace(
        "version = \"3.5.1\"",
        &format!(
            "version = \"3.5.1\"\ntemplates_dir = \"{}\"",
            dir.path().display()
        ),
    );
    let e = err(&text).to_string();
    assert!(
        e.contains("cluster.templates_dir: etcd.conf.yml.j2 is no longer read"),
        "{e}"
    );
}

/// Every string value of the config file is quoted by the emitter: a value
/// that looks like YAML syntax stays one string.
#[test]
fn finding_5_config_values_cannot_become_yaml() {
    let text = GOOD.replace(
        "[ssh]",
        "[etcd]\nextra = { \"cors\" = \"x\\ndata-dir: /etc\\n\" }\n\n[ssh]",
    );
    let i = inv(&text);
    let r = member_config::render(&i, &i.members[0], None).expect("render");
    assert!(
        r.config.contains("cors: \"x\\ndata-dir: /etc\\n\"\n"),
        "{}",
        r.config
    );
    assert_eq!(r.config.matches("\ndata-dir:").count(), 1);
}
