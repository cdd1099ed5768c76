//! The time a command reads. A run holds a [`Clock`] in its context and stages ask it, rather
//! than reading the system time themselves, so a test can fix the time a run sees.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Where "now" comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clock {
    /// The system's UTC time.
    #[default]
    System,
    /// A fixed instant (tests).
    Fixed(OffsetDateTime),
}

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        match self {
            Clock::System => OffsetDateTime::now_utc(),
            Clock::Fixed(t) => *t,
        }
    }

    /// Now as RFC 3339 (`2026-12-07T14:43:14.123Z`).
    pub fn rfc3339(&self) -> String {
        self.now().format(&Rfc3339).unwrap_or_default()
    }

    /// Today's UTC date as `YYYY-MM-DD` (waiver expiry is compared with this).
    pub fn today(&self) -> String {
        let d = self.now().to_offset(time::UtcOffset::UTC).date();
        format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
    }
}

/// The system time as RFC 3339, for commands outside a run.
pub fn now_rfc3339() -> String {
    Clock::System.rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_is_what_it_says() {
        let t = OffsetDateTime::from_unix_timestamp(1_796_660_000).unwrap();
        let c = Clock::Fixed(t);
        assert_eq!(c.rfc3339(), "2026-12-07T16:13:20Z");
        assert_eq!(c.today(), "2026-12-07");
        assert!(Clock::System.now() > t - time::Duration::days(3650));
    }
}
