//! Legal deadlines of erasure requests: GDPR Art. 12(3) gives the controller one month from
//! receipt to act. Dates are calendar dates (stored `yyyy-MM-dd`), compared in UTC.

use time::{Date, Duration, Month, OffsetDateTime};

/// How far ahead `forget status` warns of deadlines.
pub const DUE_SOON_DAYS: i64 = 7;

const DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// How received dates are written in a request file (`--date-format`). Each layout is read
/// exactly as named, so `03/04/2026` is never silently read as the wrong month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DateFormat {
    /// `yyyy-MM-dd`, or an ISO 8601 date-time starting with one (its date as written).
    #[default]
    Iso,
    /// `dd/MM/yyyy`
    DayMonthYear,
    /// `MM/dd/yyyy`
    MonthDayYear,
    /// `dd.MM.yyyy`
    DayMonthYearDots,
}

impl DateFormat {
    /// Every layout, as `--date-format` names them.
    pub const ALL: [DateFormat; 4] = [
        DateFormat::Iso,
        DateFormat::DayMonthYear,
        DateFormat::MonthDayYear,
        DateFormat::DayMonthYearDots,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DateFormat::Iso => "yyyy-MM-dd",
            DateFormat::DayMonthYear => "dd/MM/yyyy",
            DateFormat::MonthDayYear => "MM/dd/yyyy",
            DateFormat::DayMonthYearDots => "dd.MM.yyyy",
        }
    }

    /// The layout named `name` (as `--date-format` takes it).
    pub fn from_name(name: &str) -> Result<DateFormat, String> {
        let name = name.trim();
        DateFormat::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = DateFormat::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown date format `{name}`: use one of {}",
                    known.join(", ")
                )
            })
    }

    /// An example date in this layout, for messages.
    fn example(self) -> &'static str {
        match self {
            DateFormat::Iso => "2026-11-02",
            DateFormat::DayMonthYear => "02/11/2026",
            DateFormat::MonthDayYear => "11/02/2026",
            DateFormat::DayMonthYearDots => "02.11.2026",
        }
    }
}

/// Parse a received date as written in a request file: `yyyy-MM-dd` (or an ISO date-time).
pub fn parse_date(text: &str) -> Result<Date, String> {
    parse_date_as(text, DateFormat::Iso)
}

/// Parse a received date written in `format`. The message names the layout expected, and
/// the text (a date, not personal data) as written.
pub fn parse_date_as(text: &str, format: DateFormat) -> Result<Date, String> {
    let text = text.trim();
    let parsed = match format {
        DateFormat::Iso => iso(text),
        DateFormat::DayMonthYear => numeric(text, b'/', [0, 1, 2]),
        DateFormat::MonthDayYear => numeric(text, b'/', [1, 0, 2]),
        DateFormat::DayMonthYearDots => numeric(text, b'.', [0, 1, 2]),
    };
    parsed.ok_or_else(|| {
        format!(
            "received date `{}` is not a date as {} (e.g. {}; --date-format names the layout)",
            crate::text::printable(&text.chars().take(40).collect::<String>()),
            format.name(),
            format.example()
        )
    })
}

/// `yyyy-MM-dd`, alone or starting an ISO 8601 date-time (`T` or a space, then a time).
fn iso(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let date = Date::parse(text.get(..10)?, DATE).ok()?;
    let rest = text.get(10..)?;
    if rest.is_empty() {
        return Some(date);
    }
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?;
    let rfc3339 = format!("{}T{rest}", text.get(..10)?);
    let ok = time::OffsetDateTime::parse(&rfc3339, &time::format_description::well_known::Rfc3339)
        .is_ok()
        || time::Time::parse(rest, TIME_S).is_ok()
        || time::Time::parse(rest, TIME_M).is_ok();
    ok.then_some(date)
}

const TIME_S: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[hour]:[minute]:[second]");
const TIME_M: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[hour]:[minute]");

/// Three numbers split by `sep`: day, month and year at the positions `order` gives (the
/// year always four digits, day and month one or two).
fn numeric(text: &str, sep: u8, order: [usize; 3]) -> Option<Date> {
    let parts: Vec<&str> = text.split(sep as char).collect();
    if parts.len() != 3 || !parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let [d, m, y] = order.map(|i| parts[i]);
    if !(1..=2).contains(&d.len()) || !(1..=2).contains(&m.len()) || y.len() != 4 {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
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
        case("2026-11-02T10:00:00Z", true);
        case("2026-11-02T10:00:00+01:00", true);
        case("2026-11-02 10:00:00", true);
        case("2026-11-02T10:00", true);
        case("2026-11-02T", false);
        case("2026-11-02x", false);
        case("2026-11-02T25:00:00Z", false);
        case("", false);
    }

    #[test]
    fn each_layout_reads_its_own_order_only() {
        let case = |s: &str, f: DateFormat, want: Option<&str>| {
            let got = parse_date_as(s, f).ok().map(format_date);
            assert_eq!(got.as_deref(), want, "{s} as {}", f.name());
        };
        case("02/11/2026", DateFormat::DayMonthYear, Some("2026-11-02"));
        case("2/1/2026", DateFormat::DayMonthYear, Some("2026-01-02"));
        case("11/02/2026", DateFormat::MonthDayYear, Some("2026-11-02"));
        case(
            "02.11.2026",
            DateFormat::DayMonthYearDots,
            Some("2026-11-02"),
        );
        case("31/11/2026", DateFormat::DayMonthYear, None);
        case("13/25/2026", DateFormat::MonthDayYear, None);
        case("02/11/26", DateFormat::DayMonthYear, None);
        case("2026-11-02", DateFormat::DayMonthYear, None);
        case("02.11.2026", DateFormat::DayMonthYear, None);
        case("02/11/2026", DateFormat::Iso, None);
        for f in DateFormat::ALL {
            assert_eq!(DateFormat::from_name(f.name()), Ok(f));
        }
        assert!(DateFormat::from_name("dd-MM-yyyy").is_err());
    }

    #[test]
    fn future_dates_are_refused_with_a_day_of_slack() {
        let today = d("2026-11-20");
        assert!(check_not_future(d("2026-11-21"), today).is_ok());
        assert!(check_not_future(d("2026-11-22"), today).is_err());
    }
}
