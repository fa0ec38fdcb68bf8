//! SIGINT and SIGTERM for every command. The first one is noted for the library
//! (`crate::interrupt`): where code is handling interruptions (a migration or a down file
//! running, the rollback test, a fleet), it cancels, rolls back, records and exits 130 itself,
//! within [`GRACE`]; anywhere else (validating, connecting, waiting for the lock, backing up,
//! at a prompt) pgshift ends at once with 130. A second signal always ends it at once.

use std::time::Duration;

use super::exit;

/// How long handled code gets to finish an interruption before the process ends anyway (a
/// server that stopped answering, a cancel request that cannot get through).
pub const GRACE: Duration = Duration::from_secs(15);

/// Listens for SIGINT and SIGTERM on a thread of its own, from now until the process ends.
pub fn install() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        std::thread::spawn(move || rt.block_on(listen()));
    });
}

async fn listen() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    let name = tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    };
    crate::interrupt::request();
    if !crate::interrupt::handled() {
        end(&format!(
            "interrupted by {name}: pgshift stopped at once. Nothing it had not committed stays (the server rolls back an open transaction when the connection closes); `pgshift status` shows where the database stands"
        ));
    }
    let second = tokio::select! {
        _ = int.recv() => Some("SIGINT"),
        _ = term.recv() => Some("SIGTERM"),
        _ = tokio::time::sleep(GRACE) => None,
    };
    end(&match second {
        Some(again) => format!("{again} again: pgshift stopped at once, without waiting for the interrupted work to finish; the server rolls back an open transaction when the connection closes"),
        None => format!(
            "still busy {} s after {name}: pgshift stopped at once (the server did not answer in time); the server rolls back an open transaction when the connection closes, and `pgshift status` shows where the database stands",
            GRACE.as_secs()
        ),
    });
}

/// Says why on stderr and ends the process with 130.
fn end(message: &str) -> ! {
    use std::io::Write;
    let text = format!("error: {message}\n");
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
    std::process::exit(exit::INTERRUPTED as i32)
}
