//! What a run leaves for people to study afterwards: a tab-separated job log
//! (like GNU parallel's, for a spreadsheet) and an SVG timeline of the run.
//! Both are written beside their target and renamed into place, so a file
//! that exists is a whole one.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::protocol::write_atomically;
use crate::report::{Outcome, Report};

/// The job log: a header, then one line per letter with its final attempt.
pub fn joblog(report: &Report) -> String {
    let mut log =
        String::from("letter\tattempts\tspawned_s\tstart_s\tduration_s\toutcome\tlength\n");
    for (letter, attempts, last) in report.final_attempts() {
        match last {
            Some(attempt) => {
                let length = match attempt.outcome {
                    Outcome::Ok(length) => length.to_string(),
                    _ => String::new(),
                };
                let _ = writeln!(
                    log,
                    "{letter}\t{attempts}\t{:.6}\t{:.6}\t{:.6}\t{}\t{length}",
                    attempt.spawned.as_secs_f64(),
                    attempt.start.as_secs_f64(),
                    attempt.duration.as_secs_f64(),
                    attempt.outcome.tag(),
                );
            }
            None => {
                let _ = writeln!(log, "{letter}\t0\t\t\t\tnot-started\t");
            }
        }
    }
    log
}

pub fn write_joblog(path: &Path, report: &Report) -> anyhow::Result<()> {
    write_atomically(path, joblog(report).as_bytes())
}

pub fn write_timeline(path: &Path, report: &Report) -> anyhow::Result<()> {
    write_atomically(path, timeline(report).as_bytes())
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
        Outcome::Timeout => "#f57900",
        Outcome::Killed => "#888a85",
        _ => "#cc0000",
    }
}

/// A self-contained SVG Gantt chart: the phases before the fan-out, then
/// one row per letter with a bar per attempt, on a shared time axis.
pub fn timeline(report: &Report) -> String {
    const WIDTH: f64 = 960.0;
    const LEFT: f64 = 150.0;
    const RIGHT: f64 = 30.0;
    const TOP: f64 = 50.0;
    const ROW: f64 = 18.0;
    const GAP: f64 = 4.0;
    let plot = WIDTH - LEFT - RIGHT;
    let total = report.elapsed.max(Duration::from_micros(1));
    let x = |t: Duration| LEFT + plot * (t.as_secs_f64() / total.as_secs_f64()).min(1.0);
    let rows = report.phases.len() + report.letters.len();
    let axis_y = TOP + rows as f64 * (ROW + GAP) + 6.0;
    let height = axis_y + 70.0;
    let best = report.minimum();

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let title = match best {
        Some((letter, length)) => format!(
            "{} letters, {} mode, {} at once: minimum {length} units without {letter} ({})",
            report.letters.len(),
            report.mode,
            report.jobs,
            time_label(report.elapsed)
        ),
        None => format!(
            "{} letters, {} mode, {} at once: failed ({})",
            report.letters.len(),
            report.mode,
            report.jobs,
            time_label(report.elapsed)
        ),
    };
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="24" font-size="15" font-weight="bold">{}</text>"#,
        escape(&title)
    );

    // Grid lines and tick labels first, so bars draw over them.
    let step = tick_step(total);
    let mut tick = Duration::ZERO;
    while tick <= total {
        let tx = x(tick);
        let _ = writeln!(
            svg,
            r##"<line class="tick" x1="{tx:.1}" y1="{TOP}" x2="{tx:.1}" y2="{axis_y}" stroke="#dddddd"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle" fill="#333333">{}</text>"##,
            axis_y + 16.0,
            time_label(tick)
        );
        tick += step;
    }
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{axis_y}" x2="{:.1}" y2="{axis_y}" stroke="#333333"/>"##,
        WIDTH - RIGHT
    );

    let mut y = TOP;
    for phase in &report.phases {
        let (x0, x1) = (x(phase.start), x(phase.start + phase.duration));
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#204a87">{}</text><rect class="bar phase" x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{ROW}" fill="#3465a4"><title>{}: {}</title></rect>"##,
            LEFT - 8.0,
            y + ROW - 5.0,
            escape(phase.name),
            (x1 - x0).max(1.0),
            escape(phase.name),
            time_label(phase.duration)
        );
        y += ROW + GAP;
    }
    for (letter, _, _) in report.final_attempts() {
        let is_best = best.is_some_and(|(b, _)| b == letter);
        let weight = if is_best { "bold" } else { "normal" };
        let label = if is_best {
            format!("{letter} (best)")
        } else {
            letter.to_string()
        };
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-weight="{weight}">{label}</text>"#,
            LEFT - 8.0,
            y + ROW - 5.0
        );
        for attempt in report.attempts.iter().filter(|a| a.letter == letter) {
            if attempt.start > attempt.spawned {
                // Between the spawn and the child's own start: queueing.
                let (w0, w1) = (x(attempt.spawned), x(attempt.start));
                let _ = writeln!(
                    svg,
                    r##"<rect class="wait" x="{w0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#babdb6"><title>{letter} waited {}</title></rect>"##,
                    y + ROW / 3.0,
                    (w1 - w0).max(0.5),
                    ROW / 3.0,
                    time_label(attempt.start - attempt.spawned)
                );
            }
            let (x0, x1) = (x(attempt.start), x(attempt.start + attempt.duration));
            let (fill, stroke) = if is_best && attempt.outcome.is_ok() {
                ("#edd400", r##" stroke="#000000" stroke-width="1.5""##)
            } else {
                (colour(&attempt.outcome), "")
            };
            let _ = writeln!(
                svg,
                r#"<rect class="bar letter" data-letter="{letter}" x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{ROW}" fill="{fill}"{stroke}><title>{letter} (attempt {}): {}, {}</title></rect>"#,
                (x1 - x0).max(1.0),
                attempt.number,
                escape(&attempt.outcome.to_string()),
                time_label(attempt.duration)
            );
        }
        y += ROW + GAP;
    }

    // Legend.
    let legend_y = axis_y + 40.0;
    let mut lx = LEFT;
    for (name, fill) in [
        ("before the fan-out", "#3465a4"),
        ("ok", "#4e9a06"),
        ("best", "#edd400"),
        ("failed", "#cc0000"),
        ("timed out", "#f57900"),
        ("stopped", "#888a85"),
        ("waiting to start", "#babdb6"),
    ] {
        let _ = writeln!(
            svg,
            r#"<rect x="{lx:.1}" y="{:.1}" width="14" height="14" fill="{fill}"/><text x="{:.1}" y="{legend_y:.1}">{name}</text>"#,
            legend_y - 11.0,
            lx + 19.0
        );
        lx += 40.0 + 7.5 * name.len() as f64;
    }
    svg.push_str("</svg>\n");
    svg
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
