//! Reads of a stored connection share a few sessions ("lanes") and are pipelined on them: a
//! read is sent while the ones before it on its lane still run, and the server runs them one
//! after the other. A backend then serves several reads per wake-up and both sides send and
//! receive them in fewer system calls (on the 2-core benchmark machine, about a fifth less CPU
//! per call than one read per session at a time).
//!
//! What keeps neighbours on a lane apart:
//! - Order. Whatever one read sends (a `SET statement_timeout` when the lane's differs from
//!   its limit, `BEGIN READ ONLY` ... `ROLLBACK` around a statement that could change its
//!   session, the statement) is sent under the pool's lock, so nothing of another read comes
//!   between. The lane remembers the timeout its session will have once all that was sent has
//!   run, so each statement runs under its own read's limit.
//! - Head-of-line blocking. Only a statement known to be fast (it ran in under [`FAST`] on
//!   average) is sent behind others, and only behind fast ones, at most [`DEPTH`] to a lane.
//!   Any other statement takes an idle lane or opens one. When every lane may hold no more,
//!   a read waits, and is refused as busy after the connection's wait time.
//! - The session is read-only from the start; at most `max` sessions (the concurrency cap)
//!   run statements at once.
//! - A read that outlives the time limits of everything sent before it on its lane, and its
//!   own, plus [`BACKSTOP`], abandons the lane: nothing new is sent to it, and the statement it
//!   is running is cancelled.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use db_configs::{PoolCounters, PoolStat, ReadLimits, ResultSet, SqlValue, TargetError};
use futures_util::future::maybe_done;
use tokio::sync::Notify;
use tokio_postgres::{Client, NoTls, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::read::{self, BACKSTOP};

/// Most reads sent to one lane and not yet answered.
pub(crate) const DEPTH: usize = 4;

/// A statement whose runs took less than this on average may wait behind others.
const FAST: Duration = Duration::from_millis(2);

/// A lane unused this long is closed.
const IDLE_LANE: Duration = Duration::from_secs(60);

/// Statements whose durations are kept at most; past this they are forgotten.
const MAX_KNOWN: usize = 1024;

/// Longer statements are not timed (nor ever sent behind others): the times kept take at
/// most `MAX_KNOWN` times this.
const MAX_KNOWN_LEN: usize = 8 * 1024;

/// Prepared statements a lane keeps at most; past this its cache is emptied.
const MAX_CACHED_STATEMENTS: usize = 256;

/// The lanes of one stored connection.
pub(crate) struct Lanes {
    config: tokio_postgres::Config,
    tls: Option<MakeRustlsConnect>,
    /// Most lanes open at once: the statements that run at once.
    max: usize,
    state: Mutex<State>,
    /// Signalled whenever a read ends or a lane closes: a waiting read looks again.
    freed: Notify,
    /// How long each statement text took to run, on average.
    known: Mutex<HashMap<Box<str>, Duration>>,
    counters: PoolCounters,
}

#[derive(Default)]
struct State {
    slots: Vec<Slot>,
    /// Lanes being opened, which count against `max`.
    opening: usize,
    closed: bool,
}

struct Slot {
    lane: Arc<Lane>,
    in_flight: usize,
    /// Reads in flight whose statement is not known to be fast.
    slow: usize,
    /// The `statement_timeout` (ms) the session has once everything sent has run.
    timeout: Option<u64>,
    /// The sum of the time limits of the reads in flight (ms): the last of them has ended,
    /// one way or another, within this (plus [`BACKSTOP`]) of its sending.
    budget: u64,
    /// When the lane last answered a read (or opened).
    last_done: Instant,
}

/// One session.
pub(crate) struct Lane {
    pub(crate) client: Client,
    statements: Mutex<HashMap<String, Statement>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl State {
    fn slot(&mut self, lane: &Arc<Lane>) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| Arc::ptr_eq(&s.lane, lane))
    }
}

/// What a read gets.
enum Pick {
    Lane(Arc<Lane>),
    Open,
    Wait,
}

/// A read's place on a lane; ending it (or dropping it, when the caller gave up) frees it.
struct Ticket<'a> {
    lanes: &'a Lanes,
    lane: Arc<Lane>,
    fast: bool,
    /// This read's share of the lane's budget, once sent.
    budget: u64,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.lanes.state);
        if let Some(slot) = state.slot(&self.lane) {
            slot.in_flight -= 1;
            slot.slow -= usize::from(!self.fast);
            slot.budget -= self.budget;
        }
        drop(state);
        self.lanes.freed.notify_waiters();
    }
}

impl Ticket<'_> {
    /// Nothing more is sent to this lane; reads already on it end as they may.
    fn abandon(&self) {
        lock(&self.lanes.state)
            .slots
            .retain(|s| !Arc::ptr_eq(&s.lane, &self.lane));
    }
}

impl Lanes {
    pub(crate) fn new(
        config: tokio_postgres::Config,
        tls: Option<MakeRustlsConnect>,
        max: usize,
    ) -> Self {
        Self {
            config,
            tls,
            max: max.max(1),
            state: Mutex::default(),
            freed: Notify::new(),
            known: Mutex::default(),
            counters: PoolCounters::default(),
        }
    }

    /// No more reads; open lanes close as their reads end.
    pub(crate) fn close(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        state.slots.clear();
        drop(state);
        self.freed.notify_waiters();
    }

    pub(crate) fn stat(&self, connection: db_configs::DbConfigId) -> PoolStat {
        let in_use = lock(&self.state)
            .slots
            .iter()
            .filter(|s| s.in_flight > 0)
            .count();
        self.counters.stat(connection, self.max, in_use)
    }

    fn is_fast(&self, sql: &str) -> bool {
        lock(&self.known).get(sql).is_some_and(|d| *d < FAST)
    }

    /// Folds one run's duration into its statement's average.
    fn learn(&self, sql: &str, took: Duration) {
        if sql.len() > MAX_KNOWN_LEN {
            return;
        }
        let mut known = lock(&self.known);
        if let Some(average) = known.get_mut(sql) {
            *average = (*average * 3 + took) / 4;
            return;
        }
        if known.len() >= MAX_KNOWN {
            known.clear();
        }
        known.insert(sql.into(), took);
    }

    /// Where a read goes now, if anywhere. Lanes idle for long, and lanes whose connection
    /// closed, are let go on the way.
    fn pick(&self, state: &mut State, fast: bool) -> Pick {
        let now = Instant::now();
        state.slots.retain(|s| {
            !s.lane.client.is_closed()
                && (s.in_flight > 0 || now.duration_since(s.last_done) < IDLE_LANE)
        });
        let chosen = if fast {
            // The fullest lane that runs only fast reads and has room: reads gather on few
            // sessions, and more open only as the load grows.
            state
                .slots
                .iter_mut()
                .filter(|s| s.slow == 0 && s.in_flight < DEPTH)
                .max_by_key(|s| s.in_flight)
        } else {
            state.slots.iter_mut().find(|s| s.in_flight == 0)
        };
        if let Some(slot) = chosen {
            slot.in_flight += 1;
            slot.slow += usize::from(!fast);
            return Pick::Lane(slot.lane.clone());
        }
        if state.slots.len() + state.opening < self.max {
            state.opening += 1;
            return Pick::Open;
        }
        Pick::Wait
    }

    async fn open(&self) -> Result<Lane, tokio_postgres::Error> {
        let client = match &self.tls {
            None => {
                let (client, connection) = self.config.connect(NoTls).await?;
                tokio::spawn(crate::drive(connection));
                client
            }
            Some(tls) => {
                let (client, connection) = self.config.connect(tls.clone()).await?;
                tokio::spawn(crate::drive(connection));
                client
            }
        };
        client.batch_execute(read::READ_ONLY_SESSION).await?;
        Ok(Lane {
            client,
            statements: Mutex::default(),
        })
    }

    /// A place on a lane, waiting at most `wait` for one.
    async fn take(
        &self,
        fast: bool,
        wait: Duration,
        connect_error: impl Fn(&tokio_postgres::Error) -> TargetError,
    ) -> Result<Ticket<'_>, TargetError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut waiting = None;
        loop {
            let mut freed = pin!(self.freed.notified());
            freed.as_mut().enable();
            let pick = {
                let mut state = lock(&self.state);
                if state.closed {
                    return Err(TargetError::Unreachable(
                        "the connection's settings changed while the read waited".into(),
                    ));
                }
                self.pick(&mut state, fast)
            };
            let lane = match pick {
                Pick::Lane(lane) => lane,
                Pick::Open => {
                    let opened = self.open().await;
                    let mut state = lock(&self.state);
                    state.opening -= 1;
                    let lane = match opened {
                        Ok(lane) => Arc::new(lane),
                        Err(e) => {
                            drop(state);
                            self.freed.notify_waiters();
                            return Err(connect_error(&e));
                        }
                    };
                    if !state.closed {
                        state.slots.push(Slot {
                            lane: lane.clone(),
                            in_flight: 1,
                            slow: usize::from(!fast),
                            timeout: None,
                            budget: 0,
                            last_done: Instant::now(),
                        });
                    }
                    lane
                }
                Pick::Wait => {
                    waiting.get_or_insert_with(|| self.counters.wait());
                    if tokio::time::timeout_at(deadline, freed).await.is_err() {
                        self.counters.busy();
                        return Err(TargetError::Busy);
                    }
                    continue;
                }
            };
            return Ok(Ticket {
                lanes: self,
                lane,
                fast,
                budget: 0,
            });
        }
    }

    /// One read: a place on a lane, the statement prepared there (once per lane), then sent
    /// with what it needs and read within `limits`.
    pub(crate) async fn read(
        &self,
        sql: &str,
        params: &[SqlValue],
        limits: &ReadLimits,
        wait: Duration,
        connect_error: impl Fn(&tokio_postgres::Error) -> TargetError,
    ) -> Result<ResultSet, TargetError> {
        let ms = read::timeout_ms(limits);
        let fast = self.is_fast(sql);
        let mut ticket = self.take(fast, wait, connect_error).await?;
        let lane = ticket.lane.clone();
        let statement = match lane.prepare(sql).await {
            Ok(statement) => statement,
            Err(e) => {
                if e.as_db_error().is_none() {
                    ticket.abandon();
                }
                return Err(read::read_error(&e, ms));
            }
        };
        read::check_statement(&statement, params.len())?;
        let isolate = read::may_change_session(sql);
        let client = &lane.client;

        // Each part reads `set` when first polled, which is when it is sent.
        let set = AtomicBool::new(false);
        let unless_isolated = |sql| async move {
            match isolate {
                true => client.batch_execute(sql).await,
                false => Ok(()),
            }
        };
        let mut set_timeout = pin!(maybe_done(async {
            match set.load(Ordering::Relaxed) {
                true => client
                    .batch_execute(&format!("SET statement_timeout = {ms}"))
                    .await
                    .map(|()| true),
                false => Ok(false),
            }
        }));
        let mut begin = pin!(maybe_done(unless_isolated("BEGIN READ ONLY")));
        let mut rows = pin!(maybe_done(read::fetch(client, &statement, params, limits)));
        let mut rollback = pin!(maybe_done(unless_isolated("ROLLBACK")));

        let sent = Instant::now();
        let budget = {
            let mut state = lock(&self.state);
            let budget = match state.slot(&lane) {
                Some(slot) => {
                    set.store(slot.timeout != Some(ms), Ordering::Relaxed);
                    slot.timeout = Some(ms);
                    slot.budget += ms;
                    slot.budget
                }
                // Abandoned meanwhile (closed): this read still runs, with its own timeout.
                None => {
                    set.store(true, Ordering::Relaxed);
                    ms
                }
            };
            ticket.budget = ms;
            // The first poll of each part sends it (the driver queues a request when first
            // polled): all of this read's parts go out together, in order, under the lock.
            let mut cx = Context::from_waker(Waker::noop());
            let _ = set_timeout.as_mut().poll(&mut cx);
            let _ = begin.as_mut().poll(&mut cx);
            let _ = rows.as_mut().poll(&mut cx);
            let _ = rollback.as_mut().poll(&mut cx);
            budget
        };
        let all = std::future::poll_fn(|cx| {
            let parts = [
                set_timeout.as_mut().poll(cx).is_ready(),
                begin.as_mut().poll(cx).is_ready(),
                rows.as_mut().poll(cx).is_ready(),
                rollback.as_mut().poll(cx).is_ready(),
            ];
            match parts.iter().all(|ready| *ready) {
                true => Poll::Ready(()),
                false => Poll::Pending,
            }
        });
        let limit = Duration::from_millis(budget) + BACKSTOP;
        if tokio::time::timeout(limit, all).await.is_err() {
            ticket.abandon();
            read::cancel(client, self.tls.clone(), wait).await;
            return Err(TargetError::QueryTimeout(ms));
        }
        let done = read::Run::of(
            set_timeout.take_output().expect("done"),
            begin.take_output().expect("done"),
            rows.take_output().expect("done"),
            rollback.take_output().expect("done"),
        );
        if done.healthy {
            let now = Instant::now();
            let mut state = lock(&self.state);
            if let Some(slot) = state.slot(&lane) {
                // Its own time: from its sending, or from the end of the read before it.
                let took = now.duration_since(sent.max(slot.last_done));
                slot.last_done = now;
                drop(state);
                self.learn(sql, took);
            }
            lane.trim_cache();
        } else {
            ticket.abandon();
        }
        done.result.map_err(|e| read::read_error(&e, ms))
    }

    #[cfg(test)]
    pub(crate) fn lanes(&self) -> Vec<Arc<Lane>> {
        lock(&self.state)
            .slots
            .iter()
            .map(|s| s.lane.clone())
            .collect()
    }

    /// Makes the pool believe `lane`'s session has the timeout `ms`.
    #[cfg(test)]
    pub(crate) fn assume_timeout(&self, lane: &Arc<Lane>, ms: u64) {
        if let Some(slot) = lock(&self.state).slot(lane) {
            slot.timeout = Some(ms);
        }
    }
}

impl Lane {
    async fn prepare(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = lock(&self.statements).get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).await?;
        lock(&self.statements).insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    fn trim_cache(&self) {
        let mut statements = lock(&self.statements);
        if statements.len() > MAX_CACHED_STATEMENTS {
            statements.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes() -> Lanes {
        Lanes::new(tokio_postgres::Config::new(), None, 4)
    }

    #[test]
    fn a_statement_is_fast_once_its_runs_were_and_not_after_a_slow_one() {
        let lanes = lanes();
        let sql = "SELECT 1";
        assert!(!lanes.is_fast(sql), "never run: not known to be fast");
        lanes.learn(sql, Duration::from_micros(200));
        assert!(lanes.is_fast(sql));
        lanes.learn(sql, Duration::from_millis(40));
        assert!(!lanes.is_fast(sql), "one slow run is enough to stop it");
        for _ in 0..20 {
            lanes.learn(sql, Duration::from_micros(200));
        }
        assert!(lanes.is_fast(sql), "fast again after many fast runs");
    }

    #[test]
    fn long_statements_are_never_fast_and_the_times_kept_are_bounded() {
        let lanes = lanes();
        let long = format!("SELECT 1 /* {} */", "x".repeat(MAX_KNOWN_LEN));
        lanes.learn(&long, Duration::from_micros(100));
        assert!(!lanes.is_fast(&long));
        for i in 0..MAX_KNOWN + 10 {
            lanes.learn(&format!("SELECT {i}"), Duration::from_micros(100));
        }
        assert!(lock(&lanes.known).len() <= MAX_KNOWN);
    }
}
