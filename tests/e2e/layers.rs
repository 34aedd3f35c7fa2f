//! The layering rule of docs/architecture.md, checked on `cargo metadata`: a crate depends
//! only on the quarry crates below it, and the lower crates stay free of HTTP and drivers.

use std::collections::BTreeMap;

use serde_json::Value;

/// For each quarry crate, the quarry crates its normal dependencies may name.
const ALLOWED: &[(&str, &[&str])] = &[
    ("quarry-core", &[]),
    ("quarry-store", &["quarry-core"]),
    ("quarry-providers", &["quarry-core"]),
    // Models reach quarry-sql through the core `LlmProvider` trait, never a concrete crate.
    ("quarry-sql", &["quarry-core"]),
    ("quarry-kernel", &["quarry-core"]),
    ("quarry-chart", &["quarry-core"]),
    ("quarry-hitl", &["quarry-core"]),
    ("quarry-auth", &["quarry-core"]),
    (
        "quarry-agent",
        &[
            "quarry-core",
            "quarry-providers",
            "quarry-sql",
            "quarry-kernel",
            "quarry-chart",
            "quarry-hitl",
        ],
    ),
    (
        "quarry-api",
        &[
            "quarry-core",
            "quarry-agent",
            "quarry-providers",
            "quarry-sql",
            "quarry-kernel",
            "quarry-chart",
            "quarry-hitl",
            "quarry-auth",
        ],
    ),
];

/// Crates at the top, which may wire anything together.
const TOP: &[&str] = &[
    "quarry-server",
    "quarry-tests",
    "quarry-bench-hello",
    "quarry-example-custom-provider",
];

/// External crates a crate must never depend on directly.
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "quarry-core",
        &["axum", "hyper", "tokio", "sqlx", "reqwest", "tower"],
    ),
    ("quarry-store", &["axum", "hyper", "reqwest", "tower"]),
    (
        "quarry-auth",
        &["axum", "hyper", "sqlx", "reqwest", "tower"],
    ),
    (
        "quarry-kernel",
        &["axum", "hyper", "sqlx", "reqwest", "tower"],
    ),
    (
        "quarry-chart",
        &["axum", "hyper", "tokio", "sqlx", "reqwest", "tower"],
    ),
    ("quarry-api", &["sqlx"]),
    ("quarry-providers", &["axum", "sqlx", "tower"]),
    ("quarry-sql", &["axum", "hyper", "reqwest", "tower"]),
];

#[test]
fn crates_depend_only_downwards() {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap().to_owned();
        let normal = pkg["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().unwrap().to_owned())
            .collect();
        deps.insert(name, normal);
    }
    assert!(deps.contains_key("quarry-core"), "workspace not found");
    let mut violations = Vec::new();
    for krate in deps.keys() {
        if !TOP.contains(&krate.as_str()) && !ALLOWED.iter().any(|(k, _)| k == krate) {
            violations.push(format!(
                "{krate} has no place in the layer table of this test"
            ));
        }
    }
    for (krate, allowed) in ALLOWED {
        for d in deps.get(*krate).into_iter().flatten() {
            if d.starts_with("quarry-") && !allowed.contains(&d.as_str()) {
                violations.push(format!("{krate} depends on {d}"));
            }
        }
    }
    for (krate, banned) in FORBIDDEN {
        for d in deps.get(*krate).into_iter().flatten() {
            if banned.contains(&d.as_str()) {
                violations.push(format!("{krate} depends on {d}"));
            }
        }
    }
    assert!(violations.is_empty(), "layering broken: {violations:#?}");
}
