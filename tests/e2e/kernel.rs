//! Python kernels through DSAgent's kernel and file routes, against the real binary and a
//! real sandboxed ipykernel.

use std::{path::PathBuf, time::Duration};

use quarry_tests::{SIGTERM, assert_error_shape, client};
use serde_json::{Value, json};

use crate::fresh_server_with;

/// The kernels' Python environment provisioned by scripts/test, or `None` after saying
/// loudly that the test is skipped (under CI a missing environment fails).
fn kernel_env() -> Option<String> {
    let root = std::env::var_os("QUARRY_TEST_PYTHON_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/quarry/kernel-data/python")
        });
    if root.join("bin/python").exists() {
        return Some(root.to_string_lossy().into_owned());
    }
    if std::env::var_os("CI").is_some() {
        panic!("no kernel Python environment at {}", root.display());
    }
    eprintln!(
        "\n!!! SKIPPED: no kernel Python environment at {}; run scripts/test to provision it\n",
        root.display()
    );
    None
}

fn kernel_server(extra: &[(&str, &str)]) -> Option<(tempfile::TempDir, quarry_tests::Server)> {
    let env = kernel_env()?;
    let mut vars = vec![
        ("QUARRY_KERNEL_PYTHON_ENV", env.as_str()),
        ("QUARRY_KERNEL_POOL_SIZE", "1"),
    ];
    vars.extend_from_slice(extra);
    Some(fresh_server_with(&[], &vars))
}

fn slow_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(180))
        .build()
        .unwrap()
}

async fn new_session(http: &reqwest::Client, server: &quarry_tests::Server) -> String {
    let r = http
        .post(server.url("/api/sessions"))
        .json(&json!({"name": "kernel test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn execute(
    http: &reqwest::Client,
    server: &quarry_tests::Server,
    session: &str,
    code: &str,
) -> Value {
    let r = http
        .post(server.url(&format!("/api/sessions/{session}/kernel/execute")))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Running kernels of the server with process id `pid` (their command lines name its
/// runtime directory).
fn kernels_of(pid: u32) -> Vec<String> {
    let marker = format!("/quarry-{pid}/");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(&marker) && cmd.contains("ipykernel") {
            found.push(cmd);
        }
    }
    found
}

#[tokio::test]
async fn a_newcomer_runs_pandas_in_a_new_session_and_no_kernel_outlives_the_server() {
    let Some((_dir, mut server)) = kernel_server(&[]) else {
        return;
    };
    let http = slow_client();
    let session = new_session(&http, &server).await;

    // Nothing runs for a session that does not exist.
    let r = http
        .post(server.url("/api/sessions/nope/kernel/execute"))
        .json(&json!({"code": "1+1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(assert_error_shape(&r.json().await.unwrap()), "NOT_FOUND");

    let state: Value = http
        .get(server.url(&format!("/api/sessions/{session}/kernel")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["status"], "not_started", "{state}");
    assert_eq!(state["sandboxed"], true);

    let out = execute(
        &http,
        &server,
        &session,
        "import pandas as pd; print(pd.__version__)",
    )
    .await;
    assert_eq!(out["success"], true, "{out}");
    assert_eq!(out["error"], Value::Null);
    assert_eq!(out["stderr"], "");
    let version = out["stdout"].as_str().unwrap().trim();
    assert!(
        version.split('.').count() == 3 && version.starts_with(char::is_numeric),
        "{out}"
    );

    let out = execute(
        &http,
        &server,
        &session,
        "df = pd.DataFrame({'x': range(4)})\nimport matplotlib.pyplot as plt\nplt.plot(df.x)\nplt.show()\n1/0",
    )
    .await;
    assert_eq!(out["success"], false);
    assert!(
        out["error"]
            .as_str()
            .unwrap()
            .starts_with("ZeroDivisionError"),
        "{out}"
    );
    assert_eq!(out["error_detail"]["ename"], "ZeroDivisionError");
    assert_eq!(out["images"][0]["format"], "png");

    let state: Value = http
        .get(server.url(&format!("/api/sessions/{session}/kernel")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["status"], "idle", "{state}");
    let df = state["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "df")
        .cloned()
        .unwrap();
    assert_eq!(
        df,
        json!({"name": "df", "type": "DataFrame", "shape": [4, 1]})
    );

    let r = http
        .post(server.url(&format!("/api/sessions/{session}/kernel/reset")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let out = execute(&http, &server, &session, "'df' in globals()").await;
    assert_eq!(out["stdout"], "False\n", "{out}");

    // A graceful stop leaves no kernel behind (the session's nor the warm pool's).
    assert!(
        !kernels_of(server.pid()).is_empty(),
        "the scan finds running kernels"
    );
    let pid = server.pid();
    let status = server.signal_and_wait(SIGTERM);
    assert!(status.success(), "{}", server.log());
    let mut left = kernels_of(pid);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = kernels_of(pid);
    }
    assert_eq!(left, Vec::<String>::new());
}

#[tokio::test]
async fn files_reach_the_kernel_and_traversal_is_refused() {
    let Some((_dir, server)) = kernel_server(&[("DSAGENT_MAX_UPLOAD_MB", "1")]) else {
        return;
    };
    let http = slow_client();
    let session = new_session(&http, &server).await;
    let files = server.url(&format!("/api/sessions/{session}/files"));

    let form = reqwest::multipart::Form::new()
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"a,b\n1,2\n3,4\n".to_vec()).file_name("sales.csv"),
        )
        .text("category", "data");
    let r = http.post(&files).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["files"][0]["name"], "sales.csv");
    assert_eq!(body["files"][0]["path"], "data/sales.csv");

    let out = execute(
        &http,
        &server,
        &session,
        "import pandas as pd\nprint(pd.read_csv('data/sales.csv').b.sum())\nimport os\nos.makedirs('artifacts', exist_ok=True)\nopen('artifacts/notes.txt','w').write('hi')\nos.symlink('/etc/passwd', 'artifacts/passwd.txt')\nos.symlink('/etc', 'notebooks')",
    )
    .await;
    assert_eq!(out["stdout"], "6\n", "{out}");

    let listing: Value = http.get(&files).send().await.unwrap().json().await.unwrap();
    assert_eq!(listing["total"], 1, "{listing}");
    let r = http.get(format!("{files}/sales.csv")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "a,b\n1,2\n3,4\n");

    // Artifacts the code wrote are listed and served; links it planted are not followed.
    let artifacts = server.url(&format!("/api/sessions/{session}/artifacts"));
    let list: Value = http
        .get(format!("{artifacts}?type=document"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["notes.txt"]);
    let r = http
        .get(format!("{artifacts}/notes.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "hi");
    let r = http
        .get(format!("{artifacts}/passwd.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .get(format!("{files}/passwd?category=notebooks"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let form = reqwest::multipart::Form::new().part(
        "files",
        reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("evil.txt"),
    );
    let r = http
        .post(format!("{files}?category=notebooks"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(!std::path::Path::new("/etc/evil.txt").exists());

    // Traversal names.
    for bad in [
        "..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
        "a%00b",
        ".hidden",
        "..",
    ] {
        let r = http.get(format!("{files}/{bad}")).send().await.unwrap();
        assert!(r.status().is_client_error(), "{bad}: {}", r.status());
        assert_ne!(r.status(), 200);
    }
    for bad in ["../evil.csv", "/tmp/evil.csv", "a\\b.csv"] {
        let form = reqwest::multipart::Form::new().part(
            "files",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name(bad.to_owned()),
        );
        let r = http.post(&files).multipart(form).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }

    // Over the limit: refused while streaming, nothing kept.
    let big = vec![b'x'; 3 * 1024 * 1024];
    let form = reqwest::multipart::Form::new().part(
        "files",
        reqwest::multipart::Part::bytes(big).file_name("big.csv"),
    );
    match http.post(&files).multipart(form).send().await {
        Ok(r) => assert_eq!(r.status(), 413),
        // The server may close the connection before the client finished sending.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    let listing: Value = client()
        .get(&files)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listing["total"], 1, "{listing}");
    let workspace = server.data_dir.join("workspaces");
    let leftovers: Vec<_> = walk(&workspace)
        .into_iter()
        .filter(|p| {
            p.to_string_lossy().contains("big.csv") || p.to_string_lossy().contains(".upload-")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let r = http
        .delete(format!("{files}/sales.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http.get(format!("{files}/sales.csv")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn setup_checks_a_configured_environment_and_the_sandbox() {
    let Some(env) = kernel_env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(quarry_tests::quarry_bin())
        .args(["setup", "--data-dir"])
        .arg(dir.path())
        .env("QUARRY_KERNEL_PYTHON_ENV", &env)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("the bubblewrap sandbox works"), "{stdout}");
    assert!(stdout.ends_with("setup complete\n"), "{stdout}");

    // An environment without ipykernel is refused with the reason.
    let out = std::process::Command::new(quarry_tests::quarry_bin())
        .args(["setup", "--data-dir"])
        .arg(dir.path())
        .env("QUARRY_KERNEL_PYTHON_ENV", dir.path().join("no-such-env"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot run"));
}
