//! A deployer's session: connected, its settings set, the deploy lock taken and given back. Every
//! command that changes the database (migrate, rollback, repair, forget, baseline, restore)
//! opens one, so they never interleave with each other.

use tokio::sync::mpsc;
use tokio_postgres::Client;

use super::{db_err, DeployError};
use crate::db::connect::ConnectionSpec;
use crate::db::lock::{self, Holder};
use crate::db::tracking::Tracking;

/// Server messages (NOTICE, WARNING…) of the session, as they arrive.
pub type Notices = mpsc::UnboundedReceiver<tokio_postgres::error::DbError>;

/// A connected session with its settings.
pub struct Session {
    /// The connection.
    pub client: Client,
    /// The server's notices, as they come.
    pub notices: Notices,
    /// `SHOW server_version`.
    pub server_version: String,
    /// `server_version_num`, e.g. 150018.
    pub version_num: i32,
    /// The settings every migration starts with (restored after one that changes them).
    pub settings: String,
    /// Whether `pgshift stop` asked this session to stop.
    pub stop: StopSignal,
}

/// What `pgshift stop` sends a deployer: a notification on [`STOP_CHANNEL`] whose payload is the
/// deploy lock's key, seen between statements.
pub struct StopSignal {
    notifications: std::sync::Mutex<mpsc::UnboundedReceiver<(String, String)>>,
    requested: std::sync::atomic::AtomicBool,
}

impl StopSignal {
    /// Whether a stop for the holder of `tracking`'s lock has arrived (it stays requested).
    pub fn requested(&self, tracking: &Tracking) -> bool {
        use std::sync::atomic::Ordering;
        let key = tracking.lock_key().to_string();
        if let Ok(mut rx) = self.notifications.lock() {
            while let Ok((channel, payload)) = rx.try_recv() {
                if channel == STOP_CHANNEL && payload == key {
                    self.requested.store(true, Ordering::SeqCst);
                }
            }
        }
        self.requested.load(Ordering::SeqCst)
    }
}

/// The channel `pgshift stop` notifies, with the deploy lock's key as the payload.
pub const STOP_CHANNEL: &str = "pgshift_stop";

impl Session {
    /// Connects and applies `settings(version_num)`.
    pub async fn open(
        spec: &ConnectionSpec,
        settings: impl FnOnce(i32) -> String,
    ) -> Result<Session, DeployError> {
        let (notice_tx, notices) = mpsc::unbounded_channel();
        let (notification_tx, notifications) = mpsc::unbounded_channel();
        let client = spec
            .connect_with(notice_tx, Some(notification_tx))
            .await
            .map_err(DeployError::Connect)?;
        // `query_typed`: no prepare, one round trip (it counts on a distant server).
        let row = client
            .query_typed(
                "SELECT current_setting('server_version'), current_setting('server_version_num')::int",
                &[],
            )
            .await
            .map_err(db_err)?
            .into_iter()
            .next()
            .ok_or_else(|| DeployError::Db("the server did not say its version".into()))?;
        let (server_version, version_num): (String, i32) = (row.get(0), row.get(1));
        let settings = settings(version_num);
        if !settings.is_empty() {
            client.batch_execute(&settings).await.map_err(db_err)?;
        }
        Ok(Session {
            client,
            notices,
            server_version,
            version_num,
            settings,
            stop: StopSignal {
                notifications: std::sync::Mutex::new(notifications),
                requested: std::sync::atomic::AtomicBool::new(false),
            },
        })
    }

    /// Listens for `pgshift stop` (from any machine): its notification is delivered between
    /// statements and transactions; the statement running when it comes is cancelled by `stop`
    /// itself.
    pub async fn listen_for_stop(&self) -> Result<(), DeployError> {
        self.client
            .batch_execute(&format!("LISTEN {STOP_CHANNEL}"))
            .await
            .map_err(db_err)
    }

    /// Takes the deploy lock of `tracking`, waiting up to `wait`; `waiting` hears who holds it.
    pub async fn lock(
        &self,
        tracking: &Tracking,
        wait: std::time::Duration,
        waiting: impl FnMut(&Holder),
    ) -> Result<(), DeployError> {
        lock::acquire(&self.client, tracking, wait, waiting)
            .await
            .map_err(DeployError::Lock)
    }

    /// Gives the lock back (the server also releases it when the session ends).
    pub async fn unlock(&self, tracking: &Tracking) {
        let _ = lock::release(&self.client, tracking).await;
    }

    /// Forgets the server messages received so far (pgshift's own statements').
    pub fn drain(&mut self) {
        while self.notices.try_recv().is_ok() {}
    }
}
