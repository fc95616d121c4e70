//! Human-facing evaluation output: a plain-text summary table and a PNG bar chart of pass@1 by
//! task and difficulty. Text in the PNG uses DejaVu Sans embedded from the `dejavu` crate via
//! plotters' `ab_glyph` feature, so no system fonts, fontconfig or freetype are needed.

use crate::metrics::{EvalSummary, GroupSummary};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::OnceLock;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot draw plot {file}: {message}")]
    Plot { file: String, message: String },
    #[error("cannot load the embedded font")]
    Font,
    #[error("nothing to plot for {file}: no results")]
    Empty { file: String },
}

fn level_name(level: Option<u8>) -> String {
    level.map_or_else(|| "-".to_string(), |l| l.to_string())
}

/// A fixed-width table: one row per (task, difficulty), then the overall row when given.
pub fn format_summary_table(groups: &[GroupSummary], overall: Option<&EvalSummary>) -> String {
    let header = ["task", "level", "n", "K", "pass@1", "cons@K", "tokens", "think"];
    let row = |task: &str, level: &str, s: &EvalSummary| {
        vec![
            task.to_string(),
            level.to_string(),
            s.n.to_string(),
            s.samples.to_string(),
            format!("{:.3}", s.pass_at_1),
            format!("{:.3}", s.cons_at_k),
            format!("{:.1}", s.mean_tokens),
            format!("{:.1}", s.mean_think_tokens),
        ]
    };
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    rows.extend(groups.iter().map(|g| row(&g.task, &level_name(g.difficulty), &g.summary)));
    if let Some(s) = overall {
        rows.push(row(&format!("all ({})", s.task), "", s));
    }
    let widths: Vec<usize> =
        (0..header.len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(
                |(c, cell)| {
                    if c < 2 { format!("{cell:<w$}", w = widths[c]) } else { format!("{cell:>w$}", w = widths[c]) }
                },
            )
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            out.push('\n');
        }
    }
    out
}

fn register_fonts() -> Result<(), ReportError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok { Ok(()) } else { Err(ReportError::Font) }
}

/// The Wilson score interval (95%) of a proportion `p` seen over `n` trials: unlike p ± 1.96·se
/// it stays inside [0, 1] and is not zero-width at p = 0 or 1.
pub fn wilson_interval(p: f64, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    const Z: f64 = 1.959_963_984_540_054;
    let n = n as f64;
    let z2 = Z * Z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Writes a PNG bar chart (1000×600) of pass@1 per task, one bar per difficulty level, each with
/// its 95% interval (Wilson, over the item × sample draws) and its n; a bar at 0 is drawn as an
/// outline on the axis so an all-zero run still shows every group.
pub fn plot_accuracy(groups: &[GroupSummary], path: &Path, title: &str) -> Result<(), ReportError> {
    let file = path.display().to_string();
    if groups.is_empty() {
        return Err(ReportError::Empty { file });
    }
    register_fonts()?;
    draw_bars(groups, path, title).map_err(|message| ReportError::Plot { file, message })
}

fn draw_bars(groups: &[GroupSummary], path: &Path, title: &str) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let mut tasks: Vec<&str> = Vec::new();
    let mut levels: Vec<Option<u8>> = Vec::new();
    for g in groups {
        if !tasks.contains(&g.task.as_str()) {
            tasks.push(&g.task);
        }
        if !levels.contains(&g.difficulty) {
            levels.push(g.difficulty);
        }
    }
    levels.sort();

    let root = BitMapBackend::new(path, (1000, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 26))
        .margin(20)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..tasks.len() as f64, 0f64..1.1f64)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("pass@1")
        .y_label_formatter(&|v| format!("{v:.1}"))
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(|e| err(&e))?;

    let width = 0.8 / levels.len() as f64;
    for (li, level) in levels.iter().enumerate() {
        let color = Palette99::pick(li).to_rgba();
        // (left edge, pass@1, draws behind it, items)
        let bars: Vec<(f64, f64, usize, usize)> = groups
            .iter()
            .filter(|g| g.difficulty == *level)
            .filter_map(|g| {
                tasks.iter().position(|t| *t == g.task).map(|ti| {
                    let s = &g.summary;
                    (ti as f64 + 0.1 + li as f64 * width, s.pass_at_1, s.n * s.samples.max(1), s.n)
                })
            })
            .collect();
        let w = width * 0.92;
        chart
            .draw_series(bars.iter().map(|&(x0, y, _, _)| Rectangle::new([(x0, 0.0), (x0 + w, y)], color.filled())))
            .map_err(|e| err(&e))?
            .label(format!("level {}", level_name(*level)))
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], color.filled()));
        // Outlines: a zero bar is a visible sliver on the axis, not nothing.
        chart
            .draw_series(
                bars.iter()
                    .map(|&(x0, y, _, _)| Rectangle::new([(x0, 0.0), (x0 + w, y.max(0.008))], color.stroke_width(2))),
            )
            .map_err(|e| err(&e))?;
        // 95% interval whiskers with caps.
        chart
            .draw_series(bars.iter().flat_map(|&(x0, y, draws, _)| {
                let (lo, hi) = wilson_interval(y, draws);
                let (xm, cap) = (x0 + w / 2.0, w / 4.0);
                [
                    PathElement::new(vec![(xm, lo), (xm, hi)], BLACK.stroke_width(1)),
                    PathElement::new(vec![(xm - cap, lo), (xm + cap, lo)], BLACK.stroke_width(1)),
                    PathElement::new(vec![(xm - cap, hi), (xm + cap, hi)], BLACK.stroke_width(1)),
                ]
            }))
            .map_err(|e| err(&e))?;
        let value_style = TextStyle::from(("sans-serif", 13)).pos(Pos::new(HPos::Center, VPos::Bottom));
        chart
            .draw_series(bars.iter().map(|&(x0, y, draws, items)| {
                let (_, hi) = wilson_interval(y, draws);
                Text::new(format!("{y:.2} n={items}"), (x0 + w / 2.0, hi.max(y) + 0.015), value_style.clone())
            }))
            .map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;

    let task_style = TextStyle::from(("sans-serif", 18)).pos(Pos::new(HPos::Center, VPos::Top));
    for (ti, task) in tasks.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(ti as f64 + 0.5, 0.0));
        root.draw(&Text::new(task.to_string(), (px, py + 8), task_style.clone())).map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(task: &str, level: u8, p: f64) -> GroupSummary {
        GroupSummary {
            task: task.into(),
            difficulty: Some(level),
            summary: EvalSummary {
                task: task.into(),
                n: 10,
                samples: 4,
                pass_at_1: p,
                cons_at_k: p,
                mean_tokens: 120.5,
                mean_think_tokens: 80.25,
            },
        }
    }

    #[test]
    fn table_lines_up() {
        let groups = vec![group("add", 1, 0.9), group("countdown", 3, 0.25)];
        let overall = crate::metrics::EvalSummary { task: "mixed".into(), ..groups[0].summary.clone() };
        let t = format_summary_table(&groups, Some(&overall));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5, "{t}");
        assert!(lines[0].starts_with("task"));
        assert!(lines[3].contains("0.250") && lines[3].contains("120.5"));
        assert!(lines[4].starts_with("all (mixed)"));
    }

    #[test]
    fn png_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acc.png");
        let groups = vec![group("add", 1, 0.9), group("add", 2, 0.7), group("mul", 1, 0.5), group("countdown", 2, 0.1)];
        plot_accuracy(&groups, &path, "accuracy by task and difficulty").unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(plot_accuracy(&[], &path, "x").is_err());
        // All zero: still a picture (bars as outlines on the axis).
        plot_accuracy(&[group("add", 1, 0.0), group("sub", 1, 0.0)], &path, "zeros").unwrap();
    }

    #[test]
    fn wilson_matches_newcombe() {
        // Newcombe (1998), Statistics in Medicine 17:857, Table II, method 3 (Wilson score).
        for (k, n, lo, hi) in
            [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)]
        {
            let (l, h) = wilson_interval(k as f64 / n as f64, n);
            assert!((l - lo).abs() < 5e-5 && (h - hi).abs() < 5e-5, "{k}/{n}: {l} {h}");
        }
        assert_eq!(wilson_interval(0.3, 0), (0.0, 1.0));
    }
}
