//! `--rate`: the send rate a user asks for, in requests per second, or `unlimited`.

/// `--rate`: a number of requests per second, or `unlimited`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate(pub Option<f64>);

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("unlimited") {
            return Ok(Rate(None));
        }
        match s.parse::<f64>() {
            // Once read as "no limit": against a real tenant that is a flood.
            Ok(0.0) => Err(
                "a rate of 0 would send nothing: give requests per second (e.g. 10), or \
                 `unlimited` (allowed against a local simulator, or with --allow-unlimited)"
                    .into(),
            ),
            Ok(r) if r.is_finite() && r > 0.0 => Ok(Rate(Some(r))),
            _ => Err(format!(
                "`{s}` is not a rate: give requests per second (e.g. 10, 0.5) or `unlimited`"
            )),
        }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(r) => write!(f, "{r}/s"),
            None => f.write_str("unlimited"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        let case = |s: &str, want: Option<Rate>| assert_eq!(s.parse::<Rate>().ok(), want, "{s}");
        case("10", Some(Rate(Some(10.0))));
        case("0.5", Some(Rate(Some(0.5))));
        case("unlimited", Some(Rate(None)));
        case("0", None);
        case("0.0", None);
        case("-1", None);
        case("fast", None);
        case("NaN", None);
    }
}
