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

/// How `pgshift stop` reaches a deployer: a notification on [`STOP_CHANNEL`], seen between
/// statements, whose payload must be this deploy's stop token. The deployer writes the token,
/// fresh and random for each deploy, into its meta table (`schema_migrations_meta`, row level
/// security on, nothing granted to anyone): only its own role, a member of it or a superuser
/// can read it, so only they can make a request that counts. Anyone may `pg_notify` the
/// channel; what does not carry the token is ignored and reported.
pub struct StopSignal {
    notifications: std::sync::Mutex<mpsc::UnboundedReceiver<Notification>>,
    token: std::sync::Mutex<Option<String>>,
    requested: std::sync::atomic::AtomicBool,
    /// Server processes whose requests were ignored: not reported yet, and every one seen.
    ignored: std::sync::Mutex<Ignored>,
}

/// Stop requests ignored: each sender is reported once, and at most [`REPORTED`] of them, so
/// that a flood of requests cannot flood the deploy's output and log.
#[derive(Default)]
struct Ignored {
    new: Vec<i32>,
    seen: std::collections::HashSet<i32>,
}

/// How many senders of ignored stop requests are reported, at most.
pub const REPORTED: usize = 10;

/// A notification: its channel, payload and the server process that sent it.
pub type Notification = (String, String, i32);

/// The key of the stop token in the meta table.
pub const STOP_TOKEN_KEY: &str = "stop_token";

impl StopSignal {
    fn new(notifications: mpsc::UnboundedReceiver<Notification>) -> StopSignal {
        StopSignal {
            notifications: std::sync::Mutex::new(notifications),
            token: std::sync::Mutex::new(None),
            requested: std::sync::atomic::AtomicBool::new(false),
            ignored: std::sync::Mutex::new(Ignored::default()),
        }
    }

    /// Whether a stop carrying this deploy's token has arrived (it stays requested). Requests
    /// without it are set aside for [`StopSignal::ignored`].
    pub fn requested(&self) -> bool {
        use std::sync::atomic::Ordering;
        let token = self.token.lock().ok().and_then(|t| t.clone());
        if let Ok(mut rx) = self.notifications.lock() {
            while let Ok((channel, payload, sender)) = rx.try_recv() {
                if channel != STOP_CHANNEL {
                    continue;
                }
                if token
                    .as_deref()
                    .is_some_and(|t| constant_time_eq(t, &payload))
                {
                    self.requested.store(true, Ordering::SeqCst);
                } else if let Ok(mut ignored) = self.ignored.lock() {
                    if ignored.seen.len() < REPORTED && ignored.seen.insert(sender) {
                        ignored.new.push(sender);
                    }
                }
            }
        }
        self.requested.load(Ordering::SeqCst)
    }

    /// Listens for `pgshift stop` (from any machine): writes a fresh stop token into the meta
    /// table of `tracking` (which must exist), then listens. The request is delivered between
    /// statements and transactions; the statement running when it comes is cancelled by `stop`
    /// itself. The token goes as a parameter, so no view of running queries shows it.
    pub async fn listen(&self, client: &Client, tracking: &Tracking) -> Result<(), DeployError> {
        let token = new_token()?;
        let meta = tracking.name("_meta");
        client
            .execute(
                &format!(
                    "INSERT INTO {meta} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
                ),
                &[&STOP_TOKEN_KEY, &token],
            )
            .await
            .map_err(super::bookkeeping_err(tracking, "writing this deploy's stop token"))?;
        if let Ok(mut t) = self.token.lock() {
            *t = Some(token);
        }
        client
            .batch_execute(&format!("LISTEN {STOP_CHANNEL}"))
            .await
            .map_err(db_err)
    }

    /// The server processes whose stop requests were ignored, not reported before (they did
    /// not carry the token: sent by a role that may not stop this deploy); each once, and
    /// [`REPORTED`] at most.
    pub fn ignored(&self) -> Vec<i32> {
        self.ignored
            .lock()
            .map(|mut i| std::mem::take(&mut i.new))
            .unwrap_or_default()
    }
}

/// Compares without stopping at the first difference, so that timing tells nothing.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A fresh stop token: 128 random bits from the operating system, in hex.
fn new_token() -> Result<String, DeployError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| {
        DeployError::Db(format!(
            "the operating system gave no random bytes for the stop token: {e}"
        ))
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The server's version and its number, asked (the first answer after connecting).
async fn asked_version(
    spec: &ConnectionSpec,
    client: &Client,
    started: std::time::Instant,
) -> Result<(String, i32), DeployError> {
    // `query_typed`: no prepare, one round trip (it counts on a distant server).
    let row = spec
        .first_answer(
            started,
            client.query_typed(
                "SELECT current_setting('server_version'), current_setting('server_version_num')::int",
                &[],
            ),
        )
        .await
        .map_err(DeployError::Connect)?
        .map_err(db_err)?
        .into_iter()
        .next()
        .ok_or_else(|| DeployError::Db("the server did not say its version".into()))?;
    Ok((row.get(0), row.get(1)))
}

/// `server_version_num` from `server_version` as PostgreSQL writes it: `15.18 (Debian …)` is
/// 150018, `9.6.24` is 90624, `18beta1` is 180000. `None` for anything else.
fn version_num(version: &str) -> Option<i32> {
    let numeric: String = version
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = numeric.split('.');
    let major: i32 = parts.next()?.parse().ok()?;
    let part = |p: Option<&str>| p.filter(|p| !p.is_empty()).map_or(Ok(0), str::parse::<i32>);
    let (minor, patch) = (part(parts.next()).ok()?, part(parts.next()).ok()?);
    match major {
        10.. if minor < 10_000 => Some(major * 10_000 + minor),
        7..=9 if minor < 100 && patch < 100 => Some(major * 10_000 + minor * 100 + patch),
        _ => None,
    }
}

/// The channel `pgshift stop` notifies, with the deploy's stop token as the payload.
pub const STOP_CHANNEL: &str = "pgshift_stop";

impl Session {
    /// Connects and applies `settings(version_num)`.
    pub async fn open(
        spec: &ConnectionSpec,
        settings: impl FnOnce(i32) -> String,
    ) -> Result<Session, DeployError> {
        let (session, _) = Session::connect(spec, settings, false).await?;
        session.apply_settings().await?;
        Ok(session)
    }

    /// Connects and learns the server's version; `settings(version_num)` is kept for
    /// [`Session::apply_settings`], not yet applied, so that a caller may send them along with
    /// its next statement. With `reported`, the version the server reported when the session
    /// started saves a round trip: the caller must then bound the settings' answer with
    /// `first_answer` from the instant returned (a server that finished the startup and then
    /// says nothing is unreachable). Without it, or when a proxy reports none, or when there
    /// are no settings to bound, the version is asked, within that time.
    pub async fn connect(
        spec: &ConnectionSpec,
        settings: impl FnOnce(i32) -> String,
        reported: bool,
    ) -> Result<(Session, std::time::Instant), DeployError> {
        let (notice_tx, notices) = mpsc::unbounded_channel();
        let (notification_tx, notifications) = mpsc::unbounded_channel();
        let started = std::time::Instant::now();
        let (client, version) = spec
            .connect_reporting(notice_tx, Some(notification_tx))
            .await
            .map_err(DeployError::Connect)?;
        let known = version
            .filter(|_| reported)
            .and_then(|v| version_num(&v).map(|n| (v, n)));
        let (server_version, version_num, settings) = match known {
            Some((v, n)) => match settings(n) {
                s if s.is_empty() => {
                    let (v, n) = asked_version(spec, &client, started).await?;
                    (v, n, s)
                }
                s => (v, n, s),
            },
            None => {
                let (v, n) = asked_version(spec, &client, started).await?;
                (v, n, settings(n))
            }
        };
        let session = Session {
            client,
            notices,
            server_version,
            version_num,
            settings,
            stop: StopSignal::new(notifications),
        };
        Ok((session, started))
    }

    /// Applies the session settings given to [`Session::connect`].
    pub async fn apply_settings(&self) -> Result<(), DeployError> {
        if self.settings.is_empty() {
            return Ok(());
        }
        self.client
            .batch_execute(&self.settings)
            .await
            .map_err(db_err)
    }

    /// Takes the deploy lock of `tracking`, waiting up to `wait`; `waiting` hears who holds it.
    pub async fn lock(
        &self,
        tracking: &Tracking,
        wait: std::time::Duration,
        waiting: impl FnMut(&Holder),
    ) -> Result<bool, DeployError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reported_server_version_gives_its_number_and_anything_else_none() {
        assert_eq!(version_num("15.18 (Debian 15.18-0+deb12u1)"), Some(150_018));
        assert_eq!(version_num("17.2"), Some(170_002));
        assert_eq!(version_num("18beta1"), Some(180_000));
        assert_eq!(version_num("16devel"), Some(160_000));
        assert_eq!(version_num("9.6.24"), Some(90_624));
        assert_eq!(version_num("9.6"), Some(90_600));
        for other in ["", "PgBouncer", "x15", "3.1", "1.21.0/bouncer", "15.99999"] {
            assert_eq!(version_num(other), None, "{other}");
        }
    }

    #[test]
    fn only_the_token_stops_and_a_flood_of_other_requests_is_reported_briefly() {
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = StopSignal::new(rx);
        *stop.token.lock().unwrap() = Some("a1b2".into());
        for pid in 0..50 {
            tx.send((STOP_CHANNEL.into(), "guess".into(), pid)).unwrap();
            tx.send((STOP_CHANNEL.into(), "guess".into(), pid)).unwrap();
        }
        tx.send(("other_channel".into(), "a1b2".into(), 7)).unwrap();
        tx.send((STOP_CHANNEL.into(), "a1b".into(), 8)).unwrap();
        assert!(!stop.requested());
        let reported = stop.ignored();
        assert_eq!(reported, (0..REPORTED as i32).collect::<Vec<_>>());
        assert!(stop.ignored().is_empty(), "each sender once");
        tx.send((STOP_CHANNEL.into(), "a1b2".into(), 9)).unwrap();
        assert!(stop.requested());
        assert!(stop.requested(), "it stays requested");
        assert!(
            constant_time_eq("abc", "abc")
                && !constant_time_eq("abc", "abd")
                && !constant_time_eq("abc", "ab")
        );
    }
}
