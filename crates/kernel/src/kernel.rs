//! One running ipykernel: its process (sandboxed), its connection file and its four ZeroMQ
//! channels (shell, iopub, control, heartbeat) over Unix sockets in a private runtime
//! directory, since the sandbox has no network.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use quarry_core::{ExecutionResult, Image};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use zeromq::{DealerSocket, ReqSocket, Socket, SocketRecv, SocketSend, SubSocket};

use crate::{
    KernelError,
    sandbox::{self, Layout, SandboxConfig},
    wire::{Codec, Message, new_id},
};

/// How kernels are launched.
#[derive(Clone, Debug)]
pub struct LaunchOptions {
    /// The environment's interpreter.
    pub python: PathBuf,
    /// Read-only directories the interpreter needs inside the sandbox.
    pub python_dirs: Vec<PathBuf>,
    /// Confinement and limits.
    pub sandbox: SandboxConfig,
    /// Longest wait for a new kernel to answer.
    pub start_timeout: Duration,
    /// Where kernels' runtime directories (connection file, sockets) are made. Unix socket
    /// paths are limited to 108 bytes: keep it short.
    pub runtime_root: PathBuf,
}

impl LaunchOptions {
    /// The runtime root of this process: `<tmp>/quarry-<pid>`.
    pub fn default_runtime_root() -> PathBuf {
        std::env::temp_dir().join(format!("quarry-{}", std::process::id()))
    }
}

/// An error raised by executed code.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CodeError {
    /// Exception class name.
    pub ename: String,
    /// Exception message.
    pub evalue: String,
    /// Traceback lines, without terminal colours.
    pub traceback: Vec<String>,
}

/// Everything one execution produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Execution {
    /// Standard output, followed by the plain-text value of the last expression.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// The error, when the code raised one (or timed out, or killed its kernel).
    pub error: Option<CodeError>,
    /// Rich outputs (`display_data` and `execute_result` MIME bundles), in order.
    pub outputs: Vec<Value>,
    /// PNG and JPEG pictures, base64.
    pub images: Vec<Image>,
    /// True when the code ran to the end without error.
    pub success: bool,
    /// Wall-clock time of the execution.
    pub duration_ms: u64,
    /// The kernel's execution counter.
    pub execution_count: Option<u64>,
    /// The wall-clock limit was hit and the code was interrupted.
    pub timed_out: bool,
    /// The kernel was restarted afterwards (its variables are gone).
    pub restarted: bool,
}

impl Execution {
    /// DSAgent's `ExecutionResult` shape.
    pub fn to_result(&self) -> ExecutionResult {
        ExecutionResult {
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            error: self.error.as_ref().map(|e| {
                let mut text = format!("{}: {}", e.ename, e.evalue);
                if !e.traceback.is_empty() {
                    text.push('\n');
                    text.push_str(&e.traceback.join("\n"));
                }
                text
            }),
            images: self.images.clone(),
            success: self.success,
        }
    }

    pub(crate) fn failed(ename: &str, evalue: impl Into<String>) -> Self {
        Self {
            error: Some(CodeError {
                ename: ename.to_owned(),
                evalue: evalue.into(),
                traceback: Vec::new(),
            }),
            ..Self::default()
        }
    }
}

/// A running kernel.
pub struct Kernel {
    child: Child,
    runtime_dir: PathBuf,
    workspace: PathBuf,
    codec: Codec,
    session: String,
    shell: DealerSocket,
    control: DealerSocket,
    iopub: SubSocket,
    hb: ReqSocket,
    uid: Option<u32>,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("pid", &self.child.id())
            .field("workspace", &self.workspace)
            .field("uid", &self.uid)
            .finish_non_exhaustive()
    }
}

impl Kernel {
    /// Starts a kernel whose workspace is `workspace` (created if missing), running as `uid`
    /// when quarry is root.
    pub async fn start(
        options: &LaunchOptions,
        workspace: &Path,
        uid: Option<u32>,
    ) -> Result<Self, KernelError> {
        let id = &new_id()[..12];
        tokio::fs::create_dir_all(&options.runtime_root).await?;
        let runtime_dir = options.runtime_root.join(format!("k-{id}"));
        let key = new_id();
        let files = prepare_dirs(&runtime_dir, workspace, uid, &key).await?;
        let layout = Layout {
            python: &options.python,
            python_dirs: &options.python_dirs,
            workspace,
            runtime_dir: &runtime_dir,
            connection_file: &files.connection,
            uid,
        };
        let (program, args) = sandbox::command(&options.sandbox, &layout);
        let log = std::fs::File::create(&files.log)?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        if !options.sandbox.enabled {
            cmd.env_clear()
                .envs(sandbox::kernel_env(&workspace.to_string_lossy()))
                .current_dir(workspace);
        }
        let mut child = cmd.spawn().map_err(|e| {
            let _ = std::fs::remove_dir_all(&runtime_dir);
            KernelError::Start(format!("cannot run prlimit/bwrap: {e}"))
        })?;
        let ready = wait_for_sockets(&mut child, &files.endpoint, options.start_timeout).await;
        if let Err(e) = ready {
            let _ = child.kill().await;
            let tail = log_tail(&files.log);
            let _ = std::fs::remove_dir_all(&runtime_dir);
            return Err(KernelError::Start(format!("{e}; kernel log: {tail}")));
        }
        let endpoint = |n: u8| format!("ipc://{}-{n}", files.endpoint.display());
        let mut shell = DealerSocket::new();
        shell.connect(&endpoint(1)).await?;
        let mut iopub = SubSocket::new();
        iopub.connect(&endpoint(2)).await?;
        iopub.subscribe("").await?;
        let mut control = DealerSocket::new();
        control.connect(&endpoint(4)).await?;
        let mut hb = ReqSocket::new();
        hb.connect(&endpoint(5)).await?;
        let mut kernel = Self {
            child,
            runtime_dir,
            workspace: workspace.to_owned(),
            codec: Codec::new(key),
            session: new_id(),
            shell,
            control,
            iopub,
            hb,
            uid,
        };
        if let Err(e) = kernel.handshake(options.start_timeout).await {
            let tail = log_tail(&kernel.runtime_dir.join("kernel.log"));
            kernel.kill().await;
            return Err(KernelError::Start(format!("{e}; kernel log: {tail}")));
        }
        Ok(kernel)
    }

    /// The host directory the kernel sees as its working directory.
    pub fn workspace(&self) -> &Path {
        &self.workspace
    }

    /// Points the kernel at a workspace that was moved to `path` (the mount follows it).
    pub(crate) fn set_workspace(&mut self, path: PathBuf) {
        self.workspace = path;
    }

    /// The uid the kernel runs as, when quarry is root.
    pub fn uid(&self) -> Option<u32> {
        self.uid
    }

    /// The kernel's runtime directory (named in its command line).
    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    /// The host process id of the kernel's outermost process.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Sends `kernel_info_request` until the kernel answers on shell and iopub: until iopub
    /// delivers, the subscription may not be in place yet and outputs would be lost.
    async fn handshake(&mut self, timeout: Duration) -> Result<(), KernelError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let req = Message::request(&self.session, "kernel_info_request", json!({}));
            self.shell.send(self.codec.encode(&req)?).await?;
            let mut replied = false;
            let round = tokio::time::Instant::now() + Duration::from_millis(250);
            loop {
                tokio::select! {
                    m = self.shell.recv() => {
                        let m = self.codec.decode(m?)?;
                        replied |= m.parent_id() == req.id();
                    }
                    m = self.iopub.recv() => {
                        let m = self.codec.decode(m?)?;
                        if m.parent_id() == req.id() && replied {
                            return Ok(());
                        }
                        if m.parent_id() == req.id() {
                            // Wait for the shell reply too.
                            let reply = tokio::time::timeout_at(deadline, self.shell.recv()).await;
                            if let Ok(Ok(_)) = reply { return Ok(()); }
                        }
                    }
                    status = self.child.wait() => {
                        return Err(KernelError::Died(describe_exit(status)));
                    }
                    _ = tokio::time::sleep_until(round) => break,
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(KernelError::Unresponsive("no kernel_info_reply".into()));
            }
        }
    }

    /// Runs `code`; after `timeout` it is interrupted. `Err` only when the kernel died or
    /// stopped answering (the caller restarts it); errors raised by the code are `Ok`.
    pub async fn execute(
        &mut self,
        code: &str,
        timeout: Duration,
    ) -> Result<Execution, KernelError> {
        self.run(code, timeout, false).await
    }

    /// Runs `code` without counting it or keeping it in the history.
    pub(crate) async fn run(
        &mut self,
        code: &str,
        timeout: Duration,
        silent: bool,
    ) -> Result<Execution, KernelError> {
        let started = Instant::now();
        let req = Message::request(
            &self.session,
            "execute_request",
            json!({
                "code": code,
                "silent": silent,
                "store_history": !silent,
                "user_expressions": {},
                "allow_stdin": false,
                "stop_on_error": true,
            }),
        );
        self.shell.send(self.codec.encode(&req)?).await?;
        let mut out = Execution::default();
        let mut replied = false;
        let mut idle = false;
        let mut deadline = tokio::time::Instant::now() + timeout;
        let mut interrupted = false;
        while !(replied && idle) {
            tokio::select! {
                m = self.iopub.recv() => {
                    let m = self.codec.decode(m?)?;
                    if m.parent_id() == req.id() {
                        idle |= apply_output(&mut out, &m);
                    }
                }
                m = self.shell.recv() => {
                    let m = self.codec.decode(m?)?;
                    if m.parent_id() == req.id() {
                        replied = true;
                        out.execution_count = m.content["execution_count"].as_u64();
                        out.success = m.content["status"] == "ok" && out.error.is_none();
                    }
                }
                status = self.child.wait() => {
                    let tail = log_tail(&self.runtime_dir.join("kernel.log"));
                    tracing::warn!(log = %tail, "kernel process ended");
                    return Err(KernelError::Died(describe_exit(status)));
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if interrupted {
                        return Err(KernelError::Unresponsive(format!(
                            "execution exceeded {} s and did not stop when interrupted",
                            timeout.as_secs_f32()
                        )));
                    }
                    interrupted = true;
                    out.timed_out = true;
                    self.interrupt().await?;
                    deadline = tokio::time::Instant::now() + Duration::from_secs(5);
                }
            }
        }
        if out.timed_out {
            out.success = false;
            out.error = Some(CodeError {
                ename: "TimeoutError".into(),
                evalue: format!(
                    "execution exceeded {} s and was interrupted",
                    timeout.as_secs_f32()
                ),
                traceback: Vec::new(),
            });
        }
        out.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(out)
    }

    /// Asks the kernel to interrupt what it runs (`interrupt_request` on control; ipykernel
    /// raises KeyboardInterrupt in the running code).
    pub async fn interrupt(&mut self) -> Result<(), KernelError> {
        let req = Message::request(&self.session, "interrupt_request", json!({}));
        self.control.send(self.codec.encode(&req)?).await?;
        let wait = async {
            loop {
                let m = self.codec.decode(self.control.recv().await?)?;
                if m.parent_id() == req.id() {
                    return Ok::<_, KernelError>(());
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .map_err(|_| KernelError::Unresponsive("no interrupt_reply".into()))?
    }

    /// True when the process runs and answers its heartbeat within `timeout`.
    pub async fn is_alive(&mut self, timeout: Duration) -> bool {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return false;
        }
        let ping = async {
            self.hb.send(zeromq::ZmqMessage::from("ping")).await?;
            self.hb.recv().await
        };
        matches!(tokio::time::timeout(timeout, ping).await, Ok(Ok(_)))
    }

    /// Asks the kernel to exit, then kills it if it has not within two seconds.
    pub async fn shutdown(mut self) {
        let req = Message::request(&self.session, "shutdown_request", json!({"restart": false}));
        if let Ok(frames) = self.codec.encode(&req) {
            let _ =
                tokio::time::timeout(Duration::from_millis(500), self.control.send(frames)).await;
        }
        if tokio::time::timeout(Duration::from_secs(2), self.child.wait())
            .await
            .is_err()
        {
            self.kill().await;
        }
    }

    /// Kills the process (and, through `--die-with-parent`, everything in its sandbox).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Lists the user's variables with type and shape.
    pub async fn variables(&mut self) -> Result<Vec<Variable>, KernelError> {
        let out = self
            .run(VARIABLES_CODE, Duration::from_secs(10), true)
            .await?;
        let line = out.stdout.lines().last().unwrap_or("[]");
        serde_json::from_str(line)
            .map_err(|e| KernelError::Protocol(format!("variable listing: {e}")))
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        // The process is killed by `kill_on_drop`; its runtime directory is small.
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.runtime_dir);
    }
}

/// One variable of a kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// Its Python type name.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Its shape (`[rows, cols]` for frames and arrays, `[len]` for containers).
    pub shape: Option<Vec<u64>>,
}

const VARIABLES_CODE: &str = r#"
def _quarry_variables():
    import json, types
    hidden = {"In", "Out", "exit", "quit", "get_ipython", "open"}
    out = []
    for name, value in list(globals().items()):
        if name.startswith("_") or name in hidden:
            continue
        if isinstance(value, (types.ModuleType, types.FunctionType, type)):
            continue
        shape = getattr(value, "shape", None)
        try:
            if shape is not None:
                shape = [int(n) for n in shape]
            elif isinstance(value, (list, tuple, dict, set, str, bytes)):
                shape = [len(value)]
        except Exception:
            shape = None
        out.append({"name": name, "type": type(value).__name__, "shape": shape})
    print(json.dumps(out))
_quarry_variables()
del _quarry_variables
"#;

/// Folds one iopub message into `out`; true when it says the kernel went idle.
fn apply_output(out: &mut Execution, m: &Message) -> bool {
    let c = &m.content;
    match m.msg_type() {
        "stream" => {
            let text = c["text"].as_str().unwrap_or_default();
            if c["name"] == "stderr" {
                out.stderr.push_str(text);
            } else {
                out.stdout.push_str(text);
            }
        }
        "display_data" | "execute_result" => {
            let data = &c["data"];
            for (mime, format) in [("image/png", "png"), ("image/jpeg", "jpeg")] {
                if let Some(b64) = data[mime].as_str() {
                    out.images.push(Image {
                        format: format.into(),
                        data: b64.split_whitespace().collect(),
                    });
                }
            }
            if m.msg_type() == "execute_result"
                && let Some(text) = data["text/plain"].as_str()
            {
                out.stdout.push_str(text);
                out.stdout.push('\n');
            }
            out.outputs
                .push(json!({"output_type": m.msg_type(), "data": data}));
        }
        "error" => {
            out.error = Some(CodeError {
                ename: c["ename"].as_str().unwrap_or_default().to_owned(),
                evalue: c["evalue"].as_str().unwrap_or_default().to_owned(),
                traceback: c["traceback"]
                    .as_array()
                    .map(|t| t.iter().filter_map(Value::as_str).map(strip_ansi).collect())
                    .unwrap_or_default(),
            });
        }
        "status" => return c["execution_state"] == "idle",
        _ => {}
    }
    false
}

/// `text` without terminal escape sequences (IPython colours its tracebacks).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

struct RuntimeFiles {
    connection: PathBuf,
    endpoint: PathBuf,
    log: PathBuf,
}

/// Creates the runtime directory with the connection file, and the workspace, owned by the
/// kernel's uid.
async fn prepare_dirs(
    runtime_dir: &Path,
    workspace: &Path,
    uid: Option<u32>,
    key: &str,
) -> Result<RuntimeFiles, KernelError> {
    let runtime_dir = runtime_dir.to_owned();
    let workspace = workspace.to_owned();
    let key = key.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir(&runtime_dir)?;
        std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700))?;
        std::fs::create_dir_all(&workspace)?;
        let endpoint = runtime_dir.join("k");
        let connection = runtime_dir.join("connection.json");
        let info = json!({
            "transport": "ipc",
            "ip": endpoint,
            "shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5,
            "key": key,
            "signature_scheme": "hmac-sha256",
            "kernel_name": "python3",
        });
        std::fs::write(&connection, serde_json::to_vec(&info).unwrap_or_default())?;
        std::fs::set_permissions(&connection, std::fs::Permissions::from_mode(0o600))?;
        let log = runtime_dir.join("kernel.log");
        if let Some(uid) = uid {
            for p in [&runtime_dir, &connection] {
                std::os::unix::fs::chown(p, Some(uid), Some(uid))?;
            }
            chown_tree(&workspace, uid)?;
        }
        Ok(RuntimeFiles {
            connection,
            endpoint,
            log,
        })
    })
    .await
    .map_err(|e| KernelError::Start(e.to_string()))?
}

/// Gives `dir` and everything under it to `uid` (symlinks themselves, never their targets).
pub(crate) fn chown_tree(dir: &Path, uid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(dir, Some(uid), Some(uid))?;
    if dir.symlink_metadata()?.is_dir() {
        for entry in std::fs::read_dir(dir)? {
            chown_tree(&entry?.path(), uid)?;
        }
    }
    Ok(())
}

/// Waits until the kernel has bound its sockets.
async fn wait_for_sockets(
    child: &mut Child,
    endpoint: &Path,
    timeout: Duration,
) -> Result<(), KernelError> {
    let deadline = Instant::now() + timeout;
    let sockets: Vec<PathBuf> = [1, 2, 4, 5]
        .iter()
        .map(|n| PathBuf::from(format!("{}-{n}", endpoint.display())))
        .collect();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(KernelError::Died(describe_exit(Ok(status))));
        }
        if sockets.iter().all(|s| s.exists()) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(KernelError::Unresponsive(format!(
                "sockets not bound within {} s",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn describe_exit(status: std::io::Result<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("the kernel process exited with status {code}"),
            (_, Some(sig)) => format!("the kernel process was killed by signal {sig}"),
            _ => "the kernel process ended".into(),
        },
        Err(e) => format!("cannot wait for the kernel process: {e}"),
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colours() {
        assert_eq!(
            strip_ansi("\u{1b}[0;31mValueError\u{1b}[0m: x"),
            "ValueError: x"
        );
    }
}
