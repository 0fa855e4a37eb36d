//! The Poisson upper tail, in logarithms: a surge of 2,000 calls against a usual 3 gives a
//! probability far below `f64`'s smallest number, and the test compares logarithms instead.

/// `ln(k!)`: exact below 30, Stirling's series above (relative error under 1e-12 there).
pub fn ln_factorial(k: u64) -> f64 {
    if k < 30 {
        return (2..=k).map(|i| (i as f64).ln()).sum();
    }
    let n = k as f64;
    n * n.ln() - n + 0.5 * (2.0 * std::f64::consts::PI * n).ln() + 1.0 / (12.0 * n)
        - 1.0 / (360.0 * n * n * n)
}

/// `ln P(X = k)` for `X ~ Poisson(lambda)`, `lambda > 0`.
fn ln_pmf(k: u64, lambda: f64) -> f64 {
    -lambda + k as f64 * lambda.ln() - ln_factorial(k)
}

/// `ln P(X >= k)` for `X ~ Poisson(lambda)`.
pub fn ln_upper_tail(k: u64, lambda: f64) -> f64 {
    if k == 0 {
        return 0.0;
    }
    if lambda <= 0.0 {
        // Nothing is ever expected: any call at all is impossible under the model.
        return f64::NEG_INFINITY;
    }
    if k as f64 > lambda {
        // Sum from the k-th term up: each next term is the last times lambda / (j + 1) < 1.
        let mut sum = 1.0;
        let mut term = 1.0;
        let mut j = k;
        loop {
            j += 1;
            term *= lambda / j as f64;
            sum += term;
            if term < sum * 1e-17 {
                break;
            }
        }
        ln_pmf(k, lambda) + sum.ln()
    } else {
        // At or below the mean the tail is large: 1 - P(X <= k - 1), the lower sum taken
        // downwards from its largest term (each earlier term is the last times j / lambda).
        let top = k - 1;
        let mut sum = 1.0;
        let mut term = 1.0;
        let mut j = top;
        while j > 0 {
            term *= j as f64 / lambda;
            sum += term;
            if term < sum * 1e-17 {
                break;
            }
            j -= 1;
        }
        let lower = (ln_pmf(top, lambda) + sum.ln()).exp().min(1.0);
        (-lower).ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn the_tail_matches_values_computed_by_hand() {
        // P(X >= 1 | 1) = 1 - e^-1.
        assert!(close(
            ln_upper_tail(1, 1.0).exp(),
            1.0 - (-1.0f64).exp(),
            1e-12
        ));
        // P(X >= 3 | 5) = 1 - e^-5 (1 + 5 + 12.5).
        let expected = 1.0 - (-5.0f64).exp() * 18.5;
        assert!(close(ln_upper_tail(3, 5.0).exp(), expected, 1e-12));
        // P(X >= 10 | 1) = 1.1142547e-7 (sum of the series).
        assert!(close(ln_upper_tail(10, 1.0).exp(), 1.114_254_7e-7, 1e-6));
        assert_eq!(ln_upper_tail(0, 3.0), 0.0);
    }

    #[test]
    fn a_huge_surge_has_a_finite_logarithm_far_below_any_threshold() {
        let ln_p = ln_upper_tail(2_000, 3.0);
        assert!(ln_p.is_finite());
        assert!(ln_p < -10_000.0, "{ln_p}");
    }

    #[test]
    fn stirling_joins_the_exact_factorial_smoothly() {
        let exact: f64 = (2..=30u64).map(|i| (i as f64).ln()).sum();
        assert!(close(ln_factorial(30), exact, 1e-12));
    }

    #[test]
    fn the_tail_falls_as_the_count_rises() {
        let mut last = 0.0;
        for k in 1..200 {
            let now = ln_upper_tail(k, 20.0);
            assert!(now <= last + 1e-12, "k={k}: {now} > {last}");
            last = now;
        }
    }
}
