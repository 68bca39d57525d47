//! `cargo bench --bench pipeline`: the figures of BENCHMARKS.md, measured on the release
//! `forget` binary against `forget sim` started as a child, on 127.0.0.1 only.
//!
//! Environment:
//! - `FORGET_BENCH=throughput,rate,...` picks figures (default: all of them): `throughput`
//!   (also gives `overhead`), `ceiling`, `peer`, `rate`, `quota`, `limits` (the throttle
//!   matrix, ~30 minutes), `ingest`, `memory`, `resume`.
//! - `FORGET_BENCH_CASES=sliding,noise`: of the throttle matrix, only the cases whose id
//!   holds one of these words (ids such as `sliding-refused/date/10x`, `fixed/seconds/1x`,
//!   `schedule`, `background`, `noise-5%`; a wrong word lists them).
//! - `FORGET_BENCH_SCALE=0.1` shrinks every key count and duration (quick runs; the targets
//!   are for scale 1).
//! - `FORGET_BENCH_CONCURRENCY` (default 64): `--concurrency` of the unthrottled runs.
//! - `FORGET_BENCH_DIR`: where input files and ledgers go (default: a temporary directory);
//!   generated inputs there are reused by later runs.
//! - `FORGET_BENCH_OUT=FILE`: also write the table (markdown) to FILE.
//! - `FORGET_BIN`: the binary to measure (default: the one cargo built for this bench).
//!
//! Under `cargo test` (no `--bench` argument) it does nothing: figures are measured here, not
//! asserted by timed tests.
// A benchmark reports on its own stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod arrivals;
mod data;
mod figures;
mod limits;
mod memory;
mod process;
mod rates;
mod runs;
mod sim;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

pub type R<T> = Result<T, Box<dyn std::error::Error>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    Skipped,
    Info,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "**missed**",
            Verdict::Skipped => "skipped",
            Verdict::Info => "",
        }
    }

    pub fn of(ok: bool) -> Verdict {
        if ok { Verdict::Met } else { Verdict::Missed }
    }
}

pub struct Row {
    pub figure: String,
    pub target: String,
    pub measured: String,
    pub verdict: Verdict,
    pub load: f64,
}

pub struct Ctx {
    pub bin: PathBuf,
    pub dir: PathBuf,
    pub scale: f64,
    pub concurrency: usize,
    pub token: PathBuf,
    pub log: PathBuf,
    /// forget's unthrottled end-to-end keys/s, once `throughput` has run.
    pub forget_kps: Option<f64>,
    /// Dry-run ingests already measured, by row count: (usage, ledger, csv).
    pub ingested: HashMap<u64, (process::Usage, PathBuf, PathBuf)>,
    pub rows: Vec<Row>,
    /// Tables of their own (the throttle matrix), printed after the main one.
    pub tables: Vec<String>,
}

impl Ctx {
    pub fn scaled(&self, n: u64) -> u64 {
        ((n as f64 * self.scale).round() as u64).max(1)
    }

    pub fn row(
        &mut self,
        figure: impl Into<String>,
        target: impl Into<String>,
        measured: impl Into<String>,
        verdict: Verdict,
        load: f64,
    ) {
        let row = Row {
            figure: figure.into(),
            target: target.into(),
            measured: measured.into(),
            verdict,
            load,
        };
        eprintln!(
            "  {}: {} [{}] (load {:.2})",
            row.figure,
            row.measured,
            row.verdict.label(),
            row.load
        );
        self.rows.push(row);
    }
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const ALL: [&str; 9] = [
    "throughput",
    "ceiling",
    "peer",
    "rate",
    "quota",
    "limits",
    "ingest",
    "memory",
    "resume",
];

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or("?".into(), |kib| {
            format!("{:.1} GiB", kib as f64 / 1048576.0)
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into());
    format!("{cores} cores ({cpu}), {mem} RAM, Linux {kernel}")
}

fn main() -> R<()> {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "pipeline benchmark: run it with `cargo bench --bench pipeline` (see BENCHMARKS.md)"
        );
        return Ok(());
    }
    let bin = std::env::var_os("FORGET_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_forget")));
    let scale = env_f64("FORGET_BENCH_SCALE", 1.0);
    let concurrency = env_f64("FORGET_BENCH_CONCURRENCY", 64.0) as usize;
    let selected: Vec<String> = match std::env::var("FORGET_BENCH") {
        Ok(list) if !list.trim().is_empty() && list != "all" => list
            .split(',')
            .map(|s| match s.trim() {
                "overhead" => "throughput".to_owned(),
                other => other.to_owned(),
            })
            .collect(),
        _ => ALL.iter().map(|s| s.to_string()).collect(),
    };
    if let Some(unknown) = selected.iter().find(|s| !ALL.contains(&s.as_str())) {
        return Err(format!("FORGET_BENCH: unknown figure {unknown:?}; known: {ALL:?}").into());
    }
    let tmp;
    let dir = match std::env::var_os("FORGET_BENCH_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            std::fs::create_dir_all(&d)?;
            d
        }
        None => {
            tmp = tempfile::Builder::new().prefix("forget-bench").tempdir()?;
            tmp.path().to_owned()
        }
    };
    let machine = machine();
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    eprintln!("forget pipeline benchmark");
    eprintln!("  binary: {}", bin.display());
    eprintln!("  machine: {machine}; {rustc}");
    eprintln!(
        "  scale {scale}, concurrency {concurrency}, work dir {}",
        dir.display()
    );
    let mut cx = Ctx {
        token: data::token_file(&dir)?,
        log: dir.join("bench.log"),
        bin,
        dir,
        scale,
        concurrency,
        forget_kps: None,
        ingested: HashMap::new(),
        rows: Vec::new(),
        tables: Vec::new(),
    };
    for name in ALL.iter().filter(|n| selected.iter().any(|s| s == *n)) {
        eprintln!("{name}:");
        let load = process::load();
        let result = match *name {
            "throughput" => figures::throughput(&mut cx),
            "ceiling" => figures::ceiling(&mut cx),
            "peer" => figures::peer(&mut cx),
            "rate" => rates::rate(&mut cx),
            "quota" => rates::quota(&mut cx),
            "limits" => limits::limits(&mut cx),
            "ingest" => memory::ingest(&mut cx),
            "memory" => memory::memory(&mut cx),
            "resume" => memory::resume(&mut cx),
            _ => Ok(()),
        };
        if let Err(e) = result {
            cx.row(*name, "", format!("error: {e}"), Verdict::Missed, load);
        }
    }

    let mut table = format!(
        "Machine: {machine}; {rustc}. Scale {scale}, concurrency {concurrency}.\n\n\
         | figure | target | measured | | load |\n| --- | --- | --- | --- | --- |\n"
    );
    for r in &cx.rows {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} |\n",
            r.figure,
            r.target,
            r.measured,
            r.verdict.label(),
            r.load
        ));
    }
    for extra in &cx.tables {
        table.push('\n');
        table.push_str(extra);
    }
    println!("\n{table}");
    if let Some(out) = std::env::var_os("FORGET_BENCH_OUT") {
        std::fs::write(out, &table)?;
    }
    Ok(())
}
