//! The signals that stop a long command: Ctrl-C (SIGINT), SIGTERM (what containers, systemd
//! and CI send, followed by SIGKILL after a grace period) and SIGHUP (a closed terminal or
//! SSH session). All three mean the same: stop starting work, keep what is done. Left to
//! their default action, SIGTERM and SIGHUP would end the process at once and lose the
//! answers of requests in flight.

use tokio::signal::unix::{SignalKind, signal};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
    Hangup,
}

impl Signal {
    pub fn number(self) -> i32 {
        match self {
            Signal::Hangup => 1,
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
        }
    }

    /// How messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "Ctrl-C",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
        }
    }

    /// 128 + the signal's number, as a shell reports a program the signal ended: 130 for
    /// Ctrl-C, 143 for SIGTERM, 129 for SIGHUP.
    pub fn exit_code(self) -> i32 {
        128 + self.number()
    }
}

/// Listens for the three from its creation on (until then, their default action applies).
/// Create it before the work it guards starts, not in a task that may run later.
pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Must be called inside the runtime.
    pub fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// The next of the three to arrive.
    pub async fn next(&mut self) -> Signal {
        // A stream that ended (it cannot, while `self` lives) never wins the select.
        let pending = std::future::pending::<Signal>;
        tokio::select! {
            s = self.interrupt.recv() => match s { Some(()) => Signal::Interrupt, None => pending().await },
            s = self.terminate.recv() => match s { Some(()) => Signal::Terminate, None => pending().await },
            s = self.hangup.recv() => match s { Some(()) => Signal::Hangup, None => pending().await },
        }
    }
}
