//! What every delete request for a key got, in arrival order, whatever the answer.
//!
//! This is what lets a test prove "exactly once": a deletion count alone cannot exceed 1
//! (nothing puts a key back), so it passes whatever the client does. A client may send a
//! key again only while every answer it has read for it left the key's fate open (a 429, a
//! fault, a 401, an answer it never got); [`SimStats`](crate::SimStats) counts the requests
//! that break this, and [`Sim::keys_resent_without_cause`](crate::Sim) names their keys.
//!
//! The bench sends a million keys through one simulator, so a key's history is 16 bytes in
//! place (six answers), moving to the heap only for a key asked more often than that.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::fault::Fault;

/// What one delete request for a key got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Answer {
    /// Deleted: a `transaction-id` (Webex) or 204 (Outreach).
    Deleted,
    /// Not held: 1020 (Webex) or a 404 error document (Outreach).
    NotFound,
    /// Refused for good: 102 unknown profile (Webex), 422 undeletable (Outreach).
    Rejected,
    /// 429 from the rate limiter.
    Throttled,
    /// 401: a bad or expired token.
    Unauthorized,
    /// An injected fault instead of processing; nothing was deleted. (An after-delete
    /// fault drawn for a key no longer held shows here too: it deleted nothing.)
    Fault(Fault),
    /// The key was deleted, then the after-delete fault answered (or did not answer).
    FaultAfterDelete(Fault),
}

impl Answer {
    /// Whether a client that reads this answer knows the key's fate: deleted, not there,
    /// or refused for good. Every other answer is retryable or ambiguous.
    pub fn is_final(self) -> bool {
        matches!(self, Answer::Deleted | Answer::NotFound | Answer::Rejected)
    }

    /// Whether the request removed the key.
    pub fn deleted(self) -> bool {
        matches!(self, Answer::Deleted | Answer::FaultAfterDelete(_))
    }

    fn code(self) -> u8 {
        match self {
            Answer::Deleted => 0,
            Answer::NotFound => 1,
            Answer::Rejected => 2,
            Answer::Throttled => 3,
            Answer::Unauthorized => 4,
            Answer::Fault(f) => FAULT + f.index(),
            Answer::FaultAfterDelete(f) => FAULT_AFTER_DELETE + f.index(),
        }
    }

    fn from_code(code: u8) -> Option<Answer> {
        let code = code & !DELIVERED;
        Some(match code {
            0 => Answer::Deleted,
            1 => Answer::NotFound,
            2 => Answer::Rejected,
            3 => Answer::Throttled,
            4 => Answer::Unauthorized,
            FAULT_AFTER_DELETE.. => {
                Answer::FaultAfterDelete(Fault::from_index(code - FAULT_AFTER_DELETE)?)
            }
            FAULT.. => Answer::Fault(Fault::from_index(code - FAULT)?),
            _ => return None,
        })
    }
}

/// One delete request for a key and what it got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeleteRequest {
    pub answer: Answer,
    /// Whether the answer was handed to the connection. A dropped or hung request's was
    /// not, nor was one whose client gave up while the configured latency ran.
    pub delivered: bool,
}

impl DeleteRequest {
    /// Whether sending the key again after this request is justified: unless its answer
    /// was delivered and final.
    pub fn leaves_cause_to_resend(self) -> bool {
        !(self.delivered && self.answer.is_final())
    }
}

const DELIVERED: u8 = 0x80;
const FAULT: u8 = 16;
const FAULT_AFTER_DELETE: u8 = 48;

const HELD: u8 = 1;
const FINAL_DELIVERED: u8 = 2;
const RESENT_WITHOUT_CAUSE: u8 = 4;
const WAS_DELETED: u8 = 8;

/// Answers kept in place.
const INLINE: usize = 6;
/// Answers kept per key: a load generator hammering one key must not grow memory per
/// request. Later requests are still counted, and judged against the last answer.
pub const KEPT: usize = 4096;

/// The counters histories feed (part of the simulator's counters).
#[derive(Default)]
pub(crate) struct KeyCounters {
    pub max_deletes_per_key: AtomicU64,
    pub max_requests_per_key: AtomicU64,
    pub resent_after_final: AtomicU64,
    pub resent_without_cause: AtomicU64,
}

/// A key's state: held or not, and its delete requests. 16 bytes until it spills.
#[derive(Default)]
pub(crate) struct KeyHistory {
    flags: u8,
    len: u8,
    inline: [u8; INLINE],
    spill: Option<Box<Spill>>,
}

struct Spill {
    codes: Vec<u8>,
    requests: u64,
    last: u8,
}

impl KeyHistory {
    /// A key the store holds.
    pub fn held() -> KeyHistory {
        KeyHistory {
            flags: HELD,
            ..KeyHistory::default()
        }
    }

    pub fn is_held(&self) -> bool {
        self.flags & HELD != 0
    }

    /// Removes the key; false if it was not held.
    pub fn take(&mut self) -> bool {
        let held = self.is_held();
        if held {
            self.flags = (self.flags & !HELD) | WAS_DELETED;
        }
        held
    }

    /// How many times the key was deleted: 0 or 1, as nothing puts a key back.
    pub fn deletes(&self) -> u64 {
        u64::from(self.flags & WAS_DELETED != 0)
    }

    pub fn requests(&self) -> u64 {
        self.spill
            .as_ref()
            .map_or(u64::from(self.len), |s| s.requests)
    }

    /// Whether some request for this key came after a delivered final answer.
    pub fn resent_without_cause(&self) -> bool {
        self.flags & RESENT_WITHOUT_CAUSE != 0
    }

    fn last(&self) -> Option<u8> {
        match &self.spill {
            Some(s) => Some(s.last),
            None => self.len.checked_sub(1).map(|i| self.inline[usize::from(i)]),
        }
    }

    /// Records a request's answer; returns its index, for [`KeyHistory::deliver`].
    pub fn record(&mut self, answer: Answer, delivered: bool, counters: &KeyCounters) -> u64 {
        let before = self.requests();
        if before > 0 {
            if self.flags & FINAL_DELIVERED != 0 {
                counters.resent_after_final.fetch_add(1, Relaxed);
            }
            let previous = self.last().and_then(request_of);
            if previous.is_some_and(|p| !p.leaves_cause_to_resend()) {
                counters.resent_without_cause.fetch_add(1, Relaxed);
                self.flags |= RESENT_WITHOUT_CAUSE;
            }
        }
        let code = answer.code() | if delivered { DELIVERED } else { 0 };
        self.push(code);
        if delivered && answer.is_final() {
            self.flags |= FINAL_DELIVERED;
        }
        if answer.deleted() {
            counters
                .max_deletes_per_key
                .fetch_max(self.deletes(), Relaxed);
        }
        counters.max_requests_per_key.fetch_max(before + 1, Relaxed);
        before
    }

    fn push(&mut self, code: u8) {
        match &mut self.spill {
            Some(spill) => {
                spill.requests += 1;
                spill.last = code;
                if spill.codes.len() < KEPT {
                    spill.codes.push(code);
                }
            }
            None if usize::from(self.len) < INLINE => {
                self.inline[usize::from(self.len)] = code;
                self.len += 1;
            }
            None => {
                let mut codes = Vec::with_capacity(INLINE * 4);
                codes.extend_from_slice(&self.inline[..usize::from(self.len)]);
                codes.push(code);
                self.spill = Some(Box::new(Spill {
                    requests: codes.len() as u64,
                    codes,
                    last: code,
                }));
            }
        }
    }

    /// Marks request `index`'s answer as handed to the connection (after the configured
    /// latency: it was recorded undelivered in case the client went away meanwhile).
    pub fn deliver(&mut self, index: u64) {
        let requests = self.requests();
        let mut answer = None;
        match &mut self.spill {
            Some(spill) => {
                if let Some(code) = usize::try_from(index)
                    .ok()
                    .and_then(|i| spill.codes.get_mut(i))
                {
                    *code |= DELIVERED;
                    answer = decode(*code);
                }
                if index + 1 == requests {
                    spill.last |= DELIVERED;
                    answer = decode(spill.last);
                }
            }
            None => {
                if let Some(code) = usize::try_from(index)
                    .ok()
                    .filter(|&i| i < usize::from(self.len))
                    .and_then(|i| self.inline.get_mut(i))
                {
                    *code |= DELIVERED;
                    answer = decode(*code);
                }
            }
        }
        if answer.is_some_and(Answer::is_final) {
            self.flags |= FINAL_DELIVERED;
        }
    }

    /// The kept requests, oldest first (at most [`KEPT`]).
    pub fn entries(&self) -> Vec<DeleteRequest> {
        let codes = match &self.spill {
            Some(spill) => &spill.codes[..],
            None => &self.inline[..usize::from(self.len)],
        };
        codes.iter().copied().filter_map(request_of).collect()
    }
}

fn decode(code: u8) -> Option<Answer> {
    Answer::from_code(code)
}

fn request_of(code: u8) -> Option<DeleteRequest> {
    Some(DeleteRequest {
        answer: decode(code)?,
        delivered: code & DELIVERED != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(answer: Answer) -> DeleteRequest {
        DeleteRequest {
            answer,
            delivered: true,
        }
    }

    #[test]
    fn a_history_is_sixteen_bytes_in_place() {
        assert_eq!(std::mem::size_of::<KeyHistory>(), 16);
    }

    #[test]
    fn answers_round_trip_through_their_codes() {
        let mut all = vec![
            Answer::Deleted,
            Answer::NotFound,
            Answer::Rejected,
            Answer::Throttled,
            Answer::Unauthorized,
        ];
        for f in Fault::ALL {
            all.push(Answer::Fault(f));
            all.push(Answer::FaultAfterDelete(f));
        }
        for a in all {
            assert_eq!(Answer::from_code(a.code()), Some(a), "{a:?}");
            assert_eq!(Answer::from_code(a.code() | DELIVERED), Some(a), "{a:?}");
        }
    }

    #[test]
    fn counts_resends_after_final_answers_only() {
        let c = KeyCounters::default();
        let mut h = KeyHistory::held();
        h.record(Answer::Throttled, true, &c);
        h.record(Answer::Fault(Fault::Drop), false, &c);
        assert!(h.take());
        h.record(
            Answer::FaultAfterDelete(Fault::Http500AfterDelete),
            true,
            &c,
        );
        h.record(Answer::NotFound, true, &c);
        assert_eq!(c.resent_after_final.load(Relaxed), 0);
        assert_eq!(c.resent_without_cause.load(Relaxed), 0);
        assert!(!h.resent_without_cause());
        // 1020 was delivered: the key's fate is known. Two requests follow a final answer
        // directly; the last follows a 429, but still comes after a final answer.
        h.record(Answer::NotFound, true, &c);
        h.record(Answer::Throttled, true, &c);
        h.record(Answer::NotFound, true, &c);
        assert_eq!(c.resent_after_final.load(Relaxed), 3);
        assert_eq!(c.resent_without_cause.load(Relaxed), 2);
        assert!(h.resent_without_cause());
        assert_eq!(c.max_requests_per_key.load(Relaxed), 7);
        assert_eq!(c.max_deletes_per_key.load(Relaxed), 1);
        assert_eq!(h.deletes(), 1);
        assert_eq!(h.entries().len(), 7);
        assert_eq!(h.entries()[3], ok(Answer::NotFound));
        assert!(!h.entries()[1].delivered);
    }

    #[test]
    fn a_final_answer_counts_once_it_is_delivered() {
        let c = KeyCounters::default();
        let mut h = KeyHistory::held();
        h.take();
        let i = h.record(Answer::Deleted, false, &c);
        h.deliver(i);
        h.record(Answer::NotFound, true, &c);
        assert_eq!(c.resent_without_cause.load(Relaxed), 1);
        assert_eq!(h.entries(), [ok(Answer::Deleted), ok(Answer::NotFound)]);

        // Undelivered (the client went away during the latency): a resend is justified.
        let c = KeyCounters::default();
        let mut h = KeyHistory::held();
        h.take();
        h.record(Answer::Deleted, false, &c);
        h.record(Answer::NotFound, true, &c);
        assert_eq!(c.resent_after_final.load(Relaxed), 0);
        assert_eq!(c.resent_without_cause.load(Relaxed), 0);
    }

    #[test]
    fn long_histories_spill_then_stop_growing() {
        let c = KeyCounters::default();
        let mut h = KeyHistory::held();
        let n = KEPT as u64 + 10;
        for i in 0..n {
            assert_eq!(h.record(Answer::Throttled, true, &c), i);
        }
        assert_eq!(h.requests(), n);
        assert_eq!(h.entries().len(), KEPT);
        assert_eq!(c.max_requests_per_key.load(Relaxed), n);
        // The last answer is still judged, beyond what is kept.
        h.take();
        let i = h.record(Answer::Deleted, false, &c);
        h.deliver(i);
        h.record(Answer::NotFound, true, &c);
        assert_eq!(c.resent_without_cause.load(Relaxed), 1);
        assert_eq!(h.deletes(), 1);
    }
}
