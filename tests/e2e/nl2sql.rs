//! The NL→SQL `/api/v1` surface against the real binary, on the generated demo database.

use quarry_tests::{assert_error_shape, client};
use serde_json::{Value, json};

use crate::fresh_server;

/// The `done` event of a chat stream.
async fn chat(http: &reqwest::Client, url: String, body: Value) -> Value {
    let res = http.post(url).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = res.text().await.unwrap();
    let mut event = "";
    for line in text.lines() {
        if let Some(e) = line.strip_prefix("event: ") {
            event = e;
        } else if let Some(d) = line.strip_prefix("data: ")
            && event == "done"
        {
            return serde_json::from_str(d).unwrap();
        }
    }
    panic!("no done event in {text}");
}

const HOSTILE: &[&str] = &[
    "DELETE FROM customers",
    "UPDATE products SET price = 0",
    "INSERT INTO categories VALUES (99, 'x')",
    "DROP TABLE orders",
    "ALTER TABLE customers ADD COLUMN x INT",
    "CREATE TABLE x (a INT)",
    "CREATE INDEX i ON orders(total)",
    "SELECT 1; DELETE FROM customers",
    "SELECT 1;DROP TABLE orders;",
    "SELECT * FROM customers; SELECT * FROM orders",
    "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d",
    "WITH u AS (UPDATE orders SET total = 0 RETURNING *) SELECT * FROM u",
    "SELECT * FROM orders FOR UPDATE",
    "SELECT * INTO copy_of_orders FROM orders",
    "SELECT/**/1;/**/DELETE/**/FROM/**/orders",
    "SELECT 1 -- harmless\n; DROP TABLE orders",
    "/* comment */ DELETE /* hidden */ FROM orders",
    "DEL/**/ETE FROM orders",
    "BEGIN; DELETE FROM orders; COMMIT",
    "COMMIT",
    "ROLLBACK",
    "EXPLAIN ANALYZE DELETE FROM orders",
    "PRAGMA writable_schema = ON",
    "PRAGMA query_only = OFF",
    "ATTACH DATABASE '/tmp/evil.db' AS evil",
    "DETACH DATABASE main",
    "VACUUM",
    "COPY orders TO '/tmp/x.csv'",
    "COPY (SELECT 1) TO PROGRAM 'touch /tmp/pwned'",
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT writefile('/tmp/x', 'y')",
    "SELECT readfile('/etc/passwd')",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT LOAD_FILE('/etc/passwd')",
    "SELECT * FROM orders INTO OUTFILE '/tmp/out.txt'",
    "REPLACE INTO categories VALUES (1, 'x')",
    "SELECT 1 /* never closed",
    "",
    "   ;  ",
    "GRANT ALL ON orders TO public",
    "SELECT edit('x')",
    "SELECT fts3_tokenizer('simple')",
];

async fn checksum(http: &reqwest::Client, server: &quarry_tests::Server) -> Vec<Value> {
    let mut all = Vec::new();
    for t in [
        "customers",
        "products",
        "categories",
        "orders",
        "order_items",
    ] {
        let res: Value = http
            .post(server.url("/api/v1/connections/demo/query"))
            .json(&json!({"sql": format!("SELECT * FROM {t} ORDER BY id"), "max_rows": 100000}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all.push(res["rows"].clone());
    }
    all
}

#[tokio::test]
async fn nl2sql_surface_on_the_demo_database() {
    let (dir, server) = fresh_server();
    let http = client();
    let conns: Value = http
        .get(server.url("/api/v1/connections"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(conns[0]["id"], "demo");
    assert_eq!(conns[0]["execution_mode"], "auto_execute");

    // Chat: executed, then cached.
    let done = chat(
        &http,
        server.url("/api/v1/chat"),
        json!({"message": "How many customers are there?"}),
    )
    .await;
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["cache_hit"], false);
    assert_eq!(done["results"]["rows"], json!([[500]]));
    assert_eq!(done["query_dialect"], "SQLite");
    assert!(done["error"].is_null());
    let session = done["session_id"].as_str().unwrap().to_owned();
    let again = chat(
        &http,
        server.url("/api/v1/chat"),
        json!({"message": "how many customers are there", "session_id": session}),
    )
    .await;
    assert_eq!(
        (again["status"].clone(), again["cache_hit"].clone()),
        (json!("cached"), json!(true))
    );
    let stats: Value = http
        .get(server.url("/api/v1/cache/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["hits"], 1);
    let history: Value = http
        .get(server.url(&format!("/api/v1/sessions/{session}/history")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["messages"].as_array().unwrap().len(), 4);
    let not = chat(
        &http,
        server.url("/api/v1/chat"),
        json!({"message": "Why do customers leave?"}),
    )
    .await;
    assert_eq!(not["status"], "error");

    // Hostile statements: a clear 400 each, and nothing changes.
    let before = checksum(&http, &server).await;
    for sql in HOSTILE {
        let res = http
            .post(server.url("/api/v1/connections/demo/query"))
            .json(&json!({"sql": sql}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{sql}");
        let msg = assert_error_shape(&res.json().await.unwrap());
        assert!(!msg.is_empty());
    }
    assert_eq!(checksum(&http, &server).await, before);
    let capped: Value = http
        .post(server.url("/api/v1/connections/demo/query"))
        .json(&json!({"sql": "SELECT id FROM orders ORDER BY id", "max_rows": 7}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (capped["row_count"].clone(), capped["truncated"].clone()),
        (json!(7), json!(true))
    );

    // review_first: held, then approved; an edited query goes through the guard again.
    let res = http
        .put(server.url("/api/v1/connections/demo/execution-mode"))
        .json(&json!({"execution_mode": "review_first"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let held = chat(
        &http,
        server.url("/api/v1/chat"),
        json!({"message": "How many orders were completed?"}),
    )
    .await;
    assert_eq!(held["status"], "pending_approval", "{held}");
    assert!(held["results"].is_null());
    let id = held["message_id"].as_str().unwrap();
    let res = http
        .post(server.url(&format!("/chat/execute/{id}")))
        .json(&json!({"query": "DELETE FROM orders"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let ok: Value = http
        .post(server.url(&format!("/api/v1/chat/execute/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["status"], "executed", "{ok}");
    assert!(ok["results"]["rows"][0][0].as_i64().unwrap() > 0);
    let res = http
        .post(server.url(&format!("/chat/execute/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // generate_only: the query, never run.
    http.put(server.url("/api/v1/connections/demo/execution-mode"))
        .json(&json!({"execution_mode": "generate_only"}))
        .send()
        .await
        .unwrap();
    let only = chat(
        &http,
        server.url("/api/v1/chat"),
        json!({"message": "Revenue by category"}),
    )
    .await;
    assert_eq!(only["status"], "query_only");
    assert!(only["results"].is_null() && only["query"].is_string());

    // A saved SQLite connection: its URL never comes back.
    let dbs = dir.path().join("databases");
    std::fs::create_dir_all(&dbs).unwrap();
    std::fs::copy(dir.path().join("demo.sqlite"), dbs.join("shop.db")).unwrap();
    let res = http
        .post(server.url("/api/v1/connections"))
        .json(&json!({"name": "Shop copy", "engine": "sqlite", "url": "shop.db"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert!(created.get("url").is_none() && !created.to_string().contains("shop.db"));
    let cid = created["id"].as_str().unwrap();
    let test: Value = http
        .post(server.url(&format!("/api/v1/connections/{cid}/test")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(test["ok"], true, "{test}");
    let schema: Value = http
        .get(server.url(&format!("/api/v1/connections/{cid}/schema")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(schema["tables"].as_array().unwrap().len(), 5);
    let res = http
        .post(server.url("/api/v1/examples"))
        .json(&json!({"connection_id": cid, "question": "How many shops?", "sql": "SELECT COUNT(*) FROM customers"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = http
        .post(server.url("/api/v1/examples"))
        .json(&json!({"connection_id": cid, "question": "evil", "sql": "DROP TABLE customers"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = http
        .put(server.url(&format!("/api/v1/connections/{cid}/semantic-model")))
        .json(&json!({"value_mappings": [{"term": "vip", "table": "customers", "column": "tier", "value": "premium"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let vip = chat(
        &http,
        server.url("/api/v1/chat"),
        json!({"message": "How many VIP customers?", "connection_id": cid}),
    )
    .await;
    assert_eq!(vip["status"], "executed", "{vip}");
    for bad in [
        json!({"name": "x", "url": "sqlite:../quarry.db"}),
        json!({"name": "x", "url": "/etc/passwd", "engine": "sqlite"}),
        json!({"name": "", "url": "postgres://x@y/z"}),
        json!({"name": "x", "url": "ftp://x"}),
    ] {
        let res = http
            .post(server.url("/api/v1/connections"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{bad}");
    }
    let res = http
        .delete(server.url(&format!("/api/v1/connections/{cid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = http
        .delete(server.url("/api/v1/connections/demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);

    // Settings.
    let s: Value = http
        .put(server.url("/api/v1/settings"))
        .json(&json!({"cache_ttl": 60, "default_row_limit": 50}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (s["cache_ttl"].clone(), s["default_row_limit"].clone()),
        (json!(60), json!(50))
    );
    let res = http
        .put(server.url("/api/v1/settings"))
        .json(&json!({"max_row_limit": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let cleared: Value = http
        .delete(server.url("/api/v1/cache"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(cleared["cleared"].as_u64().is_some());
}

/// A fresh database on a server engine, filled with a small table; `None` (said loudly) when
/// the server is not running outside CI.
async fn engine_db(engine: &str) -> Option<(String, String)> {
    use sqlx::Connection;
    let db = format!("quarry_e2e_{}", std::process::id());
    let (admin, url) = match engine {
        "postgres" => (
            "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
            format!("postgres://postgres@127.0.0.1:5432/{db}"),
        ),
        _ => (
            "mysql://root@127.0.0.1:3306/mysql".to_owned(),
            format!("mysql://root@127.0.0.1:3306/{db}"),
        ),
    };
    let setup = [
        format!("DROP DATABASE IF EXISTS {db}"),
        format!("CREATE DATABASE {db}"),
    ];
    let table = [
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, total DECIMAL(10,2) NOT NULL, status VARCHAR(20) NOT NULL)",
        "INSERT INTO orders VALUES (1, 10.50, 'completed'), (2, 20.00, 'pending'), (3, 5.25, 'completed')",
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL)",
        "INSERT INTO customers VALUES (1, 'Ada')",
        "CREATE TABLE products (id INTEGER PRIMARY KEY, price DECIMAL(10,2) NOT NULL)",
        "CREATE TABLE categories (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL)",
        "CREATE TABLE order_items (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL)",
    ];
    let run = |url: String, stmts: Vec<String>| async move {
        if url.starts_with("postgres") {
            let mut c = sqlx::PgConnection::connect(&url).await?;
            for s in stmts {
                sqlx::raw_sql(&s).execute(&mut c).await?;
            }
        } else {
            let mut c = sqlx::MySqlConnection::connect(&url).await?;
            for s in stmts {
                sqlx::raw_sql(&s).execute(&mut c).await?;
            }
        }
        Ok::<_, sqlx::Error>(())
    };
    if let Err(e) = run(admin, setup.to_vec()).await {
        assert!(
            std::env::var("CI").is_err(),
            "{engine} is required under CI: {e}"
        );
        eprintln!("SKIPPING the {engine} part of the NL→SQL e2e test: {e}");
        return None;
    }
    run(url.clone(), table.iter().map(|s| s.to_string()).collect())
        .await
        .unwrap();
    Some((db, url))
}

async fn drop_db(engine: &str, db: &str) {
    use sqlx::Connection;
    if engine == "postgres" {
        let mut c = sqlx::PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres")
            .await
            .unwrap();
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .execute(&mut c)
            .await
            .unwrap();
    } else {
        let mut c = sqlx::MySqlConnection::connect("mysql://root@127.0.0.1:3306/mysql")
            .await
            .unwrap();
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db}"))
            .execute(&mut c)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn hostile_statements_are_refused_on_postgres_and_mariadb() {
    let (_dir, server) = fresh_server();
    let http = client();
    for engine in ["postgres", "mysql"] {
        let Some((db, url)) = engine_db(engine).await else {
            continue;
        };
        let created: Value = http
            .post(server.url("/api/v1/connections"))
            .json(&json!({"name": engine, "url": url}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(created["engine"], engine, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let query = |sql: String| {
            http.post(server.url(&format!("/api/v1/connections/{id}/query")))
                .json(&json!({"sql": sql}))
                .send()
        };
        let sum = || async {
            let v: Value = query("SELECT id, total, status FROM orders ORDER BY id".into())
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["rows"].clone()
        };
        let before = sum().await;
        assert_eq!(before.as_array().unwrap().len(), 3, "{engine}: {before}");
        for sql in HOSTILE {
            let res = query((*sql).to_owned()).await.unwrap();
            assert_eq!(res.status(), 400, "{engine}: {sql}");
            assert_error_shape(&res.json().await.unwrap());
        }
        // Invalid UTF-8 never reaches the guard: the body is not JSON.
        let res = http
            .post(server.url(&format!("/api/v1/connections/{id}/query")))
            .header("content-type", "application/json")
            .body(b"{\"sql\": \"SELECT \xff\xfe; DROP TABLE orders\"}".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        assert_eq!(sum().await, before, "{engine}: data changed");
        // The offline analyst answers there too.
        let done = chat(
            &http,
            server.url("/api/v1/chat"),
            json!({"message": "How many completed orders?", "connection_id": id}),
        )
        .await;
        assert_eq!(done["results"]["rows"], json!([[2]]), "{engine}: {done}");
        let data: Value = http
            .post(server.url("/agents/data"))
            .json(&json!({"query": "Total revenue of completed orders", "connection_id": id}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(data["ok"], true, "{engine}: {data}");
        let csv = http
            .get(server.url(data["artifacts"][0]["url"].as_str().unwrap()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(csv, "revenue\r\n15.75\r\n", "{engine}");
        http.delete(server.url(&format!("/api/v1/connections/{id}")))
            .send()
            .await
            .unwrap();
        drop_db(engine, &db).await;
    }
}
