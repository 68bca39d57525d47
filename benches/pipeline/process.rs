//! Measuring a child process from the OS accounting, without unsafe code: the child's CPU
//! times are read from `/proc/<pid>/stat` once it is a zombie (it has exited and holds its
//! final totals until it is reaped), its peak RSS from `VmHWM` in `/proc/<pid>/status`,
//! polled while it runs (a high-water mark, so a late read loses nothing but the last poll).

use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::R;

/// How often the child's state is read: the wall-clock error of a measurement.
const POLL: Duration = Duration::from_millis(2);
/// `VmHWM` is read every this many polls (it only grows, so rarer reads lose little).
const HWM_EVERY: u32 = 5;

#[derive(Clone, Debug)]
pub struct Usage {
    pub wall: Duration,
    /// User and system CPU seconds of the process and all its threads.
    pub user: f64,
    pub sys: f64,
    pub peak_rss_kib: u64,
    pub status: ExitStatus,
}

impl Usage {
    pub fn cpu(&self) -> f64 {
        self.user + self.sys
    }

    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on Linux).
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

pub struct Stat {
    pub state: char,
    /// utime + stime in seconds.
    pub user: f64,
    pub sys: f64,
}

/// The state and CPU times of `pid` (`None` once it has been reaped).
pub fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let ticks = clock_ticks_cached();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        user: fields.get(11)?.parse::<f64>().ok()? / ticks,
        sys: fields.get(12)?.parse::<f64>().ok()? / ticks,
    })
}

fn clock_ticks_cached() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(clock_ticks)
}

/// `VmHWM` of `pid` in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Run `cmd` to completion, with its stdout and stderr in `log` (appended), and measure it.
pub fn measure(cmd: &mut Command, log: &Path) -> R<Usage> {
    measure_within(cmd, log, None)
}

/// As [`measure`], killing the child (SIGKILL) if it runs longer than `limit`: a throttle
/// that collapses must cost the bench a bounded time, and shows as a run with no exit code.
pub fn measure_within(cmd: &mut Command, log: &Path, limit: Option<Duration>) -> R<Usage> {
    let (child, started) = spawn(cmd, log)?;
    watch(child, started, limit)
}

/// Start `cmd` with its stdout and stderr in `log` (appended), for [`watch`].
pub fn spawn(cmd: &mut Command, log: &Path) -> R<(Child, Instant)> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    cmd.stdout(out.try_clone()?).stderr(out);
    let started = Instant::now();
    Ok((cmd.spawn()?, started))
}

/// Watch a spawned child until it exits (or, past `limit`, kill it), then reap it.
pub fn watch(mut child: Child, started: Instant, limit: Option<Duration>) -> R<Usage> {
    let pid = child.id();
    let mut peak = 0;
    let mut polls = 0u32;
    let (wall, user, sys) = loop {
        if polls.is_multiple_of(HWM_EVERY)
            && let Some(hwm) = peak_rss_kib(pid)
        {
            peak = peak.max(hwm);
        }
        polls += 1;
        match stat(pid) {
            Some(s) if s.state == 'Z' => break (started.elapsed(), s.user, s.sys),
            Some(_) if limit.is_some_and(|l| started.elapsed() > l) => {
                let _ = child.kill();
                std::thread::sleep(POLL);
            }
            Some(_) => std::thread::sleep(POLL),
            // Not readable (not Linux?): fall back to the wall clock alone.
            None => break (started.elapsed(), f64::NAN, f64::NAN),
        }
    };
    let status = child.wait()?;
    Ok(Usage {
        wall,
        user,
        sys,
        peak_rss_kib: peak,
        status,
    })
}

/// The 1-minute load average.
pub fn load() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}
