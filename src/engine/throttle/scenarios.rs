//! The model's cases, printed as a table: `cargo test --lib throttle::scenarios::report --
//! --ignored --nocapture`. Knobs (environment): `CASE` (a part of the cases' names), `LIMIT`,
//! `LATENCY` and `JITTER` (ms; `LATENCY=1 JITTER=3` is about what the bench meets on loopback,
//! and shows what a fixed latency hides), `WORKERS`, `SEED`; `TRACE=1` prints each second,
//! `CTL=1` the controller's decisions.

// A report for people, run by hand (ignored tests): it prints its table.
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use super::model::{Client, Hint, Pacer, Run, Server, Shape};

pub struct Case {
    pub name: String,
    pub server: Server,
    pub client: Client,
    /// (from, to, target share of the limit, most 429s as a share of calls)
    pub judge: Vec<(usize, usize, f64, f64)>,
}

#[allow(non_snake_case)]
pub fn cases(L: f64) -> Vec<Case> {
    let mut cases = Vec::new();
    for shape in [Shape::Bucket, Shape::FixedWindow, Shape::SlidingWindow] {
        for counts in [false, true] {
            for hint in [Hint::Seconds, Hint::Date, Hint::Absent, Hint::Reset] {
                let mut server = Server::limited(shape, L, hint);
                server.counts_refused = counts;
                cases.push(Case {
                    name: format!("{shape:?} counts={counts} {hint:?} rate 10x"),
                    server,
                    client: Client::new(Some(10.0 * L), 40),
                    judge: vec![(10, 40, 0.9, 0.02)],
                });
            }
            let mut server = Server::limited(shape, L, Hint::Seconds);
            server.counts_refused = counts;
            cases.push(Case {
                name: format!("{shape:?} counts={counts} Seconds rate = limit"),
                server,
                client: Client::new(Some(L), 40),
                judge: vec![(0, 40, 0.97, 0.01)],
            });
        }
    }
    for (shape, hint) in [
        (Shape::Bucket, Hint::Seconds),
        (Shape::SlidingWindow, Hint::Seconds),
        (Shape::FixedWindow, Hint::Absent),
    ] {
        let mut server = Server::limited(shape, L, hint);
        server.schedule = vec![(20.0, 0.5), (40.0, 1.0)];
        cases.push(Case {
            name: format!("{shape:?} {hint:?} halves at 20 s, back at 40 s"),
            server,
            client: Client::new(Some(10.0 * L), 60),
            judge: vec![
                (5, 20, 0.85, 0.02),
                (25, 40, 0.85, 0.02),
                (45, 60, 0.85, 0.02),
            ],
        });
    }
    for (shape, hint) in [
        (Shape::Bucket, Hint::Seconds),
        (Shape::SlidingWindow, Hint::Absent),
    ] {
        let mut server = Server::limited(shape, L, hint);
        server.background = 0.3 * L;
        server.schedule = vec![(0.0, 1.0)];
        cases.push(Case {
            name: format!("{shape:?} {hint:?} background 30%"),
            server,
            client: Client::new(Some(10.0 * L), 40),
            // Judged against the 140/s left: see `report`.
            judge: vec![(10, 40, 0.9 * 0.7, 1.0)],
        });
    }
    for (noise, target) in [(0.01, 0.95), (0.05, 0.85)] {
        for hint in [Hint::Seconds, Hint::Absent] {
            cases.push(Case {
                name: format!("noise {}% {hint:?} rate 500", noise * 100.0),
                server: Server::open(noise, hint),
                client: Client::new(Some(500.0), 40),
                judge: vec![(10, 40, target, 1.0)],
            });
        }
    }
    // Beyond what the throttle takes for noise: no target, to see what happens.
    for noise in [0.15, 0.3] {
        cases.push(Case {
            name: format!("noise {}% Seconds rate 500 (no target)", noise * 100.0),
            server: Server::open(noise, Hint::Seconds),
            client: Client::new(Some(500.0), 40),
            judge: vec![(10, 40, 0.0, 1.0)],
        });
    }
    for rate in [50.0, 500.0, 5000.0] {
        let mut client = Client::new(Some(rate), 20);
        client.latency = std::time::Duration::from_millis(5);
        cases.push(Case {
            name: format!("fidelity rate {rate}"),
            server: Server::open(0.0, Hint::Absent),
            client,
            judge: vec![(1, 20, 0.98, 0.0)],
        });
    }
    cases.push(Case {
        name: "quota: rate 5000, bucket 500".into(),
        server: Server::limited(Shape::Bucket, 500.0, Hint::Absent),
        client: Client::new(Some(5000.0), 40),
        judge: vec![(10, 40, 0.9, 1.0), (0, 40, 0.0, 0.02)],
    });
    cases
}

pub struct Verdict {
    pub lines: Vec<String>,
    pub pass: bool,
}

pub fn judge(case: &Case, run: &Run) -> Verdict {
    let rate = case.client.rate.unwrap_or(f64::INFINITY);
    let mut pass = run.failed_for_429 == 0 && run.deleted_twice == 0;
    let mut lines = Vec::new();
    for &(from, to, target, most) in &case.judge {
        let got = run.share_of_limit(from, to, rate);
        let refused = run.refused_share(from, to);
        pass &= got >= target && refused <= most;
        lines.push(format!(
            "[{from},{to}) {got:.3} (≥{target}) 429s {:.2}% (≤{}%)",
            refused * 100.0,
            most * 100.0
        ));
    }
    if run.failed_for_429 > 0 {
        lines.push(format!("{} keys failed for 429s", run.failed_for_429));
    }
    Verdict { lines, pass }
}

pub async fn play<P: Pacer>(pacer: P, case: &Case) -> Run {
    super::model::run(Arc::new(pacer), case.server.clone(), case.client.clone()).await
}

async fn report_with<P: Pacer>(make: impl Fn(Option<f64>) -> P, label: &str, old_engine: bool) {
    let filter = std::env::var("CASE").unwrap_or_default();
    let env = |name: &str, default: f64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(default)
    };
    for case in cases(env("LIMIT", 200.0)) {
        if !case.name.contains(&filter) {
            continue;
        }
        let mut case = case;
        case.client.throttled_uses_attempts = old_engine;
        case.client.latency = std::time::Duration::from_secs_f64(
            env("LATENCY", case.client.latency.as_secs_f64() * 1000.0) / 1000.0,
        );
        case.client.workers = env("WORKERS", case.client.workers as f64) as usize;
        case.client.jitter = std::time::Duration::from_secs_f64(
            env("JITTER", case.client.jitter.as_secs_f64() * 1000.0) / 1000.0,
        );
        case.server.seed = env("SEED", case.server.seed as f64) as u64;
        let run = play(make(case.client.rate), &case).await;
        let v = judge(&case, &run);
        println!(
            "{label} {} {:<48} {}",
            if v.pass { "pass" } else { "FAIL" },
            case.name,
            v.lines.join("; ")
        );
        if std::env::var("TRACE").is_ok() {
            println!("{}", run.trace());
        }
    }
}

#[tokio::test(start_paused = true)]
#[ignore]
async fn report_old() {
    report_with(super::baseline::OldThrottle::new, "old", true).await;
}

impl Pacer for super::Throttle {
    type Ticket = super::Ticket;
    fn try_ready(&self) -> Option<super::Ticket> {
        super::Throttle::try_ready(self)
    }
    fn until_ready(&self) -> impl std::future::Future<Output = super::Ticket> + Send {
        super::Throttle::until_ready(self)
    }
    fn throttled(&self, ticket: super::Ticket, retry_after: Option<std::time::Duration>) {
        super::Throttle::throttled(self, ticket, retry_after)
    }
    fn answered(&self, ticket: super::Ticket) {
        super::Throttle::answered(self, ticket)
    }
}

#[tokio::test(start_paused = true)]
#[ignore]
async fn report_new() {
    report_with(super::Throttle::new, "new", false).await;
}

/// What a send costs the throttle, unpaced, on real time (`cargo test --release --lib
/// hot_path -- --ignored --nocapture`): one ticket and one answer per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn hot_path() {
    const N: u64 = 4_000_000;
    async fn per_send<P: Pacer>(pacer: Arc<P>) -> f64 {
        let start = std::time::Instant::now();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move {
                    for _ in 0..N / 2 {
                        if let Some(ticket) = pacer.try_ready() {
                            pacer.answered(std::hint::black_box(ticket));
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
        start.elapsed().as_nanos() as f64 / N as f64
    }
    let new = per_send(Arc::new(super::Throttle::new(None))).await;
    let old = per_send(Arc::new(super::baseline::OldThrottle::new(None))).await;
    println!("ns per send and answer, 2 threads: new {new:.1}, old {old:.1}");
}
