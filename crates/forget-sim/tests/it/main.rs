//! The simulator's integration tests, one binary: each module one area, over real HTTP on
//! 127.0.0.1 (helpers in `common`).
#![allow(clippy::unwrap_used)]

mod cli_args;
mod common;
mod delete_api;
mod faults;
mod history;
mod rate_limit;
mod timeline;
