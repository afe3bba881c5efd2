//! A bounded Nelder–Mead simplex minimiser for the few smoothing parameters of a model.
//!
//! Nelder & Mead (1965) with the standard coefficients (reflection 1, expansion 2, contraction
//! ½, shrink ½); every trial point is projected into the box `[lo, hi]`, so the objective is never
//! evaluated outside it. Two to four parameters in the unit box make this as good as a quasi-Newton
//! method here at a fraction of the code, and it needs no gradient of the one-step error. One
//! restart from the best point guards against a simplex collapsed early.

/// The outcome of a minimisation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Minimum {
    /// The best point found.
    pub(crate) x: Vec<f64>,
    /// The objective there.
    pub(crate) value: f64,
    /// Objective evaluations spent.
    pub(crate) evaluations: usize,
}

/// Settings of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds<'a> {
    pub(crate) lo: &'a [f64],
    pub(crate) hi: &'a [f64],
}

fn project(x: &mut [f64], bounds: Bounds<'_>) {
    for ((v, &lo), &hi) in x.iter_mut().zip(bounds.lo).zip(bounds.hi) {
        *v = if v.is_nan() { lo } else { v.clamp(lo, hi) };
    }
}

/// Minimises `f` over the box, starting at `x0` (projected into it); at most `max_evaluations`
/// calls. Non-finite objective values count as +∞.
pub(crate) fn minimize(
    mut f: impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    bounds: Bounds<'_>,
    max_evaluations: usize,
) -> Minimum {
    let mut evaluations = 0;
    let mut eval = |x: &[f64]| {
        evaluations += 1;
        let v = f(x);
        if v.is_finite() { v } else { f64::INFINITY }
    };
    let mut start = x0.to_vec();
    project(&mut start, bounds);
    let mut best = (start.clone(), eval(&start));
    let budget = max_evaluations / 2;
    for _restart in 0..2 {
        let run = simplex(&mut eval, &best.0, bounds, budget);
        if run.1 <= best.1 {
            best = run;
        }
    }
    Minimum {
        x: best.0,
        value: best.1,
        evaluations,
    }
}

fn simplex(
    eval: &mut impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    bounds: Bounds<'_>,
    budget: usize,
) -> (Vec<f64>, f64) {
    let n = x0.len();
    let mut points: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n + 1);
    points.push((x0.to_vec(), eval(x0)));
    for i in 0..n {
        let mut x = x0.to_vec();
        let width = bounds.hi[i] - bounds.lo[i];
        // Step a tenth of the box inward, away from the nearer bound.
        let step = 0.1 * width;
        x[i] = if x[i] + step <= bounds.hi[i] {
            x[i] + step
        } else {
            x[i] - step
        };
        project(&mut x, bounds);
        let v = eval(&x);
        points.push((x, v));
    }
    let mut used = n + 1;
    while used < budget {
        points.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (best, worst) = (points[0].1, points[n].1);
        let spread_x = points
            .iter()
            .skip(1)
            .flat_map(|p| p.0.iter().zip(&points[0].0).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        if (worst - best).abs() <= 1e-8 * (best.abs() + 1e-300) || spread_x < 1e-6 {
            break;
        }
        let mut centroid = vec![0.0; n];
        for p in &points[..n] {
            for (c, v) in centroid.iter_mut().zip(&p.0) {
                *c += v / n as f64;
            }
        }
        let along = |t: f64| {
            let mut x: Vec<f64> = centroid
                .iter()
                .zip(&points[n].0)
                .map(|(c, w)| c + t * (c - w))
                .collect();
            project(&mut x, bounds);
            x
        };
        let reflected = along(1.0);
        let fr = eval(&reflected);
        used += 1;
        if fr < points[0].1 {
            let expanded = along(2.0);
            let fe = eval(&expanded);
            used += 1;
            points[n] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < points[n - 1].1 {
            points[n] = (reflected, fr);
        } else {
            let (contracted, fc) = if fr < worst {
                let x = along(0.5);
                let v = eval(&x);
                (x, v)
            } else {
                let x = along(-0.5);
                let v = eval(&x);
                (x, v)
            };
            used += 1;
            if fc < fr.min(worst) {
                points[n] = (contracted, fc);
            } else {
                let head = points[0].0.clone();
                for p in points.iter_mut().skip(1) {
                    for (v, h) in p.0.iter_mut().zip(&head) {
                        *v = h + 0.5 * (*v - h);
                    }
                    p.1 = eval(&p.0);
                    used += 1;
                }
            }
        }
    }
    points.sort_by(|a, b| a.1.total_cmp(&b.1));
    points.swap_remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_a_bowl_inside_the_box() {
        let m = minimize(
            |x| (x[0] - 0.3).powi(2) + 10.0 * (x[1] - 0.7).powi(2),
            &[0.5, 0.5],
            Bounds {
                lo: &[0.0, 0.0],
                hi: &[1.0, 1.0],
            },
            2000,
        );
        assert!(
            (m.x[0] - 0.3).abs() < 1e-4 && (m.x[1] - 0.7).abs() < 1e-4,
            "{m:?}"
        );
    }

    #[test]
    fn stops_at_the_bound_when_the_minimum_lies_outside() {
        let m = minimize(
            |x| (x[0] - 2.0).powi(2),
            &[0.5],
            Bounds {
                lo: &[0.0],
                hi: &[1.0],
            },
            500,
        );
        assert!((m.x[0] - 1.0).abs() < 1e-6, "{m:?}");
        assert!(m.evaluations <= 500);
    }
}
