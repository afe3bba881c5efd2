//! How many nodes the measured load asks for: ha-scale's HPA autoscaler over an external
//! "operations per second" metric, each node's target set from the steady phase, and a Holt
//! forecast of the load a few seconds ahead.

use std::time::Instant;

use ha::scale::{
    Autoscaler, AutoscalerConfig, Behavior, MetricSpec, MetricValue, ModelSpec, Observation,
    TimeSeries, ValueTarget,
};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `per_second`: the load measured every half second of the run; `load`: the ops/s now;
/// `target_per_node`: the ops/s a node should carry (the steady phase's load per node over 80%
/// utilisation).
pub(crate) fn recommend(
    per_second: &[f64],
    load: f64,
    nodes: u32,
    target_per_node: f64,
) -> Result<Value, BoxError> {
    let mut hpa = Autoscaler::new(AutoscalerConfig {
        min_replicas: 3,
        max_replicas: 32,
        metrics: vec![MetricSpec::External {
            name: "ops_per_second".into(),
            target: ValueTarget::AverageValue(target_per_node.max(1.0)),
        }],
        behavior: Some(Behavior::default()),
        ..Default::default()
    })?;
    let seen = Observation::new(nodes, vec![], vec![MetricValue::External(vec![load])]);
    let decision = hpa.decide(Instant::now(), &seen)?;
    let horizon = 20; // steps of half a second: 10 s
    let forecast = if per_second.len() >= 6 {
        let series = TimeSeries::regular(0, 1, per_second.to_vec())?; // half-second steps
        let model = ModelSpec::Holt { damped: true }.fit(&series)?;
        let f = model.forecast(horizon)?;
        f.points.last().map(|p| p.mean.max(0.0).round())
    } else {
        None
    };
    let reason = decision
        .rescale_reason
        .clone()
        .unwrap_or_else(|| "within tolerance".into());
    tracing::debug!(
        load,
        nodes,
        desired = decision.desired_replicas,
        "autoscaler"
    );
    Ok(json!({
        "current_nodes": nodes,
        "load_ops_per_second": load.round(),
        "target_per_node": target_per_node.round(),
        "recommended_nodes": decision.desired_replicas,
        "reason": reason,
        "horizon_seconds": horizon / 2,
        "forecast_ops_per_second": forecast,
    }))
}
