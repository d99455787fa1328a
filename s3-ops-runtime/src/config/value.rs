//! The settings' values as people write them, shared by the environment and serde readers: each
//! parser answers the value or what is wrong with it, saying what to write instead.

use std::time::Duration;

use crate::breaker::{FailureRate, MAX_WINDOW_CALLS};

/// What a duration looks like, for error messages.
const DURATION_FORM: &str =
    "write a whole number and a unit (`ms`, `s`, `m` or `h`), like `250ms`, `5s` or `2m`";

/// `"250ms"`, `"1s"`, `"2m"`, `"1h"`, as the attribute's durations. Whole numbers only: a
/// fraction is easier to misread than a smaller unit.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("empty: {DURATION_FORM}"));
    }
    if text.starts_with('-') {
        return Err(format!("a duration cannot be negative: {DURATION_FORM}"));
    }
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() {
        return Err(format!("not a duration: {DURATION_FORM}"));
    }
    if unit.starts_with(['.', ',']) {
        return Err(
            "a fraction: use a whole number of a smaller unit, like `1500ms` for 1.5 s".to_owned(),
        );
    }
    let unit_nanos: u64 = match unit.trim_start() {
        "" => {
            return Err(format!(
            "no unit: write `{number}s` for seconds or `{number}ms` for milliseconds (or `m`, `h`)"
        ))
        }
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3600 * 1_000_000_000,
        other => {
            return Err(format!(
                "unknown unit `{other}`: use `ms`, `s`, `m` or `h`, like `250ms` or `5s`"
            ))
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_nanos))
        .map(Duration::from_nanos)
        .ok_or_else(|| "too long: durations go up to about 584 years".to_owned())
}

/// A whole number in `min..=max`.
pub(crate) fn count(text: &str, min: u32, max: u32) -> Result<u32, String> {
    let text = text.trim();
    let range = if max == u32::MAX {
        format!("a whole number, at least {min}")
    } else {
        format!("a whole number from {min} to {max}")
    };
    if text.is_empty() {
        return Err(format!("empty: write {range}"));
    }
    if text.starts_with('-') {
        return Err(format!("cannot be negative: write {range}"));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("not a whole number: write {range}"));
    }
    match text.parse::<u32>() {
        Ok(n) if n < min => Err(format!("below {min}: write {range}")),
        Ok(n) if n <= max => Ok(n),
        _ => Err(format!("too large: write {range}")),
    }
}

/// A retry budget: a number of tokens, or `unlimited` (`None`).
pub(crate) fn retry_budget(text: &str) -> Result<Option<u32>, String> {
    if text.trim().eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    count(text, 0, u32::MAX)
        .map(Some)
        .map_err(|problem| format!("{problem} (tokens), or `unlimited`"))
}

/// What a failure rate looks like, for error messages.
const RATE_FORM: &str = "write `PERCENT%/WINDOW/MINIMUM`, like `50%/100/20` (open when half of the last 100 calls failed, once 20 are recorded), or `off`";

/// `"50%/100/20"`: threshold, window and minimum calls; `"off"` for none.
pub(crate) fn failure_rate(text: &str) -> Result<Option<FailureRate>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let parts: Vec<&str> = text.split('/').collect();
    let [percent, window, minimum] = parts[..] else {
        return Err(format!("not a failure rate: {RATE_FORM}"));
    };
    let Some(percent) = percent.trim().strip_suffix('%') else {
        return Err(format!(
            "the threshold `{}` needs a `%`: {RATE_FORM}",
            percent.trim()
        ));
    };
    let part = |name: &str, text: &str, min: u32, max: u32| {
        count(text, min, max).map_err(|problem| format!("{name}: {problem}; {RATE_FORM}"))
    };
    let threshold_percent = part("the threshold", percent, 1, 100)?;
    let window_calls = part("the window", window, 1, MAX_WINDOW_CALLS)?;
    let minimum_calls = part("the minimum (at most the window)", minimum, 1, window_calls)?;
    Ok(Some(FailureRate {
        threshold_percent: u8::try_from(threshold_percent).expect("at most 100"),
        window_calls,
        minimum_calls,
    }))
}

/// Shown in errors about a duration: `90s` rather than `Duration`'s `90s`/`1.5s` mix.
pub(crate) fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        ms if ms % 3_600_000 == 0 && ms > 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 && ms > 0 => format!("{}m", ms / 60_000),
        ms if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_in_the_attribute() {
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration(" 5s "), Ok(Duration::from_secs(5)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("0s"), Ok(Duration::ZERO));
        for (bad, says) in [
            ("", "empty"),
            ("-1s", "negative"),
            ("5", "no unit"),
            ("5sec", "unknown unit `sec`"),
            ("1.5s", "fraction"),
            ("s", "not a duration"),
            ("99999999999999999999s", "too long"),
            ("9999999999999h", "too long"),
        ] {
            let err = duration(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn counts_rates_and_budgets() {
        assert_eq!(count("7", 1, 10), Ok(7));
        assert!(count("0", 1, 10).unwrap_err().starts_with("below 1"));
        assert!(count("11", 1, 10).unwrap_err().starts_with("too large"));
        assert!(count("4294967296", 1, u32::MAX)
            .unwrap_err()
            .starts_with("too large"));
        assert_eq!(retry_budget("Unlimited"), Ok(None));
        assert_eq!(retry_budget("0"), Ok(Some(0)));
        assert_eq!(
            failure_rate("50%/100/20"),
            Ok(Some(FailureRate {
                threshold_percent: 50,
                window_calls: 100,
                minimum_calls: 20
            }))
        );
        assert_eq!(failure_rate("off"), Ok(None));
        for (bad, says) in [
            ("50/100/20", "needs a `%`"),
            ("50%/100", "not a failure rate"),
            ("101%/100/20", "the threshold: too large"),
            ("50%/100/200", "the minimum (at most the window): too large"),
            ("50%/0/0", "the window: below 1"),
        ] {
            let err = failure_rate(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn durations_show_in_their_largest_whole_unit() {
        assert_eq!(show_duration(Duration::from_secs(30)), "30s");
        assert_eq!(show_duration(Duration::from_secs(120)), "2m");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(show_duration(Duration::ZERO), "0s");
    }
}
