//! quarry's Python kernels: ipykernel processes started in a bubblewrap sandbox, spoken to
//! over the Jupyter messaging protocol (ZeroMQ, HMAC-SHA256 signed), pooled one per session.
//!
//! Depends on quarry-core only; it knows nothing of HTTP or storage.

pub mod analyst;
mod error;
pub mod kernel;
pub mod manager;
pub mod sandbox;
pub mod wire;

pub use analyst::{AnalystError, Generated, PythonAnalyst};
pub use error::KernelError;
pub use kernel::{CodeError, Execution, Kernel, LaunchOptions, Variable};
pub use manager::{EnvSource, KernelConfig, KernelManager, KernelState, KernelStatus};
pub use sandbox::SandboxConfig;
pub mod env;

#[cfg(test)]
pub(crate) mod testenv;
#[cfg(test)]
mod tests;
