//! The Python kernels of `quarry serve` and `quarry setup`: settings from the configuration,
//! the sandbox check at start, the background pool task, and the stop at shutdown.

use std::{path::Path, sync::Arc, time::Duration};

use quarry_kernel::{EnvSource, KernelConfig, KernelManager, SandboxConfig, env::PythonEnv};

use crate::config::Config;

/// The running kernel manager and its background task.
#[derive(Debug)]
pub struct Kernels {
    /// The manager handed to the API.
    pub manager: Arc<KernelManager>,
    task: tokio::task::JoinHandle<()>,
}

/// The kernel settings of `config`.
pub fn kernel_config(config: &Config) -> KernelConfig {
    let mut k = KernelConfig::for_data_dir(&config.data_dir);
    k.env = match &config.kernel_python_env {
        Some(path) => EnvSource::Existing(path.clone()),
        None => EnvSource::Managed {
            root: config.data_dir.join("python"),
            base_python: config.kernel_base_python.clone(),
        },
    };
    const MB: u64 = 1024 * 1024;
    k.sandbox = SandboxConfig {
        enabled: config.kernel_sandbox,
        memory_bytes: config.kernel_memory_mb.saturating_mul(MB),
        max_processes: config.kernel_max_processes,
        max_file_bytes: config.kernel_max_file_mb.saturating_mul(MB),
        cpu_seconds: config.kernel_cpu_seconds,
        ..SandboxConfig::default()
    };
    k.pool_size = config.kernel_pool_size;
    k.max_kernels = config.kernel_max.max(1);
    k.idle_timeout = Duration::from_secs(config.kernel_idle_timeout_seconds.max(1));
    k.execution_timeout = Duration::from_secs(config.kernel_execution_timeout_seconds.max(1));
    k
}

/// Starts the kernel manager (kernels themselves start on first use and in the pool), or
/// `None` when kernels are turned off.
pub async fn start(config: &Config, workspace_root: &Path) -> Option<Kernels> {
    if !config.kernel_enabled {
        tracing::info!("Python kernels are turned off (kernel_enabled = false)");
        return None;
    }
    let kc = kernel_config(config);
    if kc.sandbox.enabled {
        if let Err(why) = quarry_kernel::sandbox::probe().await {
            tracing::error!(
                "the kernel sandbox cannot work here ({why}); kernels will not start. Install \
                 bubblewrap, or knowingly run code unconfined with kernel_sandbox = false"
            );
        }
    } else {
        tracing::warn!(
            "kernel_sandbox = false: Python code runs UNCONFINED, with this server's rights \
             and network access; only resource limits apply"
        );
    }
    let manager = KernelManager::new(kc, workspace_root.to_owned());
    let task = tokio::spawn(manager.clone().run_background());
    Some(Kernels { manager, task })
}

/// Stops every kernel.
pub async fn stop(kernels: Option<Kernels>) {
    if let Some(k) = kernels {
        tracing::info!("stopping Python kernels");
        if tokio::time::timeout(Duration::from_secs(10), k.manager.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("kernels did not stop within 10 s");
        }
        k.task.abort();
    }
}

/// `quarry setup`: creates (or checks) the Python environment, printing progress.
pub async fn setup(config: &Config, say: impl Fn(&str) + Send + Sync) -> anyhow::Result<()> {
    let env = match &config.kernel_python_env {
        Some(path) => {
            say(&format!(
                "using the configured Python environment {}",
                path.display()
            ));
            PythonEnv::at(path)
        }
        None => {
            let env = PythonEnv::at(config.data_dir.join("python"));
            if env.is_provisioned() {
                say(&format!(
                    "the Python environment at {} is up to date",
                    env.root().display()
                ));
            } else {
                env.provision(&config.kernel_base_python, &|line| say(line))
                    .await?;
            }
            env
        }
    };
    env.inspect().await?;
    say("ipykernel imports; checking the sandbox");
    match quarry_kernel::sandbox::probe().await {
        Ok(()) => say("the bubblewrap sandbox works"),
        Err(why) if config.kernel_sandbox => {
            anyhow::bail!("the kernel sandbox cannot work here: {why}")
        }
        Err(why) => say(&format!(
            "sandbox unavailable ({why}); kernel_sandbox = false"
        )),
    }
    Ok(())
}
