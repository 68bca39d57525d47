//! Injectable faults.

use std::fmt;
use std::str::FromStr;

/// A misbehaviour the simulator can answer with instead of processing a request.
///
/// Faults are drawn once per request, after the token check and the rate limiter. Most are
/// decided before the profile is touched: such a faulted request never deletes anything.
/// The `…-after-delete` kinds act on the delete endpoints (Webex delete, Outreach `DELETE`)
/// after the delete is done, as a real server that deleted and then lost its answer: the
/// key is gone and the client cannot know it. On the read endpoints they are the plain
/// fault of the same name (`drop`, `slow`, `500`), there being nothing to delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// HTTP 500 `{"code":500,"description":"Internal server error"}`.
    Http500,
    /// HTTP 200 `{"code":"1010","description":"The request was not processed."}`.
    Code1010,
    /// HTTP 429 code 429 (carries `Retry-After` only if the config says so).
    Code429,
    /// HTTP 499 code 499.
    Code499,
    /// Close the TCP connection without sending any answer.
    Drop,
    /// Never answer; hold the request open until the client gives up.
    Slow,
    /// HTTP 200, `application/json`, body cut mid-JSON.
    Truncated,
    /// HTTP 200 with an empty body.
    Empty,
    /// HTTP 200 `text/plain` `OK`.
    NotJson,
    /// HTTP 502 `text/html` gateway error page.
    Html502,
    /// Delete the key, then close the connection without an answer.
    DropAfterDelete,
    /// Delete the key, then never answer.
    SlowAfterDelete,
    /// Delete the key, then answer as [`Fault::Http500`].
    Http500AfterDelete,
}

impl Fault {
    /// Every fault kind.
    pub const ALL: [Fault; 13] = [
        Fault::Http500,
        Fault::Code1010,
        Fault::Code429,
        Fault::Code499,
        Fault::Drop,
        Fault::Slow,
        Fault::Truncated,
        Fault::Empty,
        Fault::NotJson,
        Fault::Html502,
        Fault::DropAfterDelete,
        Fault::SlowAfterDelete,
        Fault::Http500AfterDelete,
    ];

    /// The name accepted by [`FromStr`]: `500`, `1010`, `429`, `499`, `drop`,
    /// `slow`, `truncated`, `empty`, `notjson`, `html502`, `drop-after-delete`,
    /// `slow-after-delete`, `500-after-delete`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Http500 => "500",
            Fault::Code1010 => "1010",
            Fault::Code429 => "429",
            Fault::Code499 => "499",
            Fault::Drop => "drop",
            Fault::Slow => "slow",
            Fault::Truncated => "truncated",
            Fault::Empty => "empty",
            Fault::NotJson => "notjson",
            Fault::Html502 => "html502",
            Fault::DropAfterDelete => "drop-after-delete",
            Fault::SlowAfterDelete => "slow-after-delete",
            Fault::Http500AfterDelete => "500-after-delete",
        }
    }

    /// Whether the fault acts after the delete (see [`Fault`]).
    pub fn after_delete(self) -> bool {
        self.before_delete() != self
    }

    /// The fault answering in place of an after-delete one where nothing is deleted first;
    /// any other fault itself.
    pub fn before_delete(self) -> Fault {
        match self {
            Fault::DropAfterDelete => Fault::Drop,
            Fault::SlowAfterDelete => Fault::Slow,
            Fault::Http500AfterDelete => Fault::Http500,
            other => other,
        }
    }

    /// Whether the client gets an answer at all (not for the dropping and hanging kinds).
    pub fn answers(self) -> bool {
        !matches!(self.before_delete(), Fault::Drop | Fault::Slow)
    }

    /// The position in [`Fault::ALL`], for compact storage.
    pub(crate) fn index(self) -> u8 {
        // ALL has 13 entries; the position always fits.
        Fault::ALL
            .iter()
            .position(|&f| f == self)
            .and_then(|i| u8::try_from(i).ok())
            .unwrap_or(u8::MAX)
    }

    pub(crate) fn from_index(index: u8) -> Option<Fault> {
        Fault::ALL.get(usize::from(index)).copied()
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Fault::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown fault {wanted:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// Picks at most one fault for a uniform draw `u` in `[0, 1)`: the faults'
/// probabilities are laid end to end, so they are mutually exclusive.
pub(crate) fn pick(faults: &[(Fault, f64)], u: f64) -> Option<Fault> {
    let mut upper = 0.0;
    for &(fault, p) in faults {
        if p.is_nan() {
            continue;
        }
        upper += p.clamp(0.0, 1.0);
        if u < upper {
            return Some(fault);
        }
    }
    None
}

/// The `n`-th value of the splitmix64 sequence started at `seed`, as a uniform
/// `f64` in `[0, 1)`.
pub(crate) fn draw(seed: u64, n: u64) -> f64 {
    let mut z = seed.wrapping_add(n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    // 53 random bits -> [0, 1); the conversion is exact.
    (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Fault::ALL {
            assert_eq!(f.name().parse::<Fault>(), Ok(f));
        }
        assert_eq!("DROP".parse::<Fault>(), Ok(Fault::Drop));
        assert!("nope".parse::<Fault>().is_err());
        for (i, f) in Fault::ALL.into_iter().enumerate() {
            assert_eq!(Fault::from_index(f.index()), Some(f));
            assert_eq!(usize::from(f.index()), i);
        }
    }

    #[test]
    fn after_delete_kinds_fall_back_to_their_plain_fault() {
        let after: Vec<Fault> = Fault::ALL
            .into_iter()
            .filter(|f| f.after_delete())
            .collect();
        assert_eq!(
            after,
            [
                Fault::DropAfterDelete,
                Fault::SlowAfterDelete,
                Fault::Http500AfterDelete
            ]
        );
        assert_eq!(Fault::DropAfterDelete.before_delete(), Fault::Drop);
        assert_eq!(Fault::Http500AfterDelete.before_delete(), Fault::Http500);
        assert!(!Fault::SlowAfterDelete.answers() && !Fault::Drop.answers());
        assert!(Fault::Http500AfterDelete.answers() && Fault::Empty.answers());
    }

    #[test]
    fn pick_is_exclusive_and_bounded() {
        let faults = [(Fault::Drop, 0.25), (Fault::Slow, 0.25)];
        assert_eq!(pick(&faults, 0.1), Some(Fault::Drop));
        assert_eq!(pick(&faults, 0.3), Some(Fault::Slow));
        assert_eq!(pick(&faults, 0.6), None);
        assert_eq!(pick(&[(Fault::Empty, 1.0)], 0.999_999), Some(Fault::Empty));
        assert_eq!(pick(&[(Fault::Empty, 0.0)], 0.0), None);
    }

    #[test]
    fn draws_are_uniform_enough() {
        let n = 100_000;
        let below: usize = (0..n).filter(|&i| draw(7, i) < 0.1).count();
        assert!((9_000..11_000).contains(&below), "{below}");
        assert!((0..1000).all(|i| (0.0..1.0).contains(&draw(1, i))));
    }
}
