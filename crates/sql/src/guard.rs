//! The guard: a statement reaches a database only when it parses, in the source's dialect,
//! as exactly one read-only query. Execution adds a read-only transaction, a statement
//! timeout and a row cap behind it (see [`crate::exec`]), so a miss here still cannot write.

use std::ops::ControlFlow;

use sqlparser::{
    ast::{Expr, ObjectName, Query, Select, SetExpr, Statement, Visit, Visitor},
    dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect},
    keywords::Keyword,
    parser::Parser,
    tokenizer::{Token, Tokenizer},
};

use crate::Engine;

/// Longest statement accepted, in bytes.
pub const MAX_SQL_BYTES: usize = 64 * 1024;
/// Deepest nesting the parser follows.
const MAX_DEPTH: usize = 64;

/// Why a statement was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// Nothing to run.
    #[error("the statement is empty")]
    Empty,
    /// Longer than [`MAX_SQL_BYTES`].
    #[error("the statement is longer than {MAX_SQL_BYTES} bytes")]
    TooLong,
    /// It does not parse in the source's dialect.
    #[error("the statement does not parse as {dialect}: {message}")]
    Parse {
        /// The dialect.
        dialect: &'static str,
        /// The parser's message.
        message: String,
    },
    /// More than one statement.
    #[error("only one statement may be run at a time (found {0})")]
    MultipleStatements(usize),
    /// A statement that is not a plain query.
    #[error("only read-only SELECT queries are allowed, not {0}")]
    NotAQuery(String),
    /// A forbidden construct inside the query.
    #[error("the query uses {0}, which is not allowed")]
    Forbidden(String),
}

/// A statement that passed the guard, ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardedSql {
    sql: String,
    engine: Engine,
}

impl GuardedSql {
    /// The statement (trimmed, without a trailing semicolon).
    pub fn as_str(&self) -> &str {
        &self.sql
    }

    /// The engine it was checked for.
    pub fn engine(&self) -> Engine {
        self.engine
    }
}

impl std::fmt::Display for GuardedSql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sql)
    }
}

fn dialect(engine: Engine) -> Box<dyn Dialect> {
    match engine {
        Engine::Sqlite => Box::new(SQLiteDialect {}),
        Engine::Postgres => Box::new(PostgreSqlDialect {}),
        Engine::Mysql => Box::new(MySqlDialect {}),
    }
}

/// Functions that read or write files, run programs, sleep, touch large objects, signal
/// other sessions, change settings or run SQL given as a string.
const FORBIDDEN_FUNCTIONS: &[&str] = &[
    // PostgreSQL
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_file_write",
    "pg_file_rename",
    "pg_file_unlink",
    "pg_logdir_ls",
    "pg_sleep",
    "pg_sleep_for",
    "pg_sleep_until",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_switch_wal",
    "pg_promote",
    "pg_create_restore_point",
    "pg_logical_emit_message",
    "pg_notify",
    "set_config",
    "nextval",
    "setval",
    "query_to_xml",
    "query_to_xml_and_xmlschema",
    "query_to_xmlschema",
    "cursor_to_xml",
    "txid_current",
    "pg_current_xact_id",
    // SQLite
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
    "zipfile",
    "sqlar_compress",
    // MySQL / MariaDB
    "load_file",
    "sleep",
    "benchmark",
    "get_lock",
    "release_lock",
    "release_all_locks",
    "sys_exec",
    "sys_eval",
    "master_pos_wait",
    "source_pos_wait",
];

/// Name prefixes of forbidden function families.
const FORBIDDEN_PREFIXES: &[&str] = &[
    "lo_",
    "dblink",
    "pg_read_",
    "pg_ls_",
    "pg_file_",
    "pg_advisory",
    "pg_try_advisory",
    "pg_replication",
    "pg_create_",
    "pg_drop_",
];

/// Relations that hold credentials.
const FORBIDDEN_RELATIONS: &[&str] = &[
    "pg_authid",
    "pg_shadow",
    "pg_user_mapping",
    "pg_user_mappings",
    "user",
    "global_priv",
];

fn last_part(name: &ObjectName) -> (String, Option<String>) {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| {
            p.to_string()
                .trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']')
                .to_ascii_lowercase()
        })
        .collect();
    let last = parts.last().cloned().unwrap_or_default();
    let schema = parts
        .len()
        .checked_sub(2)
        .and_then(|i| parts.get(i).cloned());
    (last, schema)
}

fn forbidden_function(name: &str) -> bool {
    FORBIDDEN_FUNCTIONS.contains(&name) || FORBIDDEN_PREFIXES.iter().any(|p| name.starts_with(p))
}

struct Checker;

impl Visitor for Checker {
    type Break = GuardError;

    fn pre_visit_statement(&mut self, s: &Statement) -> ControlFlow<GuardError> {
        match s {
            Statement::Query(_) => ControlFlow::Continue(()),
            other => ControlFlow::Break(GuardError::NotAQuery(statement_kind(other))),
        }
    }

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<GuardError> {
        if !q.locks.is_empty() {
            return ControlFlow::Break(GuardError::Forbidden(
                "a locking clause (FOR UPDATE/SHARE)".into(),
            ));
        }
        if q.for_clause.is_some() {
            return ControlFlow::Break(GuardError::Forbidden("a FOR clause".into()));
        }
        if let Some(bad) = writing_body(&q.body) {
            return ControlFlow::Break(GuardError::NotAQuery(bad));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<GuardError> {
        if s.into.is_some() {
            return ControlFlow::Break(GuardError::Forbidden("SELECT … INTO".into()));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, r: &ObjectName) -> ControlFlow<GuardError> {
        let (name, schema) = last_part(r);
        if forbidden_function(&name) {
            return ControlFlow::Break(GuardError::Forbidden(format!("the function {name}")));
        }
        let system_user = name == "user" && schema.as_deref() == Some("mysql");
        if (name != "user" && FORBIDDEN_RELATIONS.contains(&name.as_str())) || system_user {
            return ControlFlow::Break(GuardError::Forbidden(format!(
                "the credentials table {name}"
            )));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<GuardError> {
        if let Expr::Function(f) = e {
            let (name, _) = last_part(&f.name);
            if forbidden_function(&name) {
                return ControlFlow::Break(GuardError::Forbidden(format!("the function {name}")));
            }
        }
        ControlFlow::Continue(())
    }
}

fn writing_body(body: &SetExpr) -> Option<String> {
    match body {
        SetExpr::Insert(_) => Some("INSERT".into()),
        SetExpr::Update(_) => Some("UPDATE".into()),
        SetExpr::Delete(_) => Some("DELETE".into()),
        SetExpr::Merge(_) => Some("MERGE".into()),
        SetExpr::SetOperation { left, right, .. } => {
            writing_body(left).or_else(|| writing_body(right))
        }
        _ => None,
    }
}

fn statement_kind(s: &Statement) -> String {
    let text = s.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    let kind = words.join(" ").to_ascii_uppercase();
    if kind.is_empty() {
        "this statement".into()
    } else {
        kind
    }
}

/// Checks `sql` for `engine`.
pub fn check(engine: Engine, sql: &str) -> Result<GuardedSql, GuardError> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(GuardError::TooLong);
    }
    if sql.contains('\0') {
        return Err(GuardError::Forbidden("a NUL byte".into()));
    }
    let trimmed = sql
        .trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    if trimmed.is_empty() {
        return Err(GuardError::Empty);
    }
    let dialect = dialect(engine);
    let parse_err = |e: &dyn std::fmt::Display| GuardError::Parse {
        dialect: engine.dialect_name(),
        message: e.to_string(),
    };
    // Words some dialect parsers skip over or do not know.
    let tokens = Tokenizer::new(dialect.as_ref(), sql)
        .tokenize()
        .map_err(|e| parse_err(&e))?;
    for t in &tokens {
        if let Token::Word(w) = t {
            let upper = w.value.to_ascii_uppercase();
            let bad = match (w.keyword, upper.as_str()) {
                (_, "OUTFILE" | "DUMPFILE") => Some("INTO OUTFILE/DUMPFILE"),
                (Keyword::PRAGMA, _) => Some("PRAGMA"),
                (Keyword::ATTACH | Keyword::DETACH, _) => Some("ATTACH/DETACH"),
                _ => None,
            };
            if let (Some(bad), None) = (bad, w.quote_style) {
                return Err(GuardError::Forbidden(bad.into()));
            }
        }
    }
    let statements = Parser::new(dialect.as_ref())
        .with_recursion_limit(MAX_DEPTH)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| parse_err(&e))?;
    match statements.len() {
        0 => return Err(GuardError::Empty),
        1 => {}
        n => return Err(GuardError::MultipleStatements(n)),
    }
    if let ControlFlow::Break(e) = statements.visit(&mut Checker) {
        return Err(e);
    }
    Ok(GuardedSql {
        sql: trimmed.to_owned(),
        engine,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_queries_pass() {
        for engine in [Engine::Sqlite, Engine::Postgres, Engine::Mysql] {
            for sql in [
                "SELECT 1",
                "select count(*) from customers;",
                "WITH t AS (SELECT 1 AS x) SELECT x FROM t",
                "SELECT a.id FROM a JOIN b ON a.id = b.a_id WHERE b.x IN (SELECT y FROM c) ORDER BY 1 LIMIT 5",
            ] {
                assert!(check(engine, sql).is_ok(), "{engine:?}: {sql}");
            }
        }
    }

    #[test]
    fn writes_and_tricks_are_refused() {
        for engine in [Engine::Sqlite, Engine::Postgres, Engine::Mysql] {
            for sql in [
                "",
                ";",
                "DELETE FROM t",
                "SELECT 1; DELETE FROM t",
                "DROP TABLE t",
                "SELECT * FROM t FOR UPDATE",
                "SELECT load_file('/etc/passwd')",
                "SELECT sleep(10)",
                "PRAGMA writable_schema = 1",
                "ATTACH DATABASE '/tmp/x' AS x",
                "SELECT 1 /* unterminated",
                "SELECT * INTO new_t FROM t",
            ] {
                assert!(check(engine, sql).is_err(), "{engine:?}: {sql}");
            }
        }
        let deep = format!("SELECT {}1{}", "(".repeat(500), ")".repeat(500));
        assert!(check(Engine::Postgres, &deep).is_err());
        assert!(
            check(
                Engine::Postgres,
                "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"
            )
            .is_err()
        );
        assert!(check(Engine::Postgres, "COPY t TO PROGRAM 'rm -rf /'").is_err());
        assert!(check(Engine::Postgres, "SELECT pg_read_file('/etc/passwd')").is_err());
        assert!(check(Engine::Postgres, "SELECT lo_import('/etc/passwd')").is_err());
        assert!(check(Engine::Sqlite, "SELECT load_extension('x')").is_err());
        assert!(check(Engine::Mysql, "SELECT * FROM t INTO OUTFILE '/tmp/x'").is_err());
    }
}
