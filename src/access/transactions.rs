//! Reading the last-N-transactions answer: the shapes it comes in, and its channel and
//! status codes in words, as the API document lists them.

use serde_json::{Map, Value, json};

use super::Channel;

/// What a transaction status means, by the document's list: a category and plain words.
pub fn status_meaning(status: &str) -> (&'static str, String) {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let n = norm(status);
    if let Some(reason) = n.strip_prefix("notpushed") {
        let why = NOT_SENT
            .iter()
            .find(|(r, _)| norm(r) == reason)
            .map(|(_, words)| (*words).to_owned())
            .unwrap_or_else(|| status.trim().to_owned());
        return ("not sent", format!("not sent: {why}"));
    }
    if let Some(rest) = n.strip_prefix("obd") {
        let words = if rest.starts_with("success") {
            "outbound call answered"
        } else {
            "outbound call not completed"
        };
        return ("call", format!("{words} ({})", status.trim()));
    }
    for (documented, category, words) in STATUSES {
        if norm(documented) == n {
            return (category, (*words).to_owned());
        }
    }
    ("other", status.trim().to_owned())
}

/// `Notpushed, <reason>` reasons, in words.
const NOT_SENT: &[(&str, &str)] = &[
    ("InternalException", "an internal error"),
    (
        "GlobalDND",
        "the number or address is on the global do-not-disturb list",
    ),
    ("ChannelDND", "do-not-disturb is set for this channel"),
    ("CategoryDND", "do-not-disturb is set for this category"),
    ("CampaignDND", "do-not-disturb is set for this campaign"),
    ("DeploymentBlackListDND", "blacklisted for this deployment"),
    ("Controlgroup", "held back as part of a control group"),
    (
        "PolicyBreached",
        "a contact policy would have been breached",
    ),
    ("Filtersapplied", "excluded by the deployment's filters"),
    ("Abandoned", "abandoned"),
    ("DeploymentStopped", "the deployment was stopped"),
    ("Calendartimedout", "outside the allowed sending calendar"),
    ("Others", "other reasons"),
    ("Limit reached", "a sending limit was reached"),
    ("Runtimefilter", "excluded by a run-time filter"),
];

/// The other documented statuses: (as documented, category, words).
const STATUSES: &[(&str, &str, &str)] = &[
    (
        "Successfully delivered to the Customer",
        "delivered",
        "delivered",
    ),
    (
        "Failed to deliver to the Customer",
        "not delivered",
        "delivery failed",
    ),
    ("Attempted Send", "sent", "sending attempted"),
    ("Attempted Send successfully", "sent", "sent"),
    (
        "Pushed to Gateways",
        "sent",
        "handed to the operator's gateway",
    ),
    ("Expired", "not delivered", "expired before delivery"),
    ("Duplicate", "not delivered", "dropped as a duplicate"),
    ("Invalid", "not delivered", "invalid address"),
    ("Partial Delivery", "delivered", "partly delivered"),
    ("Email, hardbounced", "bounced", "e-mail hard bounce"),
    ("EmailSoftbounced", "bounced", "e-mail soft bounce"),
    ("Email, Mailblocks", "bounced", "e-mail blocked"),
    (
        "Email, ISPcomplaints",
        "complaint",
        "marked as spam at the mail provider",
    ),
    ("DNDAddition", "preference", "added to do-not-disturb"),
    ("DNDRemoval", "preference", "removed from do-not-disturb"),
    (
        "Email Unsubscribe",
        "preference",
        "unsubscribed from e-mail",
    ),
    (
        "MSISDN Unsubscribe",
        "preference",
        "unsubscribed the phone number",
    ),
    ("EventProcessedSuccess", "event", "event processed"),
    ("EventProcessedFailed", "event", "event processing failed"),
    ("MOProcessedSuccess", "inbound", "inbound message processed"),
    (
        "MOProcessedFailed",
        "inbound",
        "inbound message processing failed",
    ),
    ("Email,Opened", "engagement", "e-mail opened"),
    ("Email, LinkClicked", "engagement", "link in e-mail clicked"),
    ("ActionProcessedSuccess", "event", "action processed"),
    ("ActionProcessedFailed", "event", "action processing failed"),
    ("SMS, LinkClicked", "engagement", "link in SMS clicked"),
    ("USSD, DTMF", "engagement", "USSD menu answered"),
    ("Click Transaction", "engagement", "link clicked"),
    ("MMS, LinkClicked", "engagement", "link in MMS clicked"),
    (
        "App notification, Opened",
        "engagement",
        "app notification opened",
    ),
    ("Landing Page Open", "engagement", "landing page opened"),
    (
        "Landing Page Submit",
        "engagement",
        "landing page form submitted",
    ),
];

fn field_text(item: &Value, name: &str) -> Option<String> {
    match item.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The transactions an answer carries: an array, an object holding one array, or a single
/// transaction object.
pub fn transactions_of(json: Value) -> Option<Vec<Value>> {
    if json.get("transaction-id").is_some() {
        return Some(vec![json]);
    }
    crate::connector::as_list(json)
}

/// Whether an answer carries transactions in one of the shapes [`transactions_of`] reads.
pub fn carries_transactions(json: &Value) -> bool {
    match json {
        Value::Array(_) => true,
        Value::Object(map) => {
            map.contains_key("transaction-id") || map.values().filter(|v| v.is_array()).count() == 1
        }
        _ => false,
    }
}

/// One transaction with a `decoded` object beside the fields as sent.
pub(super) fn decode(mut transaction: Value) -> Value {
    let channel = field_text(&transaction, "channel");
    let channel_name = channel.as_deref().map(|c| match Channel::from_code(c) {
        Some(ch) => ch.as_str().to_owned(),
        None => format!("undocumented channel {c}"),
    });
    let status = field_text(&transaction, "transaction-status");
    let mut decoded = Map::new();
    if let Some(name) = channel_name {
        decoded.insert("channel".into(), json!(name));
    }
    if let Some(status) = status {
        let (category, words) = status_meaning(&status);
        decoded.insert("status".into(), json!(category));
        decoded.insert("status_meaning".into(), json!(words));
    }
    if let Some(map) = transaction.as_object_mut() {
        map.insert("decoded".into(), Value::Object(decoded));
    }
    transaction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_and_statuses_decode_as_documented() {
        let channel = |code: &str| Channel::from_code(code).map(Channel::as_str);
        assert_eq!(
            ["0", "1", "3", "6", "7", "8", "2"].map(channel),
            [
                Some("SMS"),
                Some("MMS"),
                Some("USSD"),
                Some("OBD"),
                Some("EMAIL"),
                Some("APP"),
                None
            ]
        );
        let case = |status: &str, category: &str, words: &str| {
            let (c, w) = status_meaning(status);
            assert_eq!((c, w.as_str()), (category, words), "{status}");
        };
        case(
            "Successfully delivered to the Customer",
            "delivered",
            "delivered",
        );
        case(
            "Notpushed, GlobalDND",
            "not sent",
            "not sent: the number or address is on the global do-not-disturb list",
        );
        case(
            "Notpushed, Limit reached",
            "not sent",
            "not sent: a sending limit was reached",
        );
        case("Email,Opened", "engagement", "e-mail opened");
        case("Email, hardbounced", "bounced", "e-mail hard bounce");
        case(
            "OBD Failed -NotAnswered",
            "call",
            "outbound call not completed (OBD Failed -NotAnswered)",
        );
        case(
            "OBD Success-Completed",
            "call",
            "outbound call answered (OBD Success-Completed)",
        );
        case("Something new", "other", "Something new");
    }

    #[test]
    fn answers_become_transaction_lists() {
        let case = |json: Value, want: Option<usize>| {
            assert_eq!(
                transactions_of(json.clone()).map(|l| l.len()),
                want,
                "{json}"
            );
        };
        case(json!([]), Some(0));
        case(
            json!([{"transaction-id": "1"}, {"transaction-id": "2"}]),
            Some(2),
        );
        case(json!({"transactions": [{"transaction-id": "1"}]}), Some(1));
        case(json!({"transaction-id": "1", "code": "200"}), Some(1));
        case(json!({"code": "1002"}), None);
        for json in [
            json!([]),
            json!({"a": []}),
            json!({"transaction-id": 1}),
            json!({"code": 1}),
            json!("x"),
        ] {
            assert_eq!(
                carries_transactions(&json),
                transactions_of(json.clone()).is_some(),
                "{json}"
            );
        }
    }
}
