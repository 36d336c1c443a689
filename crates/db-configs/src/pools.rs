//! The pool of each stored connection, for the adapters: built on first use, rebuilt when the
//! connection's settings change (its fingerprint), removed when it changes or is deleted.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::DbConfigId;

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
