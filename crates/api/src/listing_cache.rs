//! Rendered session listings, reused while the listed sessions are unchanged.
//!
//! Rendering a page of 50 sessions to JSON costs far more than serving it, and clients that
//! poll their session list ask for the same page again and again. Each entry keeps the page
//! it was rendered from; a hit requires the freshly read page to be *the same* (the store's
//! cache handed out the same shared page) or *equal* to it, so a cached body can never be
//! stale: the store stays the only source of truth, and this only skips re-rendering
//! identical input.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use bytes::Bytes;
use quarry_core::{Page, Session, SessionQuery, TenantId};

/// Entries kept at most; past it the cache starts over (listings are cheap to re-render).
const MAX_ENTRIES: usize = 1024;

/// Which wire shape a body is rendered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Surface {
    /// `GET /sessions` (oneprompt, OpenAnalyst).
    Sessions,
    /// `GET /api/sessions` (DSAgent).
    DsAgent,
}

type Key = (TenantId, Surface, SessionQuery);
/// A rendered body and the page it was rendered from.
type Entry = (Arc<Page<Session>>, Bytes);

/// Rendered listing bodies keyed by tenant, surface and query.
#[derive(Debug, Default)]
pub(crate) struct ListingCache {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl ListingCache {
    /// The body for `page`, rendered by `render` unless an identical page was rendered before.
    pub(crate) fn get_or_render<E>(
        &self,
        tenant: &TenantId,
        surface: Surface,
        query: SessionQuery,
        page: Arc<Page<Session>>,
        render: impl FnOnce(&Page<Session>) -> Result<Vec<u8>, E>,
    ) -> Result<Bytes, E> {
        let key = (tenant.clone(), surface, query);
        {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((cached, body)) = entries.get(&key)
                && (Arc::ptr_eq(cached, &page) || **cached == *page)
            {
                return Ok(body.clone());
            }
        }
        let body = Bytes::from(render(&page)?);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (page, body.clone()));
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use quarry_core::{NewSession, SessionStatus};

    use super::*;

    fn session(name: &str) -> Session {
        let n = NewSession::named(TenantId::owner(), name);
        let now = quarry_core::time::now();
        Session {
            id: n.id,
            tenant_id: n.tenant_id,
            name: n.name,
            status: SessionStatus::Active,
            model: None,
            hitl_mode: Default::default(),
            created_at: now,
            updated_at: now,
            message_count: 0,
            kernel_variables: 0,
        }
    }

    fn render(page: &Page<Session>) -> Result<Vec<u8>, ()> {
        Ok(page
            .items
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
            .into_bytes())
    }

    #[test]
    fn reuses_only_identical_pages() {
        let cache = ListingCache::default();
        let t = TenantId::owner();
        let q = SessionQuery::default();
        let mut page = Arc::new(Page {
            items: vec![session("a")],
            total: 1,
        });
        let first = cache
            .get_or_render(&t, Surface::Sessions, q, page.clone(), render)
            .unwrap();
        assert_eq!(&first[..], b"a");
        let again = cache
            .get_or_render(&t, Surface::Sessions, q, page.clone(), |_| Err(()))
            .unwrap();
        assert_eq!(again, first, "the same page must not re-render");
        let copy = Arc::new((*page).clone());
        let again = cache
            .get_or_render(&t, Surface::Sessions, q, copy, |_| Err(()))
            .unwrap();
        assert_eq!(again, first, "an equal page must not re-render");

        Arc::make_mut(&mut page).items[0].name = "renamed".into();
        let changed = cache
            .get_or_render(&t, Surface::Sessions, q, page.clone(), render)
            .unwrap();
        assert_eq!(&changed[..], b"renamed");

        // Another tenant or surface never shares an entry.
        let other = TenantId::parse("other").unwrap();
        assert!(
            cache
                .get_or_render(&other, Surface::Sessions, q, page.clone(), |_| Err(()))
                .is_err()
        );
        assert!(
            cache
                .get_or_render(&t, Surface::DsAgent, q, page, |_| Err(()))
                .is_err()
        );
    }
}
