//! The pool of each stored connection, for the adapters: built on first use, rebuilt when the
//! connection's settings change (its fingerprint), removed when it changes or is deleted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::DbConfigId;

/// How busy one stored connection's pool is, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStat {
    pub connection: DbConfigId,
    /// Connections (or SQLite handles) it may hold for reads.
    pub max: usize,
    /// Connections with a read in flight now (PostgreSQL reads share connections).
    pub in_use: usize,
    /// Reads waiting for one now.
    pub waiting: usize,
    /// Reads that had to wait, ever.
    pub waits_total: u64,
    /// Reads refused as `Busy` after waiting too long, ever.
    pub busy_total: u64,
}

/// What an adapter counts about the waits of one pool.
#[derive(Debug, Default)]
pub struct PoolCounters {
    waiting: AtomicUsize,
    waits_total: AtomicU64,
    busy_total: AtomicU64,
}

/// Held while a read waits for a connection.
#[derive(Debug)]
pub struct Waiting<'a>(&'a PoolCounters);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

impl PoolCounters {
    /// A read starts waiting (none was free); it stops when the guard drops.
    pub fn wait(&self) -> Waiting<'_> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        self.waits_total.fetch_add(1, Ordering::Relaxed);
        Waiting(self)
    }

    /// A read was refused as `Busy`.
    pub fn busy(&self) {
        self.busy_total.fetch_add(1, Ordering::Relaxed);
    }

    /// The figures, with the pool's own `max` and `in_use`.
    pub fn stat(&self, connection: DbConfigId, max: usize, in_use: usize) -> PoolStat {
        PoolStat {
            connection,
            max,
            in_use,
            waiting: self.waiting.load(Ordering::Relaxed),
            waits_total: self.waits_total.load(Ordering::Relaxed),
            busy_total: self.busy_total.load(Ordering::Relaxed),
        }
    }
}

/// One pool per stored connection. `P` is the driver's pool (cheap to clone).
#[derive(Debug)]
pub struct PoolCache<P> {
    pools: Mutex<HashMap<DbConfigId, (u64, P)>>,
}

impl<P> Default for PoolCache<P> {
    fn default() -> Self {
        Self {
            pools: Mutex::new(HashMap::new()),
        }
    }
}

impl<P: Clone> PoolCache<P> {
    /// The pool of `id`, built by `build` when there is none or it was built for another
    /// fingerprint. A pool it replaces is handed back for the caller to close.
    ///
    /// # Errors
    /// Whatever `build` returns.
    pub fn get_or_build<E>(
        &self,
        id: DbConfigId,
        fingerprint: u64,
        build: impl FnOnce() -> Result<P, E>,
    ) -> Result<(P, Option<P>), E> {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((f, pool)) = pools.get(&id)
            && *f == fingerprint
        {
            return Ok((pool.clone(), None));
        }
        let pool = build()?;
        let replaced = pools
            .insert(id, (fingerprint, pool.clone()))
            .map(|(_, old)| old);
        Ok((pool, replaced))
    }

    /// Every pool, for figures.
    pub fn all(&self) -> Vec<(DbConfigId, P)> {
        self.pools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(id, (_, p))| (*id, p.clone()))
            .collect()
    }

    /// Takes the pool of `id` out, for the caller to close.
    pub fn remove(&self, id: DbConfigId) -> Option<P> {
        self.pools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
            .map(|(_, p)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_is_reused_until_its_fingerprint_changes() {
        let cache = PoolCache::<u32>::default();
        let id = DbConfigId::new();
        let build = |n| move || Ok::<_, ()>(n);
        assert_eq!(cache.get_or_build(id, 1, build(10)).unwrap(), (10, None));
        assert_eq!(
            cache.get_or_build(id, 1, build(11)).unwrap(),
            (10, None),
            "reused"
        );
        assert_eq!(
            cache.get_or_build(id, 2, build(12)).unwrap(),
            (12, Some(10)),
            "rebuilt"
        );
        assert_eq!(cache.remove(id), Some(12));
        assert_eq!(cache.remove(id), None);
        assert!(cache.get_or_build(id, 3, || Err::<u32, _>("down")).is_err());
    }
}
