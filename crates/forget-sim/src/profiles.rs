//! The Webex profiles: which keys each holds, and every delete request for each key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::fault::Fault;
use crate::history::{Answer, DeleteRequest, KeyCounters, KeyHistory};

/// What the simulator does with one delete request for a key.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Step {
    /// Answers without processing it (401, 429, a fault drawn before the delete).
    Refuse(Answer),
    /// Processes it; then, if `then` is an after-delete fault, answers with that instead.
    Delete { then: Option<Fault> },
}

/// What a [`Step`] came to.
pub(crate) enum Outcome {
    /// Deleted; the transaction id to answer with.
    Deleted(u64),
    /// The key is not (or no longer) held.
    NotFound,
    /// The named profile does not exist.
    UnknownProfile,
    /// Answered as the step said; `deleted` if an after-delete fault deleted the key first.
    Refused { deleted: bool },
}

type Keys = HashMap<String, KeyHistory>;

pub(crate) struct Profiles {
    default: String,
    loaded: HashMap<String, Mutex<Keys>>,
    /// Keys asked of profiles that do not exist (answered 102), for their histories.
    unknown: Mutex<HashMap<String, Keys>>,
    remaining: AtomicUsize,
    transactions: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `f` on `key`'s history, creating an empty one (not held) for a key never seen: a
/// key that was never held still has requests to count.
fn with_key<R>(keys: &mut Keys, key: &str, f: impl FnOnce(&mut KeyHistory) -> R) -> R {
    if let Some(history) = keys.get_mut(key) {
        return f(history);
    }
    f(keys.entry(key.to_owned()).or_default())
}

impl Profiles {
    /// The default profile always exists (possibly empty).
    pub fn new(default: String, profiles: Vec<(String, Vec<String>)>) -> Profiles {
        let mut loaded: HashMap<String, Keys> = HashMap::new();
        loaded.entry(default.clone()).or_default();
        for (name, keys) in profiles {
            let profile = loaded.entry(name).or_default();
            profile.reserve(keys.len());
            for key in keys {
                profile.insert(key, KeyHistory::held());
            }
        }
        let remaining = loaded.values().map(HashMap::len).sum();
        Profiles {
            default,
            loaded: loaded
                .into_iter()
                .map(|(name, keys)| (name, Mutex::new(keys)))
                .collect(),
            unknown: Mutex::new(HashMap::new()),
            remaining: AtomicUsize::new(remaining),
            transactions: AtomicU64::new(0),
        }
    }

    pub fn count(&self) -> usize {
        self.loaded.len()
    }

    pub fn remaining(&self) -> usize {
        self.remaining.load(Relaxed)
    }

    /// The profile a request names, or the default.
    pub fn name<'a>(&'a self, profile: Option<&'a str>) -> &'a str {
        profile.unwrap_or(&self.default)
    }

    /// Applies `step` to `key` of `profile` and records the answer in the key's history
    /// (`delivered`: the answer reaches the connection now). Returns the outcome and the
    /// request's index in the history.
    pub fn request(
        &self,
        profile: &str,
        key: &str,
        step: Step,
        delivered: bool,
        counters: &KeyCounters,
    ) -> (Outcome, u64) {
        let Some(keys) = self.loaded.get(profile) else {
            let mut unknown = lock(&self.unknown);
            let keys = unknown.entry(profile.to_owned()).or_default();
            return with_key(keys, key, |history| {
                let (outcome, answer) = match step {
                    Step::Refuse(answer) => (Outcome::Refused { deleted: false }, answer),
                    Step::Delete { then: None } => (Outcome::UnknownProfile, Answer::Rejected),
                    Step::Delete { then: Some(f) } => {
                        (Outcome::Refused { deleted: false }, Answer::Fault(f))
                    }
                };
                (outcome, history.record(answer, delivered, counters))
            });
        };
        let mut keys = lock(keys);
        with_key(&mut keys, key, |history| {
            let (outcome, answer) = match step {
                Step::Refuse(answer) => (Outcome::Refused { deleted: false }, answer),
                Step::Delete { then } => match (history.take(), then) {
                    (true, None) => {
                        let txn = self.transactions.fetch_add(1, Relaxed) + 1;
                        (Outcome::Deleted(txn), Answer::Deleted)
                    }
                    (false, None) => (Outcome::NotFound, Answer::NotFound),
                    (true, Some(f)) => (
                        Outcome::Refused { deleted: true },
                        Answer::FaultAfterDelete(f),
                    ),
                    (false, Some(f)) => (Outcome::Refused { deleted: false }, Answer::Fault(f)),
                },
            };
            if answer.deleted() {
                self.remaining.fetch_sub(1, Relaxed);
            }
            (outcome, history.record(answer, delivered, counters))
        })
    }

    /// Marks request `index` of `key` as answered (see [`KeyHistory::deliver`]).
    pub fn deliver(&self, profile: &str, key: &str, index: u64) {
        match self.loaded.get(profile) {
            Some(keys) => {
                if let Some(history) = lock(keys).get_mut(key) {
                    history.deliver(index);
                }
            }
            None => {
                if let Some(history) = lock(&self.unknown)
                    .get_mut(profile)
                    .and_then(|keys| keys.get_mut(key))
                {
                    history.deliver(index);
                }
            }
        }
    }

    /// Runs `f` on `key`'s history, if the key was ever held or asked for.
    pub fn inspect<R>(
        &self,
        profile: &str,
        key: &str,
        f: impl FnOnce(&KeyHistory) -> R,
    ) -> Option<R> {
        match self.loaded.get(profile) {
            Some(keys) => lock(keys).get(key).map(f),
            None => lock(&self.unknown).get(profile)?.get(key).map(f),
        }
    }

    pub fn history(&self, profile: &str, key: &str) -> Vec<DeleteRequest> {
        self.inspect(profile, key, KeyHistory::entries)
            .unwrap_or_default()
    }

    /// `(profile, key)` of every key sent again after a delivered final answer.
    pub fn resent_without_cause(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let mut collect = |profile: &str, keys: &Keys| {
            found.extend(
                keys.iter()
                    .filter(|(_, h)| h.resent_without_cause())
                    .map(|(key, _)| (profile.to_owned(), key.clone())),
            );
        };
        for (profile, keys) in &self.loaded {
            collect(profile, &lock(keys));
        }
        for (profile, keys) in lock(&self.unknown).iter() {
            collect(profile, keys);
        }
        found
    }
}
