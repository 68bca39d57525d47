//! Unit tests on paused time: nothing here races the machine's clock. The model's cases
//! (see `scenarios`) run the throttle against limiters the way the engine drives it; each
//! threshold is one the throttle before issue 16 failed by far.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::model::{Client, Hint, Run, Server, Shape};
use super::*;

async fn play(server: Server, client: Client) -> Run {
    let throttle = Arc::new(Throttle::new(client.rate));
    let run = model::run(throttle, server, client).await;
    assert_eq!(run.deleted_twice, 0, "a key deleted twice\n{}", run.trace());
    assert_eq!(
        run.failed_for_429,
        0,
        "keys failed for 429s\n{}",
        run.trace()
    );
    run
}

fn check(run: &Run, from: usize, to: usize, rate: f64, least: f64, most_429: f64) {
    let got = run.share_of_limit(from, to, rate);
    let refused = run.refused_share(from, to);
    assert!(
        got >= least && refused <= most_429,
        "[{from}, {to}): {got:.3} of the limit (want ≥ {least}), 429s {:.2}% (want ≤ {}%)\n{}",
        refused * 100.0,
        most_429 * 100.0,
        run.trace()
    );
}

#[tokio::test(start_paused = true)]
async fn paces_at_the_rate_with_no_burst_after_a_change() {
    let t = Throttle::new(Some(100.0));
    let start = Instant::now();
    for _ in 0..200 {
        t.until_ready().await;
    }
    let secs = start.elapsed().as_secs_f64();
    assert!((1.95..2.05).contains(&secs), "{secs}");
    // Down to 10/s: what was allowed at 100/s does not go out at once.
    t.start_period(Some(10.0));
    let start = Instant::now();
    for _ in 0..10 {
        t.until_ready().await;
    }
    assert!(
        start.elapsed() >= Duration::from_millis(880),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_rate_under_the_floor_of_cuts_stands() {
    let t = Throttle::new(Some(0.2));
    t.until_ready().await;
    let start = Instant::now();
    t.until_ready().await;
    assert!(
        start.elapsed() >= Duration::from_millis(4990),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn unpaced_sends_need_no_clock_and_no_lock() {
    let t = Throttle::new(None);
    for _ in 0..1000 {
        let ticket = t.try_ready();
        assert!(ticket.is_some_and(|t| t.sent == 0));
    }
    assert_eq!(t.rate(), None);
}

#[tokio::test(start_paused = true)]
async fn a_lone_429_is_retried_without_a_cut_or_a_pause() {
    let t = Throttle::new(Some(100.0));
    let mut tickets = Vec::new();
    for _ in 0..50 {
        tickets.push(t.until_ready().await);
    }
    tokio::time::advance(Duration::from_millis(20)).await;
    for ticket in &tickets[..49] {
        t.answered(*ticket);
    }
    t.throttled(tickets[49], Some(Duration::from_secs(5)));
    assert_eq!(t.rate(), Some(100.0));
    assert!(t.try_ready().is_some(), "paused by a lone 429");
}

#[tokio::test(start_paused = true)]
async fn mostly_429s_pause_for_retry_after_then_resume_paced() {
    let t = Throttle::new(Some(1000.0));
    let mut tickets = Vec::new();
    for _ in 0..100 {
        tickets.push(t.until_ready().await);
    }
    tokio::time::advance(Duration::from_millis(20)).await;
    // 20 accepted, then refusals: a limit near a fifth of the rate.
    for ticket in &tickets[..20] {
        t.answered(*ticket);
    }
    for ticket in &tickets[20..] {
        t.throttled(*ticket, Some(Duration::from_secs(2)));
    }
    let rate = t.rate().unwrap_or(f64::MAX);
    assert!(rate < 400.0, "{rate}");
    let start = Instant::now();
    t.until_ready().await;
    assert!(
        start.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        start.elapsed()
    );
    // Paced from there: no burst of what waited.
    let start = Instant::now();
    for _ in 0..20 {
        t.until_ready().await;
    }
    let least = Duration::from_secs_f64(18.0 / rate);
    assert!(
        start.elapsed() >= least,
        "{:?} < {least:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn sliding_window_with_retry_after_at_ten_times_the_limit() {
    // Issue 16: the throttle before it averaged 0.56 of the limit here.
    let server = Server::limited(Shape::SlidingWindow, 200.0, Hint::Seconds);
    let run = play(server, Client::new(Some(2000.0), 30)).await;
    check(&run, 10, 30, 2000.0, 0.9, 0.02);
}

#[tokio::test(start_paused = true)]
async fn window_that_counts_refusals_without_retry_after() {
    let mut server = Server::limited(Shape::SlidingWindow, 200.0, Hint::Absent);
    server.counts_refused = true;
    let run = play(server, Client::new(Some(2000.0), 30)).await;
    check(&run, 10, 30, 2000.0, 0.85, 0.02);
}

#[tokio::test(start_paused = true)]
async fn fixed_window_with_retry_after_at_ten_times_the_limit() {
    let server = Server::limited(Shape::FixedWindow, 200.0, Hint::Seconds);
    let run = play(server, Client::new(Some(2000.0), 30)).await;
    check(&run, 10, 30, 2000.0, 0.9, 0.02);
}

#[tokio::test(start_paused = true)]
async fn rate_equal_to_a_sliding_window_limit() {
    let server = Server::limited(Shape::SlidingWindow, 200.0, Hint::Seconds);
    let run = play(server, Client::new(Some(200.0), 30)).await;
    check(&run, 0, 30, 200.0, 0.97, 0.01);
}

#[tokio::test(start_paused = true)]
async fn quota_discovery_from_ten_times_a_token_bucket() {
    let server = Server::limited(Shape::Bucket, 500.0, Hint::Absent);
    let run = play(server, Client::new(Some(5000.0), 30)).await;
    check(&run, 10, 30, 5000.0, 0.9, 0.02);
    check(&run, 0, 30, 5000.0, 0.0, 0.02);
}

#[tokio::test(start_paused = true)]
async fn random_429s_are_noise_not_a_limit() {
    // Issue 16: 1% gave 36 keys/s at --rate 500, 5% gave 8.
    for (noise, least) in [(0.01, 0.93), (0.05, 0.8)] {
        let run = play(
            Server::open(noise, Hint::Seconds),
            Client::new(Some(500.0), 30),
        )
        .await;
        check(&run, 10, 30, 500.0, least, 2.0 * noise);
    }
}

#[tokio::test(start_paused = true)]
async fn a_limit_that_halves_and_comes_back() {
    let mut server = Server::limited(Shape::Bucket, 200.0, Hint::Seconds);
    server.schedule = vec![(20.0, 0.5), (40.0, 1.0)];
    let run = play(server, Client::new(Some(2000.0), 60)).await;
    for (from, to) in [(5, 20), (25, 40), (45, 60)] {
        check(&run, from, to, 2000.0, 0.8, 0.03);
    }
}

#[tokio::test(start_paused = true)]
async fn another_client_of_the_quota() {
    let mut server = Server::limited(Shape::Bucket, 200.0, Hint::Seconds);
    server.background = 60.0;
    let run = play(server, Client::new(Some(2000.0), 30)).await;
    // 0.9 of the 140/s left.
    check(&run, 10, 30, 2000.0, 0.63, 0.02);
}

#[tokio::test(start_paused = true)]
async fn rate_fidelity_without_a_limit() {
    for rate in [50.0, 500.0, 5000.0] {
        let mut client = Client::new(Some(rate), 10);
        client.latency = Duration::from_millis(5);
        let run = play(Server::open(0.0, Hint::Absent), client).await;
        check(&run, 1, 10, rate, 0.98, 0.0);
    }
}

#[tokio::test(start_paused = true)]
async fn no_key_fails_for_429s_alone_under_a_tight_limit() {
    // The engine before issue 16 spent one of six attempts on each 429.
    let server = Server::limited(Shape::SlidingWindow, 20.0, Hint::Seconds);
    let mut client = Client::new(Some(2000.0), 30);
    client.max_attempts = 2;
    play(server, client).await;
}

/// A client on a loaded machine: answers in about a millisecond, give or take a few.
fn jittery(rate: f64, seconds: u64) -> Client {
    let mut client = Client::new(Some(rate), seconds);
    client.latency = Duration::from_millis(1);
    client.jitter = Duration::from_millis(3);
    client
}

#[tokio::test(start_paused = true)]
async fn at_exactly_the_limit_of_a_window_that_counts_refusals() {
    // Paced at exactly the limit, timing jitter puts one request too many in some second;
    // the window keeps the refused one too, so the next ones are refused as well. Going
    // straight back to `--rate` after each cut met the limit again: 0.945 of it.
    for seed in 1..=3 {
        let mut server = Server::limited(Shape::SlidingWindow, 200.0, Hint::Seconds);
        server.counts_refused = true;
        server.seed = seed;
        let run = play(server, jittery(200.0, 40)).await;
        check(&run, 10, 40, 200.0, 0.97, 0.01);
    }
}

#[tokio::test(start_paused = true)]
async fn a_limit_just_under_the_estimate_is_not_learned_as_noise() {
    // A cut to an accepted rate that a bucket's burst overstated, and a verification a few
    // percent under it, still above the limit: the 429s kept a share, and were taken for
    // noise. From then on the throttle cruised above the limit, 1.5–2.5% of calls refused.
    for (seed, hint) in [(2, Hint::Absent), (5, Hint::Reset), (5, Hint::Absent)] {
        let server = Server::limited(Shape::Bucket, 200.0, hint);
        let mut client = jittery(2000.0, 40);
        client.jitter = Duration::from_millis(if seed == 2 { 15 } else { 8 });
        let throttle = Arc::new(Throttle::new(client.rate));
        let run = model::run(throttle.clone(), Server { seed, ..server }, client).await;
        let noise = throttle.lock().noise();
        assert!(noise == 0.0, "learned noise {noise}\n{}", run.trace());
        check(&run, 10, 40, 2000.0, 0.9, 0.02);
    }
}

/// A token bucket (`limit`/s, holding `burst`, empty at the start) answering every request
/// the moment it is sent, one at a time: per second, (accepted, refused).
async fn against_bucket(t: &Throttle, limit: f64, burst: f64, seconds: usize) -> Vec<(u64, u64)> {
    let start = Instant::now();
    let (mut level, mut last) = (0.0, 0.0);
    let mut per_second = vec![(0, 0); seconds];
    loop {
        let ticket = t.until_ready().await;
        let now = start.elapsed().as_secs_f64();
        let Some(second) = per_second.get_mut(now as usize) else {
            return per_second;
        };
        level = (level + (now - last) * limit).min(burst);
        last = now;
        if level >= 1.0 {
            level -= 1.0;
            second.0 += 1;
            t.answered(ticket);
        } else {
            second.1 += 1;
            t.throttled(ticket, None);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_first_cut_that_takes_a_bucket_burst_for_the_limit_climbs_back_in_seconds() {
    // The opening the bench met (`forget run -v`: "from 4067 to 20.0"): a bucket of 200/s
    // let its burst of 20 through, then refused everything sent at 2000/s, so the heavy
    // cut's estimate was the burst. Probes of 1.1, 1.2, 1.4, 1.8 and 2 times it, a second
    // each, took 7–15 s to find the limit.
    let t = Throttle::new(Some(2000.0));
    let mut tickets = Vec::new();
    for _ in 0..60 {
        tickets.push(t.until_ready().await);
    }
    tokio::time::advance(Duration::from_millis(1)).await;
    for ticket in &tickets[..20] {
        t.answered(*ticket);
    }
    for ticket in &tickets[20..] {
        t.throttled(*ticket, None);
    }
    let rate = t.rate().unwrap_or(f64::MAX);
    assert!(
        rate < 30.0,
        "the opening did not take the burst for the limit: {rate}"
    );
    let seconds = against_bucket(&t, 200.0, 20.0, 16).await;
    let trace = format!("{seconds:?}");
    // The bench's convergence: from then on, every 5 s at least 0.9 of the limit. Doubling
    // from 20/s, each probe a full window, passes 160/s at 4 s; the search above takes two
    // or three more.
    let from = 7;
    for window in seconds[from..].windows(5) {
        let ok: u64 = window.iter().map(|s| s.0).sum();
        assert!(ok >= 900, "{ok} in 5 s from second {from}: {trace}");
    }
    let refused: u64 = seconds.iter().map(|s| s.1).sum();
    let all: u64 = seconds.iter().map(|s| s.0 + s.1).sum();
    assert!(refused * 50 <= all, "{refused} of {all} refused: {trace}");
}

#[tokio::test(start_paused = true)]
async fn finding_a_limit_ten_times_under_the_rate_costs_few_429s() {
    // With answers coming back out of order, those to the burst that got through hid the
    // refusals after it: the first episode ended as light, and cut after cut to an accepted
    // rate measured over milliseconds (15,200/s, 8,600/s, 3,300/s, …) took seconds to come
    // down, refused all along: 3.3–3.5% of all calls over the run.
    for seed in 1..=3 {
        let mut server = Server::limited(Shape::Bucket, 500.0, Hint::Absent);
        server.seed = seed;
        let run = play(server, jittery(5000.0, 40)).await;
        check(&run, 0, 40, 5000.0, 0.0, 0.02);
        check(&run, 10, 40, 5000.0, 0.9, 0.02);
    }
}

#[tokio::test(start_paused = true)]
async fn random_429s_met_at_the_rate_do_not_keep_the_run_under_it() {
    // A cluster of random 429s at `--rate`, then a verification that happened to see fewer,
    // looks like `--rate` itself being the limit: the run stayed 1.5% under `--rate` to its
    // end, though the 429s went on at their share there.
    let mut server = Server::open(0.01, Hint::Seconds);
    server.seed = 2;
    let throttle = Arc::new(Throttle::new(Some(500.0)));
    let run = model::run(throttle.clone(), server, Client::new(Some(500.0), 40)).await;
    assert_eq!(throttle.rate(), Some(500.0), "{}", run.trace());
}
