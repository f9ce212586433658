use std::process::{Command, Output};

fn kenali(data_dir: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kenali"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("KENALI_DATABASE_URL")
        .env_remove("KENALI_MASTER_KEY");
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().unwrap()
}

#[test]
fn the_command_line_migrates_creates_keys_and_users() {
    let dir = std::env::temp_dir().join(format!("kenali-cli-{}", ulid::Ulid::new()));
    let migrate = kenali(&dir, &["migrate"], &[]);
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));

    let key = kenali(&dir, &["api-key", "create", "--org", "acme", "--scopes", "public,internal"], &[]);
    assert!(key.status.success(), "{}", String::from_utf8_lossy(&key.stderr));
    let secret = String::from_utf8(key.stdout).unwrap();
    assert!(secret.trim().starts_with("qe_sk_"));
    // The secret goes to stdout only, never into the log on stderr.
    assert!(!String::from_utf8_lossy(&key.stderr).contains(secret.trim()));

    let bad_scope = kenali(&dir, &["api-key", "create", "--org", "acme", "--scopes", "root"], &[]);
    assert!(!bad_scope.status.success());

    let user = kenali(
        &dir,
        &["user", "create", "--org", "acme", "--email", "Ani@Acme.id", "--role", "analyst"],
        &[("KENALI_USER_PASSWORD", "correct horse battery staple")],
    );
    assert!(user.status.success(), "{}", String::from_utf8_lossy(&user.stderr));
    let printed = String::from_utf8_lossy(&user.stdout).to_string();
    let lines: Vec<&str> = printed.lines().collect();
    assert!(lines[0].starts_with("usr_"), "{printed}");
    // Then a one-time link that enrolls the user's first passkey (the token after the `#`,
    // which browsers never send to a server).
    let token = lines[1].strip_prefix("http://localhost:8080/dashboard/enroll#token=").expect("an enrollment link");
    assert!(token.starts_with("qe_enr_"), "{printed}");
    let disable = kenali(&dir, &["user", "disable", "--org", "acme", "--email", "ANI@acme.id"], &[]);
    assert!(disable.status.success(), "{}", String::from_utf8_lossy(&disable.stderr));
    assert_eq!(String::from_utf8_lossy(&disable.stdout).trim(), lines[0]);
    let nobody = kenali(&dir, &["user", "disable", "--org", "acme", "--email", "nobody@acme.id"], &[]);
    assert!(!nobody.status.success());
    let again = kenali(&dir, &["user", "create", "--org", "acme", "--email", "ani@acme.id", "--role", "analyst"], &[]);
    assert!(!again.status.success(), "a duplicate email must fail");
    let short = kenali(
        &dir,
        &["user", "create", "--org", "acme", "--email", "b@acme.id", "--role", "admin"],
        &[("KENALI_USER_PASSWORD", "short")],
    );
    assert!(!short.status.success());
    let verify = kenali(&dir, &["audit", "verify"], &[]);
    assert!(verify.status.success());

    // Token signing keys rotate from the command line: each run names its new key.
    let rotate = |args: &[&str]| {
        let out = kenali(&dir, args, &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["signingKey"].as_str().unwrap().to_string()
    };
    let first = rotate(&["oauth", "rotate-key"]);
    let second = rotate(&["oauth", "rotate-key", "--drop-retired"]);
    assert!(first.starts_with("kid_") && second.starts_with("kid_") && first != second);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn retention_run_sweeps_every_org_and_reports_json() {
    let dir = std::env::temp_dir().join(format!("kenali-cli-{}", ulid::Ulid::new()));
    let key = kenali(&dir, &["api-key", "create", "--org", "acme", "--scopes", "admin"], &[]);
    assert!(key.status.success(), "{}", String::from_utf8_lossy(&key.stderr));

    let run = kenali(&dir, &["retention", "run", "--now", "2040-01-01T00:00:00Z"], &[]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let orgs = report["sweep"].as_array().unwrap();
    assert_eq!(orgs.len(), 1, "{report}");
    // 2040 is over 7 years after the key was created: its audit entry is pruned.
    assert!(orgs[0]["auditEntriesDeleted"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(orgs[0]["cutoffs"]["stepUpFramesBefore"], "2039-10-03T00:00:00.000Z");
    let verify = kenali(&dir, &["audit", "verify"], &[]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));

    let bad = kenali(&dir, &["retention", "run", "--now", "next year"], &[]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));
    let _ = std::fs::remove_dir_all(&dir);
}
