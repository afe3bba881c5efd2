//! A capacity report with charts: from a CSV of timestamped resource use to a forecast per
//! resource with its 80% / 95% bands, the date each one runs into its capacity less a 30%
//! reserve, which runs out first, and what the capacity will cost month by month.
//!
//! Run: `cargo run --example capacity_report` (the shipped sample,
//! `examples/data/capacity_sample.csv`: eight months of daily use of CPU, memory, storage,
//! bandwidth and requests with a weekly season), or give your own:
//!
//! ```text
//! cargo run --example capacity_report -- --input metrics.csv --capacity cpu=96 \
//!     --capacity storage=8192 --price storage=0.08 --out report/
//! ```
//!
//! The CSV has a `timestamp` column (RFC 3339, a date or Unix seconds; evenly spaced) and one
//! column per resource, named for it — `cpu…`, `mem…`, `storage…`/`disk…`, `bandwidth…`/`net…`,
//! `requests…`/`rps…`; what follows the first `_` is the unit shown (`memory_gib` → `gib`).
//! Capacities and prices default to the sample's (see `--help`). ha-scale picks a model per
//! resource by AICc among the linear trend, Holt and Holt-Winters with a weekly season (when the
//! step divides a week), forecasts a year, and finds where the forecast, and its 95% band,
//! reaches the usable capacity.
//!
//! Writes to `--out` (default `target/capacity_report`): `RESOURCE.svg` and `RESOURCE.png` per
//! resource (history, forecast, bands, capacity, usable capacity, exhaustion date),
//! `overview.svg` / `overview.png` (every resource and the monthly cost in one picture) and
//! `summary.txt`, the text it also prints.

#[macro_use]
#[path = "support/report.rs"]
mod report;

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ha::scale::{
    Bottleneck, CapacityConfig, CapacityResource, CostProjection, MAX_SEASON_LENGTH, Price,
    PriceModel, ResourceForecast, ResourceUsage, SelectionConfig, TimeSeries, forecast_resources,
    project_cost, rank_bottlenecks,
};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/data/capacity_sample.csv"
);
const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

/// Capacity of the sample's fleet, per resource, in the sample's units.
const DEFAULT_CAPACITY: [(CapacityResource, f64); 5] = [
    (CapacityResource::Cpu, 64.0),
    (CapacityResource::Memory, 384.0),
    (CapacityResource::Storage, 4096.0),
    (CapacityResource::Bandwidth, 1000.0),
    (CapacityResource::Requests, 5000.0),
];
/// Price of one unit for a month: per core, per GiB of memory, per GiB stored, per Mbit/s.
/// Requests are served by the rest and carry no price of their own.
const DEFAULT_PRICE: [(CapacityResource, f64); 4] = [
    (CapacityResource::Cpu, 22.0),
    (CapacityResource::Memory, 2.9),
    (CapacityResource::Storage, 0.10),
    (CapacityResource::Bandwidth, 0.85),
];

/// Forecast resource use from a CSV and chart it.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// The metrics CSV.
    #[arg(long, default_value = SAMPLE)]
    input: PathBuf,
    /// Where the charts and the summary go.
    #[arg(long, default_value = "target/capacity_report")]
    out: PathBuf,
    /// A resource's capacity, `RESOURCE=VALUE` in the CSV's unit (repeat; defaults: cpu=64,
    /// memory=384, storage=4096, bandwidth=1000, requests=5000).
    #[arg(long = "capacity", value_parser = resource_value)]
    capacities: Vec<(CapacityResource, f64)>,
    /// A resource's price per unit and month, `RESOURCE=VALUE` (repeat; defaults: cpu=22,
    /// memory=2.9, storage=0.10, bandwidth=0.85; requests unpriced).
    #[arg(long = "price", value_parser = resource_value)]
    prices: Vec<(CapacityResource, f64)>,
    /// The share of capacity kept free for spikes.
    #[arg(long, default_value_t = 0.3)]
    headroom: f64,
    /// How far ahead to forecast, in days.
    #[arg(long, default_value_t = 365)]
    horizon_days: u64,
    /// Months of cost projection (the horizon stretches to cover them).
    #[arg(long, default_value_t = 12)]
    months: u32,
    /// The season, in points; by default a week of points when the step divides a week, 0 for
    /// none.
    #[arg(long)]
    season: Option<usize>,
    /// Yearly change of every price (-0.1: 10% cheaper a year).
    #[arg(long, default_value_t = 0.0)]
    yearly_price_change: f64,
}

fn resource_named(name: &str) -> Option<CapacityResource> {
    let name = name.to_ascii_lowercase();
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| name.starts_with(p));
    if starts(&["cpu"]) {
        Some(CapacityResource::Cpu)
    } else if starts(&["mem"]) {
        Some(CapacityResource::Memory)
    } else if starts(&["storage", "disk"]) {
        Some(CapacityResource::Storage)
    } else if starts(&["bandwidth", "net"]) {
        Some(CapacityResource::Bandwidth)
    } else if starts(&["requests", "rps", "qps"]) {
        Some(CapacityResource::Requests)
    } else {
        None
    }
}

fn resource_value(text: &str) -> Result<(CapacityResource, f64), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected RESOURCE=VALUE"))?;
    let resource = resource_named(name.trim())
        .ok_or_else(|| format!("{name:?}: not one of cpu, memory, storage, bandwidth, requests"))?;
    let value: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{value:?}: not a number"))?;
    Ok((resource, value))
}

/// A resource as read: its use, its unit and its outlook.
struct Resource {
    usage: ResourceUsage,
    unit: String,
}

/// The tab10 palette, one colour per resource.
fn colour(resource: CapacityResource) -> RGBColor {
    match resource {
        CapacityResource::Cpu => RGBColor(31, 119, 180),
        CapacityResource::Memory => RGBColor(255, 127, 14),
        CapacityResource::Storage => RGBColor(44, 160, 44),
        CapacityResource::Bandwidth => RGBColor(214, 39, 40),
        _ => RGBColor(148, 103, 189),
    }
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("capacity_report: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let table = report::read_csv(&args.input)?;
    let mut resources: Vec<Resource> = Vec::new();
    for (header, values) in table.columns {
        let Some(resource) = resource_named(&header) else {
            eprintln!("skipping column {header:?}: not a resource this report knows");
            continue;
        };
        if resources.iter().any(|r| r.usage.resource == resource) {
            return Err(format!("two columns for {resource} (the second is {header:?})").into());
        }
        let capacity = args
            .capacities
            .iter()
            .rev()
            .chain(DEFAULT_CAPACITY.iter())
            .find(|(r, _)| *r == resource)
            .map(|&(_, c)| c)
            .ok_or_else(|| format!("no capacity for {resource}: give --capacity {resource}=N"))?;
        let unit = header
            .split_once('_')
            .map_or(String::new(), |(_, u)| u.to_string());
        resources.push(Resource {
            usage: ResourceUsage {
                resource,
                series: TimeSeries::new(table.times.clone(), values)?,
                capacity,
            },
            unit,
        });
    }
    let first = resources
        .first()
        .ok_or("the CSV has no resource columns (cpu, memory, storage, bandwidth, requests)")?;
    let series = &first.usage.series;
    let step = series.step()? as i64;
    let season = match args.season {
        Some(0) => None,
        Some(m) => Some(m),
        None => (step > 0 && WEEK % step == 0)
            .then_some((WEEK / step) as usize)
            .filter(|&m| (2..=MAX_SEASON_LENGTH).contains(&m) && series.len() >= 2 * m),
    };
    let config = CapacityConfig {
        headroom_ratio: args.headroom,
        horizon: Duration::from_secs(horizon_days(&args).saturating_mul(DAY as u64)),
        seconds_per_unit: 1.0,
        selection: SelectionConfig {
            season_length: season,
            ..SelectionConfig::default()
        },
    };
    let usages: Vec<ResourceUsage> = resources.iter().map(|r| r.usage.clone()).collect();
    let outlooks = forecast_resources(&usages, &config)?;
    let ranking = rank_bottlenecks(&outlooks);
    let prices = PriceModel {
        prices: priced(&args, &outlooks),
        yearly_price_change_ratio: args.yearly_price_change,
        headroom_ratio: args.headroom,
    };
    let cost = if prices.prices.is_empty() {
        None
    } else {
        Some(project_cost(&outlooks, &prices, args.months)?)
    };

    std::fs::create_dir_all(&args.out)?;
    let summary = summary(
        &args,
        &resources,
        &outlooks,
        &ranking,
        cost.as_ref(),
        season,
    )?;
    print!("{summary}");
    std::fs::write(args.out.join("summary.txt"), &summary)?;

    report::register_font()?;
    let mut written = Vec::new();
    for (r, outlook) in resources.iter().zip(&outlooks) {
        let (svg, png) = save_chart!(
            args.out,
            r.usage.resource.to_string(),
            (1000, 560),
            |root: &DrawingArea<_, Shift>| draw_resource(root, r, outlook, false)
        );
        written.extend([svg, png]);
    }
    let (svg, png) = save_chart!(args.out, "overview", (1350, 760), |root: &DrawingArea<
        _,
        Shift,
    >| draw_overview(
        root,
        &resources,
        &outlooks,
        cost.as_ref()
    ));
    written.extend([svg, png]);
    println!("\nwrote {}", args.out.join("summary.txt").display());
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The forecast's horizon in days: `--horizon-days`, stretched to cover `--months` of cost.
fn horizon_days(args: &Args) -> u64 {
    let months = (f64::from(args.months) * 365.2425 / 12.0).ceil() as u64 + 1;
    args.horizon_days.max(months)
}

/// The prices of the resources forecast: the given ones over the defaults.
fn priced(args: &Args, outlooks: &[ResourceForecast]) -> Vec<Price> {
    outlooks
        .iter()
        .filter_map(|o| {
            args.prices
                .iter()
                .rev()
                .chain(DEFAULT_PRICE.iter())
                .find(|(r, _)| *r == o.resource)
                .map(|&(resource, per_unit_month)| Price {
                    resource,
                    per_unit_month,
                })
        })
        .collect()
}

/// Days from the end of the data to `time`.
fn days_after(time: i64, last: i64) -> i64 {
    (time - last) / DAY
}

fn when(time: Option<i64>, last: i64) -> String {
    time.map_or_else(
        || "-".to_string(),
        |t| format!("{} ({} d)", report::date(t), days_after(t, last)),
    )
}

fn summary(
    args: &Args,
    resources: &[Resource],
    outlooks: &[ResourceForecast],
    ranking: &[Bottleneck],
    cost: Option<&CostProjection>,
    season: Option<usize>,
) -> Result<String, std::fmt::Error> {
    let mut s = String::new();
    let times = resources
        .first()
        .map(|r| r.usage.series.times())
        .unwrap_or_default();
    let (start, last) = (
        times.first().copied().unwrap_or_default(),
        times.last().copied().unwrap_or_default(),
    );
    writeln!(
        s,
        "capacity report: {} points from {} to {}, forecast {} days ahead, {:.0}% of capacity kept free",
        times.len(),
        report::date(start),
        report::date(last),
        horizon_days(args),
        args.headroom * 100.0
    )?;
    writeln!(
        s,
        "season: {}\n",
        season.map_or("none".to_string(), |m| format!("{m} points"))
    )?;
    writeln!(
        s,
        "{:<10} {:<6} {:<31} {:>9} {:>8} {:>6} {:>9} {:>9}  {:<19} {:<19} {:<19} {:>5}",
        "resource",
        "unit",
        "model",
        "now",
        "growth/y",
        "peak×",
        "capacity",
        "usable",
        "runs out: expected",
        "earliest (95%)",
        "latest (95%)",
        "P"
    )?;
    for (r, o) in resources.iter().zip(outlooks) {
        writeln!(
            s,
            "{:<10} {:<6} {:<31} {:>9.1} {:>8} {:>6.2} {:>9.1} {:>9.1}  {:<19} {:<19} {:<19} {:>4.0}%",
            o.resource.to_string(),
            r.unit,
            o.model.name(),
            o.current_level,
            o.yearly_growth_ratio
                .map_or("-".to_string(), |g| format!("{:+.0}%", g * 100.0)),
            o.peak_factor,
            o.capacity,
            o.usable,
            when(o.exhaustion.expected, last),
            when(o.exhaustion.earliest, last),
            when(o.exhaustion.latest, last),
            o.exhaustion.confidence * 100.0
        )?;
    }
    writeln!(
        s,
        "\n(now: the deseasonalised level at the last point; peak×: the season's peak over its mean; \
         P: the chance demand passes the usable capacity within the horizon)"
    )?;
    writeln!(s, "\nbottlenecks, first to run out:")?;
    for (i, b) in ranking.iter().enumerate() {
        let line = match (b.expected, b.earliest) {
            (Some(t), earliest) => format!(
                "expected {} — in {} days{}",
                report::date(t),
                days_after(t, last),
                earliest.map_or(String::new(), |e| format!(
                    ", as early as {}",
                    report::date(e)
                ))
            ),
            (None, Some(e)) => format!(
                "not expected within {} days, but the 95% band reaches it on {}",
                horizon_days(args),
                report::date(e)
            ),
            (None, None) => format!("not within {} days", horizon_days(args)),
        };
        writeln!(
            s,
            "  {}. {:<10} {line} ({:.0}% likely within the horizon)",
            i + 1,
            b.resource.to_string(),
            b.confidence * 100.0
        )?;
    }
    if let Some(b) = ranking.first() {
        writeln!(s, "\nbottleneck: {}", b.resource)?;
    }
    if let Some(cost) = cost {
        writeln!(
            s,
            "\ncost projection: each month provisions its forecast peak plus the {:.0}% reserve",
            args.headroom * 100.0
        )?;
        let items = cost
            .months
            .first()
            .map(|m| m.items.as_slice())
            .unwrap_or_default();
        write!(s, "{:<11}", "month from")?;
        for item in items {
            write!(s, " {:>11}", item.resource.to_string())?;
        }
        writeln!(s, " {:>11}", "total")?;
        let step = times.get(1).map_or(DAY, |&t| t - start);
        for m in &cost.months {
            let month_start =
                last + step + (f64::from(m.month - 1) * 365.2425 / 12.0 * DAY as f64) as i64;
            write!(s, "{:<11}", report::date(month_start))?;
            for item in &m.items {
                write!(s, " {:>11.2}", item.cost)?;
            }
            writeln!(s, " {:>11.2}", m.total)?;
        }
        writeln!(
            s,
            "total over {} months: {:.2}",
            cost.months.len(),
            cost.total
        )?;
    }
    Ok(s)
}

/// `c` blended into white: `share` of the colour, opaque.
fn tint(c: RGBColor, share: f64) -> RGBColor {
    let mix = |v: u8| (f64::from(v) * share + 255.0 * (1.0 - share)).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// The largest of the values, at least `floor`.
fn top(values: impl Iterator<Item = f64>, floor: f64) -> f64 {
    values.filter(|v| v.is_finite()).fold(floor, f64::max)
}

/// One resource: history, forecast with its bands, capacity and usable capacity, and the
/// exhaustion dates.
fn draw_resource<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    r: &Resource,
    o: &ResourceForecast,
    compact: bool,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let series = &r.usage.series;
    let points = &o.forecast.points;
    // Days since the first point.
    let origin = series.times().first().copied().unwrap_or_default();
    let day = |t: i64| (t - origin) as f64 / DAY as f64;
    let x0 = 0.0;
    let x1 = day(points.last().map_or(series.last_time(), |p| p.time));
    let y1 = top(
        series
            .values()
            .iter()
            .copied()
            .chain(points.iter().map(|p| p.p95.upper)),
        o.capacity,
    ) * 1.05;
    let c = colour(o.resource);
    let title = match o.exhaustion.expected {
        Some(t) => format!(
            "{} ({}) — {} — usable capacity reached {}",
            o.resource,
            r.unit,
            o.model.name(),
            report::date(t)
        ),
        None => format!(
            "{} ({}) — {} — usable capacity not reached",
            o.resource,
            r.unit,
            o.model.name()
        ),
    };
    let (caption, labels) = if compact { (15, 12) } else { (22, 15) };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", caption))
        .margin(12)
        .x_label_area_size(if compact { 28 } else { 36 })
        .y_label_area_size(if compact { 50 } else { 64 })
        .build_cartesian_2d(x0..x1, 0.0..y1)?;
    chart
        .configure_mesh()
        .x_labels(if compact { 5 } else { 9 })
        .y_labels(6)
        .x_label_formatter(&|x| report::date(origin + (x * DAY as f64).round() as i64))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", labels))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;

    // The bands as one quadrilateral per step, in opaque tints: convex shapes fill cleanly in
    // every backend, and their shared edges do not darken.
    let band = |tint: RGBColor, bounds: &dyn Fn(&ha::scale::ForecastPoint) -> (f64, f64)| {
        points
            .windows(2)
            .map(|pair| {
                let ((l0, u0), (l1, u1)) = (bounds(&pair[0]), bounds(&pair[1]));
                let (t0, t1) = (day(pair[0].time), day(pair[1].time));
                Polygon::new(
                    vec![
                        (t0, u0.max(0.0)),
                        (t1, u1.max(0.0)),
                        (t1, l1.max(0.0)),
                        (t0, l0.max(0.0)),
                    ],
                    tint.filled(),
                )
            })
            .collect::<Vec<_>>()
    };
    let (light, medium) = (tint(c, 0.18), tint(c, 0.38));
    chart
        .draw_series(band(light, &|p| (p.p95.lower, p.p95.upper)))?
        .label("95% band")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], light.filled()));
    chart
        .draw_series(band(medium, &|p| (p.p80.lower, p.p80.upper)))?
        .label("80% band")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], medium.filled()));
    // The period between the pessimistic and the optimistic exhaustion dates.
    if let Some(earliest) = o.exhaustion.earliest {
        let latest = o.exhaustion.latest.map_or(x1, day);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(day(earliest), 0.0), (latest, y1)],
            RGBColor(214, 39, 40).mix(0.08).filled(),
        )))?;
    }
    chart
        .draw_series(LineSeries::new(
            series
                .times()
                .iter()
                .zip(series.values())
                .map(|(&t, &v)| (day(t), v)),
            BLACK.stroke_width(1),
        ))?
        .label("measured")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK));
    chart
        .draw_series(LineSeries::new(
            points.iter().map(|p| (day(p.time), p.mean)),
            // One pixel: plotters joins wider lines with unlimited miters, which spike at the
            // sharp turns of a seasonal forecast.
            c.stroke_width(1),
        ))?
        .label("forecast")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    let red = RGBColor(214, 39, 40);
    chart
        .draw_series(LineSeries::new(
            [(x0, o.capacity), (x1, o.capacity)],
            red.stroke_width(2),
        ))?
        .label("capacity")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], red.stroke_width(2)));
    chart
        .draw_series(DashedLineSeries::new(
            [(x0, o.usable), (x1, o.usable)],
            8,
            5,
            red.stroke_width(2),
        ))?
        .label("usable (less the reserve)")
        .legend(move |(x, y)| {
            DashedPathElement::new(vec![(x, y), (x + 18, y)], 5, 3, red.stroke_width(2))
        });
    if let Some(t) = o.exhaustion.expected {
        chart
            .draw_series(LineSeries::new(
                [(day(t), 0.0), (day(t), y1)],
                RGBColor(90, 90, 90).stroke_width(1),
            ))?
            .label("expected exhaustion (shaded: 95% range)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RGBColor(90, 90, 90)));
    }
    if !compact {
        // Lower right: below a growing forecast and clear of the capacity lines at the top.
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font(("sans-serif", 13))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()?;
    }
    Ok(())
}

/// Every resource in small multiples, and the monthly cost stacked by resource.
fn draw_overview<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    resources: &[Resource],
    outlooks: &[ResourceForecast],
    cost: Option<&CostProjection>,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let panels = root.split_evenly((2, 3));
    for ((r, o), panel) in resources.iter().zip(outlooks).zip(&panels) {
        draw_resource(panel, r, o, true)?;
    }
    if let (Some(cost), Some(panel)) = (cost, panels.get(resources.len())) {
        draw_cost(panel, cost)?;
    }
    Ok(())
}

/// The cost projection as columns, one per month, stacked by resource.
fn draw_cost<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    cost: &CostProjection,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let months = cost.months.len() as f64;
    let y1 = top(cost.months.iter().map(|m| m.total), 1.0) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("monthly cost, total {:.0}", cost.total),
            ("sans-serif", 15),
        )
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(50)
        .build_cartesian_2d(0.5..months + 0.5, 0.0..y1)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(cost.months.len().min(12))
        .x_label_formatter(&|x| format!("+{:.0}", x))
        .y_labels(6)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_desc("month")
        .label_style(("sans-serif", 12))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    let resources: Vec<CapacityResource> = cost
        .months
        .first()
        .map(|m| m.items.iter().map(|i| i.resource).collect())
        .unwrap_or_default();
    for (k, resource) in resources.iter().enumerate() {
        let c = colour(*resource);
        chart
            .draw_series(cost.months.iter().map(|m| {
                let base: f64 = m.items[..k].iter().map(|i| i.cost).sum();
                let x = f64::from(m.month);
                Rectangle::new(
                    [(x - 0.35, base), (x + 0.35, base + m.items[k].cost)],
                    c.filled(),
                )
            }))?
            .label(resource.to_string())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 12))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .draw()?;
    Ok(())
}
