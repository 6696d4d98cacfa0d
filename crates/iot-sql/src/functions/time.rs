//! `parse_time(pattern, timestamp[, timezone])`: formats milliseconds since the epoch with a
//! Joda-Time pattern. The calendar is proleptic Gregorian, computed here (no clock, no tz
//! database).
//!
//! Supported pattern letters (Joda meanings): `G` era, `C` century, `Y`/`y` year (`yy`: two
//! digits), `M` month (`MMM` "Jan", `MMMM` "January"), `d` day, `D` day of year, `E` weekday
//! (`E`..`EEE` "Thu", `EEEE` "Thursday"), `e` weekday number (Monday = 1), `a` AM/PM, `H` hour
//! 0-23, `k` 1-24, `K` 0-11, `h` 1-12, `m` minute, `s` second, `S` fraction of a second, `z`
//! zone name, `Z` offset (`Z` +0000, `ZZ` +00:00, `ZZZ` zone id); text in `'quotes'`, `''`
//! for a quote. Other letters make the result Undefined.
//!
//! Time zones: `UTC` (the default), `GMT`, `Z`, `Etc/UTC`, `Etc/GMT` and fixed offsets
//! (`+01:00`, `-0530`, `+02`). Named zones such as `America/Belize` need a time zone database
//! tether does not carry: the result is Undefined (docs/aws-differences.md, "IoT SQL").

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::value::Value;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A time zone tether can apply: a name and a fixed offset in seconds.
struct Zone {
    id: String,
    offset: i64,
}

/// Evaluates `parse_time(pattern, timestamp[, timezone])`.
pub(super) fn parse_time(args: &[Value<'_>]) -> Value<'static> {
    let Some(Value::String(pattern)) = args.first() else {
        return Value::Undefined;
    };
    // "(Long) The time to be formatted in milliseconds": numbers and numeric strings, floored.
    let Some(millis) = args.get(1).and_then(Value::to_int_floor) else {
        return Value::Undefined;
    };
    let zone = match args.get(2) {
        None => Some(Zone {
            id: "UTC".to_owned(),
            offset: 0,
        }),
        Some(Value::String(name)) => zone(name),
        Some(_) => None,
    };
    let Some(zone) = zone else {
        return Value::Undefined;
    };
    format(pattern, millis, &zone).map_or(Value::Undefined, |s| Value::String(Cow::Owned(s)))
}

fn zone(name: &str) -> Option<Zone> {
    let utc = |id: &str| {
        Some(Zone {
            id: id.to_owned(),
            offset: 0,
        })
    };
    match name {
        "UTC" | "Etc/UTC" | "Z" => return utc("UTC"),
        "GMT" | "Etc/GMT" => return utc("GMT"),
        _ => {}
    }
    let (sign, rest) = match name.as_bytes().first()? {
        b'+' => (1, name.get(1..)?),
        b'-' => (-1, name.get(1..)?),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let hours: i64 = digits.get(..2)?.parse().ok()?;
    let minutes: i64 = digits
        .get(2..)
        .filter(|m| !m.is_empty())
        .map_or(Some(0), |m| m.parse().ok())?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    let offset = sign * (hours * 3600 + minutes * 60);
    Some(Zone {
        id: offset_text(offset, true),
        offset,
    })
}

fn offset_text(offset: i64, colon: bool) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let (h, m) = (offset.abs() / 3600, offset.abs() % 3600 / 60);
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn day_of_year(year: i64, month: i64, day: i64) -> i64 {
    const BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let index = usize::try_from(month - 1).unwrap_or(0);
    BEFORE.get(index).copied().unwrap_or(0) + day + i64::from(month > 2 && is_leap(year))
}

/// The broken-down local time of an instant.
struct Fields {
    year: i64,
    month: i64,
    day: i64,
    weekday: i64,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
}

fn fields(millis: i64, offset: i64) -> Option<Fields> {
    let local = millis.checked_add(offset.checked_mul(1000)?)?;
    let days = local.div_euclid(86_400_000);
    let in_day = local.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    Some(Fields {
        year,
        month,
        day,
        // 1970-01-01 was a Thursday (4 with Monday = 1).
        weekday: (days + 3).rem_euclid(7) + 1,
        hour: in_day / 3_600_000,
        minute: in_day / 60_000 % 60,
        second: in_day / 1000 % 60,
        millis: in_day % 1000,
    })
}

fn format(pattern: &str, millis: i64, zone: &Zone) -> Option<String> {
    let f = fields(millis, zone.offset)?;
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c == '\'' {
            i += 1;
            if chars.get(i) == Some(&'\'') {
                out.push('\'');
                i += 1;
                continue;
            }
            loop {
                match chars.get(i) {
                    None => break,
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        out.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        out.push(other);
                        i += 1;
                    }
                }
            }
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        i += n;
        if !c.is_ascii_alphabetic() {
            for _ in 0..n {
                out.push(c);
            }
            continue;
        }
        field(&mut out, c, n, &f, zone)?;
    }
    Some(out)
}

fn number(out: &mut String, value: i64, width: usize) {
    let _ = write!(out, "{value:0width$}");
}

fn field(out: &mut String, letter: char, n: usize, f: &Fields, zone: &Zone) -> Option<()> {
    let year_of_era = if f.year <= 0 { 1 - f.year } else { f.year };
    match letter {
        'G' => out.push_str(if f.year <= 0 { "BC" } else { "AD" }),
        'C' => number(out, year_of_era / 100, n),
        'y' | 'Y' if n == 2 => number(out, year_of_era.rem_euclid(100), 2),
        'y' | 'Y' => number(out, year_of_era, n),
        'M' if n >= 4 => out.push_str(MONTHS.get(usize::try_from(f.month - 1).ok()?)?),
        'M' if n == 3 => out.push_str(MONTHS.get(usize::try_from(f.month - 1).ok()?)?.get(..3)?),
        'M' => number(out, f.month, n),
        'd' => number(out, f.day, n),
        'D' => number(out, day_of_year(f.year, f.month, f.day), n),
        'E' if n >= 4 => out.push_str(WEEKDAYS.get(usize::try_from(f.weekday - 1).ok()?)?),
        'E' => out.push_str(
            WEEKDAYS
                .get(usize::try_from(f.weekday - 1).ok()?)?
                .get(..3)?,
        ),
        'e' => number(out, f.weekday, n),
        'a' => out.push_str(if f.hour < 12 { "AM" } else { "PM" }),
        'H' => number(out, f.hour, n),
        'k' => number(out, if f.hour == 0 { 24 } else { f.hour }, n),
        'K' => number(out, f.hour % 12, n),
        'h' => number(out, if f.hour % 12 == 0 { 12 } else { f.hour % 12 }, n),
        'm' => number(out, f.minute, n),
        's' => number(out, f.second, n),
        'S' => {
            // Fraction of a second, truncated to n digits (padded with zeros past milliseconds).
            let digits = format!("{:03}", f.millis);
            for k in 0..n {
                out.push(digits.chars().nth(k).unwrap_or('0'));
            }
        }
        'z' if n >= 4 && zone.id == "UTC" => out.push_str("Coordinated Universal Time"),
        'z' if n >= 4 && zone.id == "GMT" => out.push_str("Greenwich Mean Time"),
        'z' => out.push_str(&zone.id),
        'Z' if n == 1 => out.push_str(&offset_text(zone.offset, false)),
        'Z' if n == 2 => out.push_str(&offset_text(zone.offset, true)),
        'Z' => out.push_str(&zone.id),
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(pattern: &str, millis: i64, zone_name: &str) -> Option<String> {
        format(pattern, millis, &zone(zone_name)?)
    }

    #[test]
    fn calendar_and_letters() {
        assert_eq!(
            fmt("yyyy.MM.dd G 'at' HH:mm:ss z", 100_000_000, "UTC").as_deref(),
            Some("1970.01.02 AD at 03:46:40 UTC")
        );
        assert_eq!(
            fmt("yyyy.MM.dd G 'at' HH:mm:ss z", 100_000_000, "-06:00").as_deref(),
            Some("1970.01.01 AD at 21:46:40 -06:00")
        );
        // 2017-06-09T17:19:46.123Z was a Friday, day 160 of the year.
        let t = 1_497_028_786_123;
        assert_eq!(
            fmt("EEE EEEE e D MMM MMMM yy h a SSS S ZZ Z", t, "UTC").as_deref(),
            Some("Fri Friday 5 160 Jun June 17 5 PM 123 1 +00:00 +0000")
        );
        assert_eq!(fmt("''yyyy''", 0, "UTC").as_deref(), Some("'1970'"));
        assert_eq!(
            fmt("yyyy-MM-dd", 951_782_400_000, "UTC").as_deref(),
            Some("2000-02-29")
        );
        assert_eq!(
            fmt("yyyy-MM-dd", -86_400_000, "UTC").as_deref(),
            Some("1969-12-31")
        );
        assert_eq!(fmt("qqq", 0, "UTC"), None);
        assert!(zone("America/Belize").is_none());
        assert!(zone("+25:00").is_none());
    }
}
