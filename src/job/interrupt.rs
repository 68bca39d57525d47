//! Ctrl-C, SIGTERM or SIGHUP during a run: the first stops sending and lets requests in
//! flight land (their answers are recorded, so the next run resumes exactly), and the run
//! exits 128 + the signal's number; a second quits at once.

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::engine::{Stop, StopReason};
use crate::output;
use crate::signal::Signals;

/// Watch for the stopping signals until the returned task is aborted. The handlers are
/// installed before this returns, so no signal after it can end the run unrecorded.
pub fn watch(stop: Arc<Stop>) -> JoinHandle<()> {
    let signals = Signals::new();
    tokio::spawn(async move {
        let mut signals = match signals {
            Ok(signals) => signals,
            Err(e) => {
                // Then the default actions apply: Ctrl-C and SIGTERM end the run at once,
                // losing only the answers in flight (the ledger stays consistent).
                tracing::warn!("cannot watch for Ctrl-C and SIGTERM: {e}");
                return;
            }
        };
        let first = signals.next().await;
        output::eprint(&format!(
            "\ninterrupted ({}): letting requests in flight land, then saving (a second signal \
             quits at once)\n",
            first.name()
        ));
        stop.trigger(StopReason::Interrupted(first));
        let second = signals.next().await;
        output::eprint(&format!(
            "interrupted ({}) again: stopping now: answers in flight are lost; the next run \
             retries them\n",
            second.name()
        ));
        std::process::exit(second.exit_code());
    })
}
