//! Behaviour of real sandboxed ipykernels.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::{Kernel, testenv::launch_options};

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_output_kind_comes_back() {
    let Some(opts) = launch_options().await else {
        return;
    };
    let ws = tempfile::tempdir().unwrap();
    let mut k = Kernel::start(&opts, ws.path(), None).await.unwrap();
    let out = k
        .execute(
            "print('hi'); import sys; print('oops', file=sys.stderr); 1+1",
            T,
        )
        .await
        .unwrap();
    assert!(out.success, "{out:?}");
    assert_eq!(out.stdout, "hi\n2\n");
    assert_eq!(out.stderr, "oops\n");
    let out = k.execute("raise ValueError('bad')", T).await.unwrap();
    assert!(!out.success);
    let err = out.error.clone().unwrap();
    assert_eq!(
        (err.ename.as_str(), err.evalue.as_str()),
        ("ValueError", "bad")
    );
    assert!(
        err.traceback.iter().any(|l| l.contains("ValueError")),
        "{err:?}"
    );
    assert!(!err.traceback.concat().contains('\u{1b}'));
    let out = k
        .execute(
            "import matplotlib.pyplot as plt\nplt.plot([1,2,3],[3,1,2])\nplt.show()\nfrom IPython.display import display, HTML\ndisplay(HTML('<b>x</b>'))",
            T,
        )
        .await
        .unwrap();
    assert!(out.success, "{out:?}");
    assert_eq!(out.images.len(), 1);
    assert_eq!(out.images[0].format, "png");
    assert!(out.images[0].data.starts_with("iVBORw0KGgo"), "not a PNG");
    assert!(
        out.outputs
            .iter()
            .any(|o| o["data"]["text/html"] == "<b>x</b>")
    );
    let vars = {
        k.execute(
            "import pandas as pd\ndf = pd.DataFrame({'a':[1,2,3]})\nn = [1,2]",
            T,
        )
        .await
        .unwrap();
        k.variables().await.unwrap()
    };
    let df = vars.iter().find(|v| v.name == "df").unwrap();
    assert_eq!(
        (df.type_name.as_str(), df.shape.clone()),
        ("DataFrame", Some(vec![3, 1]))
    );
    assert!(
        vars.iter()
            .any(|v| v.name == "n" && v.shape == Some(vec![2]))
    );
    assert!(!vars.iter().any(|v| v.name == "pd"));
    assert!(k.is_alive(Duration::from_secs(5)).await);
    k.shutdown().await;
}

mod escapes {
    use std::{io::Read, path::Path, time::Duration};

    use crate::testenv::manager;

    fn processes_naming(dirs: &[std::path::PathBuf]) -> Vec<String> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if dirs.iter().any(|d| cmd.contains(&*d.to_string_lossy())) {
                found.push(cmd);
            }
        }
        found
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn escape_attempts_fail_and_the_kernel_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let Some(m) = manager(dir.path(), 0, Duration::from_secs(4)).await else {
            return;
        };
        let ws = dir.path().join("workspaces/t1/s1");
        let other = dir.path().join("workspaces/t1/s2");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("secret.txt"), "other session's data").unwrap();
        let outside = dir.path().join("outside.txt");

        // Writes land in the workspace only.
        let code = format!(
            r#"
import os
results = []
for path in ["/usr/evil", "/etc/evil", "{outside}", "../s2/evil", "/workspace/../evil", "{other}/evil"]:
    try:
        open(path, "w").write("x")
        results.append("wrote " + path)
    except OSError as e:
        results.append("refused")
open("mine.txt", "w").write("ok")
print(results)
"#,
            outside = outside.display(),
            other = other.display()
        );
        let out = m.execute("t1/s1", &ws, &code).await.unwrap();
        assert!(out.success, "{out:?}");
        assert!(!out.stdout.contains("wrote"), "{}", out.stdout);
        assert!(!outside.exists());
        assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1);
        assert_eq!(std::fs::read_to_string(ws.join("mine.txt")).unwrap(), "ok");

        // Another session's workspace cannot be read.
        let code = format!(
            "import glob\nfound = []\nfor p in ['{}/secret.txt', '../s2/secret.txt', '/workspace/../s2/secret.txt']:\n    try:\n        found.append(open(p).read())\n    except OSError:\n        pass\nimport os\nfound += [n for n in os.listdir('/workspace/..') if n in ('s2', 't1', 'workspaces')]\nfound += glob.glob('/tmp/**/secret.txt', recursive=True)\nprint(found)",
            other.display()
        );
        let out = m.execute("t1/s1", &ws, &code).await.unwrap();
        assert_eq!(out.stdout.trim(), "[]", "{out:?}");

        // The network is not reachable: a listener on the host's loopback receives nothing.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let code = format!(
            "import socket\ntry:\n    s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    s.sendall(b'escaped')\n    print('connected')\nexcept OSError as e:\n    print('refused', e)"
        );
        let out = m.execute("t1/s1", &ws, &code).await.unwrap();
        assert!(out.stdout.starts_with("refused"), "{out:?}");
        match listener.accept() {
            Ok((mut s, _)) => {
                let mut got = Vec::new();
                let _ = s.read_to_end(&mut got);
                panic!("the listener received a connection: {got:?}");
            }
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
        }

        // Killing the parent does nothing to the host.
        let out = m
            .execute("t1/s1", &ws, "import os, signal\nfor pid in (os.getppid(), 1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError as e:\n        print(type(e).__name__)\nprint('alive')")
            .await
            .unwrap();
        assert!(out.stdout.contains("alive"), "{out:?}");
        assert_eq!(m.execute("t1/s1", &ws, "6*7").await.unwrap().stdout, "42\n");

        // A memory hog gets MemoryError and the kernel stays usable.
        let out = m
            .execute("t1/s1", &ws, "x = bytearray(16 * 1024**3)")
            .await
            .unwrap();
        assert_eq!(
            out.error.as_ref().map(|e| e.ename.as_str()),
            Some("MemoryError"),
            "{out:?}"
        );
        assert!(m.execute("t1/s1", &ws, "1+1").await.unwrap().success);

        // A fork bomb hits the process limit.
        let out = m
            .execute(
                "t1/s1",
                &ws,
                "import os, time\npids = []\nerr = None\ntry:\n    for _ in range(2000):\n        pid = os.fork()\n        if pid == 0:\n            time.sleep(60)\n            os._exit(0)\n        pids.append(pid)\nexcept OSError as e:\n    err = type(e).__name__\nfor p in pids:\n    os.kill(p, 9)\n    os.waitpid(p, 0)\nprint(len(pids) < 2000, err)",
            )
            .await
            .unwrap();
        assert_eq!(out.stdout.trim(), "True BlockingIOError", "{out:?}");
        assert!(m.execute("t1/s1", &ws, "1+1").await.unwrap().success);

        // An infinite loop times out, is interrupted, and the kernel keeps its variables.
        m.execute("t1/s1", &ws, "kept = 5").await.unwrap();
        let out = m
            .execute("t1/s1", &ws, "while True:\n    pass")
            .await
            .unwrap();
        assert!(out.timed_out && !out.success && !out.restarted, "{out:?}");
        assert_eq!(m.execute("t1/s1", &ws, "kept").await.unwrap().stdout, "5\n");

        // Code that ignores the interrupt gets its kernel restarted.
        let out = m
            .execute("t1/s1", &ws, "while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass")
            .await
            .unwrap();
        assert!(out.timed_out && out.restarted, "{out:?}");
        assert_eq!(m.execute("t1/s1", &ws, "1+1").await.unwrap().stdout, "2\n");

        // A killed kernel is detected, reported and restarted.
        let out = m
            .execute(
                "t1/s1",
                &ws,
                "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
            )
            .await
            .unwrap();
        assert!(out.restarted && !out.success, "{out:?}");
        assert_eq!(out.error.as_ref().unwrap().ename, "KernelDied");
        assert_eq!(m.execute("t1/s1", &ws, "1+1").await.unwrap().stdout, "2\n");
        assert!(m.state("t1/s1").await.restarts >= 2);

        // Nothing is left running after shutdown.
        let dirs = m.runtime_dirs().await;
        assert!(!dirs.is_empty());
        assert!(
            !processes_naming(&dirs).is_empty(),
            "the scan finds running kernels"
        );
        m.shutdown().await;
        for _ in 0..50 {
            if processes_naming(&dirs).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(processes_naming(&dirs), Vec::<String>::new());
        assert!(Path::new(&ws).join("mine.txt").exists());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn warm_kernels_move_onto_a_session_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let Some(m) = manager(dir.path(), 1, Duration::from_secs(30)).await else {
            return;
        };
        let bg = tokio::spawn(m.clone().run_background());
        for _ in 0..600 {
            if m.kernel_count().await == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(m.kernel_count().await, 1, "the pool did not warm up");
        let ws = dir.path().join("workspaces/t/s");
        std::fs::create_dir_all(ws.join("data")).unwrap();
        std::fs::write(ws.join("data/in.csv"), "a,b\n1,2\n").unwrap();
        let out = m
            .execute("t/s", &ws, "import pandas as pd\ndf = pd.read_csv('data/in.csv')\nopen('out.txt','w').write('x')\nprint(df.shape)")
            .await
            .unwrap();
        assert_eq!(out.stdout, "(1, 2)\n", "{out:?}");
        assert!(ws.join("out.txt").exists());
        let state = m.state("t/s").await;
        assert_eq!(state.status, crate::KernelStatus::Idle);
        assert!(
            state
                .variables
                .iter()
                .any(|v| v.name == "df" && v.shape == Some(vec![1, 2]))
        );
        m.reset("t/s").await;
        assert_eq!(m.state("t/s").await.status, crate::KernelStatus::NotStarted);
        m.shutdown().await;
        bg.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_kernels_are_culled() {
        let dir = tempfile::tempdir().unwrap();
        let Some(opts) = crate::testenv::launch_options().await else {
            return;
        };
        let env_root = opts.python.parent().unwrap().parent().unwrap().to_owned();
        let mut config = crate::KernelConfig::for_data_dir(dir.path());
        config.env = crate::EnvSource::Existing(env_root);
        config.pool_size = 0;
        config.idle_timeout = Duration::from_secs(1);
        let m = crate::KernelManager::new(config, dir.path().join("workspaces"));
        let bg = tokio::spawn(m.clone().run_background());
        let ws = dir.path().join("workspaces/t/s");
        assert!(m.execute("t/s", &ws, "x = 1").await.unwrap().success);
        assert_eq!(m.kernel_count().await, 1);
        let dirs = m.runtime_dirs().await;
        for _ in 0..100 {
            if m.kernel_count().await == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(m.kernel_count().await, 0, "the idle kernel was not culled");
        assert_eq!(m.state("t/s").await.status, crate::KernelStatus::NotStarted);
        // A culled kernel is asked to exit and killed if it has not within two seconds.
        for _ in 0..50 {
            if processes_naming(&dirs).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(processes_naming(&dirs), Vec::<String>::new());
        // The next execution starts a new kernel.
        assert_eq!(m.execute("t/s", &ws, "1+1").await.unwrap().stdout, "2\n");
        m.shutdown().await;
        bg.abort();
    }
}
