//! The `keyfort` binary: start-up failures and the administration commands.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

mod support;

use serde_json::Value;
use std::process::{Command, Output};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(support::KEYFORT);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("KEYFORT_DATABASE_URL")
            .env("KEYFORT_DATA_DIR", self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON: {e}"))
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn invalid_configuration_stops_start_up_with_one_line() {
    let cli = Cli::new();
    let not_pem = cli.dir.path().join("anchors.pem");
    std::fs::write(&not_pem, "-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap();
    let cases = [
        ("KEYFORT_ATTESTATION_CA_FILE", "/no/such/anchors.pem"),
        ("KEYFORT_METADATA_BLOB", "http://mds.example.com/blob.jwt"),
        ("KEYFORT_METADATA_REFRESH_HOURS", "0"),
        ("KEYFORT_ATTESTATION_CA_FILE", not_pem.to_str().unwrap()),
        ("KEYFORT_PUBLIC_URL", "http://10.1.2.3:8080"),
        ("KEYFORT_PUBLIC_URL", "not a url"),
        ("KEYFORT_LISTEN", "localhost"),
        ("KEYFORT_DATABASE_URL", "mysql://root@localhost/x"),
        (
            "KEYFORT_DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/keyfort",
        ),
    ];
    for (setting, value) in cases {
        let out = cli.run_env(&["serve"], &[(setting, value)]);
        assert_eq!(out.status.code(), Some(2), "{setting}={value}");
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains(setting), "names {setting}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keyfort.toml"), "listen = [").unwrap();
    let out = cli.run_env(
        &["serve"],
        &[(
            "KEYFORT_CONFIG",
            dir.path().join("keyfort.toml").to_str().unwrap(),
        )],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("KEYFORT_CONFIG"));
}

#[test]
fn directory_administration() {
    let cli = Cli::new();
    let u = cli.json(&[
        "user",
        "add",
        "Alice",
        "--given-name",
        "Alice",
        "--family-name",
        "Liddell",
        "--email",
        "alice@example.com",
        "--employee-id",
        "E-7",
        "--attribute",
        "department=R&D",
        "--json",
    ]);
    assert_eq!(u["username"], "alice");
    assert_eq!(u["displayName"], "Alice Liddell");
    assert_eq!(u["attributes"]["department"], "R&D");
    let dup = cli.run(&["user", "add", "alice"]);
    assert_eq!(dup.status.code(), Some(1));
    assert!(stderr(&dup).contains("already exists"));
    let bad = cli.run(&["user", "add", "bad name"]);
    assert_eq!(bad.status.code(), Some(64));
    assert!(
        cli.run(&["user", "add", "bob", "--email", "nope"])
            .status
            .code()
            == Some(64)
    );

    let list = cli.run(&["user", "list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("Alice Liddell"));
    assert_eq!(
        cli.json(&["user", "list", "--json"])["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    cli.json(&["group", "add", "engineering", "--json"]);
    cli.json(&["group", "add-member", "engineering", "alice", "--json"]);
    assert_eq!(
        cli.run(&["group", "add-member", "engineering", "alice"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        cli.run(&["group", "add-member", "nope", "alice"])
            .status
            .code(),
        Some(1)
    );
    let groups = cli.json(&["group", "list", "--json"]);
    assert_eq!(groups["value"][0]["memberCount"], 1);
    // Groups are listed a page at a time, by name.
    for g in ["g-a", "g-b", "g-c"] {
        cli.json(&["group", "add", g, "--json"]);
    }
    let page = cli.json(&["group", "list", "--prefix", "g-", "--limit", "2", "--json"]);
    let names: Vec<&str> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["g-a", "g-b"]);
    let cursor = page["nextCursor"].as_str().unwrap();
    let rest = cli.json(&[
        "group", "list", "--prefix", "g-", "--cursor", cursor, "--json",
    ]);
    assert_eq!(rest["value"][0]["name"], "g-c");
    assert!(rest["nextCursor"].is_null());
    let bad = cli.run(&["group", "list", "--cursor", "!!"]);
    assert_eq!(bad.status.code(), Some(64));

    // Passes: printed once, stored hashed, range-checked, one per user.
    let first = cli.json(&["tap", "issue", "alice", "--json"]);
    let code = first["temporaryAccessPass"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 8);
    assert_eq!(first["lifetimeInMinutes"], 60);
    assert_eq!(first["isUsableOnce"], true);
    let second = cli.json(&[
        "tap",
        "issue",
        "alice",
        "--lifetime-minutes",
        "120",
        "--multi-use",
        "--json",
    ]);
    assert_eq!(second["replacedPrevious"], true);
    assert_eq!(second["isUsableOnce"], false);
    for bad in ["9", "43201", "x"] {
        let out = cli.run(&["tap", "issue", "alice", "--lifetime-minutes", bad]);
        assert!(!out.status.success(), "lifetime {bad} refused");
    }
    assert_eq!(cli.run(&["tap", "issue", "nobody"]).status.code(), Some(1));
    let db = std::fs::read(cli.dir.path().join("keyfort.db")).unwrap();
    let wal = std::fs::read(cli.dir.path().join("keyfort.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(code.len()).any(|w| w == code.as_bytes()),
            "the pass is never stored in clear"
        );
    }

    let show = cli.json(&["user", "show", "alice", "--json"]);
    assert_eq!(show["groups"][0], "engineering");
    // A DTO, not a row: booleans and ISO 8601 times.
    assert_eq!(show["user"]["enabled"], true);
    let created = show["user"]["createdDateTime"].as_str().unwrap();
    assert!(
        created.len() == 24 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "{created}"
    );
    assert_eq!(show["temporaryAccessPass"]["lifetimeInMinutes"], 120);
    assert_eq!(show["temporaryAccessPass"]["isUsableOnce"], false);
    assert_eq!(
        show["temporaryAccessPass"]["methodUsabilityReason"],
        "enabledByPolicy"
    );
    assert!(show["temporaryAccessPass"].get("code").is_none());
    let human = cli.run(&["user", "show", "alice"]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("temporary access pass  multi-use"));
    // The pass alone, as metadata; then revoked, and gone.
    let pass = cli.json(&["tap", "show", "alice", "--json"]);
    assert_eq!(
        (
            pass["lifetimeInMinutes"].as_i64(),
            pass["isUsable"].as_bool()
        ),
        (Some(120), Some(true))
    );
    let human = cli.run(&["tap", "show", "alice"]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("multiple uses"));
    let revoked = cli.json(&["tap", "revoke", "alice", "--json"]);
    assert_eq!(revoked["sessionsEnded"], 0);
    assert_eq!(cli.run(&["tap", "show", "alice"]).status.code(), Some(1));
    assert_eq!(cli.run(&["tap", "revoke", "alice"]).status.code(), Some(1));

    assert_eq!(
        cli.json(&["user", "disable", "alice", "--json"])["enabled"],
        false
    );
    assert_eq!(
        cli.json(&["user", "enable", "alice", "--json"])["enabled"],
        true
    );
    assert_eq!(
        cli.run(&["user", "disable", "nobody"]).status.code(),
        Some(1)
    );

    let audit = cli.json(&["log", "audit", "--json"]);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "user.enabled",
            "user.disabled",
            "tap.revoked",
            "tap.viewed",
            "tap.viewed",
            "tap.issued",
            "tap.issued",
            "group.created",
            "group.created",
            "group.created",
            "group.member_added",
            "group.created",
            "user.created"
        ]
    );
    assert!(audit[0]["actor"].as_str().unwrap().starts_with("cli:"));
    assert!(!audit.to_string().contains(&code));
    assert_eq!(
        cli.json(&["log", "signins", "--json"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

/// Listing is paged by a cursor and filtered; a bad cursor or page size is a usage error.
#[test]
fn users_are_listed_a_page_at_a_time() {
    let cli = Cli::new();
    for name in ["ann", "bea", "bob", "cid", "dee"] {
        cli.json(&["user", "add", name, "--json"]);
    }
    cli.json(&["user", "disable", "bob", "--json"]);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = vec!["user", "list", "--limit", "2", "--json"];
        if let Some(c) = cursor.as_deref() {
            args.extend(["--cursor", c]);
        }
        let page = cli.json(&args);
        pages += 1;
        let names: Vec<String> = page["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect();
        assert!(names.len() <= 2);
        seen.extend(names);
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["ann", "bea", "bob", "cid", "dee"]);
    assert_eq!(pages, 3);
    let names = |args: &[&str]| -> Vec<String> {
        cli.json(args)["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&["user", "list", "--prefix", "B", "--json"]),
        ["bea", "bob"]
    );
    assert_eq!(names(&["user", "list", "--disabled", "--json"]), ["bob"]);
    assert_eq!(
        names(&["user", "list", "--enabled", "--prefix", "b", "--json"]),
        ["bea"]
    );
    for bad in [
        &["user", "list", "--cursor", "not base64!"][..],
        &["user", "list", "--limit", "0"],
        &["user", "list", "--limit", "1001"],
        &["user", "list", "--prefix", "bad name"],
    ] {
        assert_eq!(cli.run(bad).status.code(), Some(64), "{bad:?}");
    }
    let human =
        String::from_utf8_lossy(&cli.run(&["user", "list", "--limit", "4"]).stdout).to_string();
    assert!(
        human.contains("More: keyfort user list --cursor"),
        "{human}"
    );
}

/// `keyfort policy`: show the document, apply one (a dry run first), refuse a bad one
/// naming its field, refuse a stale version, and explain it for a user and a
/// hypothetical passkey.
#[test]
fn policy_administration() {
    let cli = Cli::new();
    cli.json(&["user", "add", "alice", "--json"]);
    cli.json(&["user", "add", "bob", "--json"]);
    cli.json(&["group", "add", "contractors", "--json"]);
    cli.json(&["group", "add-member", "contractors", "alice", "--json"]);
    let shown = cli.json(&["policy", "show", "--json"]);
    assert_eq!(shown["version"], 0);
    assert_eq!(shown["policy"]["fido2"]["state"], "enabled");
    assert_eq!(shown["policy"]["sms"]["state"], "disabled");
    let groups = cli.json(&["group", "list", "--json"]);
    let contractors = groups["value"][0]["id"].as_str().unwrap().to_string();

    // Contractors: no passkeys at all; everyone else: device-bound only.
    let mut doc = shown["policy"].clone();
    doc["fido2"]["excludeTargets"] = serde_json::json!([{ "id": contractors }]);
    doc["fido2"]["passkeyProfiles"][0]["passkeyTypes"] = serde_json::json!(["deviceBound"]);
    let file = cli.dir.path().join("policy.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let file = file.to_str().unwrap();
    let dry = cli.json(&["policy", "apply", file, "--dry-run", "--json"]);
    assert_eq!(dry["dryRun"], true);
    assert_eq!(dry["changes"].as_array().unwrap().len(), 2, "{dry}");
    assert_eq!(cli.json(&["policy", "show", "--json"])["version"], 0);
    let applied = cli.json(&["policy", "apply", file, "--if-version", "0", "--json"]);
    assert_eq!(applied["version"], 1);
    let stale = cli.run(&["policy", "apply", file, "--if-version", "0"]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(stderr(&stale).contains("version 1"), "{}", stderr(&stale));

    let e = cli.json(&["policy", "explain", "alice", "--synced", "--json"]);
    assert_eq!(e["policyVersion"], 1);
    let fido2 = &e["methods"][0];
    assert_eq!(
        (&fido2["method"], &fido2["scope"], &fido2["excludedBy"]),
        (
            &Value::from("fido2"),
            &Value::from("excluded"),
            &Value::from("contractors")
        )
    );
    assert_eq!(e["passkeys"][0]["signInReason"], "passkeys_excluded");
    let text = cli.run(&["policy", "explain", "bob", "--synced"]);
    assert!(text.status.success(), "{}", stderr(&text));
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("passkey_type_not_allowed"), "{text}");

    // A document of the wrong shape, or breaking a rule, is refused whole, naming the field.
    doc["fido2"]["passkeyProfiles"][0]["passkeyTypes"] = serde_json::json!(["cloud"]);
    std::fs::write(cli.dir.path().join("bad.json"), doc.to_string()).unwrap();
    let bad = cli.run(&["policy", "apply", "bad.json"]);
    assert_eq!(bad.status.code(), Some(64));
    assert!(
        stderr(&bad).contains("fido2.passkeyProfiles[0].passkeyTypes[0]"),
        "{}",
        stderr(&bad)
    );
    doc["fido2"]["passkeyProfiles"][0]["passkeyTypes"] = serde_json::json!(["synced"]);
    doc["sms"]["excludeTargets"] = serde_json::json!([{ "id": "all_users" }]);
    std::fs::write(cli.dir.path().join("bad.json"), doc.to_string()).unwrap();
    let bad = cli.run(&["policy", "apply", "bad.json"]);
    assert_eq!(bad.status.code(), Some(64));
    assert!(
        stderr(&bad).contains("sms.excludeTargets[0].id"),
        "{}",
        stderr(&bad)
    );
    // Bad input to the other commands: a missing file, an AAGUID that is not one, a user
    // that does not exist.
    let missing = cli.run(&["policy", "apply", "no-such-file.json"]);
    assert_eq!(missing.status.code(), Some(64));
    assert!(
        stderr(&missing).contains("cannot read"),
        "{}",
        stderr(&missing)
    );
    let bad_aaguid = cli.run(&["policy", "explain", "alice", "--aaguid", "yubikey"]);
    assert_eq!(bad_aaguid.status.code(), Some(64));
    assert!(
        stderr(&bad_aaguid).contains("--aaguid"),
        "{}",
        stderr(&bad_aaguid)
    );
    let nobody = cli.run(&["policy", "explain", "nobody"]);
    assert_eq!(nobody.status.code(), Some(1));
    assert!(
        stderr(&nobody).contains("no such user"),
        "{}",
        stderr(&nobody)
    );
    assert_eq!(cli.json(&["policy", "show", "--json"])["version"], 1);
    let human = cli.run(&["policy", "show"]);
    let human = String::from_utf8_lossy(&human.stdout).to_string();
    assert!(
        human.contains("version 1") && human.contains("contractors"),
        "{human}"
    );
    let audit = cli.json(&["log", "audit", "--json"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "policy.updated"),
        "{audit}"
    );
}

/// `keyfort policy set` and `policy profile add|set|remove`: one change at a time, a
/// key restriction written with provider names stored as the AAGUIDs they stand for,
/// names shown back, and every refusal naming what is wrong while changing nothing.
#[test]
fn policy_changes_one_at_a_time_with_provider_names() {
    let cli = Cli::new();
    cli.json(&["user", "add", "alice", "--json"]);
    cli.json(&["group", "add", "admins", "--json"]);
    cli.json(&["group", "add", "contractors", "--json"]);
    cli.json(&["group", "add-member", "admins", "alice", "--json"]);
    let providers = cli.json(&["policy", "providers", "windows hello", "--json"]);
    let hello: Vec<String> = serde_json::from_value(providers[0]["aaguids"].clone()).unwrap();
    assert!(hello.len() >= 3, "{providers}");

    // Administrators: attested device-bound passkeys from Windows Hello or one named model.
    let added = cli.json(&[
        "policy",
        "profile",
        "add",
        "admins",
        "--name",
        "Administrators",
        "--types",
        "deviceBound",
        "--attestation",
        "registrationOnly",
        "--allow-provider",
        "Windows Hello",
        "--allow-aaguid",
        "CB69481E8FF7403993EC0A2729A154A8",
        "--json",
    ]);
    assert_eq!(added["version"], 1, "{added}");
    let shown = cli.json(&["policy", "show", "--json"]);
    let admins = &shown["policy"]["fido2"]["passkeyProfiles"][1];
    let mut stored: Vec<String> =
        serde_json::from_value(admins["keyRestrictions"]["aaGuids"].clone()).unwrap();
    assert_eq!(
        stored.pop().as_deref(),
        Some("cb69481e-8ff7-4039-93ec-0a2729a154a8")
    );
    assert_eq!(
        stored, hello,
        "names are stored as the AAGUIDs they resolve to"
    );
    assert_eq!(admins["attestationEnforcement"], "registrationOnly");
    assert_eq!(shown["providerNames"][&hello[0]], "Windows Hello");
    let human = String::from_utf8_lossy(&cli.run(&["policy", "show"]).stdout).to_string();
    assert!(human.contains("Windows Hello ("), "{human}");

    // Targets: the administrators get their profile, contractors never SMS.
    let set = cli.json(&[
        "policy",
        "set",
        "fido2",
        "--include",
        "admins",
        "--profiles",
        "admins",
        "--json",
    ]);
    assert_eq!(set["version"], 2, "{set}");
    let set = cli.json(&[
        "policy",
        "set",
        "sms",
        "--enable",
        "--exclude",
        "contractors",
        "--json",
    ]);
    assert_eq!(set["version"], 3, "{set}");
    let e = cli.json(&[
        "policy",
        "explain",
        "alice",
        "--provider",
        "windows hello",
        "--json",
    ]);
    let keys = e["passkeys"].as_array().unwrap();
    assert_eq!(keys.len(), hello.len(), "{e}");
    assert!(
        keys.iter().all(|k| k["providerName"] == "Windows Hello"),
        "{e}"
    );
    assert!(keys.iter().all(|k| k["signInAccepted"] == true), "{e}");
    // Unattested: refused at registration by the administrators' profile.
    assert!(
        keys.iter().all(|k| k["registrationAccepted"] == false),
        "{e}"
    );

    // Refusals: an unknown provider (with a suggestion), a profile in use, the default
    // profile, a duplicate id, an unknown method or group, options that do not combine.
    let refusals: [(&[&str], i32, &str); 8] = [
        (
            &[
                "policy",
                "profile",
                "set",
                "admins",
                "--allow-provider",
                "Windows",
            ],
            64,
            "did you mean: Windows Hello",
        ),
        (&["policy", "profile", "remove", "admins"], 64, "admins"),
        (
            &["policy", "profile", "remove", "default"],
            64,
            "default profile",
        ),
        (
            &["policy", "profile", "add", "admins"],
            64,
            "repeats a profile id",
        ),
        (&["policy", "set", "fax", "--enable"], 64, "not a method"),
        (
            &["policy", "set", "sms", "--exclude", "nobody"],
            1,
            "no such group",
        ),
        (
            &["policy", "set", "fido2", "--profiles", "admins"],
            64,
            "--include",
        ),
        (
            &[
                "policy",
                "profile",
                "set",
                "admins",
                "--allow-aaguid",
                "x",
                "--block-aaguid",
                "y",
            ],
            2,
            "cannot be used with",
        ),
    ];
    for (args, code, says) in refusals {
        let out = cli.run(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(cli.json(&["policy", "show", "--json"])["version"], 3);

    // Back to any model; the profile leaves once no target names it.
    cli.json(&[
        "policy",
        "profile",
        "set",
        "admins",
        "--any-model",
        "--json",
    ]);
    cli.json(&["policy", "set", "fido2", "--include-all", "--json"]);
    let dry = cli.json(&[
        "policy",
        "profile",
        "remove",
        "admins",
        "--dry-run",
        "--json",
    ]);
    assert_eq!(dry["dryRun"], true);
    let removed = cli.json(&["policy", "profile", "remove", "admins", "--json"]);
    assert_eq!(removed["version"], 6, "{removed}");
    let audited = cli.json(&["log", "audit", "--json"]);
    let changes = audited
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "policy.updated")
        .count();
    assert_eq!(changes, 6, "every stored change audited once");
}

/// `keyfort metadata`: nothing loaded at first; a BLOB not signed under FIDO's root, or
/// one that cannot be read, is refused and nothing is stored.
#[test]
fn metadata_from_elsewhere_than_fido_is_refused() {
    let cli = Cli::new();
    let shown = cli.run(&["metadata", "show"]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    assert!(String::from_utf8_lossy(&shown.stdout).contains("No FIDO metadata loaded"));
    // A well-formed BLOB signed by a root of the test's own.
    let root = keyfort_softauthn::TestCa::new("Not FIDO").unwrap();
    let (cert, key) = root.signer("signer", false).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    use base64::Engine;
    header.x5c = Some(vec![
        base64::engine::general_purpose::STANDARD.encode(&cert),
    ]);
    let payload = serde_json::json!({ "no": 1, "nextUpdate": "2099-01-01", "entries": [] });
    let jwt = jsonwebtoken::encode(
        &header,
        &payload,
        &jsonwebtoken::EncodingKey::from_ec_der(&key),
    )
    .unwrap();
    let file = cli.dir.path().join("blob.jwt");
    std::fs::write(&file, jwt).unwrap();
    for (source, says) in [
        (file.to_str().unwrap(), "does not end at the metadata root"),
        ("/no/such/blob.jwt", "/no/such/blob.jwt"),
        ("http://mds.example.com/blob.jwt", "must be https"),
    ] {
        let out = cli.run(&["metadata", "load", source]);
        assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
    let shown = cli.json(&["metadata", "show", "--json"]);
    assert!(shown.is_null(), "{shown}");
}

#[test]
fn passwords_are_set_and_imported_from_the_command_line() {
    use std::io::Write;
    let cli = Cli::new();
    for u in ["alice", "bob", "carol"] {
        cli.json(&["user", "add", u, "--json"]);
    }
    let set = |pw: &str| {
        let mut child = Command::new(support::KEYFORT)
            .args(["user", "set-password", "alice", "--json"])
            .current_dir(cli.dir.path())
            .env_remove("KEYFORT_DATABASE_URL")
            .env("KEYFORT_DATA_DIR", cli.dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{pw}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let short = set("tooshort");
    assert_eq!(short.status.code(), Some(64));
    assert!(
        stderr(&short).contains("at least 15 characters"),
        "{}",
        stderr(&short)
    );
    assert!(cli.json(&["user", "show", "alice", "--json"])["password"].is_null());
    let ok = set("correct horse battery staple");
    assert!(ok.status.success(), "{}", stderr(&ok));
    let r: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(
        (r["scheme"].as_str(), r["replacedPrevious"].as_bool()),
        (Some("argon2id"), Some(false))
    );
    let shown = cli.json(&["user", "show", "alice", "--json"]);
    assert_eq!(shown["password"]["source"], "set");

    let argon = "$argon2id$v=19$m=19456,t=2,p=1$a2V5Zm9ydC1kdW1teQ$Pu8QlNR1u+O7o1wYIhpH3iR3L0qO3i2nBq6zVJ6pRwE";
    let bcrypt = "$2y$10$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    let file = cli.dir.path().join("hashes.jsonl");
    std::fs::write(
        &file,
        format!(
            "{{\"username\":\"alice\",\"passwordHash\":\"{argon}\"}}\n\
             {{\"username\":\"bob\",\"passwordHash\":\"{bcrypt}\"}}\n\
             {{\"username\":\"carol\"\n\
             {{\"username\":\"zed\",\"passwordHash\":\"{bcrypt}\"}}\n"
        ),
    )
    .unwrap();
    let path = file.to_str().unwrap();
    // A malformed line and an unknown user: named by line, nothing imported.
    let strict = cli.run(&["user", "import", path]);
    assert_eq!(strict.status.code(), Some(64));
    let err = stderr(&strict);
    assert!(
        err.contains("line 3") && err.contains("line 4 (zed)") && err.contains("nothing imported"),
        "{err}"
    );
    assert!(cli.json(&["user", "show", "bob", "--json"])["password"].is_null());
    assert_eq!(
        cli.json(&["user", "show", "alice", "--json"])["password"]["source"],
        "set"
    );
    // The rest, skipping the lines at fault.
    let done = cli.json(&["user", "import", path, "--continue-on-error", "--json"]);
    assert_eq!(done["committed"], true);
    assert_eq!(
        (done["added"].as_u64(), done["replaced"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(done["toRehash"], 1);
    let skipped: Vec<u64> = done["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["line"].as_u64().unwrap())
        .collect();
    assert_eq!(skipped, [3, 4]);
    assert_eq!(
        cli.json(&["user", "show", "bob", "--json"])["password"]["scheme"],
        "bcrypt"
    );
    let audit = cli.run(&["log", "audit", "--json"]);
    let audit = String::from_utf8_lossy(&audit.stdout);
    assert_eq!(audit.matches("password.imported").count(), 2);
    assert!(audit.contains("password.set"));
    assert!(
        !audit.contains("R9h/cIPz") && !audit.contains("Pu8QlNR1"),
        "no hash is audited"
    );
    // A file whose format cannot be told.
    let txt = cli.dir.path().join("hashes.txt");
    std::fs::write(&txt, "x").unwrap();
    assert_eq!(
        cli.run(&["user", "import", txt.to_str().unwrap()])
            .status
            .code(),
        Some(64)
    );
    // An administrator removes a password, audited; removing it twice says so.
    let removed = cli.json(&["user", "remove-password", "bob", "--json"]);
    assert_eq!(
        removed,
        serde_json::json!({ "username": "bob", "removed": "password" })
    );
    assert!(cli.json(&["user", "show", "bob", "--json"])["password"].is_null());
    let again = cli.run(&["user", "remove-password", "bob"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("no such password"),
        "{}",
        stderr(&again)
    );
    let none = cli.run(&["user", "remove-authenticator-app", "bob"]);
    assert!(!none.status.success());
    let audit = cli.run(&["log", "audit", "--json"]);
    assert!(String::from_utf8_lossy(&audit.stdout).contains("password.removed"));
}
