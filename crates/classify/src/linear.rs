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
    /// Stop when the projected-gradient spread is below this (LIBLINEAR's default is 0.1).
    pub epsilon: f64,
    pub max_iter: usize,
    pub seed: u64,
}

/// Trains one binary classifier: `positive[i]` says whether row `i` is in the class.
/// Returns the weights (`n_features` long) and the bias.
pub(crate) fn train_binary(
    x: &Csr,
    positive: &[bool],
    n_features: usize,
    params: SvmParams,
) -> (Vec<f64>, f64) {
    let rows = x.rows();
    let diag = 0.5 / params.c;
    let mut w = vec![0.0_f64; n_features];
    let mut bias = 0.0_f64;
    let mut alpha = vec![0.0_f64; rows];
    let y: Vec<f64> = positive
        .iter()
        .map(|&p| if p { 1.0 } else { -1.0 })
        .collect();
    let qd: Vec<f64> = (0..rows)
        .map(|i| {
            let (_, values) = x.row(i);
            values
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                + 1.0
                + diag
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
                dot += w[f as usize] * f64::from(v);
            }
            let g = y[i] * dot - 1.0 + diag * alpha[i];
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
                    w[f as usize] += step * f64::from(v);
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
            epsilon: 0.01,
            max_iter: 100,
            seed: 7,
        };
        let (w, b) = train_binary(&x, &positive, 3, params);
        assert!(w[0] + 0.5 * w[2] + b > 0.0);
        assert!(w[1] + 0.5 * w[2] + b < 0.0);
    }
}
