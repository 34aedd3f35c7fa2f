//! One kernel per session, started on first use from a warm pool of pre-started kernels,
//! culled when idle, restarted when it dies or stops answering, and all stopped with quarry.
//!
//! A warm kernel is started on a spare workspace directory (under `<workspace root>/.spare`);
//! when a session takes it, the directory is renamed to the session's workspace (the
//! sandbox's bind mount follows the directory), after moving in any files the session
//! already had.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde::Serialize;
use tokio::sync::{Mutex, Notify, OnceCell};

use crate::{
    Execution, Kernel, KernelError, LaunchOptions, SandboxConfig, Variable, env::PythonEnv,
    kernel::chown_tree, sandbox::running_as_root,
};

/// Uids tried above the base, across every quarry process of the host.
const UID_RANGE: u32 = 4096;

/// Where the Python environment comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvSource {
    /// quarry's own environment at this path, created on first use when missing.
    Managed {
        /// Its root (`<data dir>/python`).
        root: PathBuf,
        /// The interpreter that creates it (`python3.11`).
        base_python: String,
    },
    /// An environment the operator provides (must have ipykernel); used as it is.
    Existing(PathBuf),
}

/// Settings of the kernels.
#[derive(Clone, Debug)]
pub struct KernelConfig {
    /// The Python environment.
    pub env: EnvSource,
    /// Confinement and limits.
    pub sandbox: SandboxConfig,
    /// Pre-started kernels kept ready.
    pub pool_size: usize,
    /// Most kernels at once (sessions plus pool).
    pub max_kernels: usize,
    /// A session's kernel idle this long is stopped.
    pub idle_timeout: Duration,
    /// Wall-clock limit of one execution.
    pub execution_timeout: Duration,
    /// Longest wait for a kernel to start.
    pub start_timeout: Duration,
}

impl KernelConfig {
    /// Defaults with quarry's environment under `data_dir`.
    pub fn for_data_dir(data_dir: &Path) -> Self {
        Self {
            env: EnvSource::Managed {
                root: data_dir.join("python"),
                base_python: "python3.11".into(),
            },
            sandbox: SandboxConfig::default(),
            pool_size: 2,
            max_kernels: 32,
            idle_timeout: Duration::from_secs(30 * 60),
            execution_timeout: Duration::from_secs(120),
            start_timeout: Duration::from_secs(60),
        }
    }
}

/// What a session's kernel is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelStatus {
    /// No kernel yet (or it was culled or reset); the next execution starts one.
    NotStarted,
    /// Ready.
    Idle,
    /// Running code.
    Busy,
    /// Its process ended; the next execution restarts it.
    Dead,
}

/// The state of a session's kernel.
#[derive(Clone, Debug, Serialize)]
pub struct KernelState {
    /// What it is doing.
    pub status: KernelStatus,
    /// Its variables (empty unless idle).
    pub variables: Vec<Variable>,
    /// Executions run in it.
    pub execution_count: u64,
    /// Times it was restarted after dying or hanging.
    pub restarts: u64,
}

#[derive(Debug, Default)]
struct Slot {
    kernel: Option<Kernel>,
    last_used: Option<Instant>,
    executions: u64,
    restarts: u64,
}

/// All kernels of the server.
#[derive(Debug)]
pub struct KernelManager {
    config: KernelConfig,
    workspace_root: PathBuf,
    launch: OnceCell<LaunchOptions>,
    provisioning: Arc<Mutex<()>>,
    sessions: std::sync::Mutex<HashMap<String, Arc<Mutex<Slot>>>>,
    warm: std::sync::Mutex<Vec<(Kernel, PathBuf)>>,
    /// Uids taken by this manager's kernels, each held by a lock file so that other quarry
    /// processes on the host never share it (the process limit counts per uid).
    uid_locks: std::sync::Mutex<HashMap<u32, std::fs::File>>,
    refill: Notify,
    stopping: AtomicBool,
    as_root: bool,
}

impl KernelManager {
    /// A manager whose session workspaces live under `workspace_root`.
    pub fn new(config: KernelConfig, workspace_root: PathBuf) -> Arc<Self> {
        let as_root = config.sandbox.enabled && running_as_root();
        Arc::new(Self {
            config,
            workspace_root,
            launch: OnceCell::new(),
            provisioning: Arc::default(),
            sessions: Default::default(),
            warm: Default::default(),
            uid_locks: Default::default(),
            refill: Notify::new(),
            stopping: AtomicBool::new(false),
            as_root,
        })
    }

    /// Its settings.
    pub fn config(&self) -> &KernelConfig {
        &self.config
    }

    /// Keeps the warm pool filled and culls idle kernels until [`KernelManager::shutdown`].
    /// The pool fills once the environment is ready (at once when it already is).
    pub async fn run_background(self: Arc<Self>) {
        if self.environment_present() {
            match self.launch_options().await {
                Ok(_) => self.refill.notify_one(),
                Err(e) => {
                    tracing::error!(error = %e, "the kernels' Python environment is unusable")
                }
            }
        }
        let mut cull = tokio::time::interval(Duration::from_secs(15).min(self.config.idle_timeout));
        loop {
            if self.stopping.load(Ordering::Acquire) {
                return;
            }
            tokio::select! {
                _ = self.refill.notified() => self.fill_pool().await,
                _ = cull.tick() => self.cull_idle().await,
            }
        }
    }

    /// True when the Python environment exists (a managed one is created on first use).
    pub fn environment_present(&self) -> bool {
        match &self.config.env {
            EnvSource::Managed { root, .. } => PythonEnv::at(root).is_provisioned(),
            EnvSource::Existing(_) => true,
        }
    }

    /// The launch options, creating the managed environment first when it is missing.
    pub async fn launch_options(&self) -> Result<&LaunchOptions, KernelError> {
        self.launch
            .get_or_try_init(|| async {
                let env = match &self.config.env {
                    EnvSource::Existing(root) => PythonEnv::at(root),
                    EnvSource::Managed { root, base_python } => {
                        let env = PythonEnv::at(root);
                        if !env.is_provisioned() {
                            let lock = self.provisioning.clone();
                            let (target, base) = (env.clone(), base_python.clone());
                            // Runs to the end even when the request that started it goes
                            // away; a later request waits for it instead of starting over.
                            let task = tokio::spawn(async move {
                                let _guard = lock.lock().await;
                                if target.is_provisioned() {
                                    return Ok(());
                                }
                                tracing::warn!(
                                    path = %target.root().display(),
                                    "the Python environment for kernels is missing; creating it \
                                     now (this takes a few minutes; `quarry setup` does it ahead \
                                     of time)"
                                );
                                target
                                    .provision(&base, &|line| {
                                        tracing::info!("python setup: {line}")
                                    })
                                    .await
                            });
                            task.await
                                .map_err(|e| KernelError::Environment(e.to_string()))??;
                        }
                        env
                    }
                };
                let python_dirs = env.inspect().await?;
                Ok(LaunchOptions {
                    python: env.python(),
                    python_dirs,
                    sandbox: self.config.sandbox.clone(),
                    start_timeout: self.config.start_timeout,
                    runtime_root: LaunchOptions::default_runtime_root(),
                })
            })
            .await
    }

    fn take_uid(&self) -> Result<Option<u32>, KernelError> {
        if !self.as_root {
            return Ok(None);
        }
        let dir = std::env::temp_dir().join("quarry-kernel-uids");
        std::fs::create_dir_all(&dir)?;
        let mut locks = self.uid_locks.lock().unwrap_or_else(|e| e.into_inner());
        for n in 0..UID_RANGE {
            let uid = self.config.sandbox.uid_base + n;
            if locks.contains_key(&uid) {
                continue;
            }
            let file = std::fs::File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join(format!("{uid}.lock")))?;
            if file.try_lock().is_ok() {
                locks.insert(uid, file);
                return Ok(Some(uid));
            }
        }
        Err(KernelError::Unavailable(
            "no free uid for another kernel on this host".into(),
        ))
    }

    fn give_uid(&self, uid: Option<u32>) {
        if let Some(uid) = uid {
            self.uid_locks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&uid);
        }
    }

    fn running(&self) -> usize {
        let warm = self.warm.lock().map(|w| w.len()).unwrap_or_default();
        let sessions = self.sessions.lock().map(|s| s.len()).unwrap_or_default();
        warm + sessions
    }

    async fn start_kernel(&self, workspace: &Path) -> Result<Kernel, KernelError> {
        if self.stopping.load(Ordering::Acquire) {
            return Err(KernelError::Unavailable("quarry is shutting down".into()));
        }
        let options = self.launch_options().await?;
        let uid = self.take_uid()?;
        match Kernel::start(options, workspace, uid).await {
            Ok(k) => Ok(k),
            Err(e) => {
                self.give_uid(uid);
                Err(e)
            }
        }
    }

    async fn stop_kernel(&self, kernel: Kernel) {
        let uid = kernel.uid();
        kernel.shutdown().await;
        self.give_uid(uid);
    }

    async fn fill_pool(&self) {
        loop {
            let have = self.warm.lock().map(|w| w.len()).unwrap_or_default();
            if have >= self.config.pool_size
                || self.running() >= self.config.max_kernels + self.config.pool_size
                || self.stopping.load(Ordering::Acquire)
            {
                return;
            }
            let spare = self
                .workspace_root
                .join(".spare")
                .join(&crate::wire::new_id()[..12]);
            match self.start_kernel(&spare).await {
                Ok(k) => {
                    if self.stopping.load(Ordering::Acquire) {
                        self.stop_kernel(k).await;
                        return;
                    }
                    self.warm
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((k, spare));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start a kernel for the warm pool");
                    let _ = tokio::fs::remove_dir_all(&spare).await;
                    return;
                }
            }
        }
    }

    /// A kernel for `workspace`: a warm one moved onto it, or a new one.
    async fn acquire(&self, workspace: &Path) -> Result<Kernel, KernelError> {
        loop {
            let warm = self.warm.lock().unwrap_or_else(|e| e.into_inner()).pop();
            self.refill.notify_one();
            let Some((mut kernel, spare)) = warm else {
                break;
            };
            if !kernel.is_alive(Duration::from_secs(2)).await {
                self.stop_kernel(kernel).await;
                let _ = tokio::fs::remove_dir_all(&spare).await;
                continue;
            }
            match adopt_workspace(&spare, workspace, kernel.uid()).await {
                Ok(()) => {
                    kernel.set_workspace(workspace.to_owned());
                    return Ok(kernel);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot move a warm kernel onto a workspace");
                    self.stop_kernel(kernel).await;
                    let _ = tokio::fs::remove_dir_all(&spare).await;
                    break;
                }
            }
        }
        if self.running() >= self.config.max_kernels + self.config.pool_size {
            return Err(KernelError::Unavailable(format!(
                "all {} kernels are in use; try again later",
                self.config.max_kernels
            )));
        }
        self.start_kernel(workspace).await
    }

    fn slot(&self, key: &str) -> Arc<Mutex<Slot>> {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_owned())
            .or_default()
            .clone()
    }

    /// Runs `code` in the kernel of session `key` (workspace `workspace`), starting it first
    /// when needed. A kernel that dies or hangs is restarted and the result says so.
    pub async fn execute(
        &self,
        key: &str,
        workspace: &Path,
        code: &str,
    ) -> Result<Execution, KernelError> {
        let slot = self.slot(key);
        let mut slot = slot.lock().await;
        let mut restarted_before = false;
        if let Some(k) = slot.kernel.as_mut()
            && !k.is_alive(Duration::from_secs(2)).await
        {
            tracing::warn!(
                session = key,
                "the session's kernel had died; restarting it"
            );
            if let Some(k) = slot.kernel.take() {
                self.stop_kernel(k).await;
            }
            slot.restarts += 1;
            restarted_before = true;
        }
        if slot.kernel.is_none() {
            slot.kernel = Some(self.acquire(workspace).await?);
        }
        slot.executions += 1;
        let Some(kernel) = slot.kernel.as_mut() else {
            return Err(KernelError::Unavailable("no kernel".into()));
        };
        let started = Instant::now();
        let result = kernel.execute(code, self.config.execution_timeout).await;
        let mut out = match result {
            Ok(out) => out,
            Err(KernelError::Unavailable(m)) => return Err(KernelError::Unavailable(m)),
            // Any other failure leaves the kernel in an unknown state: replace it.
            Err(e) => {
                let (ename, timed_out) = match &e {
                    KernelError::Died(_) => ("KernelDied", false),
                    KernelError::Unresponsive(_) => ("TimeoutError", true),
                    _ => ("KernelError", false),
                };
                tracing::warn!(session = key, error = %e, "restarting the session's kernel");
                if let Some(k) = slot.kernel.take() {
                    self.stop_kernel(k).await;
                }
                slot.restarts += 1;
                let mut out = Execution::failed(
                    ename,
                    format!("{e}; the kernel was restarted and its variables are gone"),
                );
                out.timed_out = timed_out;
                out.restarted = true;
                out.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(0);
                match self.acquire(workspace).await {
                    Ok(k) => slot.kernel = Some(k),
                    Err(e) => tracing::warn!(session = key, error = %e, "kernel restart failed"),
                }
                out
            }
        };
        if restarted_before {
            out.restarted = true;
            out.stderr.insert_str(
                0,
                "[quarry] the kernel had stopped and was restarted; earlier variables are gone\n",
            );
        }
        slot.last_used = Some(Instant::now());
        Ok(out)
    }

    /// The state of session `key`'s kernel; does not start one.
    pub async fn state(&self, key: &str) -> KernelState {
        let slot = self.sessions.lock().ok().and_then(|s| s.get(key).cloned());
        let Some(slot) = slot else {
            return KernelState {
                status: KernelStatus::NotStarted,
                variables: Vec::new(),
                execution_count: 0,
                restarts: 0,
            };
        };
        let Ok(mut slot) = slot.try_lock() else {
            return KernelState {
                status: KernelStatus::Busy,
                variables: Vec::new(),
                execution_count: 0,
                restarts: 0,
            };
        };
        let (executions, restarts) = (slot.executions, slot.restarts);
        let (status, variables) = match slot.kernel.as_mut() {
            None => (KernelStatus::NotStarted, Vec::new()),
            Some(k) => {
                if !k.is_alive(Duration::from_secs(2)).await {
                    (KernelStatus::Dead, Vec::new())
                } else {
                    match k.variables().await {
                        Ok(v) => (KernelStatus::Idle, v),
                        Err(_) => (KernelStatus::Dead, Vec::new()),
                    }
                }
            }
        };
        KernelState {
            status,
            variables,
            execution_count: executions,
            restarts,
        }
    }

    /// Stops session `key`'s kernel (its variables are lost; files stay).
    pub async fn reset(&self, key: &str) {
        let slot = self.sessions.lock().ok().and_then(|mut s| s.remove(key));
        if let Some(slot) = slot {
            let kernel = slot.lock().await.kernel.take();
            if let Some(k) = kernel {
                self.stop_kernel(k).await;
            }
        }
    }

    /// Stops kernels idle longer than the idle timeout.
    async fn cull_idle(&self) {
        let slots: Vec<(String, Arc<Mutex<Slot>>)> = self
            .sessions
            .lock()
            .map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        for (key, slot) in slots {
            let Ok(mut guard) = slot.try_lock() else {
                continue;
            };
            let idle = guard
                .last_used
                .is_some_and(|t| t.elapsed() >= self.config.idle_timeout);
            if idle && let Some(k) = guard.kernel.take() {
                tracing::info!(session = key, "stopping an idle kernel");
                drop(guard);
                self.stop_kernel(k).await;
                if let Ok(mut sessions) = self.sessions.lock() {
                    sessions.remove(&key);
                }
            }
        }
    }

    /// Number of running kernels (sessions' and warm ones).
    pub async fn kernel_count(&self) -> usize {
        let warm = self.warm.lock().map(|w| w.len()).unwrap_or_default();
        let slots: Vec<Arc<Mutex<Slot>>> = self
            .sessions
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        let mut n = warm;
        for s in slots {
            n += usize::from(s.lock().await.kernel.is_some());
        }
        n
    }

    /// The runtime directories of the running kernels (each appears in its command line).
    pub async fn runtime_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .warm
            .lock()
            .map(|w| w.iter().map(|(k, _)| k.runtime_dir().to_owned()).collect())
            .unwrap_or_default();
        let slots: Vec<Arc<Mutex<Slot>>> = self
            .sessions
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        for s in slots {
            if let Some(k) = s.lock().await.kernel.as_ref() {
                dirs.push(k.runtime_dir().to_owned());
            }
        }
        dirs
    }

    /// Stops every kernel and refuses to start new ones.
    pub async fn shutdown(&self) {
        self.stopping.store(true, Ordering::Release);
        self.refill.notify_one();
        let warm: Vec<(Kernel, PathBuf)> = self
            .warm
            .lock()
            .map(|mut w| w.drain(..).collect())
            .unwrap_or_default();
        let slots: Vec<Arc<Mutex<Slot>>> = self
            .sessions
            .lock()
            .map(|mut s| s.drain().map(|(_, v)| v).collect())
            .unwrap_or_default();
        let mut stops = Vec::new();
        for (k, spare) in warm {
            stops.push(tokio::spawn(async move {
                k.shutdown().await;
                let _ = tokio::fs::remove_dir_all(spare).await;
            }));
        }
        for slot in slots {
            stops.push(tokio::spawn(async move {
                // A running execution holds the lock; it ends when its kernel is killed.
                let kernel = match tokio::time::timeout(Duration::from_secs(1), slot.lock()).await {
                    Ok(mut s) => s.kernel.take(),
                    Err(_) => None,
                };
                if let Some(k) = kernel {
                    k.shutdown().await;
                }
            }));
        }
        for s in stops {
            let _ = s.await;
        }
    }
}

/// Moves the spare workspace of a warm kernel to `target`, keeping files `target` had.
async fn adopt_workspace(spare: &Path, target: &Path, uid: Option<u32>) -> Result<(), KernelError> {
    let spare = spare.to_owned();
    let target = target.to_owned();
    tokio::task::spawn_blocking(move || {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if target.symlink_metadata().is_ok() {
            for entry in std::fs::read_dir(&target)? {
                let entry = entry?;
                std::fs::rename(entry.path(), spare.join(entry.file_name()))?;
            }
            std::fs::remove_dir(&target)?;
        }
        std::fs::rename(&spare, &target)?;
        if let Some(uid) = uid {
            chown_tree(&target, uid)?;
        }
        Ok::<_, std::io::Error>(())
    })
    .await
    .map_err(|e| KernelError::Start(e.to_string()))??;
    Ok(())
}
