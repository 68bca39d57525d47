//! What `forget check` found: the preflight canary per profile name (see
//! [`crate::engine::preflight`]) and, with hub access, the tenant named by its purposes.

use serde_json::Value;

use super::hub;
use crate::engine::preflight::ProfileCheck;
use crate::error::exit;

/// What the API hub said about the tenant.
#[derive(Clone, Debug, PartialEq)]
pub enum HubFinding {
    /// The tenant's name(s), from the purposes' `tenantName`, and how many purposes.
    Tenant { names: Vec<String>, purposes: usize },
    /// Reading `/v1/purposes` failed; the message and exit code say why.
    Failed { message: String, exit_code: i32 },
}

/// Read `/v1/purposes` and name the tenant.
pub async fn hub_check(reader: &hub::Reader) -> HubFinding {
    match reader.list(super::inventory::PURPOSES_PATH).await {
        Ok(purposes) => {
            let mut names: Vec<String> = Vec::new();
            for p in &purposes {
                if let Some(Value::String(name)) = p.get("tenantName")
                    && !name.trim().is_empty()
                    && !names.contains(name)
                {
                    names.push(name.clone());
                }
            }
            HubFinding::Tenant {
                names,
                purposes: purposes.len(),
            }
        }
        Err(e) => HubFinding::Failed {
            message: e.to_string(),
            exit_code: e.exit_code(),
        },
    }
}

/// Everything `forget check` found.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// The delete endpoint checked and one result per profile name.
    pub delete: Option<(String, Vec<ProfileCheck>)>,
    /// The hub checked and what it said.
    pub hub: Option<(String, HubFinding)>,
}

impl CheckReport {
    /// The worst exit code among the checks (3 before 2 before 0).
    pub fn exit_code(&self) -> i32 {
        let mut codes: Vec<i32> = Vec::new();
        if let Some((_, checks)) = &self.delete {
            codes.extend(checks.iter().map(|c| c.finding.exit_code()));
        }
        if let Some((_, HubFinding::Failed { exit_code, .. })) = &self.hub {
            codes.push(*exit_code);
        }
        if codes.contains(&exit::STOPPED) {
            exit::STOPPED
        } else {
            codes.into_iter().max().unwrap_or(exit::OK)
        }
    }

    /// The findings as a JSON object, for `forget check --format json`: `ok`, `exit_code`,
    /// `delete` (url and one object per profile name) and `hub` (url, tenant names or the
    /// failure), each `null` when not checked.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let delete = self.delete.as_ref().map(|(url, checks)| {
            let profiles: Vec<serde_json::Value> = checks
                .iter()
                .map(|c| {
                    json!({
                        "profile_name": c.scope,
                        "ok": c.finding.is_ok(),
                        "exit_code": c.finding.exit_code(),
                        "explanation": c.explain(),
                        "http_status": c.http_status,
                        "code": c.code,
                        "attempts": c.attempts,
                        "latency_ms": c.latency.as_millis() as u64,
                    })
                })
                .collect();
            json!({ "url": url, "profiles": profiles })
        });
        let hub = self.hub.as_ref().map(|(url, finding)| match finding {
            HubFinding::Tenant { names, purposes } => json!({
                "url": url, "ok": true, "tenant_names": names, "purposes": purposes,
            }),
            HubFinding::Failed { message, exit_code } => json!({
                "url": url, "ok": false, "message": message, "exit_code": exit_code,
            }),
        });
        json!({
            "ok": self.exit_code() == exit::OK,
            "exit_code": self.exit_code(),
            "delete": delete,
            "hub": hub,
        })
    }

    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        if let Some((url, checks)) = &self.delete {
            let _ = writeln!(out, "delete API  {url}");
            for check in checks {
                let mark = if check.finding.is_ok() { "ok " } else { "FAIL" };
                let _ = writeln!(out, "  [{mark}] {}", check.explain());
            }
        }
        match &self.hub {
            Some((url, finding)) => {
                let _ = writeln!(out, "API hub     {url}");
                let line = match finding {
                    HubFinding::Tenant { names, purposes } if names.is_empty() => format!(
                        "[ok ] the token is accepted; {purposes} purposes, none naming the tenant"
                    ),
                    HubFinding::Tenant { names, purposes } => format!(
                        "[ok ] tenant {} ({purposes} purposes)",
                        names
                            .iter()
                            .map(|n| format!("{n:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    HubFinding::Failed { message, .. } => format!("[FAIL] {message}"),
                };
                let _ = writeln!(out, "  {line}");
            }
            None => {
                let _ = writeln!(
                    out,
                    "API hub     not checked (no --hub-url): the tenant is not named"
                );
            }
        }
        let _ = writeln!(
            out,
            "{}",
            if self.exit_code() == exit::OK {
                "all checks passed"
            } else {
                "CHECK FAILED"
            }
        );
        out
    }
}
