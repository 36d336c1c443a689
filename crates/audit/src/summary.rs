//! The daily summary: one entry per day of the window, days without events included.

use time::{Date, Duration};

use crate::DayCounts;

/// The longest window of a daily summary.
pub const MAX_SUMMARY_DAYS: u32 = 90;

/// `days` entries ending `today` (oldest first), filled from `counts`, zero where a day had
/// no events.
pub fn daily_summary(today: Date, days: u32, counts: &[DayCounts]) -> Vec<DayCounts> {
    let days = days.clamp(1, MAX_SUMMARY_DAYS);
    (0..days)
        .rev()
        .map(|back| {
            let day = today - Duration::days(i64::from(back));
            counts
                .iter()
                .find(|c| c.day == day)
                .copied()
                .unwrap_or(DayCounts {
                    day,
                    success: 0,
                    denied: 0,
                    failed: 0,
                })
        })
        .collect()
}

/// The moment before which events are older than `days` days.
pub fn retention_cutoff(days: u32) -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() - Duration::days(i64::from(days))
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn every_day_of_the_window_is_there_oldest_first() {
        let counts = [DayCounts {
            day: date!(2026 - 11 - 22),
            success: 3,
            denied: 1,
            failed: 0,
        }];
        let s = daily_summary(date!(2026 - 11 - 23), 3, &counts);
        let days: Vec<Date> = s.iter().map(|d| d.day).collect();
        assert_eq!(
            days,
            [
                date!(2026 - 11 - 21),
                date!(2026 - 11 - 22),
                date!(2026 - 11 - 23)
            ]
        );
        assert_eq!((s[1].success, s[1].denied), (3, 1));
        assert_eq!(s[2].success, 0);
        assert_eq!(daily_summary(date!(2026 - 11 - 23), 500, &[]).len(), 90);
    }
}
