//! Ctrl-C during a run: the first stops sending and lets requests in flight land (their
//! answers are recorded, so the next run resumes exactly); a second quits at once.

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::engine::{Stop, StopReason};
use crate::error::exit;
use crate::output;

/// Watch for Ctrl-C until the returned task is aborted.
pub fn watch(stop: Arc<Stop>) -> JoinHandle<()> {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            output::eprint(
                "\ninterrupted: letting requests in flight land, then saving (Ctrl-C again to quit \
                 now)\n",
            );
            stop.trigger(StopReason::Interrupted);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(exit::INTERRUPTED);
            }
        }
    })
}
