//! The simulator as a child process (`forget sim`), killed when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::R;
use crate::process;

pub const TOKEN: &str = "bench-token";

pub struct SimProc {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    addr: String,
}

impl SimProc {
    /// `forget sim` on 127.0.0.1:0 holding the keys of `profiles` (one per line), with
    /// `extra` flags (e.g. `--rate-limit 500`).
    pub fn start(bin: &Path, profiles: &Path, extra: &[String]) -> R<SimProc> {
        let mut child = Command::new(bin)
            .args(["sim", "--listen", "127.0.0.1:0", "--token", TOKEN])
            .arg("--profiles")
            .arg(format!("customers={}", profiles.display()))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut line = String::new();
        if let Some(out) = child.stdout.as_mut() {
            BufReader::new(out).read_line(&mut line)?;
        }
        let Some(url) = line.trim().strip_prefix("forget sim listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the simulator did not start: {line:?}").into());
        };
        let url = url.to_owned();
        let addr = url.trim_start_matches("http://").to_owned();
        Ok(SimProc { child, url, addr })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds the simulator has used so far.
    pub fn cpu(&self) -> f64 {
        process::stat(self.pid()).map_or(f64::NAN, |s| s.user + s.sys)
    }

    /// `GET path` of the simulator's own endpoints, over a plain socket (no runtime needed).
    fn get(&self, path: &str) -> R<serde_json::Value> {
        let mut stream = TcpStream::connect(&self.addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .ok_or_else(|| format!("no body in the answer to {path}"))?;
        Ok(serde_json::from_str(body)?)
    }

    /// `GET /_sim/stats`: the simulator's counters.
    pub fn stats(&self) -> R<serde_json::Value> {
        self.get("/_sim/stats")
    }

    /// `GET /_sim/timeline`: the simulator's arrival log, one entry per second of its clock.
    pub fn timeline(&self) -> R<Vec<Second>> {
        Ok(serde_json::from_value(self.get("/_sim/timeline")?)?)
    }

    pub fn stat(&self, name: &str) -> R<u64> {
        self.stats()?[name]
            .as_u64()
            .ok_or_else(|| format!("no {name} in the simulator's stats").into())
    }
}

/// One second of the simulator's arrival log (`forget_sim::TimelineSecond`, read as the
/// bench reads any answer: from its JSON).
#[derive(Clone, Copy, Debug, Default, serde::Deserialize)]
pub struct Second {
    pub second: u64,
    /// Delete requests that arrived in this second.
    pub arrived: u64,
    /// Of those, not answered 429.
    pub admitted: u64,
    /// Answered 429 by the rate limiter.
    pub limited: u64,
    /// Answered 429 by the injected `429` fault.
    pub random_429: u64,
    /// The limit in force at the start of this second (`None`: no limit).
    pub limit: Option<f64>,
}

impl Drop for SimProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
