//! The engine: sends units of work through a connector, throttled, retried and classified,
//! and hands every attempt to the ledger writer.
//!
//! It takes its resources — a connector, a transport, a throttle, a source of units, a
//! writer and a stop signal — and knows nothing of flags or files, so tests drive it directly.
//!
//! Shape: `concurrency` long-lived worker tasks, each one request in flight at a time. Work
//! (due retries first, then new units) is taken from one shared `Feed`. A worker that
//! finishes an attempt takes its next work itself when there is some and the throttle allows
//! it at once (the common case, unthrottled); otherwise it goes idle and the dispatcher,
//! which does all the waiting (for work, for the throttle), hands it the next. A unit waiting
//! out a backoff holds no worker. At most `window` units are in progress at once, so memory
//! stays flat whatever the backlog.

pub mod preflight;
mod rate;
pub mod retry;
pub mod throttle;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use backon::ExponentialBackoff;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use rate::Rate;

use crate::connector::{Answer, Connector, Unit};
use crate::engine::retry::RetryPolicy;
use crate::engine::throttle::{Throttle, Ticket};
use crate::ledger::writer::{AttemptRecord, WriterSender};
use crate::outcome::{Outcome, StopCause, Verdict, VerdictKind};
use crate::transport::{Failure, Reply, Transport};

/// This many connection failures in a row, with no answer between them, stop the run: the
/// host is unreachable, and burning every key's attempts would only mark them all failed.
pub const UNREACHABLE_AFTER: u64 = 50;

/// 429s a key may get in one run before it is marked failed. A 429 refuses the request, not
/// the key (nothing was done, and sending it again is safe), so it does not use one of the
/// key's `--max-attempts`: under a tight limit keys would otherwise fail only for having
/// been throttled. This bound only ends a run against a server that says nothing but 429.
pub const MAX_THROTTLED: u32 = 50;

#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Per-request timeout, connect to last body byte.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl EngineConfig {
    /// What carries the units' requests (see [`crate::transport`]).
    pub fn transport(&self) -> crate::error::Result<Transport> {
        Transport::new(&self.transport_options())
    }

    /// The reqwest client for the calls that are not units (the hub, listings).
    pub fn http_client(&self) -> crate::error::Result<reqwest::Client> {
        crate::transport::reqwest_client(&self.transport_options())
    }

    fn transport_options(&self) -> crate::transport::Options {
        crate::transport::Options {
            connect_timeout: Duration::from_secs(10).min(self.timeout),
            max_idle: self.concurrency,
        }
    }
}

/// Why a run stopped before its work was done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    Api(StopCause),
    /// Ctrl-C, SIGTERM or SIGHUP.
    Interrupted(crate::signal::Signal),
    Ledger(String),
    /// A good answer could not be kept (an access export could not be saved).
    Output(String),
}

/// Shared by everything that can stop a run: the first reason wins.
#[derive(Default)]
pub struct Stop {
    token: CancellationToken,
    reason: Mutex<Option<StopReason>>,
}

impl Stop {
    pub fn new() -> Arc<Stop> {
        Arc::new(Stop::default())
    }

    pub fn trigger(&self, reason: StopReason) {
        let mut slot = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(reason);
        }
        self.token.cancel();
    }

    pub fn reason(&self) -> Option<StopReason> {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    pub async fn stopped(&self) {
        self.token.cancelled().await
    }
}

/// Live counts for progress display and the summary.
#[derive(Default, Debug)]
pub struct Counters {
    outcomes: [AtomicU64; 5],
    pub attempts: AtomicU64,
    pub retries: AtomicU64,
    pub throttled: AtomicU64,
    pub after_ambiguous: AtomicU64,
    /// Connection failures since the last answer of any kind.
    connect_failures: AtomicU64,
}

impl Counters {
    fn index(outcome: Outcome) -> usize {
        match outcome {
            Outcome::Pending => 0,
            Outcome::Deleted => 1,
            Outcome::NotFound => 2,
            Outcome::Rejected => 3,
            Outcome::Failed => 4,
        }
    }

    pub fn finished(&self, outcome: Outcome) -> u64 {
        self.outcomes[Self::index(outcome)].load(Ordering::Relaxed)
    }

    pub fn finished_total(&self) -> u64 {
        Outcome::ALL.iter().map(|o| self.finished(*o)).sum()
    }

    fn record(&self, outcome: Outcome) {
        self.outcomes[Self::index(outcome)].fetch_add(1, Ordering::Relaxed);
    }
}

struct Work {
    unit: Unit,
    /// Attempts sent, 429s included.
    attempts: u32,
    /// Of which answered 429.
    throttled: u32,
    ambiguous: bool,
    backoff: Option<ExponentialBackoff>,
}

impl Work {
    fn new(unit: Unit) -> Work {
        Work {
            unit,
            attempts: 0,
            throttled: 0,
            ambiguous: false,
            backoff: None,
        }
    }
}

/// What the dispatcher hears.
enum Event {
    /// A worker has no attempt (and found no work it could start at once).
    Free(usize),
    /// A retry's backoff has passed: it waits in [`Feed::ready`].
    Due,
}

/// The work to hand out, shared by the dispatcher and the workers under one short lock.
struct Feed {
    source: mpsc::Receiver<Unit>,
    source_done: bool,
    /// Retries whose backoff has passed, sent before new units.
    ready: VecDeque<Work>,
    /// Units taken from the source and not finished (attempting or waiting to retry): at
    /// most `window`, so memory stays flat whatever the backlog.
    in_progress: usize,
    window: usize,
}

impl Feed {
    /// The next work, if there is some without waiting: a due retry first, else a new unit.
    fn take(&mut self) -> Option<Work> {
        if let Some(work) = self.ready.pop_front() {
            return Some(work);
        }
        if !self.open() {
            return None;
        }
        match self.source.try_recv() {
            Ok(unit) => {
                self.in_progress += 1;
                Some(Work::new(unit))
            }
            Err(mpsc::error::TryRecvError::Disconnected) => {
                self.source_done = true;
                None
            }
            Err(mpsc::error::TryRecvError::Empty) => None,
        }
    }

    /// Whether a new unit may be taken from the source.
    fn open(&self) -> bool {
        !self.source_done && self.in_progress < self.window
    }

    /// Every unit taken has finished, and the source has no more.
    fn finished(&self) -> bool {
        self.source_done && self.in_progress == 0
    }
}

struct Shared {
    connector: Arc<dyn Connector>,
    transport: Transport,
    throttle: Arc<Throttle>,
    config: EngineConfig,
    writer: WriterSender,
    stop: Arc<Stop>,
    counters: Arc<Counters>,
    events: mpsc::UnboundedSender<Event>,
    feed: Mutex<Feed>,
}

impl Shared {
    fn feed(&self) -> std::sync::MutexGuard<'_, Feed> {
        self.feed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Send every unit from `source` until it is exhausted and each unit has finished, or until
/// `stop` fires. Returns once every in-flight request has landed and been queued for the
/// ledger; units not finished stay pending in the ledger.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    connector: Arc<dyn Connector>,
    transport: Transport,
    throttle: Arc<Throttle>,
    config: EngineConfig,
    source: mpsc::Receiver<Unit>,
    writer: WriterSender,
    stop: Arc<Stop>,
    counters: Arc<Counters>,
) {
    // The dispatcher runs as a task of the runtime, not on the caller's thread: waking a
    // thread blocked in `block_on` is a futex call and a context switch every time (measured
    // at ~6% of the process's CPU when the dispatcher still heard of every attempt).
    let dispatcher = tokio::spawn(dispatch(
        connector, transport, throttle, config, source, writer, stop, counters,
    ));
    if let Err(e) = dispatcher.await
        && e.is_panic()
    {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[allow(clippy::too_many_arguments)]
async fn dispatch(
    connector: Arc<dyn Connector>,
    transport: Transport,
    throttle: Arc<Throttle>,
    config: EngineConfig,
    source: mpsc::Receiver<Unit>,
    writer: WriterSender,
    stop: Arc<Stop>,
    counters: Arc<Counters>,
) {
    let concurrency = config.concurrency.max(1);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        connector,
        transport,
        throttle,
        config,
        writer,
        stop: stop.clone(),
        counters,
        events: events_tx,
        feed: Mutex::new(Feed {
            source,
            source_done: false,
            ready: VecDeque::new(),
            in_progress: 0,
            window: (concurrency * 8).max(256),
        }),
    });
    // One long-lived task per request in flight. A worker that finishes an attempt starts
    // the next itself when work and the throttle allow it at once; otherwise it tells the
    // dispatcher it is free, and the dispatcher, which does the waiting, hands it work.
    let mut workers = Vec::with_capacity(concurrency);
    let mut handles = Vec::with_capacity(concurrency);
    for id in 0..concurrency {
        let (tx, rx) = mpsc::channel(1);
        workers.push(tx);
        handles.push(tokio::spawn(worker(shared.clone(), id, rx)));
    }
    let mut free: Vec<usize> = (0..concurrency).rev().collect();

    loop {
        if stop.is_stopped() {
            break;
        }
        // A free worker first: work taken with none free would wait holding its ticket.
        if free.is_empty() {
            let event = match events.try_recv() {
                Ok(event) => event,
                Err(_) => tokio::select! {
                    biased;
                    _ = stop.stopped() => break,
                    Some(event) = events.recv() => event,
                },
            };
            if let Event::Free(id) = event {
                free.push(id);
            }
            continue;
        }
        let (work, finished, open) = {
            let mut feed = shared.feed();
            let work = feed.take();
            (work, feed.finished(), feed.open())
        };
        let work = match work {
            Some(work) => work,
            None if finished => break,
            None => {
                // Nothing at once: wait for a due retry, a free worker (which may have
                // finished a unit, opening the window) or the source.
                let unit = tokio::select! {
                    biased;
                    _ = stop.stopped() => break,
                    Some(event) = events.recv() => {
                        if let Event::Free(id) = event {
                            free.push(id);
                        }
                        continue;
                    }
                    unit = std::future::poll_fn(|cx| shared.feed().source.poll_recv(cx)), if open => unit,
                    else => break,
                };
                let mut feed = shared.feed();
                match unit {
                    Some(unit) => {
                        feed.in_progress += 1;
                        Work::new(unit)
                    }
                    None => {
                        feed.source_done = true;
                        continue;
                    }
                }
            }
        };
        let ticket = match shared.throttle.try_ready() {
            Some(ticket) => ticket,
            None => tokio::select! {
                biased;
                _ = stop.stopped() => break,
                ticket = shared.throttle.until_ready() => ticket,
            },
        };
        let Some(id) = free.pop() else { break };
        // The worker is free, so its one-slot channel has room.
        if workers[id].try_send((work, ticket)).is_err() {
            break;
        }
    }
    // Let in-flight requests land (each is bounded by the request timeout): a worker ends
    // once its channel is closed and its attempt is done.
    drop(workers);
    for handle in handles {
        if let Err(e) = handle.await
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

async fn worker(shared: Arc<Shared>, id: usize, mut jobs: mpsc::Receiver<(Work, Ticket)>) {
    while let Some((mut work, mut ticket)) = jobs.recv().await {
        loop {
            let done = attempt(&shared, work, ticket).await;
            let next = {
                let mut feed = shared.feed();
                if done {
                    feed.in_progress = feed.in_progress.saturating_sub(1);
                }
                if shared.stop.is_stopped() {
                    None
                } else {
                    feed.take()
                }
            };
            let Some(next) = next else { break };
            match shared.throttle.try_ready() {
                Some(t) => (work, ticket) = (next, t),
                None => {
                    // Paced: the dispatcher waits for the throttle; the work keeps its turn.
                    shared.feed().ready.push_front(next);
                    break;
                }
            }
        }
        if shared.events.send(Event::Free(id)).is_err() {
            break;
        }
    }
}

/// One attempt at `work`; true when it finished the unit (false: a retry is scheduled).
async fn attempt(shared: &Arc<Shared>, mut work: Work, ticket: Ticket) -> bool {
    let at = SystemTime::now();
    let started = Instant::now();
    // A success the connector could not keep (an export that could not be saved).
    let mut not_kept = None;
    // Where the connector kept a good answer (an access export's document).
    let mut kept = None;
    let sent = ask(
        &*shared.connector,
        &shared.transport,
        &work.unit,
        shared.config.timeout,
    )
    .await;
    let mut unreachable = false;
    let (verdict, http_status, error) = match sent {
        Ok(reply) => {
            shared.counters.connect_failures.store(0, Ordering::Relaxed);
            let verdict = shared.connector.classify(&Answer::from(&reply));
            if let VerdictKind::Final(outcome) = verdict.kind
                && outcome.is_gone()
            {
                match shared.connector.on_success(&work.unit, &reply.body) {
                    Ok(file) => kept = file,
                    Err(message) => not_kept = Some(message.to_string()),
                }
            }
            (verdict, Some(reply.status), None)
        }
        Err(failure) => {
            if failure.is_connect() {
                let n = shared
                    .counters
                    .connect_failures
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                unreachable = n >= UNREACHABLE_AFTER;
            } else if failure.status().is_some() {
                shared.counters.connect_failures.store(0, Ordering::Relaxed);
            }
            (
                transport_verdict(&failure),
                failure.status(),
                Some(failure.describe()),
            )
        }
    };
    let verdict = if unreachable {
        Verdict::new(VerdictKind::Stop(StopCause::Unreachable))
    } else {
        verdict
    };
    let latency_ms = started.elapsed().as_millis().min(u32::MAX as u128) as u32;
    shared.counters.attempts.fetch_add(1, Ordering::Relaxed);
    work.attempts += 1;

    // An answer that echoes the token or a personal key must not carry it into the ledger.
    let scrub = |text: &str| shared.connector.scrub(text, &work.unit.key);
    let mut record = AttemptRecord {
        unit_id: work.unit.id,
        at,
        http_status,
        verdict: verdict.label(),
        code: verdict.code.as_deref().map(&scrub),
        description: verdict.description.as_deref().map(&scrub),
        transaction_id: verdict.transaction_id.clone(),
        latency_ms,
        error: error.map(|e| scrub(&e)),
        finish: None,
        after_ambiguous: false,
        kept,
    };
    // Unit ids only: a key never reaches the log.
    tracing::debug!(
        unit = work.unit.id,
        attempt = work.attempts,
        status = %http_status.map_or_else(|| "none".to_owned(), |s| s.to_string()),
        verdict = verdict.label(),
        code = %record.code.as_deref().unwrap_or("none"),
        latency_ms,
        "answer"
    );
    if let Some(message) = not_kept {
        // Recording it finished would claim a result that does not exist: the unit stays
        // pending and the run stops, so the next run fetches it again.
        record.verdict = "not kept";
        record.error = Some(message.clone());
        shared.stop.trigger(StopReason::Output(message));
        if !shared.writer.send(record) {
            shared
                .stop
                .trigger(StopReason::Ledger("the ledger writer stopped".into()));
        }
        return true;
    }
    let mut done = true;
    match verdict.kind {
        VerdictKind::Final(outcome) => {
            shared.throttle.answered(ticket);
            record.finish = Some(outcome);
            record.after_ambiguous = work.ambiguous;
            if work.ambiguous && outcome == Outcome::NotFound {
                shared
                    .counters
                    .after_ambiguous
                    .fetch_add(1, Ordering::Relaxed);
            }
            shared.counters.record(outcome);
        }
        VerdictKind::Retry {
            throttled,
            ambiguous,
            retry_after,
        } => {
            if throttled {
                shared.counters.throttled.fetch_add(1, Ordering::Relaxed);
                shared.throttle.throttled(ticket, retry_after);
                work.throttled += 1;
            } else {
                shared.throttle.answered(ticket);
            }
            work.ambiguous |= ambiguous;
            if work.attempts - work.throttled >= shared.config.retry.max_attempts
                || work.throttled >= MAX_THROTTLED
            {
                record.finish = Some(Outcome::Failed);
                record.after_ambiguous = work.ambiguous;
                shared.counters.record(Outcome::Failed);
            } else {
                shared.counters.retries.fetch_add(1, Ordering::Relaxed);
                let policy = shared.config.retry;
                let backoff = work
                    .backoff
                    .get_or_insert_with(|| policy.backoff())
                    .next()
                    .unwrap_or(policy.cap);
                let delay = backoff.max(retry_after.unwrap_or_default());
                done = false;
                let shared = shared.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = shared.stop.stopped() => {}
                        _ = tokio::time::sleep(delay) => {
                            shared.feed().ready.push_back(work);
                            let _ = shared.events.send(Event::Due);
                        }
                    }
                });
            }
        }
        VerdictKind::Stop(cause) => {
            tracing::warn!(
                unit = work.unit.id,
                status = %http_status.map_or_else(|| "none".to_owned(), |s| s.to_string()),
                "stopping the run: {}",
                cause.explain()
            );
            // The key stays pending: it was not refused, the run was.
            shared.stop.trigger(StopReason::Api(cause));
        }
    }
    if !shared.writer.send(record) {
        shared
            .stop
            .trigger(StopReason::Ledger("the ledger writer stopped".into()));
    }
    done
}

/// Send `unit`'s request through `transport` and read the answer, up to the connector's
/// bound, within `timeout`. A request the connector cannot build never leaves.
pub async fn ask(
    connector: &dyn Connector,
    transport: &Transport,
    unit: &Unit,
    timeout: Duration,
) -> Result<Reply, Failure> {
    match connector.request(unit) {
        Ok(request) => transport.send(request, connector.max_body(), timeout).await,
        Err(cause) => Err(Failure::Invalid(cause.to_string())),
    }
}

/// Failures with no answer are the same for every connector: retry. Unless the request
/// never reached the server, the server may have acted on it: mark it ambiguous.
pub fn transport_verdict(failure: &Failure) -> Verdict {
    Verdict::new(VerdictKind::Retry {
        throttled: false,
        ambiguous: failure.may_have_reached(),
        retry_after: None,
    })
}
