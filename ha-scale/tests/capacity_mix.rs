//! Capacity mix: the plan covers each kind's share at the least price (checked against
//! exhaustive search), and bad input gets typed errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ha_scale::{
    CapacityMix, Error, HOURS_PER_MONTH, InstanceKind, InstanceType, MixConfig, MixPlan,
    plan_capacity_mix,
};
use proptest::prelude::*;

fn offer(name: &str, kind: InstanceKind, capacity: f64, hourly_price: f64) -> InstanceType {
    InstanceType {
        name: name.into(),
        kind,
        capacity,
        hourly_price,
    }
}

/// The least price covering `required` with `types`, by trying every count up to the cover of
/// each type alone.
fn brute_force(required: f64, types: &[(f64, f64)]) -> f64 {
    fn go(i: usize, remaining: f64, cost: f64, types: &[(f64, f64)], best: &mut f64) {
        if remaining <= 1e-9 {
            *best = best.min(cost);
            return;
        }
        let Some(&(capacity, price)) = types.get(i) else {
            return;
        };
        let most = (remaining / capacity).ceil() as u64;
        for n in 0..=most {
            go(
                i + 1,
                remaining - n as f64 * capacity,
                cost + n as f64 * price,
                types,
                best,
            );
        }
    }
    let mut best = f64::INFINITY;
    go(0, required, 0.0, types, &mut best);
    best
}

/// One to three instance types: (capacity, hourly price).
fn offers() -> impl Strategy<Value = Vec<(f64, f64)>> {
    prop::collection::vec((1.0..50.0f64, 0.01..5.0f64), 1..4)
}

fn named(kind: InstanceKind, specs: &[(f64, f64)]) -> Vec<InstanceType> {
    specs
        .iter()
        .enumerate()
        .map(|(i, &(c, p))| offer(&format!("{kind}-{i}"), kind, c, p))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn the_plan_covers_every_share_at_the_least_price(
        peak in 0.0..150.0f64,
        reserved in offers(),
        spot in offers(),
        on_demand in offers(),
        split in (0.0..1.0f64, 0.0..1.0f64),
        headroom in 0.0..0.6f64,
    ) {
        let (a, b) = (split.0.min(split.1), split.0.max(split.1));
        let mix = CapacityMix { reserved: a, spot: b - a, on_demand: 1.0 - b };
        let config = MixConfig { mix, headroom_ratio: headroom };
        let mut types = named(InstanceKind::Reserved, &reserved);
        types.extend(named(InstanceKind::Spot, &spot));
        types.extend(named(InstanceKind::OnDemand, &on_demand));
        let plan: MixPlan = plan_capacity_mix(peak, &types, &config).unwrap();
        let required = peak / (1.0 - headroom);
        prop_assert!((plan.required_capacity - required).abs() <= 1e-9 * required.max(1.0));
        prop_assert!(plan.capacity >= required * (1.0 - 1e-9));
        prop_assert!((plan.monthly_cost - plan.hourly_cost * HOURS_PER_MONTH).abs() < 1e-6);
        for k in &plan.kinds {
            prop_assert!(k.optimal);
            prop_assert!(k.capacity >= k.required_capacity * (1.0 - 1e-9));
            let specs = match k.kind {
                InstanceKind::Reserved => &reserved,
                InstanceKind::Spot => &spot,
                InstanceKind::OnDemand => &on_demand,
            };
            let least = brute_force(k.required_capacity * (1.0 - 1e-9), specs);
            prop_assert!(k.hourly_cost <= least + 1e-9, "{:?}: {} > {least}", k.kind, k.hourly_cost);
            prop_assert!(k.lines.iter().all(|l| l.count > 0));
        }
        let sum: f64 = plan.kinds.iter().map(|k| k.hourly_cost).sum();
        prop_assert!((plan.hourly_cost - sum).abs() < 1e-9);
    }
}

#[test]
fn a_smaller_type_tops_up_when_a_whole_large_one_would_waste_money() {
    // 1000 reserved needed: 2 × 400 + 2 × 100 (0.24 + 0.10 = 0.34) beats 3 × 400 (0.36).
    let types = [
        offer("large", InstanceKind::Reserved, 400.0, 0.12),
        offer("small", InstanceKind::Reserved, 100.0, 0.05),
    ];
    let config = MixConfig {
        mix: CapacityMix {
            reserved: 1.0,
            spot: 0.0,
            on_demand: 0.0,
        },
        headroom_ratio: 0.0,
    };
    let plan = plan_capacity_mix(1000.0, &types, &config).unwrap();
    assert_eq!(plan.kinds.len(), 1);
    let counts: Vec<(&str, u64)> = plan.kinds[0]
        .lines
        .iter()
        .map(|l| (l.instance.as_str(), l.count))
        .collect();
    assert_eq!(counts, [("large", 2), ("small", 2)]);
    assert!((plan.hourly_cost - 0.34).abs() < 1e-9);
    assert!((plan.monthly_cost - 0.34 * 730.0).abs() < 1e-9);
    assert_eq!(plan.capacity, 1000.0);
}

#[test]
fn no_demand_costs_nothing() {
    let types = [
        offer("r", InstanceKind::Reserved, 4.0, 1.0),
        offer("s", InstanceKind::Spot, 4.0, 1.0),
        offer("o", InstanceKind::OnDemand, 4.0, 1.0),
    ];
    let plan = plan_capacity_mix(0.0, &types, &MixConfig::default()).unwrap();
    assert_eq!(plan.hourly_cost, 0.0);
    assert!(plan.kinds.iter().all(|k| k.lines.is_empty()));
}

#[test]
fn bad_input_gets_typed_errors() {
    let good = [
        offer("r", InstanceKind::Reserved, 4.0, 1.0),
        offer("s", InstanceKind::Spot, 4.0, 1.0),
        offer("o", InstanceKind::OnDemand, 4.0, 1.0),
    ];
    let d = MixConfig::default();
    let core = |r: Result<MixPlan, Error>| matches!(r, Err(Error::Core(_)));
    assert!(core(plan_capacity_mix(f64::NAN, &good, &d)));
    assert!(core(plan_capacity_mix(-1.0, &good, &d)));
    assert!(core(plan_capacity_mix(
        1.0,
        &good,
        &MixConfig {
            headroom_ratio: 1.0,
            ..d
        }
    )));
    assert!(matches!(
        plan_capacity_mix(
            1.0,
            &good,
            &MixConfig {
                mix: CapacityMix {
                    reserved: 0.5,
                    spot: 0.3,
                    on_demand: 0.1
                },
                ..d
            }
        ),
        Err(Error::MixDoesNotSumToOne { .. })
    ));
    assert!(core(plan_capacity_mix(
        1.0,
        &good,
        &MixConfig {
            mix: CapacityMix {
                reserved: 1.2,
                spot: -0.2,
                on_demand: 0.0
            },
            ..d
        }
    )));
    assert_eq!(
        plan_capacity_mix(1.0, &good[..2], &d),
        Err(Error::NoInstanceOfKind(InstanceKind::OnDemand))
    );
    let mut twice = good.to_vec();
    twice.push(offer("r", InstanceKind::Spot, 2.0, 0.5));
    assert_eq!(
        plan_capacity_mix(1.0, &twice, &d),
        Err(Error::DuplicateInstanceType("r".into()))
    );
    let mut zero = good.to_vec();
    zero[1].capacity = 0.0;
    assert!(core(plan_capacity_mix(1.0, &zero, &d)));
    let mut nan_price = good.to_vec();
    nan_price[2].hourly_price = f64::NAN;
    assert!(core(plan_capacity_mix(1.0, &nan_price, &d)));
    assert!(core(plan_capacity_mix(1e300, &good, &d)));
}

#[test]
fn a_plan_round_trips_through_serde() {
    let types = [
        offer("r", InstanceKind::Reserved, 4.0, 1.0),
        offer("s", InstanceKind::Spot, 4.0, 0.4),
        offer("o", InstanceKind::OnDemand, 4.0, 2.0),
    ];
    let plan = plan_capacity_mix(35.0, &types, &MixConfig::default()).unwrap();
    let text = serde_json::to_string(&plan).unwrap();
    assert_eq!(serde_json::from_str::<MixPlan>(&text).unwrap(), plan);
    let config = MixConfig::default();
    let text = serde_json::to_string(&config).unwrap();
    assert_eq!(serde_json::from_str::<MixConfig>(&text).unwrap(), config);
}

#[test]
fn a_search_cut_short_says_so_and_is_no_worse_than_the_most_efficient_type_alone() {
    // Three types within a millionth of each other's price per capacity, a million units: the
    // bound cannot prune, so the search stops at its node budget.
    let types = [
        offer("a", InstanceKind::OnDemand, 3.0, 3.0),
        offer("b", InstanceKind::OnDemand, 7.0, 7.000_001),
        offer("c", InstanceKind::OnDemand, 11.0, 11.000_002),
    ];
    let config = MixConfig {
        mix: CapacityMix {
            reserved: 0.0,
            spot: 0.0,
            on_demand: 1.0,
        },
        headroom_ratio: 0.0,
    };
    let plan = plan_capacity_mix(1_000_000.5, &types, &config).unwrap();
    let k = &plan.kinds[0];
    assert!(!k.optimal);
    assert!(k.capacity >= 1_000_000.5);
    // All of "a": 333 334 × 3.0.
    assert!(k.hourly_cost <= 333_334.0 * 3.0);
}

#[test]
fn the_most_instance_types_allowed_search_without_overflowing_the_stack() {
    // Near-equal rates defeat the bound, so the search goes one level deeper per type; run it
    // on a thread with a test harness's usual 2 MiB stack.
    let types: Vec<InstanceType> = (0..ha_scale::MAX_INSTANCE_TYPES)
        .map(|i| {
            let capacity = 1.0 + (i % 97) as f64;
            offer(
                &format!("t{i}"),
                InstanceKind::OnDemand,
                capacity,
                capacity * (1.0 + i as f64 * 1e-12),
            )
        })
        .collect();
    let config = MixConfig {
        mix: CapacityMix {
            reserved: 0.0,
            spot: 0.0,
            on_demand: 1.0,
        },
        headroom_ratio: 0.0,
    };
    let worker = std::thread::Builder::new().stack_size(2 << 20);
    let (plan, too_many) = worker
        .spawn(move || {
            let plan = plan_capacity_mix(5_000.5, &types, &config);
            let mut more = types;
            more.push(offer("one-too-many", InstanceKind::OnDemand, 1.0, 1.0));
            (plan, plan_capacity_mix(5_000.5, &more, &config))
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(plan.unwrap().capacity >= 5_000.5);
    assert!(matches!(
        too_many,
        Err(Error::Core(ha_core::Error::TooLarge {
            name: "instance types",
            ..
        }))
    ));
}
