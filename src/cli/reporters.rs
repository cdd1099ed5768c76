//! The terminal side of [`crate::progress`]: a bar per task on a terminal (indicatif), plain
//! lines in CI and pipes. Large tasks (a MiB or more, a thousand records or more, or of unknown
//! size) get a start line, a line every few seconds while they last (without bars) and a done
//! line with size, time and rate; with `-v` every task does, and each registry request is
//! listed. Every label and line goes through the printer, so the redactor sees it.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

use crate::cli::printer::Printer;
use crate::progress::{Kind, Observer, Progress, TaskInfo, Tracker};

/// How often a plain-line task says how far it got.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// A task at least this large is worth lines without `-v`.
const LARGE_BYTES: u64 = 1024 * 1024;
const LARGE_ITEMS: u64 = 1000;

/// Smaller tasks get no bar.
const VISIBLE_BYTES: u64 = 64 * 1024;
const VISIBLE_ITEMS: u64 = 100;

/// The printer's [`Progress`]: bars or lines as its style says, nothing when quiet.
pub fn progress(printer: &Printer) -> Progress {
    if printer.style().quiet {
        return Progress::default();
    }
    Progress::new(Arc::new(Terminal {
        printer: printer.clone(),
    }))
}

struct Terminal {
    printer: Printer,
}

impl Observer for Terminal {
    fn start(&self, info: TaskInfo) -> Box<dyn Tracker> {
        let verbose = self.printer.style().verbose > 0;
        let large = at_least(&info, LARGE_BYTES, LARGE_ITEMS);
        // Digests shortened unless asked for detail; the label is masked like any line.
        let label = self.printer.redact(&if verbose {
            info.label.clone()
        } else {
            short(&info.label)
        });
        let name = format!("{} {label}", verb(info.kind));
        let lines = large || verbose;
        if lines {
            self.printer.status(&format!(
                "  {name}{}…",
                info.total
                    .map(|t| format!(" ({})", amount(info.kind, t)))
                    .unwrap_or_default()
            ));
        }
        // A blob of a few KiB is done before a bar could be read: it would only flicker.
        let visible = at_least(&info, VISIBLE_BYTES, VISIBLE_ITEMS);
        let bar = self.printer.bars().filter(|_| visible).map(|bars| {
            let bar = bars.add(match info.total {
                Some(t) => ProgressBar::new(t),
                None => ProgressBar::new_spinner(),
            });
            bar.set_style(bar_style(
                info.kind,
                info.total.is_some(),
                self.printer.style().color,
            ));
            bar.set_prefix(name.clone());
            // Drawn at once, so even a quick task shows where it stands.
            bar.tick();
            bar
        });
        Box::new(Task {
            printer: self.printer.clone(),
            kind: info.kind,
            total: info.total,
            name,
            lines,
            bar,
            started: Instant::now(),
            state: Mutex::new(State {
                done: 0,
                last_line: Instant::now(),
                finished: false,
            }),
        })
    }

    fn detail(&self, text: &str) {
        self.printer.detail(&format!("  {text}"));
    }
}

struct Task {
    printer: Printer,
    kind: Kind,
    total: Option<u64>,
    name: String,
    lines: bool,
    bar: Option<ProgressBar>,
    started: Instant,
    state: Mutex<State>,
}

struct State {
    done: u64,
    last_line: Instant,
    finished: bool,
}

impl Tracker for Task {
    fn advance(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.done += n;
        // Without bars, a long task says how far it got now and then (CI logs look alive).
        if self.bar.is_none() && self.lines && state.last_line.elapsed() >= LINE_EVERY {
            state.last_line = Instant::now();
            let at = match self.total {
                Some(t) if t > 0 => format!(
                    "{}% ({} of {})",
                    state.done * 100 / t,
                    amount(self.kind, state.done),
                    amount(self.kind, t)
                ),
                _ => amount(self.kind, state.done),
            };
            self.printer.status(&format!("  {}: {at}", self.name));
        }
    }

    fn finish(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.finished = true;
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.lines {
            let secs = self.started.elapsed().as_secs_f64();
            let rate = if self.kind.counts_bytes() && secs > 0.0 {
                format!(" ({}/s)", HumanBytes((state.done as f64 / secs) as u64))
            } else {
                String::new()
            };
            self.printer.status(&format!(
                "  {}: done, {} in {secs:.2} s{rate}",
                self.name,
                amount(self.kind, state.done)
            ));
        }
    }
}

impl Drop for Task {
    /// Abandoned (failed or interrupted): the bar goes; the error says why elsewhere.
    fn drop(&mut self) {
        let finished = self.state.get_mut().map(|s| s.finished).unwrap_or(true);
        if let (Some(bar), false) = (&self.bar, finished) {
            bar.finish_and_clear();
        }
    }
}

/// Whether the task is at least this large (a task of unknown size counts as large).
fn at_least(info: &TaskInfo, bytes: u64, items: u64) -> bool {
    let min = if info.kind.counts_bytes() {
        bytes
    } else {
        items
    };
    info.total.is_none_or(|t| t >= min)
}

fn verb(kind: Kind) -> &'static str {
    match kind {
        Kind::Upload => "upload",
        Kind::Download => "download",
        Kind::BuildContext => "send build context",
        Kind::LayerRead => "read layer",
        Kind::DatabaseLoad => "load database",
    }
}

fn amount(kind: Kind, n: u64) -> String {
    if kind.counts_bytes() {
        HumanBytes(n).to_string()
    } else {
        format!("{n} records")
    }
}

/// `sha256:0123456789ab` for a digest; anything else as it is.
fn short(label: &str) -> String {
    match label.split_once(':') {
        Some((algo, hex)) if hex.len() > 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            format!("{algo}:{}", &hex[..12])
        }
        _ => label.to_string(),
    }
}

fn bar_style(kind: Kind, bounded: bool, color: bool) -> ProgressStyle {
    let bar = if color {
        "{bar:30.cyan/blue}"
    } else {
        "{bar:30}"
    };
    let template = match (kind.counts_bytes(), bounded) {
        (true, true) => {
            format!("  {{prefix}} [{bar}] {{percent:>3}}% {{bytes}}/{{total_bytes}} {{binary_bytes_per_sec}}")
        }
        (true, false) => "  {prefix} {spinner} {bytes} {binary_bytes_per_sec}".to_string(),
        (false, true) => format!("  {{prefix}} [{bar}] {{percent:>3}}% {{pos}}/{{len}} records"),
        (false, false) => "  {prefix} {spinner} {pos} records".to_string(),
    };
    ProgressStyle::with_template(&template)
        .expect("the templates are valid")
        .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_shortened_and_other_labels_kept() {
        assert_eq!(
            short("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            "sha256:0123456789ab"
        );
        assert_eq!(short("/srv/osv"), "/srv/osv");
        assert_eq!(short("C:/x"), "C:/x");
    }

    #[test]
    fn every_style_template_parses() {
        for kind in [Kind::Upload, Kind::BuildContext, Kind::DatabaseLoad] {
            for bounded in [true, false] {
                for color in [true, false] {
                    bar_style(kind, bounded, color);
                }
            }
        }
    }
}
