//! A one-vs-rest linear SVM: L2-regularised, squared-hinge (L2) loss, solved in the dual by
//! coordinate descent with shrinking (Hsieh et al. 2008, the LIBLINEAR `-s 1` solver). The
//! bias is an extra constant feature, regularised like the others (LIBLINEAR `-B 1`).

/// A sparse row-major matrix of training documents.
#[derive(Debug, Default)]
pub(crate) struct Csr {
    pub offsets: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Csr {
    pub fn new() -> Self {
        Self {
            offsets: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
        }
    }

    pub fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn push_row(&mut self, row: impl IntoIterator<Item = (u32, f32)>) {
        for (index, value) in row {
            self.indices.push(index);
            self.values.push(value);
        }
        self.offsets.push(self.indices.len());
    }

    fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let range = self.offsets[i]..self.offsets[i + 1];
        (&self.indices[range.clone()], &self.values[range])
    }
}

/// Solver settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SvmParams {
    pub c: f64,
    /// The cost of the positive examples is `c * positive_weight` (LIBLINEAR's `-wi`): with
    /// one-vs-rest and a weight inversely proportional to a label's share, small labels are
    /// not swamped by the rest.
    pub positive_weight: f64,
    /// Stop when the projected-gradient spread is below this (LIBLINEAR's default is 0.1).
    pub epsilon: f64,
    pub max_iter: usize,
    pub seed: u64,
}

/// Trains one binary classifier: `positive[i]` says whether row `i` is in the class.
/// With `scale`, feature `f` of every row is multiplied by `scale[f]` (NB-SVM's log-count
/// ratios) while training; the returned weights are already multiplied back, so they apply
/// to the unscaled rows. Returns the weights (`n_features` long) and the bias.
pub(crate) fn train_binary(
    x: &Csr,
    positive: &[bool],
    n_features: usize,
    scale: Option<&[f64]>,
    params: SvmParams,
) -> (Vec<f64>, f64) {
    let rows = x.rows();
    let diag_pos = 0.5 / (params.c * params.positive_weight);
    let diag_neg = 0.5 / params.c;
    let diag = |i: usize| if positive[i] { diag_pos } else { diag_neg };
    let ones;
    let scale = match scale {
        Some(s) => s,
        None => {
            ones = vec![1.0; n_features];
            &ones
        }
    };
    let mut w = vec![0.0_f64; n_features];
    let mut bias = 0.0_f64;
    let mut alpha = vec![0.0_f64; rows];
    let y: Vec<f64> = positive
        .iter()
        .map(|&p| if p { 1.0 } else { -1.0 })
        .collect();
    let qd: Vec<f64> = (0..rows)
        .map(|i| {
            let (indices, values) = x.row(i);
            indices
                .iter()
                .zip(values)
                .map(|(&f, &v)| (f64::from(v) * scale[f as usize]).powi(2))
                .sum::<f64>()
                + 1.0
                + diag(i)
        })
        .collect();
    let mut index: Vec<usize> = (0..rows).collect();
    let mut active = rows;
    let mut rng = SplitMix64(params.seed);
    let mut pg_max_old = f64::INFINITY;
    for _ in 0..params.max_iter {
        let mut pg_max_new = f64::NEG_INFINITY;
        let mut pg_min_new = f64::INFINITY;
        for i in 0..active {
            let j = i + (rng.next() % (active - i) as u64) as usize;
            index.swap(i, j);
        }
        let mut s = 0;
        while s < active {
            let i = index[s];
            let (indices, values) = x.row(i);
            let mut dot = bias;
            for (&f, &v) in indices.iter().zip(values) {
                dot += w[f as usize] * f64::from(v) * scale[f as usize];
            }
            let g = y[i] * dot - 1.0 + diag(i) * alpha[i];
            let mut pg = 0.0;
            if alpha[i] == 0.0 {
                if g > pg_max_old {
                    // Shrink: this example is confidently outside the margin.
                    active -= 1;
                    index.swap(s, active);
                    continue;
                } else if g < 0.0 {
                    pg = g;
                }
            } else {
                pg = g;
            }
            pg_max_new = pg_max_new.max(pg);
            pg_min_new = pg_min_new.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / qd[i]).max(0.0);
                let step = (alpha[i] - old) * y[i];
                for (&f, &v) in indices.iter().zip(values) {
                    w[f as usize] += step * f64::from(v) * scale[f as usize];
                }
                bias += step;
            }
            s += 1;
        }
        if pg_max_new - pg_min_new <= params.epsilon {
            if active == rows {
                break;
            }
            // Converged on the active set: check every example once more.
            active = rows;
            pg_max_old = f64::INFINITY;
            continue;
        }
        pg_max_old = if pg_max_new <= 0.0 {
            f64::INFINITY
        } else {
            pg_max_new
        };
    }
    for (weight, s) in w.iter_mut().zip(scale) {
        *weight *= s;
    }
    (w, bias)
}

/// A small seeded generator (SplitMix64) so training is reproducible without a dependency.
pub(crate) struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_a_separable_toy_problem() {
        let mut x = Csr::new();
        let mut positive = Vec::new();
        for i in 0..40 {
            let is_pos = i % 2 == 0;
            let f = if is_pos { 0 } else { 1 };
            x.push_row([(f, 1.0), (2, 0.5)]);
            positive.push(is_pos);
        }
        let params = SvmParams {
            c: 1.0,
            positive_weight: 1.0,
            epsilon: 0.01,
            max_iter: 100,
            seed: 7,
        };
        let (w, b) = train_binary(&x, &positive, 3, None, params);
        assert!(w[0] + 0.5 * w[2] + b > 0.0);
        assert!(w[1] + 0.5 * w[2] + b < 0.0);
    }

    fn params() -> SvmParams {
        SvmParams {
            c: 0.5,
            positive_weight: 1.0,
            epsilon: 1e-6,
            max_iter: 10_000,
            seed: 3,
        }
    }

    /// Overlapping classes, so the solution depends on every example and cost.
    fn noisy() -> (Csr, Vec<bool>) {
        let mut x = Csr::new();
        let mut positive = Vec::new();
        let mut rng = SplitMix64(11);
        for i in 0..60 {
            let is_pos = i % 3 == 0;
            let a = (rng.next() % 100) as f32 / 100.0;
            let b = (rng.next() % 100) as f32 / 100.0;
            let lead = if is_pos { a + 0.3 } else { a };
            x.push_row([(0, lead), (1, b), (2, 1.0 - b)]);
            positive.push(is_pos);
        }
        (x, positive)
    }

    #[test]
    fn scaled_training_equals_training_on_scaled_rows() {
        let (x, positive) = noisy();
        let scale = [2.0, 0.5, 1.5];
        let mut scaled = Csr::new();
        for i in 0..x.rows() {
            let (indices, values) = x.row(i);
            scaled.push_row(
                indices
                    .iter()
                    .zip(values)
                    .map(|(&f, &v)| (f, v * scale[f as usize] as f32)),
            );
        }
        let (w, b) = train_binary(&x, &positive, 3, Some(&scale), params());
        let (w_scaled, b_scaled) = train_binary(&scaled, &positive, 3, None, params());
        assert!((b - b_scaled).abs() < 1e-4, "{b} vs {b_scaled}");
        for f in 0..3 {
            // Weights come back for the unscaled rows.
            let expected = w_scaled[f] * scale[f];
            assert!(
                (w[f] - expected).abs() < 1e-4,
                "{f}: {} vs {expected}",
                w[f]
            );
        }
        let (plain, _) = train_binary(&x, &positive, 3, None, params());
        assert!((plain[0] - w[0]).abs() > 1e-3, "the scale changed nothing");
    }

    #[test]
    fn a_larger_positive_weight_favours_the_positive_class() {
        let (x, positive) = noisy();
        let score = |weight: f64| {
            let (w, b) = train_binary(
                &x,
                &positive,
                3,
                None,
                SvmParams {
                    positive_weight: weight,
                    ..params()
                },
            );
            let mut predicted = 0;
            for i in 0..x.rows() {
                let (indices, values) = x.row(i);
                let dot: f64 = indices
                    .iter()
                    .zip(values)
                    .map(|(&f, &v)| w[f as usize] * f64::from(v))
                    .sum();
                predicted += usize::from(dot + b > 0.0);
            }
            predicted
        };
        let (plain, weighted) = (score(1.0), score(3.0));
        assert!(weighted > plain, "{weighted} <= {plain} predicted positive");
    }
}
