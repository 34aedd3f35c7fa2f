//! The Python environment the tests run kernels in (provisioned by scripts/test).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{path::PathBuf, time::Duration};

use crate::{LaunchOptions, SandboxConfig, env::PythonEnv};

/// The shared test environment, or `None` (after saying so loudly) when it is missing and
/// CI is not set; under CI a missing environment fails the test.
pub async fn launch_options() -> Option<LaunchOptions> {
    let root = std::env::var_os("QUARRY_TEST_PYTHON_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/quarry/kernel-data/python")
        });
    let env = PythonEnv::at(&root);
    match env.inspect().await {
        Ok(dirs) => Some(LaunchOptions {
            python: env.python(),
            python_dirs: dirs,
            sandbox: SandboxConfig::default(),
            start_timeout: Duration::from_secs(60),
            runtime_root: LaunchOptions::default_runtime_root(),
        }),
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!(
                "the test Python environment {} is unusable: {e}",
                root.display()
            )
        }
        Err(e) => {
            eprintln!(
                "\n!!! SKIPPED: no test Python environment at {} ({e}); run scripts/test to provision it\n",
                root.display()
            );
            None
        }
    }
}

/// A manager over the test environment with workspaces under `root`, or `None` (skipped).
pub async fn manager(
    root: &std::path::Path,
    pool_size: usize,
    execution_timeout: Duration,
) -> Option<std::sync::Arc<crate::KernelManager>> {
    let opts = launch_options().await?;
    let env_root = opts.python.parent()?.parent()?.to_owned();
    let mut config = crate::KernelConfig::for_data_dir(root);
    config.env = crate::EnvSource::Existing(env_root);
    config.pool_size = pool_size;
    config.execution_timeout = execution_timeout;
    Some(crate::KernelManager::new(config, root.join("workspaces")))
}
