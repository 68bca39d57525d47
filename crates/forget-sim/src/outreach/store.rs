//! The simulated Outreach tenant's records: what the JSON:API endpoints in
//! [`crate::outreach`] list, read and delete.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};

use super::{DEFAULT_RESOURCE, PREFIX};
use crate::history::{Answer, DeleteRequest, KeyCounters, KeyHistory};
use crate::profiles::Step;

/// One collection the simulator serves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutreachCollection {
    /// The collection name in the path, e.g. `callPurposes`.
    pub resource: String,
    /// `(id, attributes)`; attributes should be a JSON object.
    pub records: Vec<(i64, Value)>,
    /// Ids whose delete is refused with a 422 error document (the record stays).
    pub undeletable: Vec<i64>,
}

impl OutreachCollection {
    pub fn new(resource: impl Into<String>, records: Vec<(i64, Value)>) -> Self {
        OutreachCollection {
            resource: resource.into(),
            records,
            undeletable: Vec::new(),
        }
    }
}

/// `n` call purposes with ids `1..=n`, as the sample tenant holds them (deterministic).
pub fn sample_call_purposes(n: usize) -> Vec<(i64, Value)> {
    const NAMES: [&str; 8] = [
        "Initial Contact",
        "Follow-up",
        "Discovery",
        "Demo",
        "Negotiation",
        "Renewal",
        "Support",
        "Referral",
    ];
    (1..=n)
        .map(|i| {
            let round = (i - 1) / NAMES.len();
            let base = NAMES[(i - 1) % NAMES.len()];
            let name = if round == 0 {
                base.to_owned()
            } else {
                format!("{base} {}", round + 1)
            };
            let day = (i - 1) % 28 + 1;
            let attributes = json!({
                "name": name,
                "order": i,
                "createdAt": format!("2024-01-{day:02}T09:00:00.000Z"),
                "updatedAt": format!("2024-02-{day:02}T17:30:00.000Z"),
            });
            (i as i64, attributes)
        })
        .collect()
}

/// Records from a CSV with an `id` column, every other column an attribute (string values):
/// what `forget list` writes.
pub fn read_records(path: &Path) -> Result<Vec<(i64, Value)>, String> {
    // Ragged rows are read as they come: a short row just has fewer attributes.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .map_err(|e| e.to_string())?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
        .collect();
    let id_column = headers
        .iter()
        .position(|h| h.eq_ignore_ascii_case("id"))
        .ok_or("no `id` column")?;
    let mut records = Vec::new();
    for (n, row) in reader.records().enumerate() {
        let row = row.map_err(|e| e.to_string())?;
        let id_text = row.get(id_column).unwrap_or_default().trim();
        let id = id_text
            .parse::<i64>()
            .map_err(|_| format!("row {}: id {id_text:?} is not an integer", n + 1))?;
        let attributes: serde_json::Map<String, Value> = headers
            .iter()
            .zip(row.iter())
            .enumerate()
            .filter(|(i, _)| *i != id_column)
            .map(|(_, (h, v))| (h.clone(), Value::String(v.to_owned())))
            .collect();
        records.push((id, Value::Object(attributes)));
    }
    Ok(records)
}

/// A record, or an id only ever asked for (not held, kept for its delete history).
struct Record {
    attributes: Value,
    undeletable: bool,
    history: KeyHistory,
}

impl Record {
    fn held(&self) -> bool {
        self.history.is_held()
    }
}

type Collection = Mutex<BTreeMap<i64, Record>>;

/// What a delete [`Step`] came to.
pub(super) enum Delete {
    Deleted,
    NotFound,
    Undeletable,
    /// Answered as the step said; `deleted` if an after-delete fault deleted it first.
    Refused {
        deleted: bool,
    },
}

/// The simulated Outreach tenant.
pub(crate) struct Store {
    collections: HashMap<String, Collection>,
    pub(super) next_base: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    pub(crate) fn new(collections: Vec<OutreachCollection>, next_base: Option<String>) -> Store {
        let mut map: HashMap<String, BTreeMap<i64, Record>> = HashMap::new();
        map.entry(DEFAULT_RESOURCE.to_owned()).or_default();
        for c in collections {
            let records = map.entry(c.resource).or_default();
            for (id, attributes) in c.records {
                records.insert(
                    id,
                    Record {
                        attributes,
                        undeletable: false,
                        history: KeyHistory::held(),
                    },
                );
            }
            for id in c.undeletable {
                if let Some(r) = records.get_mut(&id) {
                    r.undeletable = true;
                }
            }
        }
        Store {
            collections: map
                .into_iter()
                .map(|(name, records)| (name, Mutex::new(records)))
                .collect(),
            next_base: next_base.map(|b| b.trim_end_matches('/').to_owned()),
        }
    }

    /// Held records after `after`, at most `size`, whether more remain, and how many are held.
    pub(super) fn page(
        &self,
        resource: &str,
        after: Option<i64>,
        size: usize,
    ) -> (Vec<(i64, Value)>, bool, usize) {
        let Some(collection) = self.collections.get(resource) else {
            return (Vec::new(), false, 0);
        };
        let records = lock(collection);
        let total = records.values().filter(|r| r.held()).count();
        let from = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        let mut held = records
            .range((from, std::ops::Bound::Unbounded))
            .filter(|(_, r)| r.held())
            .map(|(id, r)| (*id, r.attributes.clone()));
        let page: Vec<_> = held.by_ref().take(size).collect();
        let more = held.next().is_some();
        (page, more, total)
    }

    pub(super) fn get(&self, resource: &str, id: i64) -> Option<Value> {
        let records = lock(self.collections.get(resource)?);
        records
            .get(&id)
            .filter(|r| r.held())
            .map(|r| r.attributes.clone())
    }

    /// Whether `resource` names a collection.
    pub(super) fn serves(&self, resource: &str) -> bool {
        self.collections.contains_key(resource)
    }

    pub(super) fn holds(&self, resource: &str, id: i64) -> bool {
        self.collections
            .get(resource)
            .is_some_and(|c| lock(c).get(&id).is_some_and(|r| r.held()))
    }

    pub(super) fn delete_count(&self, resource: &str, id: i64) -> u64 {
        self.collections
            .get(resource)
            .and_then(|c| lock(c).get(&id).map(|r| r.history.deletes()))
            .unwrap_or(0)
    }

    pub(super) fn remaining(&self, resource: &str) -> usize {
        self.collections
            .get(resource)
            .map_or(0, |c| lock(c).values().filter(|r| r.held()).count())
    }

    /// Applies `step` to record `id` and records the answer in its history (`delivered`:
    /// the answer reaches the connection now). `None` if `resource` is not served.
    pub(super) fn request(
        &self,
        resource: &str,
        id: i64,
        step: Step,
        delivered: bool,
        counters: &KeyCounters,
    ) -> Option<(Delete, u64)> {
        let mut records = lock(self.collections.get(resource)?);
        let record = records.entry(id).or_insert_with(|| Record {
            attributes: Value::Null,
            undeletable: false,
            history: KeyHistory::default(),
        });
        let (outcome, answer) = match step {
            Step::Refuse(answer) => (Delete::Refused { deleted: false }, answer),
            Step::Delete { then } if record.held() && record.undeletable => match then {
                None => (Delete::Undeletable, Answer::Rejected),
                Some(f) => (Delete::Refused { deleted: false }, Answer::Fault(f)),
            },
            Step::Delete { then } => match (record.history.take(), then) {
                (true, None) => (Delete::Deleted, Answer::Deleted),
                (false, None) => (Delete::NotFound, Answer::NotFound),
                (true, Some(f)) => (
                    Delete::Refused { deleted: true },
                    Answer::FaultAfterDelete(f),
                ),
                (false, Some(f)) => (Delete::Refused { deleted: false }, Answer::Fault(f)),
            },
        };
        let index = record.history.record(answer, delivered, counters);
        Some((outcome, index))
    }

    pub(crate) fn deliver(&self, resource: &str, id: i64, index: u64) {
        if let Some(collection) = self.collections.get(resource)
            && let Some(record) = lock(collection).get_mut(&id)
        {
            record.history.deliver(index);
        }
    }

    pub(super) fn history(&self, resource: &str, id: i64) -> Vec<DeleteRequest> {
        self.collections
            .get(resource)
            .and_then(|c| lock(c).get(&id).map(|r| r.history.entries()))
            .unwrap_or_default()
    }

    /// `("/api/v2/{resource}", id)` of every record sent again after a delivered final answer.
    pub(crate) fn resent_without_cause(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for (resource, records) in &self.collections {
            found.extend(
                lock(records)
                    .iter()
                    .filter(|(_, r)| r.history.resent_without_cause())
                    .map(|(id, _)| (format!("{PREFIX}{resource}"), id.to_string())),
            );
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_records_are_deterministic_and_named() {
        let a = sample_call_purposes(10);
        assert_eq!(a, sample_call_purposes(10));
        assert_eq!(a[0].0, 1);
        assert_eq!(a[0].1["name"], "Initial Contact");
        assert_eq!(a[8].1["name"], "Initial Contact 2");
    }

    #[test]
    fn pages_skip_deleted_records_and_say_whether_more_remain() {
        let store = Store::new(
            vec![OutreachCollection::new(
                "callPurposes",
                sample_call_purposes(5),
            )],
            None,
        );
        let c = KeyCounters::default();
        let delete = |id| {
            let step = Step::Delete { then: None };
            store
                .request("callPurposes", id, step, true, &c)
                .map(|d| d.0)
        };
        assert!(matches!(delete(2), Some(Delete::Deleted)));
        assert!(matches!(delete(2), Some(Delete::NotFound)));
        // An id never held gets a history, not a place in the pages.
        assert!(matches!(delete(99), Some(Delete::NotFound)));
        assert_eq!(store.history("callPurposes", 99).len(), 1);
        assert!(
            store
                .request("nothing", 1, Step::Delete { then: None }, true, &c)
                .is_none()
        );
        let ids = |(page, more, total): (Vec<(i64, Value)>, bool, usize)| {
            (
                page.into_iter().map(|(id, _)| id).collect::<Vec<_>>(),
                more,
                total,
            )
        };
        assert_eq!(
            ids(store.page("callPurposes", None, 2)),
            (vec![1, 3], true, 4)
        );
        assert_eq!(
            ids(store.page("callPurposes", Some(3), 2)),
            (vec![4, 5], false, 4)
        );
        assert_eq!(
            ids(store.page("callPurposes", Some(5), 2)),
            (vec![], false, 4)
        );
    }
}
