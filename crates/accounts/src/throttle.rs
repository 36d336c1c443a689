//! Throttling of password guessing, per client address and per username.
//!
//! Failures are counted in a sliding window. Once a key (an address or a username) reaches its
//! limit, further attempts are refused without checking the password until the oldest failure
//! leaves the window. The state is per instance and bounded in size.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::AccountsError;

/// Limits of the sign-in throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failed attempts allowed per client address within the window.
    pub max_failures_per_address: u32,
    /// Failed attempts allowed per username within the window.
    pub max_failures_per_username: u32,
    /// The sliding window.
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures_per_address: 30,
            max_failures_per_username: 10,
            window: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    Username(String),
}

/// The most keys remembered; past it, keys whose failures have all left the window are pruned.
const MAX_KEYS: usize = 100_000;

/// Counts failed attempts and says when to refuse.
#[derive(Debug)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    failures: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

impl LoginThrottle {
    /// A throttle with the given limits.
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(address: IpAddr, username: &str) -> [(Key, u32); 2] {
        [
            (Key::Address(address), 0),
            (Key::Username(username.to_ascii_lowercase()), 1),
        ]
    }

    fn limit(&self, which: u32) -> u32 {
        if which == 0 {
            self.policy.max_failures_per_address
        } else {
            self.policy.max_failures_per_username
        }
    }

    /// Refuses an attempt when the address or the username is over its limit.
    ///
    /// # Errors
    /// [`AccountsError::Throttled`] with the seconds until the next attempt may be made.
    pub fn check(&self, address: IpAddr, username: &str) -> Result<(), AccountsError> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for (key, which) in Self::keys(address, username) {
            if let Some(times) = map.get_mut(&key) {
                prune(times, now, self.policy.window);
                let limit = self.limit(which) as usize;
                if times.len() >= limit.max(1) {
                    // The attempt that frees a slot is allowed when the oldest counted failure
                    // (the one at position len - limit) leaves the window.
                    let oldest = times[times.len() - limit.max(1)];
                    wait = wait.max(self.policy.window.saturating_sub(now - oldest));
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(AccountsError::Throttled {
                retry_after_secs: wait.as_secs().max(1),
            })
        }
    }

    /// Records a failed attempt against both the address and the username.
    pub fn record_failure(&self, address: IpAddr, username: &str) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEYS {
            let window = self.policy.window;
            map.retain(|_, times| {
                prune(times, now, window);
                !times.is_empty()
            });
        }
        for (key, which) in Self::keys(address, username) {
            let cap = self.limit(which).max(1) as usize;
            let times = map.entry(key).or_default();
            times.push_back(now);
            while times.len() > cap {
                times.pop_front();
            }
        }
    }

    /// Forgets the failures of a username after it signed in successfully. The address keeps
    /// its count: one right password does not license more guessing of other accounts.
    pub fn record_success(&self, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Key::Username(username.to_ascii_lowercase()));
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(per_addr: u32, per_user: u32, window_ms: u64) -> LoginThrottle {
        LoginThrottle::new(ThrottlePolicy {
            max_failures_per_address: per_addr,
            max_failures_per_username: per_user,
            window: Duration::from_millis(window_ms),
        })
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn a_username_is_throttled_from_any_address_after_its_limit() {
        let t = throttle(100, 3, 60_000);
        for _ in 0..3 {
            t.check(A, "admin").unwrap();
            t.record_failure(A, "admin");
        }
        let err = t.check(B, "ADMIN").unwrap_err();
        assert!(
            matches!(err, AccountsError::Throttled { retry_after_secs } if retry_after_secs > 0)
        );
        assert!(t.check(B, "other").is_ok(), "other users are not affected");
    }

    #[test]
    fn an_address_is_throttled_across_usernames() {
        let t = throttle(2, 100, 60_000);
        t.record_failure(A, "u1");
        t.record_failure(A, "u2");
        assert!(t.check(A, "u3").is_err());
        assert!(t.check(B, "u3").is_ok());
    }

    #[test]
    fn failures_leave_the_window() {
        let t = throttle(1, 1, 50);
        t.record_failure(A, "admin");
        assert!(t.check(A, "admin").is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert!(t.check(A, "admin").is_ok());
    }

    #[test]
    fn success_clears_the_username_but_not_the_address() {
        let t = throttle(2, 2, 60_000);
        t.record_failure(A, "admin");
        t.record_failure(A, "admin");
        t.record_success("admin");
        assert!(t.check(B, "admin").is_ok());
        assert!(t.check(A, "someone").is_err());
    }
}
