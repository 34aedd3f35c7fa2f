//! The query cache: answers keyed by normalised question, connection and schema version,
//! kept for a TTL, with hit statistics.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Intent, QueryResult};

/// Entries kept at most; the oldest goes first.
const MAX_ENTRIES: usize = 1000;

/// A cached answer.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedAnswer {
    /// The query.
    pub sql: String,
    /// Its intent, when known.
    pub intent: Option<Intent>,
    /// What it computes.
    pub explanation: String,
    /// Its result.
    pub result: QueryResult,
}

/// Cache statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Live entries.
    pub entries: usize,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that missed.
    pub misses: u64,
    /// Entries dropped because their TTL passed.
    pub expired: u64,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, (Instant, CachedAnswer)>,
    stats: CacheStats,
}

/// The cache.
#[derive(Debug, Default)]
pub struct QueryCache {
    inner: Mutex<Inner>,
}

/// A question as the cache compares it: lower case, single spaces, no trailing punctuation.
pub fn normalise(question: &str) -> String {
    question
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
        .trim_end_matches(['?', '.', '!', ' '])
        .to_owned()
}

/// The cache key of a question on a connection at a schema version.
pub fn key(question: &str, connection: &str, schema_version: &str) -> String {
    let mut h = Sha256::new();
    h.update(normalise(question));
    h.update([0]);
    h.update(connection);
    h.update([0]);
    h.update(schema_version);
    hex::encode(h.finalize())
}

impl QueryCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The answer under `key` if younger than `ttl`.
    pub fn get(&self, key: &str, ttl: Duration) -> Option<CachedAnswer> {
        let mut inner = self.lock();
        match inner.map.get(key) {
            Some((at, a)) if at.elapsed() < ttl => {
                let a = a.clone();
                inner.stats.hits += 1;
                Some(a)
            }
            Some(_) => {
                inner.map.remove(key);
                inner.stats.expired += 1;
                inner.stats.misses += 1;
                None
            }
            None => {
                inner.stats.misses += 1;
                None
            }
        }
    }

    /// Stores an answer.
    pub fn put(&self, key: String, answer: CachedAnswer) {
        let mut inner = self.lock();
        if inner.map.len() >= MAX_ENTRIES
            && let Some(oldest) = inner
                .map
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
        {
            inner.map.remove(&oldest);
        }
        inner.map.insert(key, (Instant::now(), answer));
    }

    /// Drops every entry (of one connection's keys when given the keys' owner is unknown:
    /// the cache is small, so clearing all is the honest option).
    pub fn clear(&self) -> usize {
        let mut inner = self.lock();
        let n = inner.map.len();
        inner.map.clear();
        n
    }

    /// The statistics.
    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            entries: inner.map.len(),
            ..inner.stats
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_ignore_case_spacing_and_punctuation_and_expire() {
        assert_eq!(
            key("How many  customers?", "c", "v1"),
            key("how many customers", "c", "v1")
        );
        assert_ne!(
            key("how many customers", "c", "v1"),
            key("how many customers", "c", "v2")
        );
        let cache = QueryCache::default();
        let answer = CachedAnswer {
            sql: "SELECT 1".into(),
            intent: None,
            explanation: String::new(),
            result: QueryResult {
                columns: vec![],
                rows: vec![],
                row_count: 0,
                truncated: false,
                execution_time_ms: 0.0,
            },
        };
        cache.put("k".into(), answer.clone());
        assert_eq!(cache.get("k", Duration::from_secs(60)), Some(answer));
        assert_eq!(cache.get("k", Duration::ZERO), None);
        assert_eq!(cache.get("k", Duration::from_secs(60)), None);
        let s = cache.stats();
        assert_eq!((s.hits, s.misses, s.expired, s.entries), (1, 2, 1, 0));
    }
}
