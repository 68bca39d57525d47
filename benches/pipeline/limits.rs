//! The throttle matrix (`FORGET_BENCH=limits`): forget against the server limits it may
//! meet, one `forget sim` per case, judged by the simulator's arrival log. The limit is
//! 200/s, so a case takes about a minute and the whole matrix under half an hour.
//! `FORGET_BENCH_CASES=sliding,noise` runs the cases whose id holds one of those words.
//!
//! - every limiter shape (`bucket`, `fixed`, `sliding`, and the two that
//!   `--rate-limit-counts-refused` changes) × every way of saying when to come back (no
//!   `Retry-After`, seconds, an HTTP date; `X-RateLimit-Reset` for the three plain shapes),
//!   `--rate` 10× the limit;
//! - every shape with `--rate` equal to the limit;
//! - the limit halved at 20 s and doubled back at 40 s;
//! - another integration taking 60/s of the 200/s quota;
//! - random 429s (1% and 5%) and no limit, `--rate 500`.

use std::time::Duration;

use crate::arrivals::{self, Arrivals};
use crate::figures::fmt_int;
use crate::process;
use crate::runs::Check;
use crate::sim::SimProc;
use crate::{Ctx, R, Verdict, data};

const LIMIT: f64 = 200.0;

/// What a case is judged on.
enum Judge {
    /// Goodput from the warm-up on, at least `goodput` × the available rate, and (if set)
    /// at most `share` of the calls from then on answered 429.
    Steady { goodput: f64, share: Option<f64> },
    /// The limit changes every `len` seconds of the simulator's clock: goodput in each
    /// phase, from `settle` seconds into it, at least `goodput` × the available rate.
    Phases { len: u64, settle: u64, goodput: f64 },
}

struct Case {
    /// What `FORGET_BENCH_CASES` matches, e.g. `sliding-refused/date/10x`.
    id: String,
    name: String,
    target: String,
    sim: Vec<String>,
    /// forget's `--rate`.
    rate: f64,
    /// What another integration takes of the limit (`--background-rate`).
    background: f64,
    judge: Judge,
}

impl Case {
    /// Requests/s the client can have in second `s`: the limit in force less the
    /// background's share; with no limit, forget's own `--rate`.
    fn available(&self, s: &crate::sim::Second) -> f64 {
        s.limit.map_or(self.rate, |l| l - self.background)
    }

    /// The mean available rate over the run, for sizing its input.
    fn mean_available(&self) -> f64 {
        match self.judge {
            // 200, 100, 200: the schedule below.
            Judge::Phases { .. } => LIMIT * 5.0 / 6.0,
            Judge::Steady { .. } if self.sim.iter().any(|f| f == "--rate-limit") => {
                LIMIT - self.background
            }
            Judge::Steady { .. } => self.rate,
        }
    }
}

/// The seconds of each window, shortened by `FORGET_BENCH_SCALE` for quick passes.
struct Timing {
    warmup: u64,
    /// A steady case's window, from the first request: `[warmup, secs)`.
    secs: u64,
    /// A phase of the schedule case, and how far into it goodput is judged.
    phase: u64,
    settle: u64,
}

impl Timing {
    fn of(scale: f64) -> Timing {
        let warmup = (10.0 * scale).round().clamp(2.0, 10.0) as u64;
        Timing {
            warmup,
            secs: ((50.0 * scale).round() as u64).max(warmup + 4),
            phase: ((20.0 * scale).round() as u64).max(6),
            settle: (5.0 * scale).round().clamp(2.0, 5.0) as u64,
        }
    }
}

fn flags(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn cases(t: &Timing) -> Vec<Case> {
    let limit = fmt_int(LIMIT);
    // (id, name, refusals count against the quota)
    let shapes: [(&str, &str, bool); 5] = [
        ("bucket", "bucket", false),
        ("fixed", "fixed", false),
        ("sliding", "sliding", false),
        ("bucket", "bucket counting refusals", true),
        ("sliding", "sliding counting refusals", true),
    ];
    // (id, name, flags); the last only for the shapes that do not count refusals.
    let styles: [(&str, &str, &[&str]); 4] = [
        ("absent", "no Retry-After", &[]),
        ("seconds", "Retry-After seconds", &["--retry-after", "auto"]),
        (
            "date",
            "Retry-After HTTP date",
            &["--retry-after", "auto", "--retry-after-date"],
        ),
        (
            "reset",
            "X-RateLimit-Reset",
            &["--retry-after", "auto", "--retry-after-reset"],
        ),
    ];
    let shape_flags = |shape: &str, refused: bool| {
        let mut f = flags(&["--rate-limit", &limit, "--rate-limit-shape", shape]);
        if refused {
            f.push("--rate-limit-counts-refused".into());
        }
        f
    };
    let shape_id = |shape: &str, refused: bool| {
        if refused {
            format!("{shape}-refused")
        } else {
            shape.to_owned()
        }
    };
    let mut out = Vec::new();
    for (shape, name, refused) in shapes {
        for (style_id, style, style_flags) in styles {
            if refused && style_id == "reset" {
                continue;
            }
            let mut sim = shape_flags(shape, refused);
            sim.extend(flags(style_flags));
            out.push(Case {
                id: format!("{}/{style_id}/10x", shape_id(shape, refused)),
                name: format!("{name}, {style}, --rate 10×"),
                target: format!(
                    "from {} s: goodput ≥ 0.9 × {limit}/s, 429s ≤ 2% of calls",
                    t.warmup
                ),
                sim,
                rate: 10.0 * LIMIT,
                background: 0.0,
                judge: Judge::Steady {
                    goodput: 0.9,
                    share: Some(0.02),
                },
            });
        }
    }
    for (shape, name, refused) in shapes {
        out.push(Case {
            id: format!("{}/seconds/1x", shape_id(shape, refused)),
            name: format!("{name}, Retry-After seconds, --rate = limit"),
            target: format!(
                "from {} s: goodput ≥ 0.97 × {limit}/s, 429s ≤ 1% of calls",
                t.warmup
            ),
            sim: {
                let mut f = shape_flags(shape, refused);
                f.extend(flags(&["--retry-after", "auto"]));
                f
            },
            rate: LIMIT,
            background: 0.0,
            judge: Judge::Steady {
                goodput: 0.97,
                share: Some(0.01),
            },
        });
    }
    let (p, half) = (t.phase, fmt_int(LIMIT / 2.0));
    out.push(Case {
        id: "schedule".into(),
        name: format!(
            "limit {limit} → {half} at {p} s → {limit} at {} s, --rate 10×",
            2 * p
        ),
        target: format!(
            "each phase, from {} s into it: goodput ≥ 0.85 × the limit",
            t.settle
        ),
        sim: flags(&[
            "--rate-limit",
            &limit,
            "--rate-schedule",
            &format!("0:{limit},{p}:{half},{}:{limit}", 2 * p),
        ]),
        rate: 10.0 * LIMIT,
        background: 0.0,
        judge: Judge::Phases {
            len: p,
            settle: t.settle,
            goodput: 0.85,
        },
    });
    let background = 0.3 * LIMIT;
    out.push(Case {
        id: "background".into(),
        name: format!(
            "another integration takes {}/s of {limit}/s, --rate 10×",
            fmt_int(background)
        ),
        target: format!(
            "from {} s: goodput ≥ 0.9 × the {}/s left",
            t.warmup,
            fmt_int(LIMIT - background)
        ),
        sim: flags(&[
            "--rate-limit",
            &limit,
            "--background-rate",
            &fmt_int(background),
        ]),
        rate: 10.0 * LIMIT,
        background,
        judge: Judge::Steady {
            goodput: 0.9,
            share: None,
        },
    });
    for (p, goodput) in [(0.01, 0.95), (0.05, 0.85)] {
        out.push(Case {
            id: format!("noise-{:.0}%", p * 100.0),
            name: format!("random 429s at {:.0}%, no limit, --rate 500", p * 100.0),
            target: format!("from {} s: goodput ≥ {goodput} × 500/s", t.warmup),
            sim: flags(&["--fault", &format!("429={p}")]),
            rate: 500.0,
            background: 0.0,
            judge: Judge::Steady {
                goodput,
                share: None,
            },
        });
    }
    out
}

/// The cases `FORGET_BENCH_CASES` names (words of their ids, comma-separated), or all.
fn selected(all: Vec<Case>) -> R<Vec<Case>> {
    let Ok(list) = std::env::var("FORGET_BENCH_CASES") else {
        return Ok(all);
    };
    let words: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
    let ids: Vec<String> = all.iter().map(|c| c.id.clone()).collect();
    let picked: Vec<Case> = all
        .into_iter()
        .filter(|c| words.is_empty() || words.iter().any(|w| c.id.contains(w)))
        .collect();
    if picked.is_empty() {
        return Err(
            format!("FORGET_BENCH_CASES={list:?} names no case; the cases: {ids:?}").into(),
        );
    }
    Ok(picked)
}

/// One case measured: its row of the matrix table.
struct Measured {
    goodput: String,
    share: String,
    converged: String,
    correct: String,
    ok: bool,
}

fn measure(cx: &Ctx, case: &Case, t: &Timing) -> R<Measured> {
    let secs = match case.judge {
        Judge::Steady { .. } => t.secs,
        Judge::Phases { len, .. } => 3 * len,
    };
    // Enough keys that the run outlasts its window even at the full available rate.
    let margin = (10.0 * case.mean_available()) as u64;
    let n = (case.mean_available() * secs as f64) as u64 + margin;
    let csv = data::csv(&cx.dir, n)?;
    let db = data::fresh_ledger(&cx.dir, "limits")?;
    // Recorded before the simulator starts, so its clock (which the schedule follows) and
    // the sending start together.
    cx.dry_run(&csv, &db, &[])?;
    let sim = SimProc::start(&cx.bin, &data::profiles(&cx.dir, n)?, &case.sim)?;
    let rate = fmt_int(case.rate).replace(',', "");
    let limit = Duration::from_secs(3 * secs + 60);
    let mut cmd = cx.run(&csv, &sim.url, &db, &rate, &[]);
    let u = process::measure_within(&mut cmd, &cx.log, Some(limit))?;
    let check = Check::of(n, &u, &cx.status(&db)?, &sim.stats()?);
    let seconds = sim.timeline()?;
    arrivals::keep(&cx.dir, &case.id, &seconds)?;
    let log = Arrivals::of(seconds)?;
    let calls_all = log.calls(0, u64::MAX);
    let share_all = log.refused_share(0, u64::MAX);
    let mut m = match case.judge {
        Judge::Steady { goodput, share } => {
            let (from, to) = (log.first + t.warmup, log.window_end(secs));
            let available = case.mean_available();
            let got = log.goodput(from, to);
            let refused = log.refused_share(from, to);
            let converged = log.converged(log.first, to, |s| case.available(s));
            Measured {
                goodput: format!(
                    "{got:.0}/s = {:.3} × {} over [{} s, {} s]",
                    got / available,
                    fmt_int(available),
                    t.warmup,
                    to - log.first
                ),
                share: format!(
                    "{:.2}% of {} calls from {} s ({:.2}% of {} over the run)",
                    refused * 100.0,
                    fmt_int(log.calls(from, to) as f64),
                    t.warmup,
                    share_all * 100.0,
                    fmt_int(calls_all as f64)
                ),
                converged: converged
                    .map_or_else(|| "not within the window".into(), |s| format!("{s} s")),
                correct: check.summary.clone(),
                ok: got >= goodput * available && share.is_none_or(|max| refused <= max),
            }
        }
        Judge::Phases {
            len,
            settle,
            goodput,
        } => {
            let mut parts = Vec::new();
            let mut conv = Vec::new();
            let mut ok = true;
            for phase in 0..3 {
                let start = (phase * len).max(log.first);
                let end = ((phase + 1) * len).min(log.last);
                let from = start + settle;
                let available = log_available(&log, case, from, end);
                let got = log.goodput(from, end);
                ok &= got >= goodput * available;
                parts.push(format!(
                    "{got:.0}/s = {:.3} × {}",
                    got / available,
                    fmt_int(available)
                ));
                conv.push(
                    log.converged(start, end, |s| case.available(s))
                        .map_or_else(|| "never".into(), |s| format!("{s} s")),
                );
            }
            Measured {
                goodput: format!("{} (each phase from {settle} s in)", parts.join("; ")),
                share: format!(
                    "{:.2}% of {} calls over the run",
                    share_all * 100.0,
                    fmt_int(calls_all as f64)
                ),
                converged: format!("{} after each phase began", conv.join(", ")),
                correct: check.summary.clone(),
                ok,
            }
        }
    };
    m.ok &= check.ok;
    m.correct = format!("{}; {:.0} s", m.correct, u.wall.as_secs_f64());
    Ok(m)
}

/// The mean rate available to the client over `[from, to)`.
fn log_available(log: &Arrivals, case: &Case, from: u64, to: u64) -> f64 {
    let seconds: Vec<f64> = (from..to)
        .filter_map(|s| log.second(s).map(|s| case.available(s)))
        .collect();
    seconds.iter().sum::<f64>() / seconds.len().max(1) as f64
}

pub fn limits(cx: &mut Ctx) -> R<()> {
    let t = Timing::of(cx.scale);
    let mut table = String::from(
        "| case | target | goodput (the simulator's non-429 answers/s) | 429s (the simulator's count ÷ calls) | converged | correct | | load |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let (mut met, mut all) = (0, 0);
    for case in selected(cases(&t))? {
        eprintln!("  {} ({}) …", case.name, case.id);
        let load = process::load();
        let (m, verdict) = match measure(cx, &case, &t) {
            Ok(m) => {
                let v = Verdict::of(m.ok);
                (m, v)
            }
            Err(e) => (
                Measured {
                    goodput: format!("error: {e}"),
                    share: String::new(),
                    converged: String::new(),
                    correct: String::new(),
                    ok: false,
                },
                Verdict::Missed,
            ),
        };
        all += 1;
        met += usize::from(verdict == Verdict::Met);
        eprintln!(
            "    goodput {}; 429s {}; converged {}; {} [{}] (load {load:.2})",
            m.goodput,
            m.share,
            m.converged,
            m.correct,
            verdict.label()
        );
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {load:.2} |\n",
            case.name,
            case.target,
            m.goodput,
            m.share,
            m.converged,
            m.correct,
            verdict.label()
        ));
    }
    // The matrix is a table of its own; the main table says how it went.
    cx.row(
        "the throttle matrix",
        "every case met (see its table)",
        format!("{met} of {all} cases met"),
        Verdict::of(met == all),
        process::load(),
    );
    cx.tables.push(table);
    Ok(())
}
