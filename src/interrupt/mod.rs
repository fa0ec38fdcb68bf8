//! SIGINT and SIGTERM, as the whole process sees them. The command line notes a signal here
//! ([`request`]); long waits (connecting, a migration's statement, a rollback) watch
//! [`subscribe`] and stop. Code that finishes an interruption itself (cancel the statement,
//! roll back, record it, release the lock) holds a [`Handling`] guard meanwhile; with none
//! held, the process ends at once. [`signals`] is what a program installs to feed this (the
//! command line does); only it prints, the line saying why it ended the process.

pub mod signals;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use tokio::sync::watch;

fn channel() -> &'static watch::Sender<bool> {
    static CHANNEL: OnceLock<watch::Sender<bool>> = OnceLock::new();
    CHANNEL.get_or_init(|| watch::channel(false).0)
}

/// How many [`Handling`] guards are alive.
static HANDLING: AtomicUsize = AtomicUsize::new(0);

/// Notes an interruption (for good): every watcher wakes up.
pub fn request() {
    channel().send_replace(true);
}

/// Whether an interruption was requested.
pub fn requested() -> bool {
    *channel().borrow()
}

/// A receiver that turns true on the interruption (true at once when it came already).
pub fn subscribe() -> watch::Receiver<bool> {
    channel().subscribe()
}

/// Waits until an interruption is requested.
pub async fn wait() {
    let mut rx = subscribe();
    let _ = rx.wait_for(|v| *v).await;
}

/// While alive, an interruption is finished by the code that holds it, not by ending the
/// process.
#[derive(Debug)]
pub struct Handling(());

impl Handling {
    /// Starts handling interruptions here.
    pub fn start() -> Handling {
        HANDLING.fetch_add(1, Ordering::SeqCst);
        Handling(())
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        HANDLING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether some code handles an interruption now.
pub fn handled() -> bool {
    HANDLING.load(Ordering::SeqCst) > 0
}
