//! What the report examples share: reading a timestamped CSV, writing dates, the charts' font,
//! and saving one drawing as both SVG and PNG.

use std::error::Error;
use std::path::Path;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// A CSV of metrics: one timestamp column and named numeric columns.
#[derive(Debug)]
pub(crate) struct Table {
    /// Unix seconds, one per row.
    pub(crate) times: Vec<i64>,
    /// Each value column: its header and its values, one per row.
    pub(crate) columns: Vec<(String, Vec<f64>)>,
}

/// Reads a CSV whose first column (or the one named `timestamp`, `time` or `date`) holds
/// timestamps — RFC 3339 (`2026-03-01T00:00:00Z`), a date (`2026-03-01`, midnight UTC) or Unix
/// seconds — and every other column numbers. An empty or unreadable cell is an error naming its
/// row and column: the forecasts need every point.
pub(crate) fn read_csv(path: &Path) -> Result<Table, Box<dyn Error>> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let headers: Vec<String> = reader
        .headers()?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let time_column = headers
        .iter()
        .position(|h| {
            matches!(
                h.to_ascii_lowercase().as_str(),
                "timestamp" | "time" | "date"
            )
        })
        .unwrap_or(0);
    let mut times = Vec::new();
    let mut columns: Vec<(String, Vec<f64>)> = headers
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != time_column)
        .map(|(_, h)| (h.clone(), Vec::new()))
        .collect();
    if columns.is_empty() {
        return Err(format!("{}: no value columns besides the timestamp", path.display()).into());
    }
    for (row, record) in reader.records().enumerate() {
        let record = record?;
        let line = row + 2;
        let cell = |i: usize| record.get(i).map(str::trim).unwrap_or("");
        times.push(
            parse_timestamp(cell(time_column))
                .map_err(|e| format!("{}:{line}: {e}", path.display()))?,
        );
        let values = headers
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != time_column);
        for ((i, header), (_, column)) in values.zip(columns.iter_mut()) {
            let text = cell(i);
            let value: f64 = text.parse().map_err(|_| {
                format!(
                    "{}:{line}: column {header} holds {text:?}, not a number",
                    path.display()
                )
            })?;
            column.push(value);
        }
    }
    if times.is_empty() {
        return Err(format!("{}: no rows", path.display()).into());
    }
    Ok(Table { times, columns })
}

/// Unix seconds from RFC 3339, a date (midnight UTC) or an integer.
pub(crate) fn parse_timestamp(text: &str) -> Result<i64, String> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t.as_second());
    }
    if let Ok(d) = text.parse::<Date>() {
        return d
            .to_zoned(TimeZone::UTC)
            .map(|z| z.timestamp().as_second())
            .map_err(|e| e.to_string());
    }
    text.parse::<i64>().map_err(|_| {
        format!("timestamp {text:?} is neither RFC 3339, a date (YYYY-MM-DD) nor Unix seconds")
    })
}

/// `seconds` as a UTC date and time in `format` (strftime), or the raw number out of range.
pub(crate) fn format_time(seconds: i64, format: &str) -> String {
    Timestamp::from_second(seconds)
        .map(|t| t.to_zoned(TimeZone::UTC).strftime(format).to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

/// `seconds` as a UTC date, `2026-03-01`.
#[allow(dead_code, reason = "not every report writes plain dates")]
pub(crate) fn date(seconds: i64) -> String {
    format_time(seconds, "%Y-%m-%d")
}

/// Registers the charts' font with plotters: Noto Sans Regular (SIL Open Font License 1.1), as
/// the `notosans` crate ships it, so PNG text needs no system font or fontconfig.
pub(crate) fn register_font() -> Result<(), Box<dyn Error>> {
    plotters::style::register_font(
        "sans-serif",
        plotters::style::FontStyle::Normal,
        notosans::REGULAR_TTF,
    )
    .map_err(|_| "the Noto Sans font could not be read".into())
}

/// Draws one chart twice — `DIR/NAME.svg` and `DIR/NAME.png`, `(width, height)` pixels — with
/// `$draw`, a closure taking the root drawing area and returning `Result<(), Box<dyn Error>>`
/// (written out once per backend, so it may be generic over it). Yields the two paths.
macro_rules! save_chart {
    ($dir:expr, $name:expr, $size:expr, $draw:expr) => {{
        let svg = $dir.join(format!("{}.svg", $name));
        let png = $dir.join(format!("{}.png", $name));
        {
            let root = plotters::prelude::SVGBackend::new(&svg, $size).into_drawing_area();
            root.fill(&plotters::prelude::WHITE)?;
            ($draw)(&root)?;
            root.present()?;
        }
        {
            let root = plotters::prelude::BitMapBackend::new(&png, $size).into_drawing_area();
            root.fill(&plotters::prelude::WHITE)?;
            ($draw)(&root)?;
            root.present()?;
        }
        (svg, png)
    }};
}
