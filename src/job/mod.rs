//! The run job behind `forget run` and `forget access`: record the input, then send what is
//! unfinished, then summarise.
//!
//! This is the only place that wires the pieces together: input → ledger ingest
//! ([`ingest`]) → engine (connector, throttle, writer) fed from the ledger ([`source`]) →
//! the summary ([`summary`]), shown while it goes by [`progress`]. It takes a validated
//! [`RunConfig`] and a [`Target`], never flags.

pub mod ingest;
mod interrupt;
pub mod progress;
mod source;
pub mod summary;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use ingest::ingest;
pub use summary::{RunSummary, render_summary};

use crate::actor::Actor;
use crate::engine::retry::RetryPolicy;
use crate::engine::throttle::Throttle;
use crate::engine::{self, Counters, EngineConfig, Rate, Stop, StopReason, preflight};
use crate::error::{Error, Result};
use crate::input::InputOptions;
use crate::keys::KeyHasher;
use crate::ledger::file_options::{FileOptions, FilePlan};
use crate::ledger::writer::{Recorded, Writer, WriterConfig};
use crate::ledger::{Ledger, RunRecord, verify};
use crate::outcome::Outcome;
use crate::target::Target;
use progress::Progress;
use summary::Collector;

/// Requests a dry run shows, in sending order.
const PREVIEW_FIRST: usize = 5;

/// Everything a run needs, validated (see `cli::run` and `cli::access`).
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The connector's ledger name (`webex`, `outreach`): input is recorded for it.
    pub connector: &'static str,
    pub files: Vec<PathBuf>,
    pub input: InputOptions,
    pub rate: Rate,
    pub concurrency: usize,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub state: PathBuf,
    pub ledger_key_file: PathBuf,
    pub retry_rejected: bool,
    pub dry_run: bool,
    /// Prove URL, token and profile name with a canary before sending (see `preflight`).
    pub preflight: bool,
    pub quiet: bool,
    pub progress_every: Duration,
}

impl RunConfig {
    /// The outcomes a run sends: unfinished units, and rejected ones when asked.
    fn outcomes_to_send(&self) -> Vec<Outcome> {
        let mut include = vec![Outcome::Pending, Outcome::Failed];
        if self.retry_rejected {
            include.push(Outcome::Rejected);
        }
        include
    }

    fn engine(&self) -> EngineConfig {
        EngineConfig {
            concurrency: self.concurrency,
            timeout: self.timeout,
            retry: self.retry,
        }
    }
}

/// Run the whole job. `target` is `None` for a dry run.
pub async fn run(config: RunConfig, target: Option<Target>) -> Result<RunSummary> {
    let started = Instant::now();
    let opts = config.input.clone();
    let files = ingest::inspect_all(&config.files, &opts)?;
    // Declared first, dropped last: after every connection to the ledger is closed.
    let _lock = Ledger::lock(&config.state)?;
    let mut ledger = Ledger::open(&config.state)?;
    // Nothing is read as truth, nor sent, from a ledger that fails its checks. Read-only:
    // there SQLite's quick_check skips the CHECK constraints (five times its cost), whose
    // rules forget's own checks read back.
    Ledger::open_read_only(&config.state)?.ensure_sound(verify::Depth::Run)?;
    let (secret, _) = ledger.load_key(&config.ledger_key_file)?;
    let hasher = KeyHasher::new(&secret);
    ledger.check_key(&hasher)?;
    let connector_name = config.connector;
    if let Some(target) = &target {
        if target.connector.name() != connector_name {
            return Err(Error::internal(format!(
                "the target is a {} connector but the input was read for {connector_name}",
                target.connector.name()
            )));
        }
        ledger.bind_target(connector_name, &target.label)?;
    }
    let include = config.outcomes_to_send();
    let engine_config = config.engine();
    // Before anything is recorded or sent: a file recorded with other options refuses the run.
    let plans = ingest::plan_files(&ledger, &files, &opts, connector_name)?;
    let mut set_aside = Vec::new();
    let mut checked = Vec::new();
    let mut invalid = Vec::new();
    // Before anything is recorded, so a wrong --profile-name leaves no units behind.
    if let Some(target) = &target
        && config.preflight
        && !config.dry_run
    {
        let (scopes, defaults) = scopes_to_check(&ledger, &plans, connector_name, &include)?;
        invalid = preflight::before_run(
            &*target.connector,
            &engine_config,
            &scopes,
            &defaults,
            config.quiet,
        )
        .await?;
        set_aside = set_aside_invalid(&mut ledger, connector_name, &include, &invalid)?;
        checked = scopes;
    }

    let stop = Stop::new();
    let interrupt = interrupt::watch(stop.clone());

    let (ingested, mut ledger) = {
        let stop = stop.clone();
        let hasher = hasher.clone();
        let dry_run = config.dry_run;
        tokio::task::spawn_blocking(move || {
            let counts = ingest(
                &mut ledger,
                &files,
                &opts,
                connector_name,
                &hasher,
                &stop,
                dry_run,
            );
            counts.map(|c| (c, ledger))
        })
        .await
        .map_err(|e| Error::internal(format!("the ingest task failed: {e}")))??
    };
    // Profiles first seen in the rows just recorded (a `profile-name` column) are proved
    // too; rows just recorded under a profile found invalid are set aside with the others.
    if let Some(target) = &target
        && config.preflight
        && !config.dry_run
        && !stop.is_stopped()
    {
        for (scope, n) in set_aside_invalid(&mut ledger, connector_name, &include, &invalid)? {
            if let Some(entry) = set_aside.iter_mut().find(|(s, _)| *s == scope) {
                entry.1 += n;
            }
        }
        let scopes: Vec<String> = ledger
            .scopes_to_send(connector_name, &include, preflight::MAX_SCOPES)?
            .into_iter()
            .filter(|s| !checked.contains(s))
            .collect();
        let found = preflight::before_run(
            &*target.connector,
            &engine_config,
            &scopes,
            &[],
            config.quiet,
        )
        .await?;
        set_aside.extend(set_aside_invalid(
            &mut ledger,
            connector_name,
            &include,
            &found,
        )?);
    }

    let preview = match config.dry_run {
        true => Some(ledger.preview(connector_name, &include, PREVIEW_FIRST)?),
        false => None,
    };
    let collector = Collector {
        connector: connector_name,
        started,
        ingested,
        // A dry run's preview counts them already (the same units: its own included).
        to_send: match &preview {
            Some(p) => p.per_scope.iter().map(|(_, n)| n).sum(),
            None => ledger.count_units(connector_name, &include, false)?,
        },
        counters: Arc::new(Counters::default()),
        recorded: Arc::new(Recorded::default()),
        explainer: target.as_ref().map(|t| t.connector.clone()),
        set_aside,
        dry_run_files: dry_run_files(&plans, config.dry_run),
        state_flag: summary::state_flag(&config.state),
        preview,
    };

    let target = match target {
        Some(t) if !config.dry_run && collector.to_send > 0 && !stop.is_stopped() => t,
        _ => {
            ledger.truncate_wal()?;
            interrupt.abort();
            return collector.summary(&ledger, stop.reason(), config.dry_run);
        }
    };

    let connector = target.connector.clone();
    let transport = engine_config.transport()?;
    let run_id = ledger.begin_run(&RunRecord {
        connector: connector.name().into(),
        api_host: target.api_host.clone(),
        rate: config.rate.to_string(),
        by: Actor::here(),
    })?;
    let writer = {
        let stop = stop.clone();
        let writes = WriterConfig {
            run_id,
            resend_rejected: config.retry_rejected,
        };
        Writer::spawn(
            &config.state,
            writes,
            collector.recorded.clone(),
            move |failure| stop.trigger(StopReason::Ledger(failure.to_string())),
        )
        .map_err(|e| Error::ledger(&config.state, format!("cannot start its writer: {e}")))?
    };
    let skip = collector.set_aside.iter().map(|(s, _)| s.clone()).collect();
    let source = source::spawn(&config.state, connector.name(), include, skip)?;
    let throttle = Arc::new(Throttle::new(config.rate.0));
    let progress = Progress::start(
        collector.to_send,
        collector.counters.clone(),
        config.quiet,
        config.progress_every,
        connector.success_word(),
    );

    engine::run(
        connector.clone(),
        transport,
        throttle,
        engine_config,
        source,
        writer.sender(),
        stop.clone(),
        collector.counters.clone(),
    )
    .await;

    progress.finish();
    let written = tokio::task::spawn_blocking(move || writer.finish())
        .await
        .map_err(|e| Error::internal(format!("the ledger writer task failed: {e}")))?;
    if let Err(failure) = written {
        stop.trigger(StopReason::Ledger(failure.to_string()));
    }
    let result = match stop.reason() {
        None => "finished".to_owned(),
        Some(StopReason::Api(cause)) => format!("stopped: {}", connector.explain_stop(&cause)),
        Some(StopReason::Interrupted(signal)) => format!("interrupted ({})", signal.name()),
        Some(StopReason::Ledger(m)) => format!("ledger failure: {m}"),
        Some(StopReason::Output(m)) => format!("output failure: {m}"),
    };
    // The ledger may be the thing that failed: report what we can.
    let _ = ledger.end_run(run_id, &result);
    let _ = ledger.truncate_wal();
    interrupt.abort();
    drop(target);
    collector.summary(&ledger, stop.reason(), false)
}

/// The profile names a run is about to use, for the preflight, and which of them are
/// defaults of input about to be recorded (a wrong one refuses the run): the default of
/// input files not yet recorded for real, and those of units already waiting in the ledger
/// (not a dry run's). Empty when there is nothing to send.
pub fn scopes_to_check(
    ledger: &Ledger,
    plans: &[(FileOptions, FilePlan)],
    connector: &str,
    include: &[Outcome],
) -> Result<(Vec<String>, Vec<String>)> {
    let mut scopes = Vec::new();
    for (options, plan) in plans {
        if plan.is_new_work() && !scopes.contains(&options.profile_default) {
            scopes.push(options.profile_default.clone());
        }
    }
    let defaults = scopes.clone();
    for scope in ledger.scopes_to_send(connector, include, preflight::MAX_SCOPES)? {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes.truncate(preflight::MAX_SCOPES);
    Ok((scopes, defaults))
}

/// Set aside the waiting keys of each profile the preflight found invalid.
fn set_aside_invalid(
    ledger: &mut Ledger,
    connector: &str,
    include: &[Outcome],
    invalid: &[preflight::ProfileCheck],
) -> Result<Vec<(String, u64)>> {
    let actor = Actor::here();
    invalid
        .iter()
        .map(|check| {
            let n = ledger.set_aside(connector, &check.scope, include, &check.explain(), &actor)?;
            Ok((check.scope.clone(), n))
        })
        .collect()
}

/// The files a dry run recorded (or found recorded by another dry run), for its summary.
fn dry_run_files(plans: &[(FileOptions, FilePlan)], dry_run: bool) -> Vec<FileOptions> {
    if !dry_run {
        return Vec::new();
    }
    plans
        .iter()
        .filter(|(_, plan)| {
            matches!(
                plan,
                FilePlan::New
                    | FilePlan::ReplaceDry { .. }
                    | FilePlan::Recorded { dry_run: true, .. }
            )
        })
        .map(|(options, _)| options.clone())
        .collect()
}
