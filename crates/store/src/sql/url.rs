//! Parsing a metadata store URL into connect options, and keeping its password out of sight.

use std::path::PathBuf;
use std::str::FromStr;

use quarry_core::{Error, Result};
use sqlx::any::AnyConnectOptions;

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The name [`quarry_core::MetadataStore::backend`] reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// The statement that opens a write transaction. SQLite takes the write lock up front
    /// (`IMMEDIATE`), so a transaction never has to upgrade a read lock, which fails at once
    /// with `SQLITE_BUSY` instead of waiting for `busy_timeout`.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }
}

/// A parsed metadata store URL.
pub(crate) struct DbUrl {
    /// The backend.
    pub(crate) backend: Backend,
    /// What sqlx connects with; its `Debug` shows the password, so it is never printed.
    pub(crate) options: AnyConnectOptions,
    /// SQLite: the database file, when it is a plain path (for creating its directory).
    pub(crate) sqlite_file: Option<PathBuf>,
    /// SQLite: an in-memory database (one connection, gone when it closes).
    pub(crate) in_memory: bool,
    /// Hides the password in messages.
    pub(crate) redactor: Redactor,
}

impl DbUrl {
    /// Parses `url` (`sqlite://path`, `sqlite::memory:`, `postgres://…`). Errors never repeat
    /// the URL, which may hold a password.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            return Self::sqlite(rest);
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = AnyConnectOptions::from_str(url)
                .map_err(|e| Error::invalid(format!("invalid PostgreSQL URL: {e}")))?;
            let url = &options.database_url;
            let mut redactor = Redactor::new(url.password());
            // libpq-style `?password=…` works too.
            for (key, value) in url.query_pairs() {
                if key.contains("password") {
                    redactor.add(&value);
                }
            }
            // …and in its percent-encoded form, as it appears in the URL's text.
            for pair in url.query().unwrap_or_default().split('&') {
                if let Some((key, value)) = pair.split_once('=')
                    && key.contains("password")
                {
                    redactor.add(value);
                }
            }
            return Ok(Self {
                backend: Backend::Postgres,
                options,
                sqlite_file: None,
                in_memory: false,
                redactor,
            });
        }
        Err(Error::invalid(
            "unsupported metadata store URL: expected sqlite://PATH or postgres://…",
        ))
    }

    fn sqlite(rest: &str) -> Result<Self> {
        let (path, params) = match rest.split_once('?') {
            Some((path, params)) => (path, Some(params)),
            None => (rest, None),
        };
        let in_memory = path == ":memory:"
            || params.is_some_and(|p| p.split('&').any(|kv| kv == "mode=memory"));
        if !in_memory && path.is_empty() {
            return Err(Error::invalid("sqlite URL names no file"));
        }
        // Create the file when missing unless the URL chose a mode itself.
        let params = match params {
            Some(p) if p.split('&').any(|kv| kv.starts_with("mode=")) => p.to_owned(),
            Some(p) if !p.is_empty() => format!("{p}&mode=rwc"),
            _ => "mode=rwc".to_owned(),
        };
        // `sqlite:PATH` rather than `sqlite://PATH`: the URL parser would take the first
        // component of a relative path for a host.
        let url = if in_memory {
            "sqlite::memory:".to_owned()
        } else {
            format!("sqlite:{path}?{params}")
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| Error::invalid(format!("invalid sqlite URL: {e}")))?;
        // sqlx percent-decodes the path; only a path without escapes is taken as it is.
        let sqlite_file = (!in_memory && !path.contains('%')).then(|| PathBuf::from(path));
        Ok(Self {
            backend: Backend::Sqlite,
            options,
            sqlite_file,
            in_memory,
            redactor: Redactor::new(None),
        })
    }

    /// The URL with its password replaced and its query dropped (options such as
    /// `sslpassword` may hold secrets), for logs.
    pub(crate) fn redacted(&self) -> String {
        let mut url = self.options.database_url.clone();
        url.set_query(None);
        if url.password().is_some() {
            // Only fails for URLs that cannot have a password, which this one has.
            let _ = url.set_password(Some("***"));
        }
        self.redactor.apply(url.to_string())
    }
}

/// Removes a password from text before it leaves the crate.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor for `password` (as it appears in the URL, percent-encoded).
    pub(crate) fn new(password: Option<&str>) -> Self {
        let mut redactor = Self::default();
        if let Some(p) = password {
            redactor.add(p);
            redactor.add(&percent_decode(p));
        }
        redactor
    }

    /// Hides `secret` too.
    pub(crate) fn add(&mut self, secret: &str) {
        if !secret.is_empty() && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_owned());
        }
    }

    /// `text` with every secret replaced by `***`.
    pub(crate) fn apply(&self, text: String) -> String {
        self.secrets
            .iter()
            .fold(text, |text, secret| text.replace(secret.as_str(), "***"))
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let v = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_create_the_file_by_default() {
        let u = DbUrl::parse("sqlite:///tmp/q/meta.db").unwrap();
        assert_eq!(u.backend, Backend::Sqlite);
        assert_eq!(u.sqlite_file, Some(PathBuf::from("/tmp/q/meta.db")));
        assert!(u.options.database_url.as_str().ends_with("?mode=rwc"));
        let u = DbUrl::parse("sqlite://data/meta.db?mode=ro").unwrap();
        assert_eq!(u.sqlite_file, Some(PathBuf::from("data/meta.db")));
        assert!(u.options.database_url.as_str().ends_with("?mode=ro"));
        assert!(DbUrl::parse("sqlite::memory:").unwrap().in_memory);
    }

    #[test]
    fn other_schemes_are_refused_without_echoing_the_url() {
        let e = DbUrl::parse("mysql://u:hunter2@h/db").err().unwrap();
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn passwords_are_redacted() {
        let u = DbUrl::parse("postgres://u:p%40ss@localhost:5432/db").unwrap();
        assert_eq!(u.backend, Backend::Postgres);
        assert!(!u.redacted().contains("p%40ss"), "{}", u.redacted());
        assert!(u.redacted().contains("***"));
        let msg = u.redactor.apply("failed for p@ss and p%40ss".to_owned());
        assert_eq!(msg, "failed for *** and ***");
        let q = DbUrl::parse("postgres://u@localhost/db?password=qp-secret").unwrap();
        assert!(!q.redacted().contains("qp-secret"), "{}", q.redacted());
    }
}
