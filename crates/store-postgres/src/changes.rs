//! The change feed: repositories announce changes to keys and connections with `NOTIFY` in the
//! transaction that makes them, and every instance listens, so caches of verified keys and
//! connection settings are dropped everywhere within moments.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use futures_util::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};
use uuid::Uuid;

use crate::PgStore;

/// The channel the feed uses.
pub const CHANNEL: &str = "sluice_changes";

/// Something that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Key(Uuid),
    DbConfig(Uuid),
    /// The semantic layer of a connection.
    Semantic(Uuid),
}

impl Change {
    fn payload(self) -> String {
        match self {
            Self::Key(id) => format!("key:{id}"),
            Self::DbConfig(id) => format!("db:{id}"),
            Self::Semantic(id) => format!("sem:{id}"),
        }
    }

    fn parse(payload: &str) -> Option<Self> {
        let (kind, id) = payload.split_once(':')?;
        let id = Uuid::parse_str(id).ok()?;
        match kind {
            "key" => Some(Self::Key(id)),
            "db" => Some(Self::DbConfig(id)),
            "sem" => Some(Self::Semantic(id)),
            _ => None,
        }
    }
}

/// What the feed reports to its listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedEvent {
    /// Listening (again): anything cached before may have missed changes.
    Connected,
    /// The feed is down: caches must not be trusted until it is back.
    Disconnected,
    Changed(Change),
}

/// Announces a change; delivered when the surrounding transaction commits.
pub(crate) async fn notify(
    client: &impl GenericClient,
    change: Change,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &change.payload()])
        .await
        .map(drop)
}

const HEARTBEAT: Duration = Duration::from_secs(5);
const RETRY: Duration = Duration::from_secs(1);

impl PgStore {
    /// Listens to the change feed until the process ends, reconnecting when the connection
    /// drops, and hands every event to `on_event`.
    pub fn spawn_change_feed(
        &self,
        on_event: impl Fn(FeedEvent) + Send + Sync + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let config = self.config().clone();
        tokio::spawn(async move {
            loop {
                match listen(&config, &on_event).await {
                    Ok(()) => {}
                    Err(e) => tracing::warn!(error = %e, "the change feed is down; retrying"),
                }
                on_event(FeedEvent::Disconnected);
                tokio::time::sleep(RETRY).await;
            }
        })
    }
}

async fn listen(
    config: &tokio_postgres::Config,
    on_event: &(impl Fn(FeedEvent) + Send + Sync),
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(n.payload().to_owned()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "change feed connection closed");
                    break;
                }
            }
        }
    });
    let result = async {
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        on_event(FeedEvent::Connected);
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.tick().await;
        loop {
            tokio::select! {
                payload = rx.recv() => match payload {
                    Some(p) => match Change::parse(&p) {
                        Some(change) => on_event(FeedEvent::Changed(change)),
                        None => tracing::debug!(payload = %p, "ignored change feed message"),
                    },
                    None => return Ok(()),
                },
                _ = heartbeat.tick() => {
                    // A silent network failure would otherwise leave the feed quietly deaf.
                    match tokio::time::timeout(HEARTBEAT, client.simple_query("SELECT 1")).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return Err(e),
                        Err(_) => return Ok(()),
                    }
                }
            }
        }
    }
    .await;
    driver.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_junk_is_ignored() {
        let id = Uuid::now_v7();
        for c in [Change::Key(id), Change::DbConfig(id), Change::Semantic(id)] {
            assert_eq!(Change::parse(&c.payload()), Some(c));
        }
        for junk in [
            "",
            "key",
            "key:nope",
            "other:0190f0f0-0000-7000-8000-000000000000",
        ] {
            assert_eq!(Change::parse(junk), None, "{junk}");
        }
    }
}
