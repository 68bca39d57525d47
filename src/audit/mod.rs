//! The audit commands, each over the ledger's queries: [`status`] (and its [`html`] page), [`lookup`] ("did you
//! erase me?"), [`report`] (evidence files and manifest), [`purge`] (giving up on keys), [`resolve`] (ending requests
//! that need attention, with a reason).

pub mod deadlines;
pub mod exports;
pub mod html;
pub mod lookup;
pub mod purge;
pub mod report;
pub mod resolve;
pub mod status;
pub mod status_md;
