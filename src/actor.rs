//! Who acts and where: the operator and machine recorded with every run, purge and
//! resolution, so the ledger can say who did what.

use std::sync::OnceLock;

/// The operator named on the command line (`--operator`, or `FORGET_OPERATOR`), set once
/// at start-up: it wins over the login name, which on a shared service account says little.
static NAMED: OnceLock<String> = OnceLock::new();

/// Name the operator for this process (`--operator`). The first name given stands.
pub fn name_operator(name: String) {
    let _ = NAMED.set(name);
}

/// The person and machine behind a run or purge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actor {
    /// The operator: `--operator`, else the login (`$USER`, `$LOGNAME`, else the name of
    /// this process's user id in `/etc/passwd`, else `uid N`).
    pub operator: Option<String>,
    /// The machine's host name, if known.
    pub host: Option<String>,
}

impl Actor {
    /// The operator and machine of this process.
    pub fn here() -> Actor {
        Actor {
            operator: Some(operator()),
            host: hostname(),
        }
    }
}

fn operator() -> String {
    if let Some(name) = NAMED.get() {
        return name.clone();
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    env("USER")
        .or_else(|| env("LOGNAME"))
        .or_else(login_of_uid)
        .unwrap_or_else(|| match uid() {
            Some(uid) => format!("uid {uid}"),
            None => "unknown".to_owned(),
        })
}

/// This process's real user id, from `/proc/self/status` (no libc call: the crate forbids
/// unsafe code).
fn uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The login name of this process's user id in `/etc/passwd`.
fn login_of_uid() -> Option<String> {
    let uid = uid()?.to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        (fields.next()? == uid).then(|| name.to_owned())
    })
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .or_else(|| std::env::var("HOSTNAME").ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operator_is_always_known() {
        // Whatever the environment, a name: the login, or the user id's.
        let op = Actor::here().operator.unwrap_or_default();
        assert!(!op.trim().is_empty());
    }
}
