//! Requests per minute per key: a token bucket that holds a minute's worth of requests and
//! refills continuously. Per instance; behind a load balancer each instance counts its own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use keys::KeyId;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The rate limiter of every key.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<KeyId, Bucket>>,
}

const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// Takes one request from `key`'s allowance of `per_minute`. `Err` carries how long to
    /// wait before the next request can pass.
    pub fn check(&self, key: KeyId, per_minute: u32, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(per_minute.max(1));
        let per_sec = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&key) {
            // Full buckets are the same as none: drop them rather than grow without bound.
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec < capacity
            });
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_sec))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_of_requests_passes_then_the_next_waits() {
        let limiter = RateLimiter::default();
        let key = KeyId::new();
        let t0 = Instant::now();
        for _ in 0..120 {
            limiter.check(key, 120, t0).unwrap();
        }
        let wait = limiter.check(key, 120, t0).unwrap_err();
        assert!(
            wait > Duration::from_millis(400) && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        limiter
            .check(key, 120, t0 + Duration::from_millis(500))
            .expect("one request refilled after half a second");
        assert!(
            limiter
                .check(key, 120, t0 + Duration::from_millis(500))
                .is_err()
        );
    }

    #[test]
    fn keys_have_their_own_allowance() {
        let limiter = RateLimiter::default();
        let (a, b) = (KeyId::new(), KeyId::new());
        let t0 = Instant::now();
        limiter.check(a, 1, t0).unwrap();
        assert!(limiter.check(a, 1, t0).is_err());
        limiter.check(b, 1, t0).unwrap();
    }
}
