//! The bounded queue and the batch writer. Recording never waits for the database, only for
//! room in the queue: when the queue is full the caller waits (backpressure), nothing is
//! dropped. A failed batch is retried until it is stored; on shutdown the queue is closed and
//! drained.
//!
//! Once an event arrives the writer lingers a moment (`linger`) before it takes the batch, so
//! that a busy server writes a few large batches rather than many small ones: each batch costs
//! the database a transaction and a few round trips whatever its size, and while the writer
//! lingers, recording an event does not wake it, unless the batch can now be filled.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::{AuditError, AuditEvent, AuditStore};

/// How the writer batches.
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Events the queue holds before callers wait.
    pub capacity: usize,
    /// Events written in one statement at most.
    pub batch: usize,
    /// How long the writer waits for more events after the first before it writes, unless a
    /// batch fills up meanwhile or shutdown is asked for. Zero writes at once.
    pub linger: Duration,
    /// Wait between attempts when the store fails.
    pub retry: Duration,
    /// How long shutdown keeps retrying a failing store before it gives up (and says how
    /// many events were lost).
    pub shutdown_grace: Duration,
}

impl Default for WriterSettings {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            batch: 500,
            linger: Duration::from_millis(50),
            retry: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Where events are recorded: a cheap handle to the queue.
#[derive(Clone, Debug)]
pub struct AuditLog {
    /// `None`: recording is turned off.
    tx: Option<mpsc::Sender<AuditEvent>>,
    capacity: usize,
    /// Wakes a lingering writer once its batch can be filled.
    full: Arc<Lingering>,
}

/// What a lingering writer waits for: `wanted` more events (`usize::MAX` while it does not
/// linger), or the end of its linger.
#[derive(Debug)]
struct Lingering {
    wanted: AtomicUsize,
    wake: Notify,
}

impl Default for Lingering {
    fn default() -> Self {
        Self {
            wanted: AtomicUsize::new(usize::MAX),
            wake: Notify::new(),
        }
    }
}

/// The task that writes batches; [`AuditWriter::shutdown`] drains it.
#[derive(Debug)]
pub struct AuditWriter {
    closing: Arc<Closing>,
    task: Option<JoinHandle<()>>,
}

/// Shutdown was asked for: a flag to look at while retrying, and a wake-up while waiting.
#[derive(Debug, Default)]
struct Closing {
    asked: AtomicBool,
    wake: Notify,
}

impl AuditLog {
    /// Starts the writer on the current tokio runtime.
    pub fn start(store: Arc<dyn AuditStore>, settings: WriterSettings) -> (Self, AuditWriter) {
        let (tx, rx) = mpsc::channel(settings.capacity.max(1));
        let closing = Arc::new(Closing::default());
        let full = Arc::new(Lingering::default());
        let task = tokio::spawn(write_batches(
            store,
            rx,
            settings,
            closing.clone(),
            full.clone(),
        ));
        (
            Self {
                tx: Some(tx),
                capacity: settings.capacity.max(1),
                full,
            },
            AuditWriter {
                closing,
                task: Some(task),
            },
        )
    }

    /// A log that records nothing (configuration turned auditing off).
    pub fn disabled() -> (Self, AuditWriter) {
        (
            Self {
                tx: None,
                capacity: 1,
                full: Arc::default(),
            },
            AuditWriter {
                closing: Arc::default(),
                task: None,
            },
        )
    }

    /// Queues an event; waits while the queue is full. After shutdown the event cannot be
    /// written any more, which is logged as an error.
    pub async fn record(&self, mut event: AuditEvent) {
        let Some(tx) = &self.tx else {
            return;
        };
        event.make_storable();
        if let Err(lost) = tx.send(event).await {
            tracing::error!(action = %lost.0.action, id = %lost.0.id,
                "the audit log is closed; an event could not be recorded");
            return;
        }
        // Only a batch that can be filled wakes a lingering writer, not every event.
        if self.capacity - tx.capacity() >= self.full.wanted.load(Ordering::SeqCst) {
            self.full.wake.notify_one();
        }
    }

    /// Whether events are recorded at all (configuration may turn auditing off).
    pub fn is_enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Events waiting to be written.
    pub fn depth(&self) -> usize {
        self.tx
            .as_ref()
            .map_or(0, |tx| self.capacity - tx.capacity())
    }
}

impl AuditWriter {
    /// Closes the queue, writes everything in it, and waits until that is done.
    pub async fn shutdown(self) {
        self.closing.asked.store(true, Ordering::SeqCst);
        self.closing.wake.notify_one();
        let Some(task) = self.task else {
            return;
        };
        if let Err(e) = task.await {
            tracing::error!(error = %e, "the audit writer stopped abnormally");
        }
    }
}

async fn write_batches(
    store: Arc<dyn AuditStore>,
    mut rx: mpsc::Receiver<AuditEvent>,
    settings: WriterSettings,
    closing: Arc<Closing>,
    full: Arc<Lingering>,
) {
    let mut batch = Vec::with_capacity(settings.batch);
    let mut closed = false;
    loop {
        if !closed {
            tokio::select! {
                n = rx.recv_many(&mut batch, settings.batch) => {
                    if n == 0 { break; }
                }
                () = closing.wake.notified() => {
                    rx.close();
                    closed = true;
                    continue;
                }
            }
        } else if rx.recv_many(&mut batch, settings.batch).await == 0 {
            break;
        }
        if !closed && !settings.linger.is_zero() && batch.len() < settings.batch {
            let wanted = settings.batch - batch.len();
            full.wanted.store(wanted, Ordering::SeqCst);
            // Events recorded before `wanted` was published would not have woken it.
            if rx.len() < wanted {
                tokio::select! {
                    () = tokio::time::sleep(settings.linger) => {}
                    () = full.wake.notified() => {}
                    () = closing.wake.notified() => {
                        rx.close();
                        closed = true;
                    }
                }
            }
            full.wanted.store(usize::MAX, Ordering::SeqCst);
            while batch.len() < settings.batch {
                match rx.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
        }
        let mut waited = Duration::ZERO;
        loop {
            match store.append(&batch).await {
                Ok(()) => break,
                // One bad event must not hold up the others: write them one by one and give
                // up only on the ones the store refuses.
                Err(AuditError::Rejected(e)) => {
                    tracing::warn!(error = %e, events = batch.len(),
                        "the audit store refused a batch; writing its events one by one");
                    write_one_by_one(store.as_ref(), &batch, settings).await;
                    break;
                }
                Err(e) if closed && waited >= settings.shutdown_grace => {
                    tracing::error!(error = %chain(&e), lost = batch.len() + rx.len(),
                        "shutting down with the audit store unavailable: events lost");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %chain(&e), events = batch.len(),
                        "cannot write audit events; retrying");
                    tokio::time::sleep(settings.retry).await;
                    waited += settings.retry;
                    if !closed && closing.asked.load(Ordering::SeqCst) {
                        rx.close();
                        closed = true;
                    }
                }
            }
        }
        batch.clear();
    }
}

/// Writes each event alone; one the store refuses is logged and left out.
async fn write_one_by_one(store: &dyn AuditStore, batch: &[AuditEvent], settings: WriterSettings) {
    for event in batch {
        let mut waited = Duration::ZERO;
        loop {
            match store.append(std::slice::from_ref(event)).await {
                Ok(()) => break,
                Err(AuditError::Rejected(e)) => {
                    tracing::error!(error = %chain(&*e), id = %event.id, action = %event.action,
                        "the audit store refused an event; it is left out");
                    break;
                }
                Err(e) if waited >= settings.shutdown_grace => {
                    tracing::error!(error = %chain(&e), id = %event.id, "an audit event is lost");
                    break;
                }
                Err(_) => {
                    tokio::time::sleep(settings.retry).await;
                    waited += settings.retry;
                }
            }
        }
    }
}

/// An error with its causes, on one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    use async_trait::async_trait;

    use super::*;
    use crate::{ActorType, AuditError, AuditFilter, AuditPage, Outcome, Verification};

    /// An in-memory store that can be made to fail or stall; the PostgreSQL adapter runs the
    /// end-to-end cases for real.
    #[derive(Default)]
    struct Memory {
        events: Mutex<Vec<AuditEvent>>,
        failures: AtomicUsize,
        batches: AtomicUsize,
    }

    #[async_trait]
    impl AuditStore for Memory {
        async fn append(&self, events: &[AuditEvent]) -> Result<(), AuditError> {
            if self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| f.checked_sub(1))
                .is_ok()
            {
                return Err(AuditError::Unavailable("down".into()));
            }
            self.batches.fetch_add(1, Ordering::SeqCst);
            self.events.lock().unwrap().extend_from_slice(events);
            Ok(())
        }
        async fn search(&self, _: &AuditFilter) -> Result<AuditPage, AuditError> {
            unimplemented!()
        }
        async fn verify(&self) -> Result<Verification, AuditError> {
            unimplemented!()
        }
        async fn export_page(
            &self,
            _: &AuditFilter,
            _: Option<crate::Cursor>,
            _: u32,
        ) -> Result<Vec<crate::StoredEvent>, AuditError> {
            unimplemented!()
        }
        async fn daily_counts(&self, _: time::Date) -> Result<Vec<crate::DayCounts>, AuditError> {
            unimplemented!()
        }
        async fn stats(
            &self,
            _: time::Date,
            _: time::OffsetDateTime,
        ) -> Result<crate::AuditStats, AuditError> {
            unimplemented!()
        }
        async fn purge_before(&self, _: time::OffsetDateTime) -> Result<u64, AuditError> {
            unimplemented!()
        }
    }

    fn event(i: usize) -> AuditEvent {
        AuditEvent::new(ActorType::McpKey, format!("e{i}"), Outcome::Success)
    }

    fn fast() -> WriterSettings {
        WriterSettings {
            capacity: 8,
            batch: 4,
            linger: Duration::ZERO,
            retry: Duration::from_millis(5),
            shutdown_grace: Duration::from_millis(200),
        }
    }

    #[tokio::test]
    async fn every_event_is_written_in_order_and_in_batches_even_past_the_capacity() {
        let store = Arc::new(Memory::default());
        let (log, writer) = AuditLog::start(store.clone(), fast());
        for i in 0..100 {
            log.record(event(i)).await;
        }
        writer.shutdown().await;
        let actions: Vec<String> = store
            .events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.action.clone())
            .collect();
        assert_eq!(
            actions,
            (0..100).map(|i| format!("e{i}")).collect::<Vec<_>>()
        );
        assert!(store.batches.load(Ordering::SeqCst) < 100, "batched");
    }

    #[tokio::test]
    async fn a_failing_store_is_retried_and_callers_wait_instead_of_losing_events() {
        let store = Arc::new(Memory::default());
        store.failures.store(5, Ordering::SeqCst);
        let (log, writer) = AuditLog::start(store.clone(), fast());
        for i in 0..20 {
            log.record(event(i)).await;
        }
        writer.shutdown().await;
        assert_eq!(store.events.lock().unwrap().len(), 20);
    }

    /// Refuses any batch holding an event whose action is "bad".
    #[derive(Default)]
    struct Picky(Mutex<Vec<String>>);

    #[async_trait]
    impl AuditStore for Picky {
        async fn append(&self, events: &[AuditEvent]) -> Result<(), AuditError> {
            if events.iter().any(|e| e.action == "bad") {
                return Err(AuditError::Rejected("refused".into()));
            }
            self.0
                .lock()
                .unwrap()
                .extend(events.iter().map(|e| e.action.clone()));
            Ok(())
        }
        async fn search(&self, _: &AuditFilter) -> Result<AuditPage, AuditError> {
            unimplemented!()
        }
        async fn verify(&self) -> Result<Verification, AuditError> {
            unimplemented!()
        }
        async fn export_page(
            &self,
            _: &AuditFilter,
            _: Option<crate::Cursor>,
            _: u32,
        ) -> Result<Vec<crate::StoredEvent>, AuditError> {
            unimplemented!()
        }
        async fn daily_counts(&self, _: time::Date) -> Result<Vec<crate::DayCounts>, AuditError> {
            unimplemented!()
        }
        async fn stats(
            &self,
            _: time::Date,
            _: time::OffsetDateTime,
        ) -> Result<crate::AuditStats, AuditError> {
            unimplemented!()
        }
        async fn purge_before(&self, _: time::OffsetDateTime) -> Result<u64, AuditError> {
            unimplemented!()
        }
    }

    #[tokio::test]
    async fn an_event_the_store_refuses_is_left_out_and_the_rest_are_written() {
        let store = Arc::new(Picky::default());
        let (log, writer) = AuditLog::start(store.clone(), fast());
        for action in ["a", "bad", "b"] {
            log.record(AuditEvent::new(ActorType::System, action, Outcome::Success))
                .await;
        }
        writer.shutdown().await;
        assert_eq!(*store.0.lock().unwrap(), ["a", "b"]);
    }

    #[test]
    fn nul_is_made_visible_in_every_text_field() {
        let mut e = AuditEvent::new(ActorType::Admin, "x\0y", Outcome::Denied);
        e.actor_id = Some("ad\0min".into());
        e.tables = vec!["a\0b".into()];
        e.arguments = Some("{\"k\":\"\0\"}".into());
        e.make_storable();
        assert_eq!(e.action, "x\u{FFFD}y");
        assert_eq!(e.actor_id.as_deref(), Some("ad\u{FFFD}min"));
        assert_eq!(e.tables, ["a\u{FFFD}b"]);
        assert!(
            e.arguments
                .is_some_and(|a| !a.contains('\0') && a.contains('\u{FFFD}'))
        );
    }

    #[tokio::test]
    async fn the_writer_lingers_for_more_events_until_a_batch_is_full() {
        let store = Arc::new(Memory::default());
        let settings = WriterSettings {
            linger: Duration::from_secs(30),
            ..fast()
        };
        let (log, writer) = AuditLog::start(store.clone(), settings);
        log.record(event(0)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(store.events.lock().unwrap().is_empty(), "still lingering");
        for i in 1..settings.batch {
            log.record(event(i)).await;
        }
        let started = std::time::Instant::now();
        while store.events.lock().unwrap().len() < settings.batch {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "a full batch ends the linger"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(store.batches.load(Ordering::SeqCst), 1);
        writer.shutdown().await;
    }

    #[tokio::test]
    async fn a_disabled_log_records_nothing_and_shuts_down_at_once() {
        let (log, writer) = AuditLog::disabled();
        log.record(event(0)).await;
        assert_eq!(log.depth(), 0);
        writer.shutdown().await;
    }

    #[tokio::test]
    async fn shutdown_gives_up_on_a_dead_store_after_its_grace() {
        let store = Arc::new(Memory::default());
        store.failures.store(usize::MAX, Ordering::SeqCst);
        let (log, writer) = AuditLog::start(store.clone(), fast());
        log.record(event(0)).await;
        let started = std::time::Instant::now();
        writer.shutdown().await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(store.events.lock().unwrap().is_empty());
        log.record(event(1)).await; // logged, not a panic or a hang
    }
}
