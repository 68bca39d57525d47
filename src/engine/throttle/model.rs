//! A deterministic model to develop the throttle against, on tokio's paused time: a server
//! with the rate limiters real APIs use, and a client that drives a throttle the way the
//! engine does (workers, one request in flight each, retries with backoff that honour
//! `Retry-After`, the retry of a refused key before new keys).
//!
//! Everything is seeded, and paused time makes the clock advance only when every task
//! sleeps, so a run gives the same numbers on any machine and at any load.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Seeded, tiny and good enough for coin flips (SplitMix64).
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// Refills continuously; a full bucket holds `burst` requests.
    Bucket,
    /// At most `limit` requests per whole second of the clock.
    FixedWindow,
    /// At most `limit` requests in any second (a log of arrival times).
    SlidingWindow,
}

/// How a 429 says when to come back.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Hint {
    Absent,
    /// `Retry-After: 1`.
    Seconds,
    /// `Retry-After: <HTTP date one second ahead>`: whole seconds, so the client reads
    /// anything from 0 to 1 s.
    Date,
    /// `X-RateLimit-Reset: <Unix time one second ahead>`: read like the date.
    Reset,
}

#[derive(Clone, Debug)]
pub struct Server {
    pub shape: Shape,
    /// Requests per second (`None`: no limiter).
    pub limit: Option<f64>,
    /// Whether a refused request still counts against the quota.
    pub counts_refused: bool,
    pub hint: Hint,
    /// Share of admitted requests answered 429 anyway, at any rate.
    pub noise: f64,
    /// Another client of the same quota, at this steady rate.
    pub background: f64,
    /// (from second, factor): the limit is multiplied by the factor from then on.
    pub schedule: Vec<(f64, f64)>,
    pub seed: u64,
}

impl Server {
    pub fn limited(shape: Shape, limit: f64, hint: Hint) -> Server {
        Server {
            shape,
            limit: Some(limit),
            counts_refused: false,
            hint,
            noise: 0.0,
            background: 0.0,
            schedule: Vec::new(),
            seed: 1,
        }
    }

    pub fn open(noise: f64, hint: Hint) -> Server {
        Server {
            limit: None,
            noise,
            ..Server::limited(Shape::Bucket, 1.0, hint)
        }
    }

    /// The limit at `t` seconds into the run.
    pub fn limit_at(&self, t: f64) -> Option<f64> {
        let factor = self
            .schedule
            .iter()
            .rfind(|(from, _)| t >= *from)
            .map(|(_, f)| *f)
            .unwrap_or(1.0);
        self.limit.map(|l| l * factor)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Answer {
    Ok,
    /// Refused by the limiter.
    Limited(Option<Duration>),
    /// Refused by chance, whatever the rate.
    Noise(Option<Duration>),
}

/// The server's live state.
struct Limiter {
    spec: Server,
    start: Instant,
    rng: Rng,
    level: f64,
    last: f64,
    window: (i64, u64),
    log: VecDeque<f64>,
}

impl Limiter {
    fn new(spec: Server, start: Instant) -> Limiter {
        let burst = spec.limit.map_or(0.0, |l| (l / 10.0).max(1.0));
        Limiter {
            rng: Rng::new(spec.seed),
            spec,
            start,
            level: burst,
            last: 0.0,
            window: (-1, 0),
            log: VecDeque::new(),
        }
    }

    fn admit(&mut self, t: f64) -> bool {
        let Some(limit) = self.spec.limit_at(t) else {
            return true;
        };
        let counts = self.spec.counts_refused;
        match self.spec.shape {
            Shape::Bucket => {
                let burst = (limit / 10.0).max(1.0);
                self.level = (self.level + (t - self.last) * limit).min(burst);
                self.last = t;
                if self.level >= 1.0 {
                    self.level -= 1.0;
                    true
                } else {
                    if counts {
                        self.level -= 1.0;
                    }
                    false
                }
            }
            Shape::FixedWindow => {
                let second = t.floor() as i64;
                if self.window.0 != second {
                    self.window = (second, 0);
                }
                let ok = (self.window.1 as f64) < limit.floor();
                if ok || counts {
                    self.window.1 += 1;
                }
                ok
            }
            Shape::SlidingWindow => {
                while self.log.front().is_some_and(|at| *at <= t - 1.0) {
                    self.log.pop_front();
                }
                let ok = (self.log.len() as f64) < limit.floor();
                if ok || counts {
                    self.log.push_back(t);
                }
                ok
            }
        }
    }

    fn hint(&self, t: f64) -> Option<Duration> {
        let to_next_second = || Duration::from_secs_f64((t + 1.0).floor() - t);
        match self.spec.hint {
            Hint::Absent => None,
            Hint::Seconds => Some(Duration::from_secs(1)),
            Hint::Date | Hint::Reset => Some(to_next_second()),
        }
    }

    fn answer(&mut self, now: Instant) -> Answer {
        let t = now.duration_since(self.start).as_secs_f64();
        if !self.admit(t) {
            return Answer::Limited(self.hint(t));
        }
        if self.spec.noise > 0.0 && self.rng.unit() < self.spec.noise {
            return Answer::Noise(self.hint(t));
        }
        Answer::Ok
    }
}

/// What the client's throttle must offer: the engine's calls.
pub trait Pacer: Send + Sync + 'static {
    type Ticket: Copy + Send + 'static;
    fn try_ready(&self) -> Option<Self::Ticket>;
    fn until_ready(&self) -> impl Future<Output = Self::Ticket> + Send;
    fn throttled(&self, ticket: Self::Ticket, retry_after: Option<Duration>);
    fn answered(&self, ticket: Self::Ticket);
}

#[derive(Clone, Debug)]
pub struct Client {
    /// `--rate`; `None` = unlimited.
    pub rate: Option<f64>,
    pub workers: usize,
    pub latency: Duration,
    /// Each way of each request takes up to this much longer, at random: a loaded machine's
    /// scheduling, which reorders answers and bunches arrivals.
    pub jitter: Duration,
    pub seconds: u64,
    /// Whether a 429 consumes one of a key's attempts (the engine before issue 16).
    pub throttled_uses_attempts: bool,
    pub max_attempts: u32,
    /// 429s a key may get before it is given up, when they do not use attempts.
    pub max_throttled: u32,
}

impl Client {
    pub fn new(rate: Option<f64>, seconds: u64) -> Client {
        Client {
            rate,
            workers: 64,
            latency: Duration::from_millis(20),
            jitter: Duration::ZERO,
            seconds,
            throttled_uses_attempts: false,
            max_attempts: 6,
            max_throttled: crate::engine::MAX_THROTTLED,
        }
    }
}

/// Per second of the run, as the server saw our requests.
#[derive(Clone, Copy, Debug, Default)]
pub struct Second {
    pub ok: u64,
    pub limited: u64,
    pub noise: u64,
}

#[derive(Debug)]
pub struct Run {
    pub seconds: Vec<Second>,
    /// The limit in force during each second (`None`: no limiter).
    pub limits: Vec<Option<f64>>,
    /// Keys given up because of 429s alone.
    pub failed_for_429: u64,
    /// Keys the server deleted twice.
    pub deleted_twice: u64,
}

impl Run {
    /// Goodput over `[from, to)` as a share of what the limit allowed then (`rate` when the
    /// server has no limiter).
    pub fn share_of_limit(&self, from: usize, to: usize, rate: f64) -> f64 {
        let to = to.min(self.seconds.len());
        let allowed: f64 = self.limits[from..to]
            .iter()
            .map(|l| l.unwrap_or(rate))
            .sum();
        let ok: u64 = self.seconds[from..to].iter().map(|s| s.ok).sum();
        ok as f64 / allowed.max(1e-9)
    }

    /// 429s (of either kind) as a share of our calls over `[from, to)`.
    pub fn refused_share(&self, from: usize, to: usize) -> f64 {
        let to = to.min(self.seconds.len());
        let (mut refused, mut all) = (0, 0);
        for s in &self.seconds[from..to] {
            refused += s.limited + s.noise;
            all += s.ok + s.limited + s.noise;
        }
        refused as f64 / all.max(1) as f64
    }

    /// Accepted requests second by second, for a failing test's message.
    pub fn trace(&self) -> String {
        let oks: Vec<String> = self.seconds.iter().map(|s| s.ok.to_string()).collect();
        let refused: Vec<String> = self
            .seconds
            .iter()
            .map(|s| (s.limited + s.noise).to_string())
            .collect();
        format!("ok/s {}\n429/s {}", oks.join(" "), refused.join(" "))
    }
}

struct Key {
    id: u64,
    attempts: u32,
    throttled: u32,
    retries: u32,
}

struct World {
    server: Limiter,
    seconds: Vec<Second>,
    /// Retries whose delay has passed: sent before new keys, as the engine does.
    ready: VecDeque<Key>,
    next_key: u64,
    deleted: HashSet<u64>,
    deleted_twice: u64,
    failed_for_429: u64,
    rng: Rng,
}

impl World {
    fn record(&mut self, now: Instant, f: impl FnOnce(&mut Second)) {
        let second = now.duration_since(self.server.start).as_secs() as usize;
        if self.seconds.len() <= second {
            self.seconds.resize(second + 1, Second::default());
        }
        f(&mut self.seconds[second]);
    }
}

fn lock(w: &Mutex<World>) -> std::sync::MutexGuard<'_, World> {
    w.lock().unwrap_or_else(|e| e.into_inner())
}

fn backoff(retries: u32, rng: &mut Rng) -> Duration {
    // The engine's policy: 0.5 s doubling, capped at 15 s, plus up to as much again of jitter.
    let base = (0.5 * 2f64.powi(retries.min(10) as i32)).min(15.0);
    Duration::from_secs_f64(base * (1.0 + rng.unit()))
}

/// Run `client` against `server` for `client.seconds` of (paused) time.
pub async fn run<P: Pacer>(pacer: Arc<P>, server: Server, client: Client) -> Run {
    let start = Instant::now();
    let end = start + Duration::from_secs(client.seconds);
    let background = server.background;
    let schedule_len = client.seconds as usize;
    let limits: Vec<Option<f64>> = (0..schedule_len)
        .map(|s| server.limit_at(s as f64 + 0.5))
        .collect();
    let world = Arc::new(Mutex::new(World {
        rng: Rng::new(server.seed ^ 0xABCD),
        server: Limiter::new(server, start),
        seconds: Vec::new(),
        ready: VecDeque::new(),
        next_key: 0,
        deleted: HashSet::new(),
        deleted_twice: 0,
        failed_for_429: 0,
    }));
    let mut tasks = Vec::new();
    if background > 0.0 {
        let world = world.clone();
        tasks.push(tokio::spawn(async move {
            let gap = Duration::from_secs_f64(1.0 / background);
            let mut at = start;
            while at < end {
                tokio::time::sleep_until(at).await;
                let mut w = lock(&world);
                let jitter = w.rng.unit();
                let _ = w.server.answer(Instant::now());
                at += gap.mul_f64(0.5 + jitter);
            }
        }));
    }
    // Like the engine's dispatcher: one task waits on the throttle at a time.
    let dispatcher = Arc::new(tokio::sync::Mutex::new(()));
    for _ in 0..client.workers {
        let (world, pacer, dispatcher, client) = (
            world.clone(),
            pacer.clone(),
            dispatcher.clone(),
            client.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let ticket = match pacer.try_ready() {
                    Some(t) => t,
                    None => {
                        let _turn = dispatcher.lock().await;
                        pacer.until_ready().await
                    }
                };
                if Instant::now() >= end {
                    break;
                }
                let mut key = {
                    let mut w = lock(&world);
                    match w.ready.pop_front() {
                        Some(key) => key,
                        None => {
                            w.next_key += 1;
                            Key {
                                id: w.next_key,
                                attempts: 0,
                                throttled: 0,
                                retries: 0,
                            }
                        }
                    }
                };
                let way = |world: &Mutex<World>| {
                    if client.jitter.is_zero() {
                        return client.latency / 2;
                    }
                    client.latency / 2 + client.jitter.mul_f64(lock(world).rng.unit())
                };
                tokio::time::sleep(way(&world)).await;
                let answer = {
                    let mut w = lock(&world);
                    let now = Instant::now();
                    let answer = w.server.answer(now);
                    w.record(now, |s| match answer {
                        Answer::Ok => s.ok += 1,
                        Answer::Limited(_) => s.limited += 1,
                        Answer::Noise(_) => s.noise += 1,
                    });
                    if answer == Answer::Ok && !w.deleted.insert(key.id) {
                        w.deleted_twice += 1;
                    }
                    answer
                };
                tokio::time::sleep(way(&world)).await;
                let retry_after = match answer {
                    Answer::Ok => {
                        pacer.answered(ticket);
                        continue;
                    }
                    Answer::Limited(ra) | Answer::Noise(ra) => ra,
                };
                pacer.throttled(ticket, retry_after);
                key.attempts += 1;
                key.throttled += 1;
                let exhausted = if client.throttled_uses_attempts {
                    key.attempts >= client.max_attempts
                } else {
                    key.throttled >= client.max_throttled
                };
                if exhausted {
                    lock(&world).failed_for_429 += 1;
                    continue;
                }
                let delay = {
                    let mut w = lock(&world);
                    backoff(key.retries, &mut w.rng).max(retry_after.unwrap_or_default())
                };
                key.retries += 1;
                let world = world.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    lock(&world).ready.push_back(key);
                });
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let w = lock(&world);
    let mut seconds = w.seconds.clone();
    seconds.resize(schedule_len, Second::default());
    Run {
        seconds,
        limits,
        failed_for_429: w.failed_for_429,
        deleted_twice: w.deleted_twice,
    }
}
