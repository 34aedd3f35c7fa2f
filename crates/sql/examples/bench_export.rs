//! Benchmark driver for `scripts/bench-export`.
//!
//! `bench_export export <postgres-url> <sql> <out.csv>`: streams the query's rows into a CSV
//! file through quarry's guard, read-only transaction and CSV writer, then prints
//! `rows seconds`.
//! `bench_export cache <dir> <question> <n>`: on the demo database generated in `dir`,: prints the median uncached and cached
//! answer latency of the agent, in milliseconds.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use quarry_sql::{
    ConnectionSpec, DataSource, Engine, ExecutionMode, Limits, Question, SemanticModel, SqlAgent,
    export::CsvWriter, guard,
};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("export") => {
            let spec = ConnectionSpec {
                engine: Engine::Postgres,
                url: args[2].clone(),
            };
            let src = DataSource::connect(&spec).await.unwrap();
            let sql = guard::check(Engine::Postgres, &args[3]).unwrap();
            let file = tokio::fs::File::create(&args[4]).await.unwrap();
            let mut csv = CsvWriter::new(file);
            let started = Instant::now();
            let limits = Limits {
                max_rows: 10_000_000,
                timeout: Duration::from_secs(600),
            };
            let out = src.run(&sql, limits, &mut csv).await.unwrap();
            csv.finish().await.unwrap();
            println!("{} {:.3}", out.row_count, started.elapsed().as_secs_f64());
        }
        Some("cache") => {
            let path = std::path::Path::new(&args[2]).join(quarry_sql::demo::DEMO_FILE);
            quarry_sql::demo::ensure(&path).await.unwrap();
            let src = DataSource::connect(&ConnectionSpec::sqlite(&path))
                .await
                .unwrap();
            let n: usize = args[4].parse().unwrap();
            let agent = SqlAgent::default();
            let sem = SemanticModel::default();
            let mut cold = Vec::new();
            let mut warm = Vec::new();
            for _ in 0..n {
                agent.clear_cache();
                for times in [&mut cold, &mut warm] {
                    let t = Instant::now();
                    let a = agent
                        .ask(Question {
                            connection_id: "bench",
                            source: &src,
                            semantic: &sem,
                            examples: &[],
                            text: &args[3],
                            mode: ExecutionMode::AutoExecute,
                            max_rows: None,
                            llm: None,
                        })
                        .await;
                    assert!(a.error.is_none(), "{a:?}");
                    times.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
            cold.sort_by(f64::total_cmp);
            warm.sort_by(f64::total_cmp);
            println!("{:.3} {:.3}", cold[n / 2], warm[n / 2]);
        }
        _ => eprintln!(
            "usage: bench_export export <url> <sql> <out.csv> | cache <sqlite> <question> <n>"
        ),
    }
}
