//! Reads of a stored connection share a few sessions ("lanes") and are pipelined on them: a
//! read is sent while the ones before it on its lane still run, and the server runs them one
//! after the other. A backend then serves several reads per wake-up and both sides send and
//! receive them in fewer system calls (on the 2-core benchmark machine, about a fifth less CPU
//! per call than one read per session at a time).
//!
//! What keeps neighbours on a lane apart:
//! - Order. What one read sends (a `SET statement_timeout` when the lane's differs from its
//!   limit, then the statement) is sent under the pool's lock, so nothing of another read
//!   comes between. The lane remembers the timeout its session will have once all that was
//!   sent has run, so each statement runs under its own read's limit.
//! - Head-of-line blocking. Only a statement known to be fast (it ran in under [`FAST`] on
//!   average) is sent behind others, and only behind fast ones, at most [`DEPTH`] to a lane,
//!   and not to a lane that answered nothing for [`STALLED`].
//!   Any other statement takes an idle lane or opens one, and has it to itself until it is
//!   answered; so does a statement that could change its session, which runs inside
//!   `BEGIN READ ONLY` ... `ROLLBACK`. When no lane has room, a read waits (a lane stops taking
//!   fast reads while a slow one waits, so that it drains), and is refused as busy after the
//!   connection's wait time.
//! - A read holds its place until the server has answered it: a caller that gives up, or a
//!   result cut at the byte cap, leaves its place taken until an empty query sent after it is
//!   answered.
//! - The session is read-only from the start; at most `max` lanes are open.
//! - A read that outlives the time limits of everything sent before it on its lane, and its
//!   own, plus [`BACKSTOP`], abandons the lane: nothing new is sent to it, and the statement
//!   its backend is running is cancelled (the server's own timeout should have stopped it).

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

mod ticket;

use ticket::{Opening, SlowWaiting, Ticket};

/// Most reads sent to one lane and not yet answered.
pub(crate) const DEPTH: usize = 4;

/// A statement whose runs took less than this on average may wait behind others.
const FAST: Duration = Duration::from_millis(2);

/// A lane with reads in flight that answered none for this long is stalled (its backend is
/// likely waiting for a core): fast reads go elsewhere meanwhile.
const STALLED: Duration = Duration::from_millis(2);

/// A lane unused this long is closed (when the next read looks for one).
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
    /// Most lanes open at once.
    max: usize,
    state: Mutex<State>,
    /// Signalled whenever a read ends, a lane opens or closes: a waiting read looks again.
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
    /// Reads that need an idle lane and wait for one.
    slow_waiting: usize,
    closed: bool,
}

struct Slot {
    lane: Arc<Lane>,
    in_flight: usize,
    /// Reads in flight that must have the lane to themselves.
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

    fn forget(&mut self, lane: &Arc<Lane>) {
        self.slots.retain(|s| !Arc::ptr_eq(&s.lane, lane));
    }
}

/// What a read gets: a lane (with the budget of the reads already on it), or not yet.
enum Pick {
    Lane(Arc<Lane>, u64),
    Open,
    Wait,
}

/// How one attempt at a read ended.
enum Attempt {
    Done(Result<ResultSet, TargetError>),
    /// The lane's connection was found closed: the read may go to another lane.
    Closed(TargetError),
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

    fn give_back(&self, lane: &Arc<Lane>, slow: bool, budget: u64) {
        let mut state = lock(&self.state);
        if let Some(slot) = state.slot(lane) {
            slot.in_flight -= 1;
            slot.slow -= usize::from(slow);
            slot.budget -= budget;
        }
        drop(state);
        self.freed.notify_waiters();
    }

    fn is_fast(&self, sql: &str) -> bool {
        lock(&self.known).get(sql).is_some_and(|d| *d < FAST)
    }

    /// Folds one run's duration into its statement's average.
    pub(crate) fn learn(&self, sql: &str, took: Duration) {
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
            // While a read waits for an idle lane, the emptiest lane of fast reads takes no
            // more, so that it drains.
            let draining = (state.slow_waiting > 0)
                .then(|| {
                    let slots = state.slots.iter().enumerate();
                    let fast_only = slots.filter(|(_, s)| s.slow == 0);
                    fast_only.min_by_key(|(_, s)| s.in_flight).map(|(i, _)| i)
                })
                .flatten();
            // The fullest lane that runs only fast reads and has room: reads gather on few
            // sessions, and more open only as the load grows.
            state
                .slots
                .iter_mut()
                .enumerate()
                .filter(|(i, s)| {
                    s.slow == 0
                        && s.in_flight < DEPTH
                        && Some(*i) != draining
                        && (s.in_flight == 0 || now.duration_since(s.last_done) < STALLED)
                })
                .max_by_key(|(_, s)| s.in_flight)
                .map(|(_, s)| s)
        } else {
            state.slots.iter_mut().find(|s| s.in_flight == 0)
        };
        if let Some(slot) = chosen {
            if slot.in_flight == 0 {
                // Its progress is counted from now.
                slot.last_done = now;
            }
            slot.in_flight += 1;
            slot.slow += usize::from(!fast);
            return Pick::Lane(slot.lane.clone(), slot.budget);
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

    /// A place on a lane (and the budget of the reads before it there), waiting at most
    /// `wait` for one.
    async fn take(
        self: &Arc<Self>,
        fast: bool,
        wait: Duration,
        connect_error: &impl Fn(&tokio_postgres::Error) -> TargetError,
    ) -> Result<(Ticket, u64), TargetError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut waiting = None;
        let mut slow_waiting = None;
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
            let ticket = |lane, ahead| {
                let ticket = Ticket {
                    lanes: self.clone(),
                    lane,
                    slow: !fast,
                    budget: 0,
                    pending: None,
                };
                Ok((ticket, ahead))
            };
            match pick {
                Pick::Lane(lane, ahead) => return ticket(lane, ahead),
                Pick::Open => {
                    let opening = Opening(self);
                    let opened = tokio::time::timeout_at(deadline, self.open()).await;
                    let lane = match opened {
                        Ok(Ok(lane)) => Arc::new(lane),
                        Ok(Err(e)) => return Err(connect_error(&e)),
                        Err(_) => return Err(TargetError::Timeout(wait.as_secs().max(1))),
                    };
                    let mut state = lock(&self.state);
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
                    drop(state);
                    drop(opening);
                    return ticket(lane, 0);
                }
                Pick::Wait => {
                    waiting.get_or_insert_with(|| self.counters.wait());
                    if !fast && slow_waiting.is_none() {
                        lock(&self.state).slow_waiting += 1;
                        slow_waiting = Some(SlowWaiting(self));
                    }
                    if tokio::time::timeout_at(deadline, freed).await.is_err() {
                        self.counters.busy();
                        return Err(TargetError::Busy);
                    }
                }
            }
        }
    }

    /// One read: a place on a lane, the statement prepared there (once per lane), then sent
    /// with what it needs and read within `limits`. A read that finds its lane's connection
    /// closed goes to another lane once.
    pub(crate) async fn read(
        self: &Arc<Self>,
        sql: &str,
        params: &[SqlValue],
        limits: &ReadLimits,
        wait: Duration,
        connect_error: impl Fn(&tokio_postgres::Error) -> TargetError,
    ) -> Result<ResultSet, TargetError> {
        match self
            .attempt(sql, params, limits, wait, &connect_error)
            .await
        {
            Attempt::Done(result) => result,
            Attempt::Closed(_) => {
                match self
                    .attempt(sql, params, limits, wait, &connect_error)
                    .await
                {
                    Attempt::Done(result) => result,
                    Attempt::Closed(e) => Err(e),
                }
            }
        }
    }

    async fn attempt(
        self: &Arc<Self>,
        sql: &str,
        params: &[SqlValue],
        limits: &ReadLimits,
        wait: Duration,
        connect_error: &impl Fn(&tokio_postgres::Error) -> TargetError,
    ) -> Attempt {
        let ms = read::timeout_ms(limits);
        let isolate = read::may_change_session(sql);
        // A statement that could change its session has its lane to itself.
        let fast = !isolate && self.is_fast(sql);
        let (mut ticket, ahead) = match self.take(fast, wait, connect_error).await {
            Ok(taken) => taken,
            Err(e) => return Attempt::Done(Err(e)),
        };
        let lane = ticket.lane.clone();
        let closed =
            |e: &tokio_postgres::Error| e.as_db_error().is_none() && lane.client.is_closed();
        // Behind at most the reads already on the lane, each within its own limit.
        let prepare_limit = Duration::from_millis(ahead + ms) + BACKSTOP;
        let statement = match tokio::time::timeout(prepare_limit, lane.prepare(sql)).await {
            Ok(Ok(statement)) => statement,
            Ok(Err(e)) => {
                let error = read::read_error(&e, ms);
                if e.as_db_error().is_none() {
                    ticket.abandon();
                }
                return match closed(&e) {
                    true => Attempt::Closed(error),
                    false => Attempt::Done(Err(error)),
                };
            }
            Err(_elapsed) => {
                ticket.abandon();
                return Attempt::Done(Err(TargetError::QueryTimeout(ms)));
            }
        };
        if let Err(e) = read::check_statement(&statement, params.len()) {
            return Attempt::Done(Err(e));
        }
        let client = &lane.client;

        let outcome = {
            // The timeout's part reads `set` when first polled, which is when it is sent.
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
                        ticket.budget = ms;
                        slot.budget
                    }
                    // Abandoned meanwhile: this read still runs, with its own timeout.
                    None => {
                        set.store(true, Ordering::Relaxed);
                        ms
                    }
                };
                let limit = Duration::from_millis(budget) + BACKSTOP;
                ticket.pending = Some(tokio::time::Instant::now() + limit);
                // The first poll of each part sends it (the driver queues a request when
                // first polled): all of this read's parts go out together, in order, under
                // the lock.
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
            match tokio::time::timeout(limit, all).await {
                Err(_elapsed) => None,
                Ok(()) => Some((
                    sent,
                    read::Run::of(
                        set_timeout.take_output().expect("done"),
                        begin.take_output().expect("done"),
                        rows.take_output().expect("done"),
                        rollback.take_output().expect("done"),
                    ),
                )),
            }
            // The parts are dropped here: nothing of this read is waited for any more.
        };
        let Some((sent, done)) = outcome else {
            ticket.abandon();
            read::cancel(client, self.tls.clone(), wait).await;
            return Attempt::Done(Err(TargetError::QueryTimeout(ms)));
        };
        if !done.healthy {
            ticket.abandon();
            if let Err(e) = &done.result
                && closed(e)
            {
                return Attempt::Closed(read::read_error(e, ms));
            }
            return Attempt::Done(done.result.map_err(|e| read::read_error(&e, ms)));
        }
        // A result cut short left the rest of its rows on the way: its place stays taken
        // until they have passed (see `Ticket`), and its time is not its statement's.
        let cut = matches!(&done.result, Ok(r) if r.truncated.is_some());
        if !cut {
            ticket.pending = None;
        }
        let mut state = lock(&self.state);
        let now = Instant::now();
        if let Some(slot) = state.slot(&lane) {
            // Its own time: from its sending, or from the end of the read before it.
            let took = now.saturating_duration_since(sent.max(slot.last_done));
            slot.last_done = now;
            drop(state);
            if !cut {
                self.learn(sql, took);
            }
        }
        lane.trim_cache();
        Attempt::Done(done.result.map_err(|e| read::read_error(&e, ms)))
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
mod tests;
