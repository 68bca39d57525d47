//! The audit commands, each over the ledger's queries: [`status`] (and its [`html`] page), [`lookup`] ("did you
//! erase me?"), [`report`] (evidence files and manifest), [`purge`] (giving up on keys), [`resolve`] (ending requests
//! that need attention, with a reason), [`evidence`] (the evidence pack: every file an auditor takes away), [`manifest_check`] (a signed manifest checked against
//! its files and the ledger, for `forget verify --manifest`).

pub mod deadlines;
pub mod evidence;
pub mod exports;
pub mod html;
pub mod lookup;
pub mod manifest_check;
pub mod purge;
pub mod report;
pub mod resolve;
pub mod status;
pub mod status_md;
