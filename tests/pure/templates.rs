//! Rendered config, unit and compose files against golden files (`UPDATE_GOLDEN=1` rewrites them).

use super::common::*;

#[test]
fn templates_render_golden() {
    let text = GOOD.replace("[ssh]", "[etcd]\nsnapshot_count = 50000\nauto_compaction_mode = \"periodic\"\nauto_compaction_retention = \"1h\"\nextra = { \"max-request-bytes\" = 1572864, \"experimental-initial-corrupt-check\" = true }\n\n[ssh]");
    let i = inv(&text);
    let t = Templates::load(&i).expect("templates");
    let b = Bootstrap {
        initial_cluster: "etcd-1=http://10.0.0.1:2380,etcd-2=http://10.0.0.2:2380".into(),
        state: "existing",
    };
    let r = t.render(&i, &i.members[1], Some(&b)).expect("render");
    golden("etcd.conf.yml", &r.config);
    golden("etcd.service", &host_file(&i, &i.members[1]).text);
}

#[test]
fn settings_digest_ignores_bootstrap_fields() {
    let i = inv(GOOD);
    let t = Templates::load(&i).expect("templates");
    let m = &i.members[0];
    let a = t
        .render(
            &i,
            m,
            Some(&Bootstrap {
                initial_cluster: "etcd-1=http://10.0.0.1:2380".into(),
                state: "new",
            }),
        )
        .expect("render");
    let b = t
        .render(
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
    let c = Templates::load(&changed)
        .expect("templates")
        .render(&changed, &changed.members[0], None)
        .expect("render");
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
