//! What can go wrong with a kernel.

/// A kernel failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    /// The Python environment is missing or broken.
    #[error("python environment: {0}")]
    Environment(String),
    /// The kernel process could not be started or did not come up in time.
    #[error("kernel did not start: {0}")]
    Start(String),
    /// The kernel process exited (killed, crashed, out of memory).
    #[error("kernel died: {0}")]
    Died(String),
    /// The kernel did not answer in time.
    #[error("kernel did not answer: {0}")]
    Unresponsive(String),
    /// A message broke the Jupyter protocol (bad signature, missing parts, bad JSON).
    #[error("jupyter protocol: {0}")]
    Protocol(String),
    /// A ZeroMQ socket failed.
    #[error("zeromq: {0}")]
    Zmq(#[from] zeromq::ZmqError),
    /// Local I/O failed (runtime directory, connection file, workspace).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// quarry is shutting down or at its kernel limit.
    #[error("{0}")]
    Unavailable(String),
}
