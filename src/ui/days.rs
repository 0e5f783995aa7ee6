//! Local days: which day a line's time falls on, the `—— Tuesday 1 December ——` line where
//! the day changes in the pane, the short date on lines older than today, and the client's
//! idea of "today", which the event loop keeps from a clock it is given (drawing reads it,
//! never the system clock).

use std::collections::VecDeque;

use super::app::{App, ChatLine, LineKind};

const MS_PER_DAY: u64 = 86_400_000;
/// Lines without a time (the client's own notes) looked past, at most, to find the line a
/// day-change is measured against: a frame's cost stays what the screen shows.
const MAX_LOOK_BACK: usize = 256;

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
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

/// The time now, as the event loop's clock gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalNow {
    /// Unix milliseconds.
    pub now_ms: u64,
    /// Local time's offset from UTC, in seconds (it moves with daylight saving).
    pub utc_offset_secs: i64,
}

impl LocalNow {
    /// The system's clock and time zone.
    pub fn system() -> Self {
        let now = chrono::Local::now();
        Self {
            now_ms: u64::try_from(now.timestamp_millis()).unwrap_or(0),
            utc_offset_secs: i64::from(now.offset().local_minus_utc()),
        }
    }

    /// How long until the next local midnight: never zero.
    pub fn until_next_day(self) -> std::time::Duration {
        let local = self.now_ms as i64 + self.utc_offset_secs * 1000;
        let into_day = local.rem_euclid(MS_PER_DAY as i64) as u64;
        std::time::Duration::from_millis(MS_PER_DAY - into_day)
    }
}

/// The local day (days since 1970-01-01) a Unix-millisecond time falls on.
pub fn local_day(ts_ms: u64, offset_secs: i64) -> i64 {
    ((ts_ms / 1000) as i64 + offset_secs).div_euclid(86_400)
}

/// Year, month (1-12) and day of the month of a day since 1970-01-01 (Howard Hinnant's
/// algorithm).
pub fn civil(days: i64) -> (i64, usize, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month as usize, day)
}

/// Whether two days fall in different years.
fn other_year(day: i64, today: Option<i64>) -> bool {
    today.is_some_and(|today| civil(today).0 != civil(day).0)
}

/// The line standing where the day changes: `—— Tuesday 1 December ——`, with the year when
/// it is not this one.
pub fn day_heading(day: i64, today: Option<i64>) -> String {
    let (year, month, of_month) = civil(day);
    let weekday = WEEKDAYS[(day + 4).rem_euclid(7) as usize];
    let month = MONTHS[month - 1];
    if other_year(day, today) {
        format!("—— {weekday} {of_month} {month} {year} ——")
    } else {
        format!("—— {weekday} {of_month} {month} ——")
    }
}

/// The date before the time of a line older than today: `30 Nov`, or `30 Nov 2025`.
pub fn short_date(day: i64, today: Option<i64>) -> String {
    let (year, month, of_month) = civil(day);
    let month = &MONTHS[month - 1][..3];
    if other_year(day, today) {
        format!("{of_month} {month} {year}")
    } else {
        format!("{of_month} {month}")
    }
}

/// A line's time as the `time` mode shows it: `14:02` today, `30 Nov 14:02` on another
/// day (`today` unknown, the time alone).
pub fn line_time(ts_ms: u64, offset_secs: i64, today: Option<i64>) -> String {
    let time = super::present::format_time(ts_ms, offset_secs, false);
    let day = local_day(ts_ms, offset_secs);
    match today {
        Some(today) if today != day => format!("{} {time}", short_date(day, Some(today))),
        _ => time,
    }
}

/// The day to head the line at `at` (0 is the oldest held) with, when it is the first of a
/// day: its day differs from that of the nearest older line with a time. The oldest line
/// held has none (what came before it is not known).
pub fn day_change_above(lines: &VecDeque<ChatLine>, at: usize, offset_secs: i64) -> Option<i64> {
    let line = lines.get(at)?;
    let ts = line.ts.filter(|_| line.kind != LineKind::Separator)?;
    let day = local_day(ts, offset_secs);
    let before = lines
        .range(..at)
        .rev()
        .take(MAX_LOOK_BACK)
        .find_map(|older| older.ts)?;
    (local_day(before, offset_secs) != day).then_some(day)
}

impl App {
    /// The clock has moved on: takes its time zone, and the day it is now. Says whether
    /// the day changed (lines of the day before now show their date).
    pub fn set_clock(&mut self, now: LocalNow) -> bool {
        self.utc_offset_secs = now.utc_offset_secs;
        let today = local_day(now.now_ms, now.utc_offset_secs);
        let changed = self.today != Some(today);
        self.today = Some(today);
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01 00:00 UTC, a Tuesday.
    const DEC_1: u64 = 1_796_083_200_000;

    #[test]
    fn days_read_as_their_weekday_and_date() {
        let day = local_day(DEC_1, 0);
        assert_eq!(day_heading(day, Some(day)), "—— Tuesday 1 December ——");
        assert_eq!(day_heading(day - 1, Some(day)), "—— Monday 30 November ——");
        assert_eq!(short_date(day - 1, Some(day)), "30 Nov");
        // A year back says which year.
        assert_eq!(
            day_heading(day - 365, Some(day)),
            "—— Monday 1 December 2025 ——"
        );
        assert_eq!(short_date(day - 365, Some(day)), "1 Dec 2025");
        assert_eq!(day_heading(0, None), "—— Thursday 1 January ——");
        assert_eq!(civil(11_016), (2000, 2, 29));
    }

    #[test]
    fn the_local_day_follows_the_offset() {
        // 23:30 on 30 November UTC is already 1 December an hour east.
        let late = DEC_1 - 30 * 60 * 1000;
        assert_eq!(local_day(late, 0) + 1, local_day(late, 3600));
        assert_eq!(local_day(DEC_1, -3600) + 1, local_day(DEC_1, 0));
    }

    #[test]
    fn the_next_day_is_never_now() {
        let at = |now_ms, utc_offset_secs| {
            LocalNow {
                now_ms,
                utc_offset_secs,
            }
            .until_next_day()
            .as_millis()
        };
        assert_eq!(at(DEC_1, 0), 86_400_000, "at midnight: the next one");
        assert_eq!(at(DEC_1 - 1, 0), 1);
        // An hour east, UTC midnight is 01:00: 23 hours to go.
        assert_eq!(at(DEC_1, 3600), 23 * 3_600_000);
    }

    fn line(ts: Option<u64>, kind: LineKind) -> ChatLine {
        ChatLine {
            seq: None,
            ts,
            mentions_me: false,
            kind,
            text: "x".into(),
        }
    }

    #[test]
    fn a_day_change_is_measured_against_the_nearest_older_line_with_a_time() {
        let day = local_day(DEC_1, 0);
        let notice = || line(None, LineKind::Info);
        let lines: VecDeque<ChatLine> = [
            line(Some(DEC_1 - 60_000), LineKind::Notice), // 30 Nov 23:59
            notice(),
            line(Some(DEC_1 + 60_000), LineKind::Notice), // 1 Dec 00:01
            line(Some(DEC_1 + 120_000), LineKind::Notice),
            ChatLine::separator(),
        ]
        .into_iter()
        .collect();
        assert_eq!(day_change_above(&lines, 0, 0), None, "nothing known before");
        assert_eq!(day_change_above(&lines, 1, 0), None, "no time, no heading");
        assert_eq!(day_change_above(&lines, 2, 0), Some(day));
        assert_eq!(day_change_above(&lines, 3, 0), None, "the same day");
        assert_eq!(day_change_above(&lines, 4, 0), None);
        // Two hours west, both are on 30 November.
        assert_eq!(day_change_above(&lines, 2, -7200), None);
    }

    #[test]
    fn crossing_midnight_changes_today() {
        let mut app = App::new("x:1");
        let before = LocalNow {
            now_ms: DEC_1 - 60_000,
            utc_offset_secs: 0,
        };
        assert!(app.set_clock(before), "the first reading sets the day");
        assert!(!app.set_clock(LocalNow {
            now_ms: DEC_1 - 1,
            ..before
        }));
        assert_eq!(app.today, Some(local_day(DEC_1, 0) - 1));
        assert!(app.set_clock(LocalNow {
            now_ms: DEC_1,
            ..before
        }));
        assert_eq!(app.today, Some(local_day(DEC_1, 0)));
    }

    /// bob in #general with alice's lines at these times, the clock at `now`.
    fn pane_at(times: &[u64], now: u64) -> App {
        use crate::ui::app::room_tests::{event, in_rooms};
        let mut app = in_rooms(&[]);
        for (i, &ts) in times.iter().enumerate() {
            let mut said = event(
                "#general",
                i as u64 + 10,
                crate::rpc::types::EventKind::Message,
                "alice",
                Some(&format!("line {i}")),
            );
            said.ts = ts;
            app.handle_net(crate::ui::NetEvent::Event(said));
        }
        app.set_clock(LocalNow {
            now_ms: now,
            utc_offset_secs: 0,
        });
        app
    }

    fn rows(app: &App, width: u16, height: u16) -> Vec<String> {
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height)).unwrap();
        terminal
            .draw(|frame| crate::ui::render::draw(app, frame))
            .unwrap();
        let buffer = terminal.backend().buffer();
        (0..height)
            .map(|y| {
                let row: String = (0..width).map(|x| buffer[(x, y)].symbol()).collect();
                // Less the scrollbar.
                row.trim_end_matches(['│', '┃']).trim_end().to_owned()
            })
            .collect()
    }

    const MINUTE: u64 = 60_000;

    #[test]
    fn a_day_change_line_heads_the_first_line_of_a_day() {
        let app = pane_at(
            &[
                DEC_1 - 2 * MINUTE,
                DEC_1 - MINUTE,
                DEC_1 + MINUTE,
                DEC_1 + 14 * 60 * MINUTE,
            ],
            DEC_1 + 15 * 60 * MINUTE,
        );
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(50, 10)).unwrap();
        terminal
            .draw(|frame| crate::ui::render::draw(&app, frame))
            .unwrap();
        insta::assert_snapshot!(terminal.backend());
    }

    #[test]
    fn lines_of_yesterday_take_their_date_once_midnight_has_passed() {
        let mut app = pane_at(&[DEC_1 - 2 * MINUTE, DEC_1 - MINUTE], DEC_1 - MINUTE / 2);
        let before = rows(&app, 50, 8);
        assert!(
            before.contains(&"23:58 <alice> line 0".to_owned()),
            "{before:?}"
        );
        assert!(app.set_clock(LocalNow {
            now_ms: DEC_1 + MINUTE,
            utc_offset_secs: 0,
        }));
        let after = rows(&app, 50, 8);
        assert!(
            after.contains(&"30 Nov 23:58 <alice> line 0".to_owned()),
            "{after:?}"
        );
        assert!(after.contains(&"30 Nov 23:59 <alice> line 1".to_owned()));
        // A line of today reads as before.
        app.handle_net(crate::ui::app::room_tests::say(
            "#general", 20, "alice", "now",
        ));
        let pane = app.pane_mut();
        pane.lines.back_mut().unwrap().ts = Some(DEC_1 + MINUTE);
        let after = rows(&app, 50, 8);
        assert!(
            after.contains(&"—— Tuesday 1 December ——".to_owned()),
            "{after:?}"
        );
        assert!(after.contains(&"00:01 <alice> now".to_owned()), "{after:?}");
    }

    #[test]
    fn older_history_loaded_above_a_day_gets_its_day_change_line() {
        use crate::ui::app::room_tests::event;
        let mut app = pane_at(&[DEC_1 + MINUTE], DEC_1 + 2 * MINUTE);
        let shown = rows(&app, 50, 8);
        assert!(!shown.iter().any(|row| row.starts_with("——")), "{shown:?}");
        assert!(app.wants_older().is_some());
        let mut older = event(
            "#general",
            9,
            crate::rpc::types::EventKind::Message,
            "alice",
            Some("last night"),
        );
        older.ts = DEC_1 - 3 * 60 * MINUTE;
        app.handle_net(crate::ui::NetEvent::Older {
            room: "#general".into(),
            events: vec![older],
        });
        let shown = rows(&app, 50, 8);
        let night = shown
            .iter()
            .position(|row| row == "30 Nov 21:00 <alice> last night")
            .expect("the older line");
        // The client's note of joining, with no time, lies between; the day changes at
        // the next line with one.
        let heading = shown
            .iter()
            .position(|row| row == "—— Tuesday 1 December ——")
            .expect("the day-change line");
        assert!(heading > night, "{shown:?}");
        assert_eq!(shown[heading + 1], "00:01 <alice> line 0", "{shown:?}");
    }
}
