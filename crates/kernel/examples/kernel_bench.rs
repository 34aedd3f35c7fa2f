//! Kernel benchmark (scripts/bench-kernel runs it): `1+1` round trips on a warm sandboxed
//! kernel from quarry and from Python's jupyter_client against the same kernel, first
//! execution in a new session with and without the warm pool, and kernels per GiB.
//!
//! Usage: `kernel_bench <python env root> [runs]`

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use quarry_kernel::{
    EnvSource, Kernel, KernelConfig, KernelManager, LaunchOptions, SandboxConfig, env::PythonEnv,
};

const CLIENT: &str = r#"
import sys, time, json
from jupyter_client import BlockingKernelClient
c = BlockingKernelClient()
c.load_connection_file(sys.argv[1])
c.start_channels()
c.wait_for_ready(timeout=30)
runs = int(sys.argv[2])
def once():
    t = time.perf_counter()
    mid = c.execute("1+1")
    idle = replied = False
    while not (idle and replied):
        if not replied:
            r = c.get_shell_msg(timeout=10)
            replied = r["parent_header"].get("msg_id") == mid
        if not idle:
            m = c.get_iopub_msg(timeout=10)
            idle = (m["parent_header"].get("msg_id") == mid and m["msg_type"] == "status"
                    and m["content"]["execution_state"] == "idle")
    return time.perf_counter() - t
for _ in range(50):
    once()
print(json.dumps([once() for _ in range(runs)]))
"#;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(v: f64) -> String {
    format!("{:.2} ms", v * 1000.0)
}

/// Proportional set size of every process whose command line names `dir`, in bytes.
fn pss_of(dir: &Path) -> u64 {
    let needle = dir.to_string_lossy().into_owned();
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if !String::from_utf8_lossy(&cmd).contains(&needle) {
            continue;
        }
        let rollup = std::fs::read_to_string(entry.path().join("smaps_rollup")).unwrap_or_default();
        for line in rollup.lines() {
            if let Some(kb) = line.strip_prefix("Pss:") {
                total += kb
                    .trim()
                    .trim_end_matches(" kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap_or(0)
                    * 1024;
            }
        }
    }
    total
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let env_root = PathBuf::from(
        args.next()
            .expect("usage: kernel_bench <python env> [runs]"),
    );
    let runs: usize = args.next().map_or(1000, |r| r.parse().unwrap());
    let env = PythonEnv::at(&env_root);
    let options = LaunchOptions {
        python: env.python(),
        python_dirs: env.inspect().await.unwrap(),
        sandbox: SandboxConfig::default(),
        start_timeout: Duration::from_secs(60),
        runtime_root: LaunchOptions::default_runtime_root(),
    };
    let work = tempfile::tempdir().unwrap();

    // 1. Round trips on one warm kernel: quarry, then jupyter_client on the same kernel.
    let ws = work.path().join("ws");
    let mut kernel = Kernel::start(&options, &ws, None).await.unwrap();
    for _ in 0..50 {
        kernel
            .execute("1+1", Duration::from_secs(10))
            .await
            .unwrap();
    }
    let mut ours = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let out = kernel
            .execute("1+1", Duration::from_secs(10))
            .await
            .unwrap();
        ours.push(t.elapsed().as_secs_f64());
        assert_eq!(out.stdout, "2\n");
    }
    ours.sort_by(f64::total_cmp);
    let conn = kernel.runtime_dir().join("connection.json");
    let py = tokio::process::Command::new(env.python())
        .args(["-c", CLIENT, &conn.to_string_lossy(), &runs.to_string()])
        .output()
        .await
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let mut theirs: Vec<f64> = serde_json::from_slice(&py.stdout).unwrap();
    theirs.sort_by(f64::total_cmp);
    println!("| `1+1` round trip, warm kernel ({runs} runs) | p50 | p99 |");
    println!("|---|---|---|");
    println!(
        "| quarry (Rust, zeromq) | {} | {} |",
        ms(percentile(&ours, 0.5)),
        ms(percentile(&ours, 0.99))
    );
    println!(
        "| jupyter_client (Python, pyzmq) | {} | {} |",
        ms(percentile(&theirs, 0.5)),
        ms(percentile(&theirs, 0.99))
    );
    println!(
        "| ratio quarry / jupyter_client | {:.2}x | {:.2}x |",
        percentile(&ours, 0.5) / percentile(&theirs, 0.5),
        percentile(&ours, 0.99) / percentile(&theirs, 0.99)
    );

    // 2. Kernels per GiB: PSS of idle kernels, and of kernels with pandas loaded.
    let idle = pss_of(kernel.runtime_dir());
    kernel
        .execute("import pandas as pd, numpy as np", Duration::from_secs(60))
        .await
        .unwrap();
    let with_pandas = pss_of(kernel.runtime_dir());
    kernel.shutdown().await;
    let gib = 1024.0 * 1024.0 * 1024.0;
    println!();
    println!("| memory per kernel (PSS) | MiB | kernels per GiB |");
    println!("|---|---|---|");
    for (what, bytes) in [("idle", idle), ("pandas + numpy imported", with_pandas)] {
        println!(
            "| {what} | {:.0} | {:.1} |",
            bytes as f64 / 1024.0 / 1024.0,
            gib / bytes as f64
        );
    }

    // 3. First execution in a new session, with and without the warm pool.
    println!();
    println!("| first `1+1` in a new session (5 sessions) | median | max |");
    println!("|---|---|---|");
    for pool in [1usize, 0] {
        let root = work.path().join(format!("pool{pool}"));
        let mut config = KernelConfig::for_data_dir(&root);
        config.env = EnvSource::Existing(env_root.clone());
        config.pool_size = pool;
        let manager = KernelManager::new(config, root.join("workspaces"));
        let bg = tokio::spawn(manager.clone().run_background());
        let mut times = Vec::new();
        for i in 0..5 {
            if pool > 0 {
                while manager.kernel_count().await < i + pool {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            let key = format!("t/s{i}");
            let t = Instant::now();
            let out = manager
                .execute(&key, &root.join("workspaces").join(&key), "1+1")
                .await
                .unwrap();
            times.push(t.elapsed().as_secs_f64());
            assert_eq!(out.stdout, "2\n");
        }
        times.sort_by(f64::total_cmp);
        println!(
            "| {} | {} | {} |",
            if pool > 0 {
                "with the warm pool"
            } else {
                "without a pool"
            },
            ms(percentile(&times, 0.5)),
            ms(times[times.len() - 1])
        );
        manager.shutdown().await;
        bg.abort();
    }
}
