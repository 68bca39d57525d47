//! What an access export asks: the subject's kind, how many transactions, the window and
//! the channel, checked before anything is sent and stored as the unit's scope.

use std::str::FromStr;

use serde_json::{Map, Value, json};

use super::MAX_COUNT;
use crate::error::{Error, Result};

/// `--channel`: the request's channel names, with the response's channel codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Sms,
    Mms,
    Ussd,
    Obd,
    Email,
    App,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Sms,
        Channel::Mms,
        Channel::Ussd,
        Channel::Obd,
        Channel::Email,
        Channel::App,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "SMS",
            Channel::Mms => "MMS",
            Channel::Ussd => "USSD",
            Channel::Obd => "OBD",
            Channel::Email => "EMAIL",
            Channel::App => "APP",
        }
    }

    /// The response's `channel` code: 0-SMS 1-MMS 3-USSD 6-OBD 7-EMAIL 8-APP.
    pub fn code(self) -> u8 {
        match self {
            Channel::Sms => 0,
            Channel::Mms => 1,
            Channel::Ussd => 3,
            Channel::Obd => 6,
            Channel::Email => 7,
            Channel::App => 8,
        }
    }

    pub fn from_code(code: &str) -> Option<Channel> {
        let code: u8 = code.trim().parse().ok()?;
        Channel::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl FromStr for Channel {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let wanted = s.trim();
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                format!("`{wanted}` is not a channel: give one of SMS, MMS, USSD, OBD, APP, EMAIL")
            })
    }
}

/// Which query parameter carries the subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// MSISDN, e-mail or app device id.
    Key,
    CustomerId,
}

impl Subject {
    pub fn param(self) -> &'static str {
        match self {
            Subject::Key => "key",
            Subject::CustomerId => "customer-id",
        }
    }
}

/// One export request's query, apart from the subject. Stored as the unit's scope, so a
/// resumed run asks exactly what was first asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub subject: Subject,
    pub count: u8,
    pub from: Option<String>,
    pub to: Option<String>,
    pub channel: Option<Channel>,
    pub message_preview: bool,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            subject: Subject::Key,
            count: MAX_COUNT,
            from: None,
            to: None,
            channel: None,
            message_preview: false,
        }
    }
}

/// `yyyy-MM-dd`, a real date.
pub fn parse_date(flag: &str, s: &str) -> Result<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s.trim(), &format)
        .map(|_| s.trim().to_owned())
        .map_err(|_| {
            Error::usage(format!(
                "{flag} {s}: expected a date as yyyy-MM-dd, e.g. 2026-01-31"
            ))
        })
}

impl Query {
    /// Check the limits the API documents.
    pub fn validate(&self) -> Result<()> {
        if self.count == 0 {
            return Err(Error::usage("--count must be at least 1"));
        }
        if self.count > MAX_COUNT {
            return Err(Error::usage(format!(
                "--count {}: the API returns at most {MAX_COUNT} transactions per subject; give 1 to {MAX_COUNT}",
                self.count
            )));
        }
        if let (Some(from), Some(to)) = (&self.from, &self.to)
            && from > to
        {
            return Err(Error::usage(format!("--from {from} is after --to {to}")));
        }
        Ok(())
    }

    /// The query parameters after the subject's, in a fixed order.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![("count", self.count.to_string())];
        if let Some(from) = &self.from {
            p.push(("from-date", from.clone()));
        }
        if let Some(to) = &self.to {
            p.push(("to-date", to.clone()));
        }
        if let Some(channel) = self.channel {
            p.push(("channel", channel.as_str().to_owned()));
        }
        if self.message_preview {
            p.push(("message_preview", "true".to_owned()));
        }
        p
    }

    /// The unit scope: `key?count=50&channel=SMS`, `customer-id?count=10`.
    pub fn scope(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in self.params() {
            query.append_pair(name, &value);
        }
        format!("{}?{}", self.subject.param(), query.finish())
    }

    /// Read a scope back (`None` if it is not one).
    pub fn from_scope(scope: &str) -> Option<Query> {
        let (subject, rest) = scope.split_once('?')?;
        let subject = match subject {
            "key" => Subject::Key,
            "customer-id" => Subject::CustomerId,
            _ => return None,
        };
        let mut q = Query {
            subject,
            ..Query::default()
        };
        for (name, value) in url::form_urlencoded::parse(rest.as_bytes()) {
            match name.as_ref() {
                "count" => q.count = value.parse().ok()?,
                "from-date" => q.from = Some(value.into_owned()),
                "to-date" => q.to = Some(value.into_owned()),
                "channel" => q.channel = Some(value.parse().ok()?),
                "message_preview" => q.message_preview = value == "true",
                _ => return None,
            }
        }
        Some(q)
    }

    /// As the document records it.
    pub(super) fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("by".into(), json!(self.subject.param()));
        for (name, value) in self.params() {
            let v = match name {
                "count" => json!(self.count),
                "message_preview" => json!(true),
                _ => json!(value),
            };
            map.insert(name.into(), v);
        }
        Value::Object(map)
    }
}

fn looks_like_msisdn(key: &str) -> bool {
    let digits = key.chars().filter(char::is_ascii_digit).count();
    (6..=15).contains(&digits)
        && key
            .chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || (i == 0 && c == '+') || " -().".contains(c))
}

/// The row check for a query: the document says an e-mail id cannot fetch SMS or MMS
/// transactions and an MSISDN cannot fetch e-mail ones, so such rows are invalid before
/// anything is sent.
pub fn key_rule(query: &Query) -> fn(&str) -> std::result::Result<(), String> {
    match (query.subject, query.channel) {
        (Subject::Key, Some(Channel::Sms | Channel::Mms)) => |key| {
            if key.contains('@') {
                Err(
                    "an e-mail address cannot fetch SMS or MMS transactions (the API matches \
                     them by MSISDN): use --channel EMAIL, or no --channel, for this row"
                        .into(),
                )
            } else {
                Ok(())
            }
        },
        (Subject::Key, Some(Channel::Email)) => |key| {
            if looks_like_msisdn(key) {
                Err(
                    "an MSISDN cannot fetch EMAIL transactions (the API matches them by \
                     e-mail address): use another --channel, or none, for this row"
                        .into(),
                )
            } else {
                Ok(())
            }
        },
        _ => |_| Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip() {
        let case = |q: Query, want: &str| {
            assert_eq!(q.scope(), want);
            assert_eq!(Query::from_scope(want), Some(q), "{want}");
        };
        case(Query::default(), "key?count=50");
        case(
            Query {
                subject: Subject::CustomerId,
                count: 10,
                from: Some("2026-01-01".into()),
                to: Some("2026-03-31".into()),
                channel: Some(Channel::Email),
                message_preview: true,
            },
            "customer-id?count=10&from-date=2026-01-01&to-date=2026-03-31&channel=EMAIL&message_preview=true",
        );
        assert_eq!(Query::from_scope("customers"), None);
        assert_eq!(Query::from_scope("key?bogus=1"), None);
    }

    #[test]
    fn query_limits() {
        let case = |count: u8, from: Option<&str>, to: Option<&str>, want: Option<&str>| {
            let q = Query {
                count,
                from: from.map(String::from),
                to: to.map(String::from),
                ..Query::default()
            };
            let got = q.validate().err().map(|e| e.to_string());
            match (got, want) {
                (None, None) => {}
                (Some(m), Some(w)) => assert!(m.contains(w), "{m}"),
                (got, want) => panic!("count {count}: got {got:?}, want {want:?}"),
            }
        };
        case(50, None, None, None);
        case(1, Some("2026-01-01"), Some("2026-01-01"), None);
        case(51, None, None, Some("at most 50"));
        case(0, None, None, Some("at least 1"));
        case(5, Some("2026-02-01"), Some("2026-01-01"), Some("is after"));
        assert!(parse_date("--from", "2026-02-30").is_err());
        assert!(parse_date("--from", "01/02/2026").is_err());
        assert_eq!(
            parse_date("--to", " 2026-02-28 ").ok().as_deref(),
            Some("2026-02-28")
        );
    }

    #[test]
    fn impossible_key_and_channel_pairs_are_invalid() {
        let case = |channel: Option<Channel>, subject: Subject, key: &str, ok: bool| {
            let q = Query {
                subject,
                channel,
                ..Query::default()
            };
            assert_eq!(key_rule(&q)(key).is_ok(), ok, "{channel:?} {key}");
        };
        case(Some(Channel::Sms), Subject::Key, "jane@example.com", false);
        case(Some(Channel::Mms), Subject::Key, "jane@example.com", false);
        case(Some(Channel::Sms), Subject::Key, "+447700900123", true);
        case(Some(Channel::Email), Subject::Key, "+447700900123", false);
        case(Some(Channel::Email), Subject::Key, "919876543210", false);
        case(Some(Channel::Email), Subject::Key, "jane@example.com", true);
        case(
            Some(Channel::Email),
            Subject::Key,
            "f3a9c2d4-1b2c-4d5e-8f90-123456789abc",
            true,
        );
        case(None, Subject::Key, "jane@example.com", true);
        case(Some(Channel::App), Subject::Key, "jane@example.com", true);
        case(Some(Channel::Sms), Subject::CustomerId, "a@b", true);
    }
}
