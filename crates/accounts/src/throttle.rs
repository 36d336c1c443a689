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
            (Self::username_key(username), 1),
        ]
    }

    /// Usernames longer than the longest valid one are cut: the key stays small whatever the
    /// client sends.
    fn username_key(username: &str) -> Key {
        let cut: String = username
            .chars()
            .take(crate::Username::MAX_LEN + 1)
            .collect();
        Key::Username(cut.to_ascii_lowercase())
    }

    fn limit(&self, which: u32) -> u32 {
        if which == 0 {
            self.policy.max_failures_per_address
        } else {
            self.policy.max_failures_per_username
        }
    }

    /// Starts an attempt: refuses it when the address or the username is at its limit,
    /// otherwise counts it as a failure right away, in the same locked step. Concurrent
    /// attempts therefore cannot all slip past the limit while their passwords are being
    /// checked; [`LoginThrottle::succeeded`] takes the count back.
    ///
    /// # Errors
    /// [`AccountsError::Throttled`] with the seconds until the next attempt may be made.
    pub fn try_attempt(&self, address: IpAddr, username: &str) -> Result<(), AccountsError> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for (key, which) in Self::keys(address, username) {
            if let Some(times) = map.get_mut(&key) {
                prune(times, now, self.policy.window);
                let limit = (self.limit(which) as usize).max(1);
                if times.len() >= limit {
                    // A slot frees when the oldest counted failure leaves the window.
                    let oldest = times[times.len() - limit];
                    wait = wait.max(self.policy.window.saturating_sub(now - oldest));
                }
            }
        }
        if !wait.is_zero() {
            return Err(AccountsError::Throttled {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        if map.len() >= MAX_KEYS {
            let window = self.policy.window;
            map.retain(|_, times| {
                prune(times, now, window);
                !times.is_empty()
            });
        }
        for (key, which) in Self::keys(address, username) {
            // Past the cap only keys already tracked are counted; the address key of a new
            // client is still added, so a flood of usernames cannot grow the map unbounded
            // beyond one key per address.
            if map.len() >= MAX_KEYS && !map.contains_key(&key) && which == 1 {
                continue;
            }
            let cap = (self.limit(which) as usize).max(1);
            let times = map.entry(key).or_default();
            times.push_back(now);
            while times.len() > cap {
                times.pop_front();
            }
        }
        Ok(())
    }

    /// Ends an attempt that succeeded: the username's failures are forgotten, and the attempt
    /// no longer counts against the address. Earlier failures of the address still count: one
    /// right password does not license more guessing of other accounts.
    pub fn succeeded(&self, address: IpAddr, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Self::username_key(username));
        if let Some(times) = map.get_mut(&Key::Address(address)) {
            times.pop_back();
        }
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
            t.try_attempt(A, "admin").unwrap();
        }
        let err = t.try_attempt(B, "ADMIN").unwrap_err();
        assert!(
            matches!(err, AccountsError::Throttled { retry_after_secs } if retry_after_secs > 0)
        );
        assert!(
            t.try_attempt(B, "other").is_ok(),
            "other users are not affected"
        );
    }

    #[test]
    fn an_address_is_throttled_across_usernames() {
        let t = throttle(2, 100, 60_000);
        t.try_attempt(A, "u1").unwrap();
        t.try_attempt(A, "u2").unwrap();
        assert!(t.try_attempt(A, "u3").is_err());
        assert!(t.try_attempt(B, "u3").is_ok());
    }

    #[test]
    fn failures_leave_the_window() {
        let t = throttle(1, 1, 50);
        t.try_attempt(A, "admin").unwrap();
        assert!(t.try_attempt(A, "admin").is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert!(t.try_attempt(A, "admin").is_ok());
    }

    #[test]
    fn success_clears_the_username_but_not_the_address() {
        let t = throttle(2, 2, 60_000);
        t.try_attempt(A, "admin").unwrap(); // fails
        t.try_attempt(A, "admin").unwrap(); // succeeds:
        t.succeeded(A, "admin");
        assert!(t.try_attempt(B, "admin").is_ok(), "the username is cleared");
        t.try_attempt(A, "someone").unwrap();
        assert!(
            t.try_attempt(A, "someone").is_err(),
            "the earlier failure still counts"
        );
    }

    #[test]
    fn concurrent_attempts_cannot_pass_the_limit() {
        let t = std::sync::Arc::new(throttle(100, 5, 60_000));
        let allowed = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..50 {
                s.spawn(|| {
                    if t.try_attempt(A, "admin").is_ok() {
                        allowed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(allowed.into_inner(), 5);
    }

    #[test]
    fn huge_usernames_are_stored_cut() {
        let t = throttle(100, 1, 60_000);
        let long = "x".repeat(100_000);
        t.try_attempt(A, &long).unwrap();
        let map = t.failures.lock().unwrap();
        assert!(map.keys().all(|k| match k {
            Key::Username(u) => u.len() <= 65,
            Key::Address(_) => true,
        }));
    }
}
