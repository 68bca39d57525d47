//! Legal deadlines of erasure requests: GDPR Art. 12(3) gives the controller one month from
//! receipt to act. Dates are calendar dates (`yyyy-MM-dd`), compared in UTC.

use time::{Date, Duration, Month, OffsetDateTime};

/// How far ahead `forget status` warns of deadlines.
pub const DUE_SOON_DAYS: i64 = 7;

const DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// Parse a received date as written in a request file: `yyyy-MM-dd`, nothing else, so that
/// `03/04/2026` is never silently read as the wrong month.
pub fn parse_date(text: &str) -> Result<Date, String> {
    let text = text.trim();
    let exact = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
    match Date::parse(text, DATE) {
        Ok(date) if exact => Ok(date),
        _ => Err(format!(
            "received date `{text}` is not a date as yyyy-MM-dd (e.g. 2026-11-02)"
        )),
    }
}

pub fn format_date(date: Date) -> String {
    date.format(DATE).unwrap_or_else(|_| date.to_string())
}

/// The legal due date: the same day of the next month, or that month's last day when it
/// is shorter (Jan 31 → Feb 28, or 29 in a leap year).
pub fn due_date(received: Date) -> Date {
    let (year, month) = match received.month() {
        Month::December => (received.year() + 1, Month::January),
        m => (received.year(), m.next()),
    };
    let day = received.day().min(month.length(year));
    // Valid by construction; fall back to 31 days rather than fail on an impossible date.
    Date::from_calendar_date(year, month, day)
        .unwrap_or_else(|_| received.saturating_add(Duration::days(31)))
}

/// Today's date in UTC: deadlines are compared the same way on every machine.
pub fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// A received date later than tomorrow (UTC) is a typo, not a request.
pub fn check_not_future(received: Date, today: Date) -> Result<(), String> {
    if received > today.saturating_add(Duration::days(1)) {
        Err(format!(
            "received date {} is in the future",
            format_date(received)
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        parse_date(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn one_calendar_month_clamped_to_the_month_end() {
        let case = |received: &str, due: &str| {
            assert_eq!(format_date(due_date(d(received))), due, "{received}")
        };
        case("2026-01-15", "2026-02-15");
        case("2026-01-31", "2026-02-28");
        case("2028-01-31", "2028-02-29");
        case("2026-03-31", "2026-04-30");
        case("2026-12-31", "2027-01-31");
        case("2026-12-05", "2027-01-05");
        case("2026-02-28", "2026-03-28");
    }

    #[test]
    fn only_iso_dates_are_accepted() {
        let case = |s: &str, ok: bool| assert_eq!(parse_date(s).is_ok(), ok, "{s}");
        case("2026-11-02", true);
        case(" 2026-11-02 ", true);
        case("2026-13-01", false);
        case("2026-02-30", false);
        case("02/11/2026", false);
        case("2026-11-2", false);
        case("20261102", false);
        case("2026-11-02T10:00:00Z", false);
        case("", false);
    }

    #[test]
    fn future_dates_are_refused_with_a_day_of_slack() {
        let today = d("2026-11-20");
        assert!(check_not_future(d("2026-11-21"), today).is_ok());
        assert!(check_not_future(d("2026-11-22"), today).is_err());
    }
}
