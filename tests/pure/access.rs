//! Access control as code (issue 26): the inventory's `[auth]`, `[[roles]]`
//! and `[[clients]]` checked before anything runs, and the plan's changes
//! to etcd's users, roles and grants (fixtures: `tests/fixtures/access/CASE/`
//! holds `inventory.toml` and `auth.json`, what etcd said; `changes.txt`
//! is the plan's, one change per line, and `changes.json`).

use crate::common::*;

use etcd_deploy::facts::{AuthFacts, PasswordCheck};
use etcd_deploy::plan::auth::changes;

#[test]
fn access_fixtures_plan_as_recorded() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/access");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    cases.sort();
    for dir in &cases {
        let case = dir.file_name().expect("name").to_string_lossy().to_string();
        let path = dir.join("inventory.toml");
        let i = parse(&path, &std::fs::read_to_string(&path).expect("inventory"))
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let have: AuthFacts =
            serde_json::from_str(&std::fs::read_to_string(dir.join("auth.json")).expect("auth"))
                .unwrap_or_else(|e| panic!("{case}/auth.json: {e}"));
        let c = changes(&i, &have);
        let text: String = c.iter().map(|c| c.describe() + "\n").collect();
        golden(&format!("../fixtures/access/{case}/changes.txt"), &text);
        let json = serde_json::to_string_pretty(&c).expect("json") + "\n";
        golden(&format!("../fixtures/access/{case}/changes.json"), &json);
        // Whatever it says, carrying it out gives nothing more to do.
        let after = applied(&have, &c);
        assert!(
            changes(&i, &after).is_empty(),
            "{case}: {:?}",
            changes(&i, &after)
        );
    }
    assert_eq!(cases.len(), 6);
}

/// What etcd holds once `c` is carried out (a model of etcd's own rules).
fn applied(have: &AuthFacts, c: &[etcd_deploy::plan::auth::AuthChange]) -> AuthFacts {
    use etcd_deploy::plan::auth::AuthChange::*;
    let mut a = have.clone();
    for ch in c {
        match ch {
            DisableAuth => a.enabled = false,
            EnableAuth => a.enabled = true,
            AddRole { role } => {
                a.roles.insert(role.clone(), vec![]);
            }
            DeleteRole { role } => {
                a.roles.remove(role);
            }
            Grant { role, grant } => {
                let g = a.roles.entry(role.clone()).or_default();
                g.push(grant.clone());
                g.sort();
            }
            Revoke { role, grant } => a
                .roles
                .entry(role.clone())
                .or_default()
                .retain(|g| g != grant),
            AddUser { name, password } => {
                a.users.insert(name.clone(), vec![]);
                match password {
                    Some(_) => a.passwords.insert(name.clone(), PasswordCheck::Current),
                    None => a.passwords.remove(name),
                };
            }
            SetPassword { name, .. } => {
                // etcd keeps no password for a user made without one.
                if a.passwords.get(name) != Some(&PasswordCheck::NoPassword) {
                    a.passwords.insert(name.clone(), PasswordCheck::Current);
                }
            }
            DeleteUser { name } => {
                a.users.remove(name);
                a.passwords.remove(name);
            }
            GrantRole { user, role } => a.users.entry(user.clone()).or_default().push(role.clone()),
            RevokeRole { user, role } => a
                .users
                .entry(user.clone())
                .or_default()
                .retain(|r| r != role),
        }
    }
    // etcd checks no password while auth is off: the facts hold none.
    if !a.enabled {
        a.passwords.clear();
    }
    a
}

/// Turning auth on comes last, after `root` holds the root role; turning
/// it off comes first; removals are what the operator agrees to.
#[test]
fn auth_goes_on_last_and_off_first_and_removals_need_consent() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/access");
    let load = |case: &str| {
        let path = root.join(case).join("inventory.toml");
        let i = parse(&path, &std::fs::read_to_string(&path).expect("inventory")).expect("parse");
        let have: AuthFacts = serde_json::from_str(
            &std::fs::read_to_string(root.join(case).join("auth.json")).expect("auth"),
        )
        .expect("json");
        changes(&i, &have)
    };
    use etcd_deploy::plan::auth::AuthChange;
    let on = load("least-privilege-from-an-open-cluster");
    assert_eq!(on.last(), Some(&AuthChange::EnableAuth));
    let root_role = on
        .iter()
        .position(|c| {
            *c == AuthChange::GrantRole {
                user: "root".into(),
                role: "root".into(),
            }
        })
        .expect("root gets the root role");
    assert!(root_role < on.len() - 1);
    assert!(on.iter().all(|c| !c.removes()), "{on:?}");
    let off = load("auth-turned-off");
    assert_eq!(off.first(), Some(&AuthChange::DisableAuth));
    let taken = load("grants-and-users-taken-away");
    let step = Step::Access { changes: taken };
    let consent = step.destructive().expect("asks");
    assert!(
        consent.contains("delete user bob") && consent.contains("delete role legacy"),
        "{consent}"
    );
    // A password is never in the plan: only where it comes from.
    let text: Vec<String> = on.iter().map(|c| c.describe()).collect();
    let text = text.join("\n");
    assert!(
        text.contains("password from $PATRONI_ETCD_PASSWORD"),
        "{text}"
    );
}

/// Each inventory mistake names its file, line and field; nothing runs.
#[test]
fn access_control_mistakes_are_named_by_line_and_field() {
    let head = "[cluster]\nname = \"prod\"\nversion = \"3.5.1\"\n\n[tls]\nmode = \"generate\"\n\n";
    let host = "\n[[hosts]]\nname = \"etcd-1\"\naddress = \"10.0.0.1\"\n";
    let cases: [(&str, &str, &str); 11] = [
        (
            "[[clients]]\nname = \"x\"\ndays = 20\n",
            "clients.days",
            "inside tls.renew_before_days (30)",
        ),
        (
            "[[roles]]\nname = \"root\"\n",
            "roles.name",
            "etcd's own role",
        ),
        (
            "[[roles]]\nname = \"a\"\npermissions = [{ key = \"/k\", prefix = \"/p\", access = \"read\" }]\n",
            "roles.permissions",
            "exactly one of",
        ),
        (
            "[[roles]]\nname = \"a\"\npermissions = [{ prefix = \"/p\", access = \"all\" }]\n",
            "roles.permissions.access",
            "not one of read, write, readwrite",
        ),
        (
            "[[roles]]\nname = \"a\"\npermissions = [{ key = \"\", access = \"read\" }]\n",
            "roles.permissions.key",
            "is not a key",
        ),
        (
            "[[clients]]\nname = \"x\"\nroles = [\"nope\"]\n",
            "clients.roles",
            "no [[roles]] entry is named `nope`",
        ),
        (
            "[[clients]]\nname = \"root\"\n",
            "clients.name",
            "etcd-deploy's own identity",
        ),
        (
            "[[clients]]\nname = \"a b\"\n",
            "clients.name",
            "is not a valid name",
        ),
        (
            "[[clients]]\nname = \"x\"\npassword_env = \"lower\"\n",
            "clients.password_env",
            "environment variable",
        ),
        (
            "[[clients]]\nname = \"x\"\npassword_env = \"X\"\npassword_file = \"f\"\n",
            "clients.password_file",
            "not both",
        ),
        (
            "[[clients]]\nname = \"x\"\n\n[[clients]]\nname = \"x\"\n",
            "clients.name",
            "declared twice",
        ),
    ];
    for (part, field, says) in cases {
        let text = format!("{head}{part}{host}");
        let e = err(&text);
        let shown = e.to_string();
        assert!(
            shown.contains(field) && shown.contains(says),
            "{part}: {shown}"
        );
        assert!(shown.contains("inventory.toml:"), "{shown}");
    }
    // Auth needs TLS: etcd-deploy is `root` by its certificate.
    let plain = format!(
        "[cluster]\nname = \"prod\"\nversion = \"3.5.1\"\n\n[auth]\nenabled = true\n{host}"
    );
    let shown = err(&plain).to_string();
    assert!(
        shown.contains("auth.enabled") && shown.contains("needs [tls]"),
        "{shown}"
    );
}

/// With access control, each member's config names the client revocation
/// list in etcd's own field (the config file has no key for it; see
/// `member_config.rs`); without it, nothing is added.
#[test]
fn members_load_the_revocation_list_only_with_access_control() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/access");
    let path = root.join("converged-nothing-to-do/inventory.toml");
    let text = std::fs::read_to_string(&path).expect("inventory");
    let with = parse(&path, &text).expect("parse");
    let r = member_config::render(&with, &with.members[0], None).expect("render");
    assert!(
        r.config
            .contains("clienttlsinfo:\n  crlfile: /etc/etcd/pki/etcd-1/client-crl.der\n"),
        "{}",
        r.config
    );
    let plain = text.split("[auth]").next().expect("head").to_string()
        + "[[hosts]]\nname = \"etcd-1\"\naddress = \"10.0.0.1\"\n";
    let without = parse(&path, &plain).expect("parse");
    let r = member_config::render(&without, &without.members[0], None).expect("render");
    assert!(!r.config.contains("crlfile"), "{}", r.config);
}

/// A client that becomes a password user gets a certificate whose CN is no
/// user's, and its old one (which said who it was) is revoked; a client
/// that leaves is revoked too. Run twice, nothing more changes.
#[test]
fn a_client_changing_kind_has_its_old_certificate_revoked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("inventory.toml");
    let head = "[cluster]\nname = \"prod\"\nversion = \"3.5.1\"\n\n[tls]\nmode = \"generate\"\n\n[[roles]]\nname = \"app1\"\n\n";
    let host = "\n[[hosts]]\nname = \"etcd-1\"\naddress = \"10.0.0.1\"\n";
    let load = |clients: &str| {
        let text = format!("{head}{clients}{host}");
        std::fs::write(&path, &text).expect("write");
        parse(&path, &text).expect("parse")
    };
    let cn = |name: &str| {
        let pem = std::fs::read_to_string(dir.path().join(format!("pki/clients/{name}.crt")))
            .expect("cert");
        etcd_deploy::tls::cert_info(&pem)
            .expect("info")
            .common_name
            .expect("cn")
    };
    let revoked = || {
        std::fs::read_to_string(dir.path().join("pki/revoked.json"))
            .map(|t| t.matches("\"name\"").count())
            .unwrap_or(0)
    };
    let cert_user = load("[[clients]]\nname = \"app1\"\nroles = [\"app1\"]\n");
    etcd_deploy::tls::prepare(&cert_user, false).expect("prepare");
    assert_eq!(cn("app1"), "app1");
    assert_eq!(revoked(), 0);
    let issued = std::fs::read(dir.path().join("pki/clients/app1.crt")).expect("cert");
    etcd_deploy::tls::prepare(&cert_user, false).expect("prepare");
    assert_eq!(
        std::fs::read(dir.path().join("pki/clients/app1.crt")).expect("cert"),
        issued,
        "outside its renewal window, a re-run issues nothing"
    );
    let password_user = load(
        "[[clients]]\nname = \"app1\"\nroles = [\"app1\"]\npassword_env = \"APP1_PASSWORD\"\n",
    );
    etcd_deploy::tls::prepare(&password_user, false).expect("prepare");
    assert_eq!(cn("app1"), "app1 (password)");
    assert_eq!(revoked(), 1, "the certificate that said `app1` is revoked");
    let crl = std::fs::read(dir.path().join("pki/crl.der")).expect("crl");
    etcd_deploy::tls::prepare(&password_user, false).expect("prepare");
    assert_eq!(revoked(), 1);
    assert_eq!(
        std::fs::read(dir.path().join("pki/crl.der")).expect("crl"),
        crl,
        "a re-run signs nothing"
    );
    let gone = load("[auth]\nenabled = true\n");
    etcd_deploy::tls::prepare(&gone, false).expect("prepare");
    assert_eq!(revoked(), 2);
    assert!(!dir.path().join("pki/clients/app1.crt").exists());
}
