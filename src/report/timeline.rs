//! The SVG timeline of a run: the phases before the fan-out, then one row
//! per letter with a bar per attempt (and, under a queueing launcher, the
//! wait before it started), on a shared time axis. Self-contained: no
//! script, no external font.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Report, Verdict};
use crate::polymer::UnitType;
use crate::supervise::{Attempt, Outcome};

const WIDTH: f64 = 960.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 50.0;
const ROW: f64 = 18.0;
const GAP: f64 = 4.0;

/// An SVG document being drawn, with the run's time axis.
struct Chart {
    svg: String,
    total: Duration,
    axis_y: f64,
}

impl Chart {
    /// The x coordinate of moment `t` of the run.
    fn x(&self, t: Duration) -> f64 {
        let plot = WIDTH - LEFT - RIGHT;
        LEFT + plot * (t.as_secs_f64() / self.total.as_secs_f64()).min(1.0)
    }

    fn line(&mut self, text: std::fmt::Arguments) {
        let _ = self.svg.write_fmt(text);
        self.svg.push('\n');
    }
}

/// The whole timeline of `report`, as an SVG document.
pub fn timeline(report: &Report) -> String {
    let rows = report.phases.len() + report.letters.len();
    let axis_y = TOP + rows as f64 * (ROW + GAP) + 6.0;
    let mut chart = Chart {
        svg: String::new(),
        total: report.elapsed.max(Duration::from_micros(1)),
        axis_y,
    };
    let best = match report.verdict() {
        Verdict::Minimum { letter, length } => Some((letter, length)),
        Verdict::Failed { .. } => None,
    };
    title(&mut chart, report, best);
    axis(&mut chart);
    let mut y = TOP;
    for phase in &report.phases {
        let (x0, x1) = (chart.x(phase.start), chart.x(phase.start + phase.duration));
        chart.line(format_args!(
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#204a87">{}</text><rect class="bar phase" x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{ROW}" fill="#3465a4"><title>{}: {}</title></rect>"##,
            LEFT - 8.0,
            y + ROW - 5.0,
            escape(phase.name),
            (x1 - x0).max(1.0),
            escape(phase.name),
            time_label(phase.duration)
        ));
        y += ROW + GAP;
    }
    for run in report.letter_runs() {
        let is_best = best.is_some_and(|(b, _)| b == run.letter);
        letter_row(&mut chart, report, run.letter, is_best, y);
        y += ROW + GAP;
    }
    legend(&mut chart);
    chart.svg.push_str("</svg>\n");
    chart.svg
}

fn title(chart: &mut Chart, report: &Report, best: Option<(UnitType, usize)>) {
    let height = chart.axis_y + 70.0;
    chart.line(format_args!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    ));
    chart.line(format_args!(
        r#"<rect width="100%" height="100%" fill="white"/>"#
    ));
    let what = match best {
        Some((letter, length)) => format!("minimum {length} units without {letter}"),
        None => "failed".to_string(),
    };
    let title = format!(
        "{} letters, {} mode, {} at once: {what} ({})",
        report.letters.len(),
        report.mode,
        report.concurrency,
        time_label(report.elapsed)
    );
    chart.line(format_args!(
        r#"<text x="{LEFT}" y="24" font-size="15" font-weight="bold">{}</text>"#,
        escape(&title)
    ));
}

/// Grid lines and tick labels, drawn first so that bars draw over them.
fn axis(chart: &mut Chart) {
    let axis_y = chart.axis_y;
    let step = tick_step(chart.total);
    let mut tick = Duration::ZERO;
    while tick <= chart.total {
        let tx = chart.x(tick);
        chart.line(format_args!(
            r##"<line class="tick" x1="{tx:.1}" y1="{TOP}" x2="{tx:.1}" y2="{axis_y}" stroke="#dddddd"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle" fill="#333333">{}</text>"##,
            axis_y + 16.0,
            time_label(tick)
        ));
        tick += step;
    }
    chart.line(format_args!(
        r##"<line x1="{LEFT}" y1="{axis_y}" x2="{:.1}" y2="{axis_y}" stroke="#333333"/>"##,
        WIDTH - RIGHT
    ));
}

/// The label and bars of one letter at height `y`: the label names the
/// host its last attempt ran on, when known.
fn letter_row(chart: &mut Chart, report: &Report, letter: UnitType, is_best: bool, y: f64) {
    let weight = if is_best { "bold" } else { "normal" };
    let host = report
        .attempts
        .iter()
        .rev()
        .find(|a| a.letter == letter)
        .and_then(|a| a.host.as_deref())
        .map_or_else(String::new, |host| format!(" @ {}", escape(host)));
    let label = if is_best {
        format!("{letter}{host} (best)")
    } else {
        format!("{letter}{host}")
    };
    chart.line(format_args!(
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-weight="{weight}">{label}</text>"#,
        LEFT - 8.0,
        y + ROW - 5.0
    ));
    for attempt in report.attempts.iter().filter(|a| a.letter == letter) {
        attempt_bar(chart, attempt, is_best, y);
    }
}

fn attempt_bar(chart: &mut Chart, attempt: &Attempt, is_best: bool, y: f64) {
    let letter = attempt.letter;
    if attempt.started > attempt.spawned {
        // Between the spawn and the start of the work: queueing.
        let (w0, w1) = (chart.x(attempt.spawned), chart.x(attempt.started));
        chart.line(format_args!(
            r##"<rect class="wait" x="{w0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#babdb6"><title>{letter} waited {}</title></rect>"##,
            y + ROW / 3.0,
            (w1 - w0).max(0.5),
            ROW / 3.0,
            time_label(attempt.started - attempt.spawned)
        ));
    }
    let (x0, x1) = (
        chart.x(attempt.started),
        chart.x(attempt.started + attempt.duration),
    );
    let (fill, stroke) = if is_best && attempt.outcome.is_ok() {
        ("#edd400", r##" stroke="#000000" stroke-width="1.5""##)
    } else {
        (colour(&attempt.outcome), "")
    };
    let host = attempt.host.as_deref().map(escape);
    let (data_host, on_host) = host.as_ref().map_or_else(Default::default, |host| {
        (format!(r#" data-host="{host}""#), format!(" on {host}"))
    });
    chart.line(format_args!(
        r#"<rect class="bar letter" data-letter="{letter}"{data_host} x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{ROW}" fill="{fill}"{stroke}><title>{letter} (attempt {}{on_host}): {}, {}</title></rect>"#,
        (x1 - x0).max(1.0),
        attempt.attempt,
        escape(&attempt.outcome.to_string()),
        time_label(attempt.duration)
    ));
}

fn legend(chart: &mut Chart) {
    let legend_y = chart.axis_y + 40.0;
    let mut lx = LEFT;
    for (name, fill) in [
        ("before the fan-out", "#3465a4"),
        ("ok", "#4e9a06"),
        ("best", "#edd400"),
        ("cached", "#8ae234"),
        ("failed", "#cc0000"),
        ("timed out", "#f57900"),
        ("cancelled", "#888a85"),
        ("waiting to start", "#babdb6"),
    ] {
        chart.line(format_args!(
            r#"<rect x="{lx:.1}" y="{:.1}" width="14" height="14" fill="{fill}"/><text x="{:.1}" y="{legend_y:.1}">{name}</text>"#,
            legend_y - 11.0,
            lx + 19.0
        ));
        lx += 40.0 + 7.5 * name.len() as f64;
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round tick step giving about six ticks over `total`.
fn tick_step(total: Duration) -> Duration {
    let target = total.as_secs_f64() / 6.0;
    let mut step = 1e-6;
    for _ in 0..30 {
        for factor in [1.0, 2.0, 5.0] {
            if step * factor >= target {
                return Duration::from_secs_f64(step * factor);
            }
        }
        step *= 10.0;
    }
    Duration::from_secs_f64(step)
}

fn time_label(t: Duration) -> String {
    let seconds = t.as_secs_f64();
    if seconds == 0.0 {
        "0".into()
    } else if seconds < 1e-3 {
        format!("{:.0} µs", seconds * 1e6)
    } else if seconds < 1.0 {
        format!("{} ms", trim(seconds * 1e3))
    } else {
        format!("{} s", trim(seconds))
    }
}

fn trim(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn colour(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Ok(_) => "#4e9a06",
        Outcome::Kept(_) => "#8ae234",
        Outcome::Timeout => "#f57900",
        Outcome::Cancelled => "#888a85",
        _ => "#cc0000",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(
            tick_step(Duration::from_millis(37)),
            Duration::from_millis(10)
        );
        assert_eq!(
            tick_step(Duration::from_millis(6)),
            Duration::from_millis(1)
        );
        assert_eq!(tick_step(Duration::from_secs(14)), Duration::from_secs(5));
        assert_eq!(time_label(Duration::from_micros(2500)), "2.5 ms");
        assert_eq!(time_label(Duration::from_secs(2)), "2 s");
        assert_eq!(time_label(Duration::from_micros(40)), "40 µs");
    }

    #[test]
    fn text_is_escaped_for_xml() {
        assert_eq!(escape(r#"a<b>&"c""#), "a&lt;b&gt;&amp;&quot;c&quot;");
    }
}
