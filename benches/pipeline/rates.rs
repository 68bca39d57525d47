//! The throttled figures of the main table: rate fidelity and quota discovery, judged by
//! the simulator's arrival log.

use crate::arrivals::{self, Arrivals};
use crate::figures::fmt_int;
use crate::process;
use crate::runs::Check;
use crate::sim::SimProc;
use crate::{Ctx, R, Verdict, data};

/// `--rate R` against a simulator limited to exactly R.
pub fn rate(cx: &mut Ctx) -> R<()> {
    for r in [50u64, 500, 5_000] {
        let secs = (20.0 * cx.scale).max(3.0);
        let n = (r as f64 * secs).ceil() as u64;
        let csv = data::csv(&cx.dir, n)?;
        let db = data::fresh_ledger(&cx.dir, &format!("rate-{r}"))?;
        cx.dry_run(&csv, &db, &[])?;
        let sim = SimProc::start(
            &cx.bin,
            &data::profiles(&cx.dir, n)?,
            &["--rate-limit".into(), r.to_string()],
        )?;
        let load = process::load();
        let u = cx.send(&csv, &sim.url, &db, &r.to_string(), &[])?;
        let check = Check::of(n, &u, &cx.status(&db)?, &sim.stats()?);
        let log = Arrivals::of(sim.timeline()?)?;
        let (achieved, whole) = log.steady_rate();
        let refused = log.refused(0, u64::MAX);
        cx.row(
            format!("rate fidelity R = {r}"),
            "≥ 0.98 R achieved, zero 429s",
            format!(
                "{achieved:.1}/s = {:.4} R over the run's {whole} whole seconds; {refused} × 429; {}",
                achieved / r as f64,
                check.summary
            ),
            Verdict::of(check.ok && achieved >= 0.98 * r as f64 && refused == 0),
            load,
        );
    }
    Ok(())
}

/// `--rate 5000` against a simulator limited to 500/s, no Retry-After.
pub fn quota(cx: &mut Ctx) -> R<()> {
    let limit = 500.0;
    let warmup = 10;
    let window = (30.0 * cx.scale).max(5.0).round() as u64;
    // Enough keys that the run outlasts the window even at the full limit.
    let n = (limit * (warmup + window + 5) as f64) as u64;
    let csv = data::csv(&cx.dir, n)?;
    let db = data::fresh_ledger(&cx.dir, "quota")?;
    cx.dry_run(&csv, &db, &[])?;
    let sim = SimProc::start(
        &cx.bin,
        &data::profiles(&cx.dir, n)?,
        &["--rate-limit".into(), "500".into()],
    )?;
    let load = process::load();
    let u = cx.send(&csv, &sim.url, &db, "5000", &["--max-attempts", "100"])?;
    let check = Check::of(n, &u, &cx.status(&db)?, &sim.stats()?);
    let seconds = sim.timeline()?;
    arrivals::keep(&cx.dir, "quota", &seconds)?;
    let log = Arrivals::of(seconds)?;
    let (from, to) = (log.first + warmup, log.window_end(warmup + window));
    let goodput = log.goodput(from, to);
    let (refused, calls) = (log.refused(0, u64::MAX), log.calls(0, u64::MAX));
    let share = refused as f64 / calls.max(1) as f64;
    let converged = log.converged(log.first, to, |_| limit);
    let converged_text = converged.map_or("not within the window".into(), |s| format!("{s} s"));
    cx.row(
        "quota discovery",
        "goodput ≥ 450/s after the first 10 s; 429s ≤ 2% of all calls",
        format!(
            "goodput {goodput:.0}/s = {:.3} × 500 over [10 s, {} s]; 429s {:.2}% ({refused} of {} calls); {} in {:.1} s",
            goodput / limit,
            to - log.first,
            share * 100.0,
            fmt_int(calls as f64),
            check.summary,
            u.wall.as_secs_f64(),
        ),
        Verdict::of(check.ok && goodput >= 0.9 * limit && share <= 0.02),
        load,
    );
    cx.row(
        "quota convergence",
        "≤ 10 s: from then on, goodput over every 5 s ≥ 0.9 × the limit",
        format!(
            "{converged_text} (seconds of the simulator's clock from the one of the first request, to {} s); {}",
            to - log.first,
            check.summary,
        ),
        Verdict::of(check.ok && converged.is_some_and(|s| s <= warmup)),
        load,
    );
    Ok(())
}
