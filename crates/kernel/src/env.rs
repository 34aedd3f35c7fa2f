//! The Python environment kernels run in: a virtual environment created from the pinned
//! requirements shipped with quarry (`python/requirements.txt`), or one the operator names.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::KernelError;

/// The pinned requirements of the managed environment.
pub const REQUIREMENTS: &str = include_str!("../python/requirements.txt");

/// Marker written last by a successful install; holds the requirements it installed.
const MARKER: &str = ".quarry-requirements";

/// Longest time one step of the installation may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A Python virtual environment on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PythonEnv {
    root: PathBuf,
}

impl PythonEnv {
    /// The environment rooted at `root` (existing or not).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Its root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Its interpreter.
    pub fn python(&self) -> PathBuf {
        self.root.join("bin").join("python")
    }

    /// True when quarry installed the current requirements here.
    pub fn is_provisioned(&self) -> bool {
        std::fs::read_to_string(self.root.join(MARKER)).is_ok_and(|s| s == REQUIREMENTS)
    }

    /// Creates the environment with `base_python` and installs the pinned requirements,
    /// calling `progress` with each line of progress.
    pub async fn provision(
        &self,
        base_python: &str,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<(), KernelError> {
        if self.root.exists() {
            progress(&format!(
                "removing the incomplete environment at {}",
                self.root.display()
            ));
            tokio::fs::remove_dir_all(&self.root).await?;
        }
        if let Some(parent) = self.root.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        progress(&format!(
            "creating a Python environment at {} with {base_python}",
            self.root.display()
        ));
        let root = self.root.to_string_lossy().into_owned();
        run_step(base_python, &["-m", "venv", &root], progress).await?;
        let requirements = self.root.join("requirements.txt");
        tokio::fs::write(&requirements, REQUIREMENTS).await?;
        progress("installing ipykernel, pandas, numpy, matplotlib and pyarrow (pinned versions)");
        let python = self.python().to_string_lossy().into_owned();
        let req = requirements.to_string_lossy().into_owned();
        run_step(
            &python,
            &[
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--progress-bar",
                "off",
                "-r",
                &req,
            ],
            progress,
        )
        .await?;
        tokio::fs::write(self.root.join(MARKER), REQUIREMENTS).await?;
        progress("the Python environment is ready");
        Ok(())
    }

    /// Checks that the interpreter runs ipykernel and returns the read-only directories the
    /// sandbox must show it (the environment and its base installation).
    pub async fn inspect(&self) -> Result<Vec<PathBuf>, KernelError> {
        let python = self.python();
        let out = tokio::process::Command::new(&python)
            .args([
                "-c",
                "import sys, ipykernel; print(sys.prefix); print(sys.base_prefix)",
            ])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(60), out)
            .await
            .map_err(|_| KernelError::Environment(format!("{} did not answer", python.display())))?
            .map_err(|e| {
                KernelError::Environment(format!("cannot run {}: {e}", python.display()))
            })?;
        if !out.status.success() {
            return Err(KernelError::Environment(format!(
                "{} cannot import ipykernel: {}",
                python.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let mut dirs: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(PathBuf::from)
            .collect();
        // The interpreter may be a symlink into a directory outside both prefixes.
        if let Ok(real) = tokio::fs::canonicalize(&python).await
            && let Some(prefix) = real.parent().and_then(Path::parent)
        {
            dirs.push(prefix.to_owned());
        }
        dirs.push(self.root.clone());
        dirs.sort();
        dirs.dedup();
        // /usr is already in the sandbox; a bind of it again would be harmless but noisy.
        dirs.retain(|d| d != Path::new("/usr") && d != Path::new("/"));
        Ok(dirs)
    }
}

async fn run_step(
    program: &str,
    args: &[&str],
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), KernelError> {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| KernelError::Environment(format!("cannot run {program}: {e}")))?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let relay = async {
        let mut tail = Vec::new();
        if let Some(out) = stdout {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if !line.trim().is_empty() {
                    progress(line.trim());
                }
            }
        }
        if let Some(err) = stderr {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tail.push(line);
            }
        }
        let status = child.wait().await;
        (status, tail)
    };
    let (status, tail) = tokio::time::timeout(STEP_TIMEOUT, relay)
        .await
        .map_err(|_| KernelError::Environment(format!("{program} took longer than 30 minutes")))?;
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(KernelError::Environment(format!(
            "{program} {} failed ({s}): {}",
            args.join(" "),
            tail[tail.len().saturating_sub(5)..].join(" | ")
        ))),
        Err(e) => Err(KernelError::Environment(format!("{program}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_are_pinned() {
        let pins: Vec<&str> = REQUIREMENTS
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect();
        assert!(pins.iter().all(|l| l.contains("==")), "{pins:?}");
        for needed in [
            "ipykernel==",
            "pandas==",
            "numpy==",
            "matplotlib==",
            "pyarrow==",
        ] {
            assert!(pins.iter().any(|l| l.starts_with(needed)), "{needed}");
        }
    }
}
