//! Three autoscaling strategies replayed over one load trace: the Kubernetes HPA, step scaling
//! with cooldowns, and predictive scaling (the HPA raised to what a Holt-Winters forecast needs
//! once new replicas are warm) — replicas over time, demand against the capacity each one had
//! ready, the minutes it fell short (SLO misses), and what it cost.
//!
//! Run: `cargo run --example autoscale_replay` (the shipped trace,
//! `examples/data/load_trace.csv`: four days of requests per second, one point a minute, with a
//! steep morning ramp and, on the last day, a 25-minute flash crowd no history shows). The first
//! `--history-hours` (72) only train the predictive model; the rest is replayed (`--hours` to
//! replay less). Each replica serves `--capacity-per-replica` (100) requests per second and warms
//! up for `--warm-up-secs` (300) before it serves; every replica started costs
//! `--price-per-replica-hour` (0.10).
//!
//! - **hpa**: ha-scale's `Autoscaler` with an external metric, requests per second, held at
//!   `capacity × --target-utilization` (0.8) per replica, Kubernetes' default behavior (up by
//!   max(4 pods, 100%) per 15 s, down after a 300 s stabilization window).
//! - **step**: ha-scale's `StepScaler` on the ready replicas' utilization: +6 above 95% for a
//!   minute, +3 above 80% for 2 minutes, −2 below 45% for 10 minutes; 3-minute cooldown up,
//!   5-minute down.
//! - **predictive**: ha-scale's `PredictiveScaler` over the HPA: every hour it fits an additive
//!   damped Holt-Winters model (daily season) to the 5-minute peaks of all the demand seen so far
//!   and runs the larger of the HPA's proposal and the replicas the forecast's upper 80% band
//!   needs at `now + warm-up`.
//!
//! Writes to `--out` (default `target/autoscale_replay`): `replay.svg` / `replay.png`, one CSV per
//! strategy (`ReplayReport::to_csv`) and `summary.txt`, the table it also prints.

#[macro_use]
#[path = "support/report.rs"]
mod report;

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use ha::core::{AlertRule, Comparison, Severity, metric};
use ha::scale::{
    Autoscaler, AutoscalerConfig, Behavior, Forecast, LoadObservation, MetricSpec, MetricValue,
    ModelSpec, Observation, PlanFor, PredictiveConfig, PredictiveMode, PredictiveReason,
    PredictiveScaler, ReplayConfig, ReplayPolicy, ReplayReport, Seasonality, StepRule, StepScaler,
    StepScalingConfig, TimeSeries, ValueTarget, replay,
};
use plotters::coord::Shift;
use plotters::prelude::*;

const TRACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/load_trace.csv");
const DAY: i64 = 86_400;

/// Replay HPA, step and predictive scaling over a load trace.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// The load trace: a `timestamp` column and the demand (the first other column), evenly
    /// spaced.
    #[arg(long, default_value = TRACE)]
    trace: PathBuf,
    /// Where the chart, the CSVs and the summary go.
    #[arg(long, default_value = "target/autoscale_replay")]
    out: PathBuf,
    /// Hours at the start of the trace that only train the predictive model (three days at
    /// least: Holt-Winters needs three seasons).
    #[arg(long, default_value_t = 72)]
    history_hours: u64,
    /// Hours replayed after the history; default: the rest of the trace.
    #[arg(long)]
    hours: Option<u64>,
    /// Demand one ready replica serves.
    #[arg(long, default_value_t = 100.0)]
    capacity_per_replica: f64,
    /// The utilization the HPA and the predictive scaler aim for.
    #[arg(long, default_value_t = 0.8)]
    target_utilization: f64,
    /// Seconds from a replica's start to its serving.
    #[arg(long, default_value_t = 300)]
    warm_up_secs: u64,
    /// Price of a replica for an hour, warming or ready.
    #[arg(long, default_value_t = 0.10)]
    price_per_replica_hour: f64,
    /// The fewest replicas.
    #[arg(long, default_value_t = 3)]
    min_replicas: u32,
    /// The most replicas.
    #[arg(long, default_value_t = 60)]
    max_replicas: u32,
    /// The predictive model's step: demand peaks over this many minutes.
    #[arg(long, default_value_t = 5)]
    bucket_minutes: u64,
    /// How often the predictive model is fitted again, in minutes.
    #[arg(long, default_value_t = 60)]
    refit_minutes: u64,
}

/// The HPA, driven by the replay: the demand is an external metric, the replicas asked for
/// (warming ones included) are the current count, `start + elapsed` is the time.
struct Hpa {
    autoscaler: Autoscaler,
    start: Instant,
    errors: usize,
}

impl Hpa {
    fn new(args: &Args, start: Instant) -> Result<Self, ha::scale::Error> {
        let autoscaler = Autoscaler::new(AutoscalerConfig {
            min_replicas: args.min_replicas,
            max_replicas: args.max_replicas,
            metrics: vec![MetricSpec::External {
                name: "requests_per_second".into(),
                target: ValueTarget::AverageValue(
                    args.capacity_per_replica * args.target_utilization,
                ),
            }],
            behavior: Some(Behavior::default()),
            ..AutoscalerConfig::default()
        })?;
        Ok(Self {
            autoscaler,
            start,
            errors: 0,
        })
    }
}

impl ReplayPolicy for Hpa {
    fn desired_replicas(&mut self, o: &LoadObservation) -> u32 {
        let current = o.ready_replicas.saturating_add(o.warming_replicas);
        let seen = Observation::new(current, vec![], vec![MetricValue::External(vec![o.demand])]);
        match self.autoscaler.decide(self.start + o.elapsed, &seen) {
            Ok(d) => d.desired_replicas,
            Err(e) => {
                self.errors += 1;
                eprintln!(
                    "hpa at {}: {e}; keeping {current}",
                    report::format_time(o.time, "%Y-%m-%d %H:%M")
                );
                current
            }
        }
    }
}

/// Step scaling on the ready replicas' utilization.
struct Step {
    scaler: StepScaler,
    start: Instant,
    errors: usize,
}

impl Step {
    fn new(args: &Args, start: Instant) -> Result<Self, ha::scale::Error> {
        let rule = |name: &str, comparison, threshold: f64, minutes: u64| {
            AlertRule::new(
                name,
                metric::CPU_UTILIZATION_RATIO,
                comparison,
                threshold,
                Duration::from_secs(60 * minutes),
                Severity::Warning,
            )
        };
        let scaler = StepScaler::new(StepScalingConfig {
            min_replicas: args.min_replicas,
            max_replicas: args.max_replicas,
            rules: vec![
                StepRule::when(rule("very_busy", Comparison::Above, 0.95, 1), 6),
                StepRule::when(rule("busy", Comparison::Above, 0.80, 2), 3),
                StepRule::when(rule("idle", Comparison::Below, 0.45, 10), -2),
            ],
            scale_up_cooldown: Duration::from_secs(180),
            scale_down_cooldown: Duration::from_secs(300),
        })?;
        Ok(Self {
            scaler,
            start,
            errors: 0,
        })
    }
}

impl ReplayPolicy for Step {
    fn desired_replicas(&mut self, o: &LoadObservation) -> u32 {
        let now = self.start + o.elapsed;
        let current = o.ready_replicas.saturating_add(o.warming_replicas);
        // With no replica ready the utilization is infinite; any figure past the thresholds
        // says the same.
        let utilization = o.utilization_ratio().min(10.0);
        if let Err(e) = self
            .scaler
            .observe(metric::CPU_UTILIZATION_RATIO, utilization, now)
        {
            self.errors += 1;
            eprintln!(
                "step at {}: {e}",
                report::format_time(o.time, "%Y-%m-%d %H:%M")
            );
        }
        self.scaler.decide(current, now).desired_replicas
    }
}

/// The HPA raised by a forecast: refitted every `refit` seconds on the demand's peaks per
/// `bucket` seconds, all of it seen so far.
struct Predictive {
    reactive: Hpa,
    scaler: PredictiveScaler,
    spec: ModelSpec,
    bucket: i64,
    refit: i64,
    horizon: usize,
    history: Vec<(i64, f64)>,
    forecast: Option<Forecast>,
    fitted_at: Option<i64>,
    fits: usize,
    fit_failures: usize,
    raised: usize,
}

impl Predictive {
    /// The demand's peak per complete bucket before `now`.
    fn peaks(&self, now: i64) -> Result<TimeSeries, ha::scale::Error> {
        let mut times: Vec<i64> = Vec::new();
        let mut peaks: Vec<f64> = Vec::new();
        for &(t, v) in &self.history {
            let b = t - t.rem_euclid(self.bucket);
            if b + self.bucket > now {
                break;
            }
            match (times.last(), peaks.last_mut()) {
                (Some(&last), Some(peak)) if last == b => *peak = peak.max(v),
                _ => {
                    times.push(b);
                    peaks.push(v);
                }
            }
        }
        TimeSeries::new(times, peaks)
    }

    fn refit(&mut self, now: i64) {
        self.fitted_at = Some(now);
        let forecast = self
            .peaks(now)
            .and_then(|series| self.spec.fit(&series))
            .and_then(|model| model.forecast(self.horizon));
        match forecast {
            Ok(f) => {
                self.fits += 1;
                self.forecast = Some(f);
            }
            Err(e) => {
                self.fit_failures += 1;
                eprintln!(
                    "predictive at {}: no forecast: {e}",
                    report::format_time(now, "%Y-%m-%d %H:%M")
                );
                self.forecast = None;
            }
        }
    }
}

impl ReplayPolicy for Predictive {
    fn desired_replicas(&mut self, o: &LoadObservation) -> u32 {
        let proposal = self.reactive.desired_replicas(o);
        self.history.push((o.time, o.demand));
        if self.fitted_at.is_none_or(|at| o.time - at >= self.refit) {
            self.refit(o.time);
        }
        let Some(forecast) = &self.forecast else {
            return proposal;
        };
        match self.scaler.decide(o.time, proposal, forecast) {
            Ok(d) => {
                if d.reason == PredictiveReason::ForecastAhead {
                    self.raised += 1;
                }
                d.replicas
            }
            // The forecast no longer reaches `now + warm-up`: react until the next fit.
            Err(_) => proposal,
        }
    }
}

struct Strategy {
    name: &'static str,
    colour: RGBColor,
    report: ReplayReport,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("autoscale_replay: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let table = report::read_csv(&args.trace)?;
    let (column, demand) = table
        .columns
        .into_iter()
        .next()
        .ok_or("the trace has no demand column")?;
    let times = table.times;
    let cut = times.first().copied().unwrap_or_default()
        + i64::try_from(args.history_hours.saturating_mul(3600))?;
    let split = times.partition_point(|&t| t < cut);
    let end = match args.hours {
        Some(h) => {
            let until = cut.saturating_add(i64::try_from(h.saturating_mul(3600))?);
            times.partition_point(|&t| t < until)
        }
        None => times.len(),
    };
    if split == end {
        return Err(format!(
            "nothing to replay: the trace ends within the {} hours of history",
            args.history_hours
        )
        .into());
    }
    let bucket = i64::try_from(args.bucket_minutes.saturating_mul(60))?;
    if bucket == 0 || DAY % bucket != 0 {
        return Err("--bucket-minutes must divide a day".into());
    }
    let season = usize::try_from(DAY / bucket)?;
    let spec = ModelSpec::HoltWinters {
        season_length: season,
        seasonality: Seasonality::Additive,
        damped: true,
    };
    let history_buckets = (cut - times.first().copied().unwrap_or_default()) / bucket;
    if history_buckets < i64::try_from(spec.min_points())? {
        return Err(format!(
            "the predictive model needs {} buckets of history ({} days): raise --history-hours",
            spec.min_points(),
            spec.min_points() / season
        )
        .into());
    }
    let trace = TimeSeries::new(times[split..end].to_vec(), demand[split..end].to_vec())?;
    let history: Vec<(i64, f64)> = times[..split]
        .iter()
        .copied()
        .zip(demand[..split].iter().copied())
        .collect();

    let warm_up = Duration::from_secs(args.warm_up_secs);
    let first = trace.values().first().copied().unwrap_or_default();
    let initial = ((first / (args.capacity_per_replica * args.target_utilization)).ceil() as u32)
        .clamp(args.min_replicas, args.max_replicas);
    let config = ReplayConfig {
        capacity_per_replica: args.capacity_per_replica,
        warm_up,
        initial_replicas: initial,
        price_per_replica_hour: args.price_per_replica_hour,
        seconds_per_unit: 1.0,
    };
    let start = Instant::now();

    let mut hpa = Hpa::new(&args, start)?;
    let hpa_report = replay(&trace, &config, |o: &LoadObservation| {
        hpa.desired_replicas(o)
    })?;
    let mut step = Step::new(&args, start)?;
    let step_report = replay(&trace, &config, |o: &LoadObservation| {
        step.desired_replicas(o)
    })?;
    let refit = i64::try_from(args.refit_minutes.saturating_mul(60))?.max(60);
    let mut predictive = Predictive {
        reactive: Hpa::new(&args, start)?,
        scaler: PredictiveScaler::new(PredictiveConfig {
            capacity_per_replica: args.capacity_per_replica,
            warm_up,
            seconds_per_unit: 1.0,
            target_utilization: args.target_utilization,
            plan_for: PlanFor::Upper80,
            min_replicas: args.min_replicas,
            max_replicas: args.max_replicas,
            mode: PredictiveMode::Act,
        })?,
        spec,
        bucket,
        refit,
        // Past the next refit, plus the warm-up, plus a bucket either side.
        horizon: usize::try_from((refit + i64::try_from(args.warm_up_secs)?) / bucket + 3)?,
        history,
        forecast: None,
        fitted_at: None,
        fits: 0,
        fit_failures: 0,
        raised: 0,
    };
    let predictive_report = replay(&trace, &config, |o: &LoadObservation| {
        predictive.desired_replicas(o)
    })?;

    let strategies = [
        Strategy {
            name: "hpa",
            colour: RGBColor(31, 119, 180),
            report: hpa_report,
        },
        Strategy {
            name: "step",
            colour: RGBColor(255, 127, 14),
            report: step_report,
        },
        Strategy {
            name: "predictive",
            colour: RGBColor(44, 160, 44),
            report: predictive_report,
        },
    ];

    let mut s = String::new();
    writeln!(
        s,
        "replay of {} ({} points, {} to {}): {column}, {} per replica, warm-up {} s, {:.2} per replica-hour",
        args.trace.display(),
        trace.len(),
        report::format_time(trace.times()[0], "%Y-%m-%d %H:%M"),
        report::format_time(trace.last_time(), "%Y-%m-%d %H:%M"),
        args.capacity_per_replica,
        args.warm_up_secs,
        args.price_per_replica_hour
    )?;
    writeln!(
        s,
        "\n{:<11} {:>10} {:>8} {:>13} {:>13} {:>11} {:>5} {:>9}",
        "strategy", "SLO misses", "share", "unmet (d·h)", "idle (d·h)", "replica-h", "peak", "cost"
    )?;
    for st in &strategies {
        let r = &st.report;
        writeln!(
            s,
            "{:<11} {:>10} {:>7.1}% {:>13.1} {:>13.1} {:>11.1} {:>5} {:>9.2}",
            st.name,
            r.slo_misses,
            100.0 * r.slo_misses as f64 / trace.len() as f64,
            r.unmet_demand_hours,
            r.over_provisioned_hours,
            r.replica_hours,
            r.peak_replicas,
            r.cost
        )?;
    }
    writeln!(
        s,
        "\n(SLO misses: points where demand passed the ready replicas' capacity; unmet / idle: demand \
         short of or capacity beyond it, integrated over hours; cost: every replica started, warming or ready)"
    )?;
    writeln!(
        s,
        "predictive: {} fits ({} failed), the forecast raised the HPA's count at {} of {} points",
        predictive.fits,
        predictive.fit_failures,
        predictive.raised,
        trace.len()
    )?;
    let errors = hpa.errors + step.errors + predictive.reactive.errors;
    if errors > 0 {
        writeln!(
            s,
            "{errors} decisions failed and kept the count (see stderr)"
        )?;
    }
    print!("{s}");

    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("summary.txt"), &s)?;
    let mut written = vec![args.out.join("summary.txt")];
    for st in &strategies {
        let path = args.out.join(format!("replay_{}.csv", st.name));
        std::fs::write(&path, st.report.to_csv())?;
        written.push(path);
    }
    report::register_font()?;
    let (svg, png) = save_chart!(args.out, "replay", (1400, 860), |root: &DrawingArea<
        _,
        Shift,
    >| draw(
        root,
        &strategies,
        &column
    ));
    written.extend([svg, png]);
    println!();
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Holds each value until the next point: `(t0, v0), (t1, v0), (t1, v1), …`.
fn steps(points: impl Iterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (t, v) in points {
        if let Some(&(_, previous)) = out.last() {
            out.push((t, previous));
        }
        out.push((t, v));
    }
    out
}

/// Demand against each strategy's ready capacity above, with a strip per strategy marking its
/// misses; replicas held (warming included) below.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    strategies: &[Strategy],
    demand_name: &str,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let Some(first) = strategies.first() else {
        return Ok(());
    };
    // Hours since midnight UTC of the first day, so the axis marks fall on whole hours.
    let start = first.report.steps.first().map_or(0, |s| s.time);
    let origin = start - start.rem_euclid(DAY);
    let time = |t: i64| (t - origin) as f64 / 3600.0;
    let x0 = time(start);
    let x1 = time(first.report.steps.last().map_or(0, |s| s.time)) + 1.0 / 60.0;
    let format = if x1 - x0 > 36.0 { "%a %H:%M" } else { "%H:%M" };
    let label = move |x: &f64| report::format_time(origin + (x * 3600.0).round() as i64, format);
    let y1 = strategies
        .iter()
        .flat_map(|s| s.report.steps.iter().map(|p| p.demand.max(p.capacity)))
        .fold(1.0, f64::max)
        * 1.12;
    let (upper, lower) = root.split_vertically(520);

    let mut chart = ChartBuilder::on(&upper)
        .caption(
            format!("{demand_name}: demand and the capacity each strategy had ready"),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, 0.0..y1)?;
    chart
        .configure_mesh()
        .x_labels(14)
        .y_labels(8)
        .x_label_formatter(&label)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", 14))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for st in strategies {
        let c = st.colour;
        chart
            .draw_series(LineSeries::new(
                steps(st.report.steps.iter().map(|p| (time(p.time), p.capacity))),
                c.stroke_width(2),
            ))?
            .label(format!(
                "{} capacity ({} misses)",
                st.name, st.report.slo_misses
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    chart
        .draw_series(LineSeries::new(
            first.report.steps.iter().map(|p| (time(p.time), p.demand)),
            BLACK.stroke_width(1),
        ))?
        .label("demand")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK));
    // A strip per strategy along the top: a tick at every miss.
    for (k, st) in strategies.iter().enumerate() {
        let c = st.colour;
        let (bottom, top) = (
            y1 * (0.965 - 0.025 * k as f64),
            y1 * (0.985 - 0.025 * k as f64),
        );
        chart.draw_series(st.report.steps.iter().filter(|p| p.unmet > 0.0).map(|p| {
            Rectangle::new(
                [(time(p.time), bottom), (time(p.time) + 1.0 / 60.0, top)],
                c.filled(),
            )
        }))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .draw()?;

    let r1 = strategies
        .iter()
        .map(|s| s.report.peak_replicas)
        .max()
        .unwrap_or(1) as f64
        * 1.15;
    let mut chart = ChartBuilder::on(&lower)
        .caption("replicas held (warming included)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, 0.0..r1)?;
    chart
        .configure_mesh()
        .x_labels(14)
        .y_labels(6)
        .x_label_formatter(&label)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", 14))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for st in strategies {
        let c = st.colour;
        chart
            .draw_series(LineSeries::new(
                steps(
                    st.report
                        .steps
                        .iter()
                        .map(|p| (time(p.time), f64::from(p.ready + p.warming))),
                ),
                c.stroke_width(2),
            ))?
            .label(format!("{}: cost {:.2}", st.name, st.report.cost))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .draw()?;
    Ok(())
}
