//! Giving up on keys: dropping the plaintext the ledger still holds for unfinished keys
//! (rejected, failed, pending units) and for invalid rows, so it keeps no copy of a person's
//! identifier that will never be erased through it.
//!
//! A purged unit cannot be sent (there is no key to send) until a later input row carries the
//! same key again: ingest then restores it (see [`super::ingest`]).

use std::time::SystemTime;

use rusqlite::params;
use rusqlite::types::Value;

use super::chain::Appender;
use super::{Ledger, timestamp};
use crate::actor::Actor;
use crate::error::Result;
use crate::outcome::Outcome;

/// What a purge may drop: the plaintext of units in these outcomes, and of invalid rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeScope {
    pub outcomes: Vec<Outcome>,
    pub invalid: bool,
}

impl PurgeScope {
    /// `rejected,failed,invalid` → the scope. Finished outcomes hold no plaintext to purge.
    pub fn parse(list: &str) -> std::result::Result<PurgeScope, String> {
        let mut scope = PurgeScope::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match (name, Outcome::parse(name)) {
                ("invalid", _) => scope.invalid = true,
                (_, Some(o)) if o.is_gone() => {
                    return Err(format!(
                        "`{name}` keys hold no plaintext: it is dropped when a key is erased"
                    ));
                }
                (_, Some(o)) => {
                    if !scope.outcomes.contains(&o) {
                        scope.outcomes.push(o);
                    }
                }
                (_, None) => {
                    return Err(format!(
                        "`{name}` is not an outcome to purge: use rejected, failed, pending, invalid"
                    ));
                }
            }
        }
        if scope.outcomes.is_empty() && !scope.invalid {
            return Err("name at least one of rejected, failed, pending, invalid".into());
        }
        Ok(scope)
    }

    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.outcomes.iter().map(|o| o.as_str()).collect();
        if self.invalid {
            names.push("invalid");
        }
        names
    }
}

/// How much plaintext a purge would drop, per outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgePlan {
    pub units: Vec<(Outcome, u64)>,
    pub invalid_rows: u64,
}

impl PurgePlan {
    pub fn total(&self) -> u64 {
        self.units.iter().map(|(_, n)| n).sum::<u64>() + self.invalid_rows
    }
}

impl Ledger {
    /// Count what [`Ledger::purge`] would drop, changing nothing.
    pub fn purge_plan(&self, scope: &PurgeScope) -> Result<PurgePlan> {
        let mut plan = PurgePlan::default();
        for outcome in &scope.outcomes {
            let n: i64 = self.conn.query_row(
                "SELECT count(*) FROM units WHERE outcome = ?1 AND key IS NOT NULL",
                [outcome.as_str()],
                |r| r.get(0),
            )?;
            plan.units.push((*outcome, n as u64));
        }
        if scope.invalid {
            let n: i64 = self.conn.query_row(
                "SELECT count(*) FROM row_records WHERE kind = 'invalid' AND raw_key IS NOT NULL",
                [],
                |r| r.get(0),
            )?;
            plan.invalid_rows = n as u64;
        }
        Ok(plan)
    }

    /// Drop the plaintext in `scope` and record the purge, in one transaction. Returns what
    /// was dropped. The caller checkpoints, so the old values do not survive in the WAL.
    pub fn purge(&mut self, scope: &PurgeScope, by: &Actor) -> Result<PurgePlan> {
        let at = timestamp(SystemTime::now());
        let tx = self.conn.transaction()?;
        let mut done = PurgePlan::default();
        for outcome in &scope.outcomes {
            // Audit fields that repeat a key keep only its masked form, as for erased keys.
            tx.execute(
                "UPDATE row_records AS r SET exparams = forget_unkey(r.exparams, u.key)
                 FROM units u
                 WHERE r.unit_id = u.id AND u.outcome = ?1 AND u.key IS NOT NULL
                   AND r.exparams IS NOT NULL AND forget_unkey(r.exparams, u.key) IS NOT NULL",
                [outcome.as_str()],
            )?;
            let n = tx.execute(
                "UPDATE units SET
                   exparams = coalesce(forget_unkey(exparams, key), exparams),
                   key = NULL, purged_at = ?2
                 WHERE outcome = ?1 AND key IS NOT NULL",
                params![outcome.as_str(), at],
            )?;
            done.units.push((*outcome, n as u64));
        }
        if scope.invalid {
            done.invalid_rows = tx.execute(
                "UPDATE row_records SET raw_key = NULL WHERE kind = 'invalid' AND raw_key IS NOT NULL",
                [],
            )? as u64;
        }
        let units: u64 = done.units.iter().map(|(_, n)| n).sum();
        let names = serde_json::to_string(&scope.names()).unwrap_or_else(|_| "[]".into());
        let content = [
            Value::Text(at),
            by.operator.clone().map_or(Value::Null, Value::Text),
            by.host.clone().map_or(Value::Null, Value::Text),
            Value::Text(names),
            Value::Integer(units as i64),
            Value::Integer(done.invalid_rows as i64),
        ];
        let mut chain = Appender::load(&tx)?;
        let seq = chain.link("purges", &content);
        tx.execute(
            "INSERT INTO purges (at, operator, host, outcomes, units, rows, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params_from_iter(content.into_iter().chain([Value::Integer(seq)])),
        )?;
        chain.save(&tx)?;
        tx.commit()?;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let case = |s: &str, want: Option<(&[Outcome], bool)>| {
            let got = PurgeScope::parse(s).ok();
            let want = want.map(|(o, invalid)| PurgeScope {
                outcomes: o.to_vec(),
                invalid,
            });
            assert_eq!(got, want, "{s}");
        };
        case(
            "rejected,failed,invalid",
            Some((&[Outcome::Rejected, Outcome::Failed], true)),
        );
        case(" invalid ", Some((&[], true)));
        case("pending,pending", Some((&[Outcome::Pending], false)));
        case("deleted", None);
        case("not_found,invalid", None);
        case("bogus", None);
        case("", None);
    }
}
