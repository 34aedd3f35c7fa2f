//! The command line: version, migrate, refusals at start-up.

use std::process::Command;

use quarry_tests::quarry_bin;

fn run(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new(quarry_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

#[test]
fn version_prints_the_package_version() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["--version"], dir.path());
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.trim(), format!("quarry {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn migrate_creates_the_store_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for _ in 0..2 {
        let out = run(
            &["migrate", "--data-dir", data.to_str().unwrap()],
            dir.path(),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(data.join("quarry.db").is_file());
}

#[test]
fn non_loopback_bind_without_auth_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--data-dir",
            "d",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to listen on 0.0.0.0"), "{err}");
    assert!(err.contains("QUARRY_ALLOW_INSECURE_BIND"), "{err}");
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = quarry_tests::Server::start_in(dir.path(), &[], &[]);
    let out = run(
        &[
            "serve",
            "--port",
            "0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another quarry server"), "{err}");
}

#[test]
fn bad_configuration_is_reported_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("quarry.toml"), "prot = 8000\n").unwrap();
    let out = run(&["serve", "--port", "0"], dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid configuration"), "{err}");
    assert!(err.contains("prot"), "{err}");
}

#[tokio::test]
async fn config_file_and_flags_reach_the_server() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("quarry.toml"),
        "max_body_bytes = 64\ndata_dir = \"from-file\"\n",
    )
    .unwrap();
    // The file's data_dir is used when no flag is given…
    let out = run(&["migrate"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("from-file").join("quarry.db").is_file());

    // …and `--data-dir` wins over it, while the file's other settings still apply.
    let flag_dir = dir.path().join("from-flag");
    std::fs::create_dir(&flag_dir).unwrap();
    std::fs::copy(dir.path().join("quarry.toml"), flag_dir.join("quarry.toml")).unwrap();
    let server = quarry_tests::Server::start_in(&flag_dir, &[], &[]);
    assert!(flag_dir.join("quarry.db").is_file());
    let resp = quarry_tests::client()
        .post(server.url("/sessions"))
        .json(&serde_json::json!({"name": "x".repeat(100)}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}
