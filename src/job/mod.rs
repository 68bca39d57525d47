//! `forget run`: record the input, then send what is unfinished, then summarise.
//!
//! This is the only place that wires the pieces together: input → ledger ingest → engine
//! (connector, throttle, writer) → summary. Each piece takes resources, not flags.

pub mod progress;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::config::RunConfig;
use crate::connector::outreach::Outreach;
use crate::connector::webex::Webex;
use crate::connector::{Connector, Kind, Unit};
use crate::engine::{self, Counters, EngineConfig, Stop, StopReason};
use crate::error::{Error, Result, exit};
use crate::input::{self, InputFile, InputOptions};
use crate::keys::KeyHasher;
use crate::ledger::bulk::{ChunkPlan, RepeatSample};
use crate::ledger::ingest::{IngestCounts, PreparedRow, Preparer};
use crate::ledger::writer::Writer;
use crate::ledger::{Counts, Ledger, RunRecord, ScopeCounts, SendCursor};
use crate::outcome::Outcome;
use crate::engine::preflight;
use crate::job::progress::Progress;
use crate::secret::{self, Token};
use crate::sim;
use crate::transport::{self, Transport};

/// Rows recorded per ledger transaction during ingest.
/// Rows recorded per transaction. Larger chunks visit each page of the key-hash index fewer
/// times; two chunks are held in memory at once.
const INGEST_CHUNK: usize = 32 * 1024;
/// Units read from the ledger per query while sending.
const PAGE: usize = 1024;

/// What a run did, for the summary and the exit code.
#[derive(Debug)]
pub struct RunSummary {
    /// The connector this run was for; `ledger` counts its units only.
    pub connector: &'static str,
    pub ingested: IngestCounts,
    pub to_send: u64,
    pub sent_units: u64,
    pub this_run: [(Outcome, u64); 4],
    pub attempts: u64,
    pub retries: u64,
    pub throttled: u64,
    pub after_ambiguous: u64,
    pub ledger: Counts,
    /// Every connector and scope in the ledger, for the side-by-side table.
    pub by_scope: Vec<ScopeCounts>,
    pub stop: Option<StopReason>,
    /// Why the API stopped the run, in the connector's words.
    pub stop_message: Option<String>,
    pub elapsed: Duration,
    pub dry_run: bool,
}

impl RunSummary {
    pub fn exit_code(&self) -> i32 {
        match &self.stop {
            Some(StopReason::Api(_)) => exit::STOPPED,
            Some(StopReason::Interrupted) => exit::INTERRUPTED,
            Some(StopReason::Ledger(_)) | Some(StopReason::Output(_)) => exit::FAILURE,
            None if self.dry_run => exit::OK,
            None => {
                let c = &self.ledger;
                if c.rejected + c.failed + c.invalid + c.pending > 0 {
                    exit::INCOMPLETE
                } else {
                    exit::OK
                }
            }
        }
    }
}

/// Where the keys go: a connector bound to a real tenant, or to a simulator started for
/// this run (kept alive as long as the target).
pub struct Target {
    pub connector: Arc<dyn Connector>,
    /// The API host, recorded with each run.
    pub api_host: Option<String>,
    /// Recorded in the ledger: a ledger used against one tenant refuses another.
    pub label: String,
    _sim: Option<sim::SimHandle>,
}

impl Target {
    pub fn new(connector: Arc<dyn Connector>, base_url: &reqwest::Url) -> Target {
        Target {
            connector,
            api_host: base_url.host_str().map(String::from),
            label: base_url.as_str().trim_end_matches('/').to_owned(),
            _sim: None,
        }
    }

    /// Webex Campaign at `base_url`.
    pub fn remote(base_url: reqwest::Url, token: Token) -> Result<Target> {
        let connector = Arc::new(Webex::new(&base_url, &token)?);
        Ok(Target::new(connector, &base_url))
    }

    /// Outreach's API at `base_url` (e.g. `https://api.outreach.io/api/v2`).
    pub fn outreach(base_url: reqwest::Url, token: Token) -> Result<Target> {
        let connector = Arc::new(Outreach::new(&base_url, &token)?);
        Ok(Target::new(connector, &base_url))
    }

    /// `kind` at `base_url`.
    pub fn connect(kind: Kind, base_url: reqwest::Url, token: Token) -> Result<Target> {
        match kind {
            Kind::Webex => Target::remote(base_url, token),
            Kind::Outreach => Target::outreach(base_url, token),
        }
    }

    /// Start the built-in simulator, loaded with the sample tenant's profiles.
    pub async fn simulator() -> Result<Target> {
        Target::simulator_for(Kind::Webex).await
    }

    /// Start the built-in simulator (the sample tenant of every connector) and send there.
    pub async fn simulator_for(kind: Kind) -> Result<Target> {
        let sample = SampleSimulator::start().await?;
        let mut target = Target::connect(kind, sample.base_url(kind)?, sample.token.clone())?;
        target.label = "simulator".into();
        target._sim = Some(sample.handle);
        Ok(target)
    }
}

/// The built-in simulator, loaded with the sample tenant: Webex profiles, purposes, target
/// groups and transactions, and Outreach call purposes. Each start is a fresh tenant with the
/// same contents; a [`Target`] made from it keeps it alive.
pub struct SampleSimulator {
    pub handle: sim::SimHandle,
    pub token: Token,
}

/// Call purposes in the sample Outreach tenant, and the ones it refuses to delete (in use).
pub const SAMPLE_CALL_PURPOSES: usize = 120;
pub const SAMPLE_UNDELETABLE: [i64; 2] = [7, 42];

impl SampleSimulator {
    pub async fn start() -> Result<SampleSimulator> {
        let token = format!("sim-{}", uuid::Uuid::new_v4());
        let mut call_purposes = sim::outreach::OutreachCollection::new(
            sim::outreach::DEFAULT_RESOURCE,
            sim::outreach::sample_call_purposes(SAMPLE_CALL_PURPOSES),
        );
        call_purposes.undeletable = SAMPLE_UNDELETABLE.to_vec();
        let config = sim::SimConfig {
            token: token.clone(),
            profiles: vec![("customers".into(), sample_profiles())],
            outreach: vec![call_purposes],
            ..sim::SimConfig::default()
        };
        let handle = sim::spawn(sim::Sim::new(config))
            .await
            .map_err(|e| Error::io("cannot start the simulator", e))?;
        Ok(SampleSimulator {
            handle,
            token: Token::new(token),
        })
    }

    /// Where `kind`'s API is served.
    pub fn base_url(&self, kind: Kind) -> Result<reqwest::Url> {
        let path = match kind {
            Kind::Webex => "",
            Kind::Outreach => sim::outreach::PREFIX.trim_end_matches('/'),
        };
        reqwest::Url::parse(&format!("{}{path}", self.handle.url()))
            .map_err(|e| Error::usage(format!("simulator URL: {e}")))
    }

    /// A target sending to this simulator through `connector` (which must be `kind`'s).
    pub fn into_target(self, kind: Kind, connector: Arc<dyn Connector>) -> Result<Target> {
        let mut target = Target::new(connector, &self.base_url(kind)?);
        target.label = "simulator".into();
        target._sim = Some(self.handle);
        Ok(target)
    }
}

/// The profile keys of the sample tenant, built into the binary so `--simulate` works anywhere.
pub fn sample_profiles() -> Vec<String> {
    include_str!("../../samples/profiles/customers.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// The reqwest client for the calls that are not units (the hub, listings).
pub fn http_client(config: &EngineConfig) -> Result<reqwest::Client> {
    transport::reqwest_client(&transport_options(config))
}

/// What carries a run's requests (see [`crate::transport`]).
pub fn transport(config: &EngineConfig) -> Result<Transport> {
    Transport::new(&transport_options(config))
}

fn transport_options(config: &EngineConfig) -> transport::Options {
    transport::Options {
        connect_timeout: Duration::from_secs(10).min(config.timeout),
        max_idle: config.concurrency,
    }
}

/// Check every input file before recording anything.
pub fn inspect_all(files: &[std::path::PathBuf], opts: &InputOptions) -> Result<Vec<InputFile>> {
    files.iter().map(|f| input::inspect(f, opts)).collect()
}

/// Record every row of `files` (resuming a file whose ingest was interrupted).
pub fn ingest(
    ledger: &mut Ledger,
    files: &[InputFile],
    opts: &InputOptions,
    connector: &str,
    hasher: &KeyHasher,
    stop: &Stop,
) -> Result<IngestCounts> {
    ledger.bulk_load(true)?;
    let result = ingest_files(ledger, files, opts, connector, hasher, stop);
    // Also after a bulk load stopped half-way: its journal settings are for it alone.
    let restored = ledger
        .bulk_load(false)
        .and_then(|()| ledger.bulk_journal(false));
    result.and_then(|total| restored.map(|()| total))
}

fn ingest_files(
    ledger: &mut Ledger,
    files: &[InputFile],
    opts: &InputOptions,
    connector: &str,
    hasher: &KeyHasher,
    stop: &Stop,
) -> Result<IngestCounts> {
    let mut total = IngestCounts::default();
    for file in files {
        let path = file.path.to_string_lossy();
        let entry = ledger.begin_file(
            &path,
            &file.sha256,
            connector,
            &opts.profile_default,
            &opts.key_column,
        )?;
        if entry.complete {
            tracing::info!(file = %path, "already recorded: skipping ingest");
            continue;
        }
        if entry.recorded_through > 0 {
            tracing::info!(file = %path, after_line = entry.recorded_through, "resuming an interrupted ingest");
        }
        ledger.set_file_mapping(
            entry.id,
            &opts.keep_columns,
            opts.received_column.as_deref(),
        )?;
        // Into a ledger with no units yet, record in bulk (see `ledger::bulk`).
        let mut bulk = match ledger.bulk_file()? {
            Some(id) if id == entry.id => true,
            Some(_) => {
                // Another file's, interrupted and not given again: settle it first.
                ledger.finish_bulk(i64::MAX)?;
                false
            }
            None if ledger.can_bulk_load()? => {
                ledger.begin_bulk(entry.id)?;
                true
            }
            None => false,
        };
        ledger.bulk_journal(bulk)?;
        let counted_from = ledger.next_unit_id()?;
        let after = entry.recorded_through;
        let stopped = std::thread::scope(|scope| -> Result<bool> {
            // Rendezvous: one chunk is prepared while the previous one is written, never more
            // (memory stays flat in the file's size).
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<PreparedChunk>>(0);
            std::thread::Builder::new()
                .name("forget-prepare".into())
                .spawn_scoped(scope, move || {
                    prepare_chunks(file, opts, hasher, after, bulk, tx)
                })
                .map_err(|e| Error::usage(format!("cannot start the ingest thread: {e}")))?;
            for chunk in rx {
                let (rows, mut plan) = chunk?;
                if bulk && plan.as_ref().is_some_and(ChunkPlan::mostly_repeats) {
                    // A file that repeats its keys a lot: from here on, row by row.
                    tracing::debug!(
                        line = rows.first().map(|r| r.line()),
                        "bulk load ends early"
                    );
                    end_bulk(ledger, counted_from, &mut total)?;
                    bulk = false;
                }
                if !bulk {
                    plan = None;
                }
                total.add(match &plan {
                    Some(plan) => ledger.record_bulk(entry.id, connector, &rows, plan)?,
                    None => ledger.record_prepared(entry.id, connector, &rows)?,
                });
                if stop.is_stopped() {
                    return Ok(true); // dropping `rx` ends the preparing thread
                }
            }
            Ok(false)
        })?;
        if stopped {
            return Ok(total);
        }
        if bulk {
            end_bulk(ledger, counted_from, &mut total)?;
        }
        let rows = ledger.finish_file(entry.id)?;
        tracing::info!(file = %path, rows, sha256 = %file.sha256, "recorded");
    }
    // A bulk load of a file this run was not given (or had already recorded): nothing is
    // sent before its indexes exist.
    if ledger.bulk_file()?.is_some() {
        ledger.finish_bulk(i64::MAX)?;
    }
    Ok(total)
}

/// Finish a bulk load: keys this run counted as new but recorded in an earlier chunk too
/// become duplicates.
fn end_bulk(ledger: &mut Ledger, counted_from: i64, total: &mut IngestCounts) -> Result<()> {
    let merged = ledger.finish_bulk(counted_from)?;
    total.new_units = total.new_units.saturating_sub(merged);
    total.duplicates += merged;
    ledger.bulk_journal(false)
}

/// A chunk of rows ready for the ledger, with its plan when it is recorded in bulk.
type PreparedChunk = (Vec<PreparedRow>, Option<ChunkPlan>);

/// Read, check, hash and mask the rows of `file` after line `after`, in chunks for
/// [`Ledger::record_prepared`] (or, planned, for [`Ledger::record_bulk`]). Runs beside the
/// ledger writer; stops when it hangs up.
fn prepare_chunks(
    file: &InputFile,
    opts: &InputOptions,
    hasher: &KeyHasher,
    after: u64,
    bulk: bool,
    tx: std::sync::mpsc::SyncSender<Result<PreparedChunk>>,
) {
    let mut sample = bulk.then(RepeatSample::default);
    let mut ready = |rows: Vec<PreparedRow>| -> PreparedChunk {
        let plan = sample.as_mut().map(|sample| ChunkPlan::of(&rows, sample));
        (rows, plan)
    };
    let mut rows = match file.rows(opts) {
        Ok(rows) => rows,
        Err(e) => {
            let _ = tx.send(Err(e));
            return;
        }
    };
    let mut preparer = Preparer::new(hasher);
    let mut chunk = Vec::with_capacity(INGEST_CHUNK);
    loop {
        match rows.next_row() {
            Ok(Some(row)) => {
                let row = preparer.prepare(row);
                if row.line() > after {
                    chunk.push(row);
                }
                if chunk.len() >= INGEST_CHUNK
                    && tx
                        .send(Ok(ready(std::mem::replace(
                            &mut chunk,
                            Vec::with_capacity(INGEST_CHUNK),
                        ))))
                        .is_err()
                {
                    return;
                }
            }
            Ok(None) => {
                if !chunk.is_empty() {
                    let _ = tx.send(Ok(ready(chunk)));
                }
                return;
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

/// Remember which API a ledger is used against; refuse to mix two.
fn check_target(ledger: &Ledger, connector: &str, label: &str) -> Result<()> {
    use rusqlite::OptionalExtension;
    let name = format!("target:{connector}");
    let stored: Option<String> = ledger
        .conn()
        .query_row("SELECT value FROM meta WHERE name = ?1", [&name], |r| {
            r.get(0)
        })
        .optional()?;
    match stored {
        Some(s) if s == label => Ok(()),
        Some(s) => Err(Error::ledger(
            ledger.path(),
            format!(
                "it records erasures sent to {s}; this run targets {label}. Use another --state \
                 for another tenant, so keys finished in one are not skipped in the other"
            ),
        )),
        None => {
            ledger.conn().execute(
                "INSERT INTO meta (name, value) VALUES (?1, ?2)",
                [&name, &label.to_owned()],
            )?;
            Ok(())
        }
    }
}

/// The machine a run or purge is made on, for the ledger's record.
pub(crate) fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .or_else(|| std::env::var("HOSTNAME").ok())
}

/// Feed pending units from the ledger into the engine, oldest due first, page by page, on a
/// blocking thread.
fn spawn_source(
    path: &Path,
    connector: &'static str,
    include: Vec<Outcome>,
) -> Result<mpsc::Receiver<Unit>> {
    let reader = Ledger::open_existing(path)?;
    // Room for two pages: one being sent while the next is read.
    let (tx, rx) = mpsc::channel(2 * PAGE);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut cursor = SendCursor::default();
        loop {
            let page = match reader.next_units(connector, &include, &mut cursor, PAGE) {
                Ok(page) => page,
                Err(e) => {
                    eprintln!("error: reading the ledger: {e}");
                    return;
                }
            };
            if page.is_empty() {
                return;
            }
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

/// Run the whole job. `target` is `None` for a dry run.
pub async fn run(config: RunConfig, target: Option<Target>) -> Result<RunSummary> {
    let started = Instant::now();
    let opts = config.input.clone();
    let files = inspect_all(&config.files, &opts)?;
    let _lock = Ledger::lock(&config.state)?;
    let mut ledger = Ledger::open(&config.state)?;
    let (secret, _) = secret::load_ledger_key(&config.ledger_key_file, true)?;
    let hasher = KeyHasher::new(&secret);
    ledger.check_key(&hasher)?;
    let connector_name = config.connector;
    if let Some(target) = &target {
        if target.connector.name() != connector_name {
            return Err(Error::usage(format!(
                "the target is a {} connector but the input was read for {connector_name}",
                target.connector.name()
            )));
        }
        check_target(&ledger, connector_name, &target.label)?;
    }
    let mut include = vec![Outcome::Pending, Outcome::Failed];
    if config.retry_rejected {
        include.push(Outcome::Rejected);
    }
    let engine_config = EngineConfig {
        concurrency: config.concurrency,
        timeout: config.timeout,
        retry: config.retry,
    };
    // Before anything is recorded, so a wrong --profile-name leaves no units behind.
    if let Some(target) = &target
        && config.preflight
        && !config.dry_run
    {
        let scopes = preflight::scopes_to_check(&ledger, &files, &opts, connector_name, &include)?;
        preflight::before_run(&*target.connector, &engine_config, &scopes, config.quiet).await?;
    }

    let stop = Stop::new();
    let ctrl_c = {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "\ninterrupted: letting requests in flight land, then saving (Ctrl-C again to quit now)"
                );
                stop.trigger(StopReason::Interrupted);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(exit::INTERRUPTED);
                }
            }
        })
    };

    let (ingested, ledger) = {
        let stop = stop.clone();
        let hasher = hasher.clone();
        tokio::task::spawn_blocking(move || {
            let counts = ingest(&mut ledger, &files, &opts, connector_name, &hasher, &stop);
            counts.map(|c| (c, ledger))
        })
        .await
        .map_err(|e| Error::usage(format!("ingest task failed: {e}")))??
    };

    let to_send = ledger.count_units(connector_name, &include)?;
    let counters = Arc::new(Counters::default());
    let explainer = target.as_ref().map(|t| t.connector.clone());

    let summary = |ledger: &Ledger,
                   stop: Option<StopReason>,
                   counters: &Counters,
                   dry_run|
     -> Result<RunSummary> {
        let stop_message = match (&stop, &explainer) {
            (Some(StopReason::Api(cause)), Some(c)) => Some(c.explain_stop(cause)),
            (Some(StopReason::Api(cause)), None) => Some(cause.explain().to_owned()),
            _ => None,
        };
        let by_scope = ledger.counts_by_scope()?;
        Ok(RunSummary {
            connector: connector_name,
            ingested,
            to_send,
            sent_units: counters.finished_total(),
            this_run: [
                Outcome::Deleted,
                Outcome::NotFound,
                Outcome::Rejected,
                Outcome::Failed,
            ]
            .map(|o| (o, counters.finished(o))),
            attempts: counters.attempts.load(std::sync::atomic::Ordering::Relaxed),
            retries: counters.retries.load(std::sync::atomic::Ordering::Relaxed),
            throttled: counters
                .throttled
                .load(std::sync::atomic::Ordering::Relaxed),
            after_ambiguous: counters
                .after_ambiguous
                .load(std::sync::atomic::Ordering::Relaxed),
            ledger: Counts::of_connector(&by_scope, connector_name),
            by_scope,
            stop,
            stop_message,
            elapsed: started.elapsed(),
            dry_run,
        })
    };

    let target = match target {
        Some(t) if !config.dry_run && to_send > 0 && !stop.is_stopped() => t,
        _ => {
            checkpoint(&ledger)?;
            ctrl_c.abort();
            return summary(&ledger, stop.reason(), &counters, config.dry_run);
        }
    };

    let connector = target.connector.clone();
    let transport = transport(&engine_config)?;
    let run_id = ledger.begin_run(&RunRecord {
        connector: connector.name().into(),
        api_host: target.api_host.clone(),
        rate: config.rate.to_string(),
        operator: std::env::var("USER").ok(),
        host: hostname(),
    })?;
    let writer = {
        let stop = stop.clone();
        Writer::spawn(&config.state, run_id, move |message| {
            stop.trigger(StopReason::Ledger(message))
        })?
    };
    let source = spawn_source(&config.state, connector.name(), include)?;
    let throttle = Arc::new(crate::engine::throttle::Throttle::new(config.rate.0));
    let progress = Progress::start(
        to_send,
        counters.clone(),
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
        counters.clone(),
    )
    .await;

    progress.finish();
    let written = tokio::task::spawn_blocking(move || writer.finish())
        .await
        .map_err(|e| Error::usage(format!("ledger writer task failed: {e}")))?;
    if let Err(message) = written {
        stop.trigger(StopReason::Ledger(message));
    }
    let result = match stop.reason() {
        None => "finished".to_owned(),
        Some(StopReason::Api(cause)) => format!("stopped: {}", connector.explain_stop(&cause)),
        Some(StopReason::Interrupted) => "interrupted".to_owned(),
        Some(StopReason::Ledger(m)) => format!("ledger failure: {m}"),
        Some(StopReason::Output(m)) => format!("output failure: {m}"),
    };
    // The ledger may be the thing that failed: report what we can.
    let _ = ledger.end_run(run_id, &result);
    let _ = checkpoint(&ledger);
    ctrl_c.abort();
    drop(target);
    summary(&ledger, stop.reason(), &counters, false)
}

/// Truncate the WAL so no erased key lingers in it; say so when something prevented it.
pub fn checkpoint(ledger: &Ledger) -> Result<()> {
    if !ledger.checkpoint()? {
        eprintln!(
            "warning: another process is reading {}: its write-ahead log could not be emptied \
             now; the next forget command on it will",
            ledger.path().display()
        );
    }
    Ok(())
}

/// The summary table printed at the end of a run.
pub fn render_summary(s: &RunSummary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let secs = s.elapsed.as_secs_f64();
    let i = &s.ingested;
    let _ = writeln!(
        out,
        "input: {} rows recorded ({} new keys, {} duplicate rows, {} invalid rows)",
        i.rows, i.new_units, i.duplicates, i.invalid
    );
    let by_connector = if shows_connectors(&s.by_scope) {
        format!(
            "the ledger by connector (this run counts {} only):\n{}",
            s.connector,
            render_by_scope(&s.by_scope)
        )
    } else {
        String::new()
    };
    if s.dry_run {
        let l = &s.ledger;
        let _ = writeln!(out, "dry run: nothing was sent");
        let _ = writeln!(out, "  would send          {:>9}", s.to_send);
        let _ = writeln!(
            out,
            "  already finished    {:>9}",
            l.deleted + l.not_found + l.rejected
        );
        let _ = writeln!(out, "  duplicate rows      {:>9}", l.duplicates);
        let _ = writeln!(out, "  invalid rows        {:>9}", l.invalid);
        out.push_str(&by_connector);
        return out;
    }
    let _ = writeln!(
        out,
        "sent {} keys in {:.1} s ({:.0} keys/s); {} attempts, {} retries, {} throttled (429)",
        s.sent_units,
        secs,
        s.sent_units as f64 / secs.max(0.001),
        s.attempts,
        s.retries,
        s.throttled
    );
    let _ = writeln!(out, "  {:<16}{:>10}{:>10}", "outcome", "this run", "ledger");
    for (outcome, n) in s.this_run {
        let _ = writeln!(
            out,
            "  {:<16}{:>10}{:>10}",
            outcome.as_str(),
            n,
            s.ledger.get(outcome)
        );
    }
    let _ = writeln!(out, "  {:<16}{:>10}{:>10}", "pending", "", s.ledger.pending);
    let _ = writeln!(
        out,
        "  {:<16}{:>10}{:>10}",
        "total keys", "", s.ledger.total
    );
    let _ = writeln!(
        out,
        "  {:<16}{:>10}{:>10}",
        "invalid rows", "", s.ledger.invalid
    );
    let _ = writeln!(
        out,
        "  {:<16}{:>10}{:>10}",
        "duplicate rows", "", s.ledger.duplicates
    );
    out.push_str(&by_connector);
    if s.after_ambiguous > 0 {
        let _ = writeln!(
            out,
            "{} keys answered \"not found\" after a timed-out or dropped attempt: that attempt erased them",
            s.after_ambiguous
        );
    }
    match &s.stop {
        Some(StopReason::Api(cause)) => {
            let message = s
                .stop_message
                .clone()
                .unwrap_or_else(|| cause.explain().to_owned());
            let _ = writeln!(out, "STOPPED: {message}. Unfinished keys stay pending.");
        }
        Some(StopReason::Interrupted) => {
            let _ = writeln!(out, "interrupted: run the same command again to resume");
        }
        Some(StopReason::Ledger(m)) | Some(StopReason::Output(m)) => {
            let _ = writeln!(
                out,
                "STOPPED: {m}. Unfinished keys stay pending; fix the disk and run again"
            );
        }
        None => {
            let l = &s.ledger;
            if l.failed + l.pending > 0 {
                let _ = writeln!(
                    out,
                    "{} keys not finished: run the same command again to retry them",
                    l.failed + l.pending
                );
            }
            if l.rejected > 0 {
                let _ = writeln!(
                    out,
                    "{} keys rejected: see `forget status`; --retry-rejected sends them again",
                    l.rejected
                );
            }
            if l.invalid > 0 {
                let _ = writeln!(
                    out,
                    "{} rows invalid: `forget invalid` lists them with reasons",
                    l.invalid
                );
            }
        }
    }
    out
}

/// Whether a ledger's counts need the per-connector table: it holds another system than
/// Webex Campaign (a Webex-only ledger keeps its familiar one-table summary).
pub fn shows_connectors(by_scope: &[ScopeCounts]) -> bool {
    by_scope.iter().any(|g| g.connector != Kind::Webex.name())
}

/// One line per connector and scope: keys per outcome, and invalid and duplicate rows.
pub fn render_by_scope(by_scope: &[ScopeCounts]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let width = by_scope
        .iter()
        .map(|g| g.scope.chars().count())
        .chain([9])
        .max()
        .unwrap_or(9)
        .min(40);
    let _ = writeln!(
        out,
        "  {:<10} {:<width$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "connector",
        "scope",
        "keys",
        "deleted",
        "not_found",
        "rejected",
        "failed",
        "pending",
        "invalid",
        "duplicates"
    );
    for g in by_scope {
        let c = &g.counts;
        let scope = if g.scope.is_empty() {
            "(default)".to_owned()
        } else {
            g.scope.chars().take(width).collect()
        };
        let _ = writeln!(
            out,
            "  {:<10} {:<width$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
            g.connector,
            scope,
            c.total,
            c.deleted,
            c.not_found,
            c.rejected,
            c.failed,
            c.pending,
            c.invalid,
            c.duplicates
        );
    }
    out
}
