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
}

impl Session {
    /// Connects and applies `settings(version_num)`.
    pub async fn open(
        spec: &ConnectionSpec,
        settings: impl FnOnce(i32) -> String,
    ) -> Result<Session, DeployError> {
        let (notice_tx, notices) = mpsc::unbounded_channel();
        let client = spec
            .connect(notice_tx)
            .await
            .map_err(DeployError::Connect)?;
        let row = client
            .query_one(
                "SELECT current_setting('server_version'), current_setting('server_version_num')::int",
                &[],
            )
            .await
            .map_err(db_err)?;
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
        })
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
