//! How a kernel process is confined: bubblewrap namespaces (no network, own PID space, a
//! read-only view of the system and the Python environment, write access only to the
//! workspace, the kernel's runtime directory and its own /tmp) and resource limits set by
//! `prlimit` (address space, processes, file size, CPU seconds). When quarry runs as root,
//! each kernel also drops to its own unprivileged uid (`setpriv`), so the process limit
//! counts that kernel alone and setuid programs cannot give root back.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

/// Limits and switches of the sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Run under bubblewrap. Off only by an explicit setting (quarry logs a warning).
    pub enabled: bool,
    /// Address-space limit of the kernel, in bytes (virtual memory: pandas and matplotlib
    /// loaded reserve about 1.5 GiB while using a tenth of it).
    pub memory_bytes: u64,
    /// Most processes (and threads) the kernel's uid may have.
    pub max_processes: u64,
    /// Largest file the kernel may write, in bytes.
    pub max_file_bytes: u64,
    /// CPU seconds the kernel process may use over its life.
    pub cpu_seconds: u64,
    /// Size of the kernel's private /tmp, in bytes.
    pub tmp_bytes: u64,
    /// First uid of the range kernels run as when quarry is root (kernel `n` gets base + n).
    pub uid_base: u32,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            memory_bytes: 4 * 1024 * 1024 * 1024,
            max_processes: 64,
            max_file_bytes: 512 * 1024 * 1024,
            cpu_seconds: 3600,
            tmp_bytes: 256 * 1024 * 1024,
            uid_base: 200_000,
        }
    }
}

/// Where the kernel's pieces are on the host.
#[derive(Clone, Debug)]
pub struct Layout<'a> {
    /// The environment's interpreter (`<venv>/bin/python`).
    pub python: &'a Path,
    /// Read-only directories the interpreter needs (the venv and its base installation).
    pub python_dirs: &'a [PathBuf],
    /// The session's workspace (read-write, mounted at [`WORKSPACE`]).
    pub workspace: &'a Path,
    /// The kernel's runtime directory: connection file and sockets (read-write, same path).
    pub runtime_dir: &'a Path,
    /// The connection file inside `runtime_dir`.
    pub connection_file: &'a Path,
    /// The uid to run as (root only).
    pub uid: Option<u32>,
}

/// Where the workspace appears inside the sandbox.
pub const WORKSPACE: &str = "/workspace";

/// The program and arguments that start the kernel described by `layout` under `config`.
pub fn command(config: &SandboxConfig, layout: &Layout<'_>) -> (OsString, Vec<OsString>) {
    let kernel: Vec<OsString> = vec![
        layout.python.into(),
        "-m".into(),
        "ipykernel_launcher".into(),
        "-f".into(),
        layout.connection_file.into(),
    ];
    let mut args: Vec<OsString> = vec![
        format!("--as={}", config.memory_bytes).into(),
        format!("--nproc={}", config.max_processes).into(),
        format!("--fsize={}", config.max_file_bytes).into(),
        format!("--cpu={}", config.cpu_seconds).into(),
        "--nofile=1024".into(),
        "--core=0".into(),
        "--".into(),
    ];
    if !config.enabled {
        args.extend(kernel);
        return ("prlimit".into(), args);
    }
    args.push("bwrap".into());
    let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
    push(&[
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "quarry-kernel",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ]);
    if layout.uid.is_none() {
        // Without root, bubblewrap needs a user namespace to build the mounts.
        push(&["--unshare-user"]);
    }
    for dir in ["/usr", "/etc/ssl", "/etc/fonts", "/etc/localtime"] {
        push(&["--ro-bind-try", dir, dir]);
    }
    for dir in ["/bin", "/sbin", "/lib", "/lib32", "/lib64"] {
        match std::fs::read_link(dir) {
            Ok(target) => {
                args.push("--symlink".into());
                args.push(target.into());
                args.push(dir.into());
            }
            Err(_) => args.extend(["--ro-bind-try", dir, dir].map(OsString::from)),
        }
    }
    args.extend(
        [
            "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size",
        ]
        .map(OsString::from),
    );
    args.push(config.tmp_bytes.to_string().into());
    args.extend(["--tmpfs", "/tmp"].map(OsString::from));
    // bubblewrap makes missing parents of mount points private (0700) when run as root;
    // the kernel's uid must be able to walk through them.
    let mut parents: Vec<&Path> = Vec::new();
    for dir in layout
        .python_dirs
        .iter()
        .map(PathBuf::as_path)
        .chain([layout.runtime_dir])
    {
        for p in dir
            .ancestors()
            .skip(1)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            if p != Path::new("/") && p != Path::new("/tmp") && !parents.contains(&p) {
                parents.push(p);
            }
        }
    }
    for p in parents {
        args.extend(["--perms".into(), "0755".into(), "--dir".into(), p.into()]);
    }
    for dir in layout.python_dirs {
        args.extend(["--ro-bind".into(), dir.into(), dir.into()]);
    }
    args.extend([
        "--bind".into(),
        layout.runtime_dir.into(),
        layout.runtime_dir.into(),
        "--bind".into(),
        layout.workspace.into(),
        WORKSPACE.into(),
        "--chdir".into(),
        WORKSPACE.into(),
    ]);
    for (k, v) in kernel_env(WORKSPACE) {
        args.extend(["--setenv".into(), k.into(), v]);
    }
    args.push("--".into());
    if let Some(uid) = layout.uid {
        args.extend(
            [
                "setpriv",
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--no-new-privs",
                "--",
            ]
            .map(OsString::from),
        );
    }
    args.extend(kernel);
    ("prlimit".into(), args)
}

/// The environment of the kernel process (the sandbox clears everything else).
pub fn kernel_env(workspace: &str) -> Vec<(&'static str, OsString)> {
    vec![
        ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
        ("HOME", "/tmp".into()),
        ("USER", "quarry".into()),
        ("LANG", "C.UTF-8".into()),
        (
            "MPLBACKEND",
            "module://matplotlib_inline.backend_inline".into(),
        ),
        ("MPLCONFIGDIR", "/tmp/matplotlib".into()),
        ("IPYTHONDIR", "/tmp/ipython".into()),
        ("JUPYTER_RUNTIME_DIR", "/tmp/jupyter".into()),
        ("PYTHONDONTWRITEBYTECODE", "1".into()),
        ("QUARRY_WORKSPACE", workspace.into()),
        // BLAS thread pools would otherwise start one thread per core in every kernel.
        ("OPENBLAS_NUM_THREADS", "1".into()),
        ("OMP_NUM_THREADS", "1".into()),
        // Each thread's malloc arena reserves 64 MiB of address space, which the address-space
        // limit counts although little of it is ever used.
        ("MALLOC_ARENA_MAX", "2".into()),
    ]
}

/// True when the current process is root (kernels then switch to their own uid).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Whether bubblewrap can build a sandbox here; the error says why not.
pub async fn probe() -> Result<(), String> {
    let out = tokio::process::Command::new("bwrap")
        .args([
            "--unshare-pid",
            "--unshare-net",
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "/usr/bin/true",
        ])
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(std::time::Duration::from_secs(10), out).await {
        Err(_) => Err("bwrap did not answer within 10 s".into()),
        Ok(Err(e)) => Err(format!(
            "cannot run bwrap ({e}); install bubblewrap (apt-get install bubblewrap)"
        )),
        Ok(Ok(o)) if o.status.success() => Ok(()),
        Ok(Ok(o)) => Err(format!(
            "bwrap cannot create a sandbox here: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandboxed_command_confines_network_and_writes() {
        let layout = Layout {
            python: Path::new("/env/bin/python"),
            python_dirs: &[PathBuf::from("/env")],
            workspace: Path::new("/data/ws/t/s"),
            runtime_dir: Path::new("/tmp/qk-1"),
            connection_file: Path::new("/tmp/qk-1/c.json"),
            uid: Some(200_001),
        };
        let (prog, args) = command(&SandboxConfig::default(), &layout);
        assert_eq!(prog, "prlimit");
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        for needed in [
            "--unshare-net",
            "--unshare-pid",
            "--die-with-parent",
            "--ro-bind /env /env",
            "--bind /data/ws/t/s /workspace",
            "--reuid=200001",
            "--no-new-privs",
            "--nproc=64",
        ] {
            assert!(joined.contains(needed), "missing {needed}: {joined}");
        }
        // The only writable binds are the workspace and the runtime directory.
        let writable: Vec<_> = args
            .windows(2)
            .filter(|w| w[0] == "--bind")
            .map(|w| w[1].clone())
            .collect();
        assert_eq!(writable, ["/tmp/qk-1", "/data/ws/t/s"]);
    }

    #[test]
    fn unsandboxed_command_keeps_limits() {
        let layout = Layout {
            python: Path::new("/env/bin/python"),
            python_dirs: &[],
            workspace: Path::new("/w"),
            runtime_dir: Path::new("/r"),
            connection_file: Path::new("/r/c.json"),
            uid: None,
        };
        let config = SandboxConfig {
            enabled: false,
            ..SandboxConfig::default()
        };
        let (_, args) = command(&config, &layout);
        assert!(!args.iter().any(|a| a == "bwrap"));
        assert!(
            args.iter()
                .any(|a| a.to_string_lossy().starts_with("--as="))
        );
    }
}
