use super::*;
use serde_json::json;

#[test]
fn enums_decode_as_documented() {
    let case = |table: &[(&str, &str)], code: &str, want: &str| {
        assert_eq!(decoded(code.to_owned(), table).meaning, want, "{code}");
    };
    case(BEHAVIOUR, "S", "Static");
    case(BEHAVIOUR, "D", "Dynamic");
    case(LOAD_TYPE, "0", "File upload");
    case(LOAD_TYPE, "1", "Segment");
    case(SOURCE, "0", "File upload");
    case(SOURCE, "1", "Sftp");
    case(SOURCE, "6", "Dynamic Segment");
    case(SOURCE, "3", "undocumented");
    case(TARGET_STATE, "0", "Inprogress");
    case(TARGET_STATE, "1", "ready");
    case(TARGET_STATE, "", "not given");
}

#[test]
fn static_uploads_with_identifiers_are_flagged() {
    let case = |behaviour: &str, source: Value, headers: &str, flagged: bool| {
        let g = TargetGroup::from_json(
            &json!({"id": "1", "behaviour": behaviour, "source": source, "headers": headers}),
            "hub",
        );
        assert_eq!(
            g.review.is_some(),
            flagged,
            "{behaviour} {source} {headers}: {:?}",
            g.review
        );
    };
    case("S", json!(0), "MSISDN|FIRSTNAME", true);
    case("S", json!(1), "CUSTOMERID|TIER", true);
    case("S", json!("1"), "email", true);
    case("S", json!(0), "APP_DEVICE_ID", true);
    case("S", json!(6), "APPDEVICEID|EMAIL", false);
    case("D", json!(0), "MSISDN", false);
    case("S", json!(0), "STOREID|REGION", false);
}

#[test]
fn fields_are_read_as_sent() {
    let g = TargetGroup::from_json(
        &json!({"id": 167, "totalCount": 2.0, "description": "null", "headers": "A | B"}),
        "base",
    );
    assert_eq!(g.id, "167");
    assert_eq!(g.total_count.as_deref(), Some("2"));
    assert_eq!(g.description, None);
    assert_eq!(g.headers, ["A", "B"]);
    let p = Purpose::from_json(&json!({"id": 582, "createdDate": "2023-01-05 08:51:06"}));
    assert_eq!(
        (p.id.as_str(), p.created.as_deref()),
        ("582", Some("2023-01-05 08:51:06"))
    );
}
