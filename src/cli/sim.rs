//! `forget sim`: a local simulator of the Webex Campaign and Outreach APIs (for rehearsals
//! and tests). Its arguments and server live in the simulator itself.

use crate::error::{Error, Result, exit};

pub use crate::sim::SimArgs;

pub async fn exec(args: &SimArgs) -> Result<i32> {
    crate::sim::run_cli(args)
        .await
        .map(|()| exit::OK)
        .map_err(|e| match e {
            crate::sim::SimError::Io { context, source } => Error::io(context, source),
            usage => Error::Usage(usage.to_string()),
        })
}
