use std::time::Duration;

use quarry_sql::{
    ConnectionSpec, DataSource, Engine, Limits, SqlError, demo,
    export::{CsvWriter, JsonWriter},
    guard,
};
use sqlx::Connection;

/// A fresh database on `engine` with a small fixture; `None` when the server is missing
/// outside CI.
pub async fn fixture(
    engine: Engine,
    name: &str,
) -> Option<(ConnectionSpec, Box<dyn FnOnce() + Send>)> {
    let admin = match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(format!("{name}.db"));
            let url = format!("sqlite://{}?mode=rwc", path.display());
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(FIXTURE).execute(&mut c).await.unwrap();
            c.close().await.unwrap();
            let spec = ConnectionSpec::sqlite(&path);
            return Some((spec, Box::new(move || drop(dir))));
        }
        Engine::Postgres => "postgres://postgres@127.0.0.1:5432/postgres",
        Engine::Mysql => "mysql://root@127.0.0.1:3306/mysql",
    };
    let db = format!("quarry_{name}_{}", std::process::id());
    let ok = match engine {
        Engine::Postgres => match sqlx::PgConnection::connect(admin).await {
            Ok(mut c) => {
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db}"))
                    .execute(&mut c)
                    .await
                    .unwrap();
                sqlx::raw_sql(&format!("CREATE DATABASE {db}"))
                    .execute(&mut c)
                    .await
                    .unwrap();
                let mut d = sqlx::PgConnection::connect(&format!(
                    "postgres://postgres@127.0.0.1:5432/{db}"
                ))
                .await
                .unwrap();
                sqlx::raw_sql(FIXTURE).execute(&mut d).await.unwrap();
                sqlx::raw_sql(
                    "CREATE FUNCTION sneaky() RETURNS int LANGUAGE sql AS \
                     $$ INSERT INTO teams VALUES (9, 'x', 'y') RETURNING 1 $$",
                )
                .execute(&mut d)
                .await
                .unwrap();
                true
            }
            Err(e) => skip(engine, &e.to_string()),
        },
        _ => match sqlx::MySqlConnection::connect(admin).await {
            Ok(mut c) => {
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db}"))
                    .execute(&mut c)
                    .await
                    .unwrap();
                sqlx::raw_sql(&format!("CREATE DATABASE {db}"))
                    .execute(&mut c)
                    .await
                    .unwrap();
                let mut d =
                    sqlx::MySqlConnection::connect(&format!("mysql://root@127.0.0.1:3306/{db}"))
                        .await
                        .unwrap();
                for stmt in FIXTURE.split(';').filter(|s| !s.trim().is_empty()) {
                    sqlx::raw_sql(stmt).execute(&mut d).await.unwrap();
                }
                true
            }
            Err(e) => skip(engine, &e.to_string()),
        },
    };
    if !ok {
        return None;
    }
    let url = match engine {
        Engine::Postgres => format!("postgres://postgres@127.0.0.1:5432/{db}"),
        _ => format!("mysql://root@127.0.0.1:3306/{db}"),
    };
    let drop_db = move || {
        let admin = admin.to_owned();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let sql = format!("DROP DATABASE IF EXISTS {db}");
                if engine == Engine::Postgres {
                    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
                    let _ = sqlx::raw_sql(&format!("{sql} WITH (FORCE)"))
                        .execute(&mut c)
                        .await;
                } else {
                    let mut c = sqlx::MySqlConnection::connect(&admin).await.unwrap();
                    let _ = sqlx::raw_sql(&sql).execute(&mut c).await;
                }
            });
        })
        .join()
        .unwrap();
    };
    Some((ConnectionSpec { engine, url }, Box::new(drop_db)))
}

fn skip(engine: Engine, why: &str) -> bool {
    assert!(
        std::env::var("CI").is_err(),
        "{engine:?} is required under CI but unreachable: {why}"
    );
    eprintln!("SKIPPING {engine:?} tests: server unreachable ({why})");
    false
}

pub const FIXTURE: &str = "
CREATE TABLE teams (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, league VARCHAR(20) NOT NULL);
CREATE TABLE players (id INTEGER PRIMARY KEY, team_id INTEGER NOT NULL REFERENCES teams(id), name VARCHAR(50) NOT NULL, position VARCHAR(20) NOT NULL, goals INTEGER NOT NULL, salary DECIMAL(10,2) NOT NULL, joined DATE NOT NULL);
INSERT INTO teams VALUES (1, 'Falcons', 'north'), (2, 'Otters', 'north'), (3, 'Lynx', 'south');
INSERT INTO players VALUES
 (1, 1, 'Ada', 'forward', 12, 1000.50, '2023-02-01'),
 (2, 1, 'Ben', 'defender', 1, 800.00, '2023-06-15'),
 (3, 2, 'Cy', 'forward', 7, 950.25, '2024-01-10'),
 (4, 2, 'Di', 'keeper', 0, 700.00, '2024-03-05'),
 (5, 3, 'Ed', 'forward', 15, 1200.00, '2024-07-20'),
 (6, 3, 'Flo', 'defender', 2, 650.75, '2025-01-02');
";

/// Every table's rows, rendered in a stable order and hashed.
pub async fn checksum(src: &DataSource) -> String {
    let mut all = String::new();
    for t in ["teams", "players"] {
        let g = guard::check(src.engine(), &format!("SELECT * FROM {t} ORDER BY id")).unwrap();
        let r = src.query(&g, Limits::default()).await.unwrap();
        all.push_str(&serde_json::to_string(&r.rows).unwrap());
    }
    all
}

async fn behaviour(engine: Engine) {
    let Some((spec, cleanup)) = fixture(engine, "behaviour").await else {
        return;
    };
    let src = DataSource::connect(&spec).await.unwrap();
    src.test().await.unwrap();

    // Introspection: tables, keys, samples.
    let schema = src.introspect().await.unwrap();
    let players = schema.table("players").unwrap();
    assert_eq!(players.primary_key, vec!["id"]);
    assert_eq!(players.foreign_keys[0].ref_table, "teams");
    assert_eq!(players.foreign_keys[0].columns, vec!["team_id"]);
    assert_eq!(players.row_estimate, Some(6), "{engine:?}");
    let position = players.column("position").unwrap();
    assert_eq!(
        position.sample_values,
        vec!["defender", "forward", "keeper"]
    );
    assert_eq!(schema.version, src.introspect().await.unwrap().version);

    // Types come back as JSON numbers/strings.
    let g = guard::check(
        engine,
        "SELECT name, goals, salary FROM players WHERE id = 1",
    )
    .unwrap();
    let r = src.query(&g, Limits::default()).await.unwrap();
    assert_eq!(r.columns, vec!["name", "goals", "salary"]);
    assert_eq!(r.rows[0][0], "Ada");
    assert_eq!(r.rows[0][1], 12);

    // Row cap.
    let g = guard::check(engine, "SELECT * FROM players ORDER BY id").unwrap();
    let r = src
        .query(
            &g,
            Limits {
                max_rows: 4,
                timeout: Duration::from_secs(10),
            },
        )
        .await
        .unwrap();
    assert_eq!(r.row_count, 4);
    assert!(r.truncated);
    let r = src
        .query(
            &g,
            Limits {
                max_rows: 6,
                timeout: Duration::from_secs(10),
            },
        )
        .await
        .unwrap();
    assert!(!r.truncated);

    // Empty results still name their columns.
    let g = guard::check(engine, "SELECT name AS who FROM players WHERE goals > 100").unwrap();
    let r = src.query(&g, Limits::default()).await.unwrap();
    assert_eq!(
        (r.columns.clone(), r.row_count),
        (vec!["who".to_owned()], 0)
    );

    // Statement timeout on a deliberately slow query.
    let slow = match engine {
        Engine::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
        }
        Engine::Postgres => "SELECT count(*) FROM generate_series(1, 1000000000)",
        Engine::Mysql => {
            "SELECT COUNT(*) FROM information_schema.columns a, information_schema.columns b, information_schema.columns c, information_schema.columns d"
        }
    };
    let g = guard::check(engine, slow).unwrap();
    let err = src
        .query(
            &g,
            Limits {
                max_rows: 10,
                timeout: Duration::from_millis(500),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SqlError::Timeout(_)), "{engine:?}: {err}");
    // The pool still works afterwards.
    let g = guard::check(engine, "SELECT COUNT(*) AS n FROM players").unwrap();
    assert_eq!(
        src.query(&g, Limits::default()).await.unwrap().rows[0][0],
        6
    );

    // Export streams CSV and JSON.
    let g = guard::check(engine, "SELECT id, name, salary FROM players ORDER BY id").unwrap();
    let mut sink = (CsvWriter::new(Vec::new()), JsonWriter::new(Vec::new()));
    let out = src.run(&g, Limits::default(), &mut sink).await.unwrap();
    assert_eq!(out.row_count, 6);
    let csv = String::from_utf8(sink.0.finish().await.unwrap()).unwrap();
    assert!(
        csv.starts_with("id,name,salary\r\n1,Ada,1000.5"),
        "{engine:?}: {csv}"
    );
    let json: serde_json::Value = serde_json::from_slice(&sink.1.finish().await.unwrap()).unwrap();
    assert_eq!(json[0]["name"], "Ada");
    assert_eq!(json.as_array().unwrap().len(), 6);

    // Hostile statements are refused and change nothing.
    let before = checksum(&src).await;
    let corpus = hostile(engine);
    assert!(corpus.len() >= 40);
    for sql in &corpus {
        assert!(
            guard::check(engine, sql).is_err(),
            "{engine:?} accepted: {sql}"
        );
    }
    // Behind the guard, the transaction is read-only: a write hidden in a function the guard
    // cannot see into still fails.
    if engine == Engine::Postgres {
        let g = guard::check(engine, "SELECT sneaky()").unwrap();
        let err = src.query(&g, Limits::default()).await.unwrap_err();
        assert!(err.to_string().contains("read-only"), "{err}");
    }
    src.close().await;
    let src = DataSource::connect(&spec).await.unwrap();
    assert_eq!(checksum(&src).await, before);
    src.close().await;
    cleanup();
}

/// Statements the guard must refuse, per dialect.
pub fn hostile(engine: Engine) -> Vec<String> {
    let mut v: Vec<String> = [
        "DELETE FROM players",
        "UPDATE players SET goals = 0",
        "INSERT INTO teams VALUES (9, 'x', 'y')",
        "DROP TABLE players",
        "TRUNCATE TABLE players",
        "ALTER TABLE players ADD COLUMN x INT",
        "CREATE TABLE x (a INT)",
        "CREATE INDEX i ON players(goals)",
        "SELECT 1; DELETE FROM players",
        "SELECT 1;DROP TABLE teams;",
        "SELECT * FROM players; SELECT * FROM teams",
        "WITH d AS (DELETE FROM players RETURNING *) SELECT * FROM d",
        "WITH u AS (UPDATE players SET goals = 0 RETURNING *) SELECT * FROM u",
        "WITH i AS (INSERT INTO teams VALUES (9,'x','y') RETURNING *) SELECT * FROM i",
        "SELECT * FROM players FOR UPDATE",
        "SELECT * FROM players FOR SHARE",
        "SELECT * INTO copy_of_players FROM players",
        "SELECT/**/1;/**/DELETE/**/FROM/**/players",
        "SELECT 1 -- harmless\n; DROP TABLE players",
        "/* comment */ DELETE /* hidden */ FROM players",
        "DEL/**/ETE FROM players",
        "GRANT ALL ON players TO public",
        "REVOKE ALL ON players FROM public",
        "BEGIN; DELETE FROM players; COMMIT",
        "COMMIT",
        "ROLLBACK",
        "SET statement_timeout = 0",
        "EXPLAIN ANALYZE DELETE FROM players",
        "PRAGMA writable_schema = ON",
        "PRAGMA query_only = OFF",
        "ATTACH DATABASE '/tmp/evil.db' AS evil",
        "DETACH DATABASE main",
        "VACUUM",
        "COPY players TO '/tmp/x.csv'",
        "COPY players FROM PROGRAM 'id'",
        "COPY (SELECT 1) TO PROGRAM 'touch /tmp/pwned'",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT lo_import('/etc/passwd')",
        "SELECT pg_sleep(100)",
        "SELECT load_extension('/tmp/evil.so')",
        "SELECT LOAD_FILE('/etc/passwd')",
        "SELECT * FROM players INTO OUTFILE '/tmp/out.txt'",
        "SELECT * FROM players INTO DUMPFILE '/tmp/out.bin'",
        "SELECT writefile('/tmp/x', 'y')",
        "SELECT sleep(100)",
        "SELECT benchmark(100000000, md5('x'))",
        "SELECT set_config('default_transaction_read_only', 'off', false)",
        "SELECT * FROM pg_shadow",
        "SELECT * FROM mysql.user",
        "SELECT nextval('players_id_seq')",
        "SELECT dblink_exec('host=x', 'DROP TABLE players')",
        "SELECT query_to_xml('DELETE FROM players', true, true, '')",
        "CALL do_something()",
        "DO $$ BEGIN DELETE FROM players; END $$",
        "LOCK TABLE players",
        "REPLACE INTO teams VALUES (1, 'x', 'y')",
        "MERGE INTO teams USING players ON teams.id = players.team_id WHEN MATCHED THEN DELETE",
        "",
        "   ;  ",
        "SELECT 1 /* never closed",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000)));
    v.push(format!("SELECT 1 {}", "UNION ALL SELECT 1 ".repeat(5000)));
    v.push(format!("SELECT 1 AS x{}", "\0"));
    v.push(
        String::from_utf8_lossy(b"SELECT \xff\xfe FROM players; DROP TABLE players").into_owned(),
    );
    let _ = engine;
    v
}

#[tokio::test]
async fn sqlite_behaviour() {
    behaviour(Engine::Sqlite).await;
}

#[tokio::test]
async fn postgres_behaviour() {
    behaviour(Engine::Postgres).await;
}

#[tokio::test]
async fn mariadb_behaviour() {
    behaviour(Engine::Mysql).await;
}

#[tokio::test]
async fn demo_database_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    assert!(demo::ensure(&a.path().join(demo::DEMO_FILE)).await.unwrap());
    assert!(!demo::ensure(&a.path().join(demo::DEMO_FILE)).await.unwrap());
    demo::ensure(&b.path().join(demo::DEMO_FILE)).await.unwrap();
    let mut sums = Vec::new();
    for dir in [&a, &b] {
        let src = DataSource::connect(&ConnectionSpec::sqlite(&dir.path().join(demo::DEMO_FILE)))
            .await
            .unwrap();
        let g = guard::check(Engine::Sqlite, "SELECT COUNT(*), SUM(total), MIN(order_date), MAX(order_date), (SELECT COUNT(*) FROM customers) FROM orders").unwrap();
        sums.push(src.query(&g, Limits::default()).await.unwrap().rows);
    }
    assert_eq!(sums[0], sums[1]);
    assert_eq!(sums[0][0][0], demo::ORDERS);
    assert_eq!(sums[0][0][4], demo::CUSTOMERS);
    assert!(sums[0][0][2].as_str().unwrap().starts_with("2024-01"));
    assert!(sums[0][0][3].as_str().unwrap().starts_with("2025-12"));
}
