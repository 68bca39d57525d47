//! forget: carry out GDPR erasure requests in bulk, resumably, and prove it.
//!
//! The path of a key, and the module that owns each step:
//!
//! - [`cli`] / [`config`]: flags become one validated [`config::RunConfig`]; errors become exit codes.
//! - [`input`]: CSV rows become [`ledger::ingest::ParsedRow`]s (bad rows are data, bad files errors).
//! - [`ledger`]: the SQLite record of every row, unit of work, attempt and run
//!   ([`ledger::schema`] migrations, [`ledger::ingest`], the batching [`ledger::writer`]).
//! - [`keys`] / [`secret`]: keyed hashes and masks of keys; the token and the ledger key.
//! - [`engine`]: sends units through a [`connector::Connector`], paced by [`throttle`],
//!   retried by [`retry`], each answer read into an [`outcome::Verdict`]; [`transport`]
//!   carries the requests (a pool of HTTP/1.1 connections, or reqwest behind a proxy).
//! - [`connector::webex`]: the Webex Campaign delete API; [`connector::webex_access`] its
//!   last-N-transactions API, read for [`access`] exports (GDPR Art. 15);
//!   [`connector::outreach`]: Outreach's JSON:API deletes by id.
//! - [`run`]: wires the above into `forget run` (and `forget access`); [`progress`] shows it.
//! - [`preflight`]: a canary delete proving URL, token and profile before a run (`forget check`).
//! - [`hub`]: reading the API hub and base URL (bearer or OAuth client credentials);
//!   [`inventory`] lists purposes and target groups and flags static uploads.
//! - [`list`]: `forget list`, an Outreach collection as CSV (shared throttle and retries).
//! - [`deadline`]: received dates and legal due dates (GDPR Art. 12(3)).
//! - The audit commands, each over the ledger's queries: [`status`], [`lookup`] ("did you
//!   erase me?"), [`report`] (evidence files and manifest), [`purge`] (giving up on keys).
//! - [`sim`]: a local simulator of the APIs, for rehearsals and tests: the `forget-sim`
//!   crate (`crates/forget-sim`), kept apart so that it cannot share the client's code.

pub mod access;
pub mod cli;
pub mod config;
pub mod connector;
pub mod deadline;
pub mod engine;
pub mod error;
pub mod hub;
pub mod input;
pub mod inventory;
pub mod keys;
pub mod ledger;
pub mod list;
pub mod lookup;
pub mod outcome;
pub mod preflight;
pub mod progress;
pub mod purge;
pub mod report;
pub mod retry;
pub mod run;
pub mod secret;
pub mod status;
pub mod throttle;
pub mod transport;

pub use error::{Error, Result};
pub use forget_sim as sim;
