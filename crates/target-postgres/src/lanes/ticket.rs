//! A read's place on a lane and the guards that count reads being opened for or waiting.

use std::sync::Arc;

use super::{Lane, Lanes, lock};

/// A read's place on a lane, given back when dropped: at once, or, while the server may
/// still be working on what the read sent, once an empty query sent after it is answered.
pub(super) struct Ticket {
    pub(super) lanes: Arc<Lanes>,
    pub(super) lane: Arc<Lane>,
    /// Whether the read must have the lane to itself.
    pub(super) slow: bool,
    /// This read's share of the lane's budget, once sent.
    pub(super) budget: u64,
    /// Set while what the read sent may still be running or sending rows; the time by which
    /// the server must have answered it.
    pub(super) pending: Option<tokio::time::Instant>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let Some(deadline) = self.pending else {
            self.lanes.give_back(&self.lane, self.slow, self.budget);
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.lanes.give_back(&self.lane, self.slow, self.budget);
            return;
        };
        let (lanes, lane, slow, budget) = (
            self.lanes.clone(),
            self.lane.clone(),
            self.slow,
            self.budget,
        );
        runtime.spawn(async move {
            // Answered only once everything sent before it on the lane has been.
            let answered = tokio::time::timeout_at(deadline, lane.client.batch_execute("")).await;
            if !matches!(answered, Ok(Ok(()))) {
                lock(&lanes.state).forget(&lane);
            }
            lanes.give_back(&lane, slow, budget);
        });
    }
}

impl Ticket {
    /// Nothing more is sent to this lane; reads already on it end as they may.
    pub(super) fn abandon(&mut self) {
        self.pending = None;
        lock(&self.lanes.state).forget(&self.lane);
        self.lanes.freed.notify_waiters();
    }
}

/// Counts a lane being opened against the cap until dropped.
pub(super) struct Opening<'a>(pub(super) &'a Lanes);

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).opening -= 1;
        self.0.freed.notify_waiters();
    }
}

/// Counts a read that waits for an idle lane until dropped.
pub(super) struct SlowWaiting<'a>(pub(super) &'a Lanes);

impl Drop for SlowWaiting<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).slow_waiting -= 1;
    }
}
