//! `forget list`: every record of an Outreach collection (id and attributes) as CSV.

use std::path::PathBuf;

use clap::Args;

use super::args::{ConnectorArgs, PacingArgs, TargetArgs};
use crate::connector::{Kind, outreach};
use crate::engine::EngineConfig;
use crate::engine::throttle::Throttle;
use crate::error::{Error, Result, exit};
use crate::signal::Signals;
use crate::tenant::list::{self, ListConfig};

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub connector: ConnectorArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Write the CSV to this file (created 0600 once complete; an existing file is never
    /// overwritten). Without it, the CSV goes to stdout.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Records per page (`page[size]`), 1 to 1000.
    #[arg(long, default_value_t = outreach::PAGE_SIZE, value_name = "N")]
    pub page_size: u32,
    #[command(flatten)]
    pub pacing: PacingArgs,
}

impl ListArgs {
    pub fn to_config(&self) -> Result<ListConfig> {
        if self.connector.connector != Kind::Outreach {
            return Err(Error::usage(
                "forget list reads Outreach collections: use --connector outreach \
                 (Webex Campaign has no API that lists profiles)",
            ));
        }
        if !(1..=outreach::MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(Error::usage(format!(
                "--page-size must be between 1 and {}",
                outreach::MAX_PAGE_SIZE
            )));
        }
        let resource = self
            .connector
            .resource(true)?
            .unwrap_or_else(|| outreach::DEFAULT_RESOURCE.to_owned());
        Ok(ListConfig {
            resource,
            page_size: self.page_size,
            timeout: self.pacing.timeout()?,
            retry: self.pacing.retry()?,
        })
    }
}

pub async fn exec(args: &ListArgs) -> Result<i32> {
    let config = args.to_config()?;
    if let Some(out) = &args.out
        && (out.exists() || out.is_symlink())
    {
        return Err(Error::usage(format!(
            "--out {}: the file exists; remove it or choose another name (forget list never \
             overwrites a file)",
            out.display()
        )));
    }
    let spool_dir = match &args.out {
        Some(out) => list::output_dir(out),
        None => std::env::temp_dir(),
    };
    // The simulator (when rehearsing) lives until the listing is written.
    let api = args.target.require_api(Kind::Outreach).await?;
    let outreach = outreach::Outreach::new(&api.url()?, api.token())?;
    let client = EngineConfig {
        concurrency: 1,
        timeout: config.timeout,
        retry: config.retry,
    }
    .http_client()?;
    let throttle = Throttle::new(args.pacing.rate.0);
    let mut spool = list::Spool::create(&spool_dir)?;
    // Nothing is written until the listing is complete: any stopping signal ends it at once.
    let mut signals = Signals::new()
        .map_err(|e| Error::internal(format!("cannot watch for Ctrl-C and SIGTERM: {e}")))?;
    let listing = list::list(&outreach, &client, &throttle, &config, &mut spool);
    let summary = tokio::select! {
        summary = listing => summary?,
        signal = signals.next() => {
            eprintln!("interrupted ({}): nothing written", signal.name());
            return Ok(signal.exit_code());
        }
    };
    let line = format!(
        "{} {} records in {} pages ({} requests, {} retries, {} throttled)",
        config.resource,
        summary.records,
        summary.pages,
        summary.attempts,
        summary.retries,
        summary.throttled
    );
    if let Some(stop) = &summary.stop {
        eprintln!("STOPPED after {line}: {stop}. Nothing was written; run again to list afresh.");
        return Ok(exit::STOPPED);
    }
    list::write_output(&mut spool, args.out.as_deref())?;
    match &args.out {
        Some(out) => eprintln!("listed {line} into {}", out.display()),
        None => eprintln!("listed {line}"),
    }
    Ok(exit::OK)
}
