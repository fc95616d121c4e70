//! `reasoner plot RUN_DIR`: a PNG line chart per metric of `metrics.jsonl` against the step,
//! drawn with plotters and an embedded font (no system fonts needed).

use crate::error::{Result, TrainError};
use crate::metrics::read_metrics;
use plotters::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Chart every numeric metric of `run/metrics.jsonl` (or only `only`) into `out_dir`
/// (default `run/plots`); returns the files written.
pub fn plot_run(run: &Path, only: &[String], out_dir: Option<&Path>) -> Result<Vec<PathBuf>> {
    let metrics_path = run.join("metrics.jsonl");
    if !metrics_path.exists() {
        return Err(TrainError::io(&metrics_path, "no metrics.jsonl: is this a training run directory?"));
    }
    let rows = read_metrics(&metrics_path)?;
    if rows.is_empty() {
        return Err(TrainError::Data { path: metrics_path, message: "holds no rows yet".into() });
    }
    let mut keys: Vec<String> = Vec::new();
    for r in &rows {
        for (k, v) in r {
            if k != "step" && v.is_number() && !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    if !only.is_empty() {
        if let Some(missing) = only.iter().find(|k| !keys.contains(k)) {
            return Err(TrainError::Data {
                path: metrics_path,
                message: format!("no metric `{missing}` (it has: {})", keys.join(", ")),
            });
        }
        keys.retain(|k| only.contains(k));
    }
    let out = out_dir.map(Path::to_path_buf).unwrap_or_else(|| run.join("plots"));
    std::fs::create_dir_all(&out).map_err(|e| TrainError::io(&out, e))?;
    let mut written = Vec::new();
    for k in &keys {
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter_map(|r| Some((r.get("step").and_then(Value::as_f64)?, r.get(k).and_then(Value::as_f64)?)))
            .filter(|(_, y)| y.is_finite())
            .collect();
        if points.is_empty() {
            continue;
        }
        let path = out.join(format!("{k}.png"));
        draw_line(&points, k, &path).map_err(|message| TrainError::Plot { path: path.clone(), message })?;
        written.push(path);
    }
    Ok(written)
}

/// One line chart of `points` (step, value), titled `name`.
pub fn draw_line(points: &[(f64, f64)], name: &str, path: &Path) -> std::result::Result<(), String> {
    draw_series(&[(name.to_string(), points.to_vec())], name, "step", path)
}

/// Several named series on one chart (e.g. two students' accuracy).
pub fn draw_series(
    series: &[(String, Vec<(f64, f64)>)],
    title: &str,
    x_label: &str,
    path: &Path,
) -> std::result::Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    register_fonts().map_err(|e| e.to_string())?;
    let all = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        return Err("no points".into());
    }
    if x1 - x0 < 1e-9 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let root = BitMapBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 26))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(&e))?;
    chart.configure_mesh().x_desc(x_label).y_desc(title).label_style(("sans-serif", 15)).draw().map_err(|e| err(&e))?;
    let colors = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = colors[i % colors.len()];
        let drawn = chart.draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2))).map_err(|e| err(&e))?;
        if series.len() > 1 {
            drawn
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        }
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))
}

fn register_fonts() -> Result<()> {
    static OK: OnceLock<bool> = OnceLock::new();
    let ok = *OK.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok { Ok(()) } else { Err(TrainError::Invalid("could not register the embedded font".into())) }
}
