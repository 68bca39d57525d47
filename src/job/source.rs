//! The source of a run: unfinished units read from the ledger, oldest due first, page by
//! page on a blocking thread, into the engine's channel.

use std::path::Path;

use tokio::sync::mpsc;

use crate::connector::Unit;
use crate::error::Result;
use crate::ledger::{Ledger, SendCursor};
use crate::outcome::Outcome;
use crate::output;

/// Units read from the ledger per query while sending.
const PAGE: usize = 1024;

/// Feed pending units from the ledger into the engine, oldest due first, page by page, on a
/// blocking thread; never those of `skip` (profiles the preflight found invalid).
pub fn spawn(
    path: &Path,
    connector: &'static str,
    include: Vec<Outcome>,
    skip: Vec<String>,
) -> Result<mpsc::Receiver<Unit>> {
    let reader = Ledger::open_existing(path)?;
    // Room for two pages: one being sent while the next is read.
    let (tx, rx) = mpsc::channel(2 * PAGE);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut cursor = SendCursor::default();
        loop {
            let mut page = match reader.next_units(connector, &include, &mut cursor, PAGE) {
                Ok(page) => page,
                Err(e) => {
                    output::eprint(&format!("error: reading the ledger: {e}\n"));
                    return;
                }
            };
            if page.is_empty() {
                return;
            }
            page.retain(|unit| !skip.contains(&unit.scope));
            // Room for the whole page at once: waiting per unit would wake this thread
            // for every unit the engine takes.
            let Ok(permits) = runtime.block_on(tx.reserve_many(page.len())) else {
                return; // the engine stopped
            };
            for (permit, unit) in permits.zip(page) {
                permit.send(unit);
            }
        }
    });
    Ok(rx)
}
