//! Who acts and where: the operator and machine recorded with every run and purge, so the
//! ledger can say who did what.

/// The person and machine behind a run or purge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actor {
    /// The operator's login (`$USER`), if known.
    pub operator: Option<String>,
    /// The machine's host name, if known.
    pub host: Option<String>,
}

impl Actor {
    /// The operator and machine of this process.
    pub fn here() -> Actor {
        Actor {
            operator: std::env::var("USER").ok(),
            host: hostname(),
        }
    }
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .or_else(|| std::env::var("HOSTNAME").ok())
}
