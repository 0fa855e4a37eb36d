//! MinHash signatures with LSH banding over the shingles [`similarity`](crate::similarity)
//! compares: the pure part of the duplicate index, which finds the few live tickets worth
//! comparing with a new request without reading the others.
//!
//! A text's signature is [`HASHES`] minimum hashes of its shingle set
//! ([`shingles`](crate::duplicates::shingles)); two sets agree on one minimum with probability
//! equal to their Jaccard index. The minimums are cut into [`BANDS`] bands of [`ROWS`]; each
//! band is hashed to one `u64` ([`Bands`]). A ticket is verified when it shares at least
//! [`MIN_SHARED`] bands with the request, which happens with probability
//! `P(Binomial(BANDS, J^ROWS) >= MIN_SHARED)` ([`candidate_probability`]): 0.992 at the
//! duplicate threshold 0.3, 0.99998 at 0.5, but 0.26 at 0.05 and 0.06 at 0.02, so the index
//! returns nearly every duplicate and few others. The candidates are then checked with the
//! exact [`similarity`](crate::similarity), so precision is the exact rule's: only recall can
//! be lost, and only when a duplicate shares fewer than two bands.
//!
//! Why 20 bands of 1 row, two shared: every band is one bucket a filing rewrites and a lookup
//! reads in the shared index, and that per-bucket work was most of what duplicate detection
//! cost a routed submit. The scheme before (`mh1-bigram-50x2`: 50 bands of 2 rows, one shared)
//! had the same 0.99 at the threshold but read and rewrote 50 buckets per submit: Redis spent
//! ~240 µs of CPU per routed submit with it, ~155 µs with this one (queues and timers included;
//! Redis pinned to its own core), and the signature costs 20
//! hashes per shingle instead of 100 (`benches/cpu/run.sh`, issue 13). Single-row bands let
//! more unrelated tickets share one band (0.64 at 0.05); requiring two keeps the exact checks
//! (a read of the candidates' texts) about as rare as before. The bounds on what a lookup reads
//! (see `hotline_dispatch::duplicates`) hold either way.
//!
//! Measured on the civic messages (the tuning set of [`crate::duplicates`]; every message filed,
//! its label as its category, through the in-process index with its bounds, then the exact
//! check; `crates/dispatch/tests/duplicate_recall.rs`, which prints the figures): exact
//! Jaccard finds 47 of the 62 same-title pairs (recall 0.7581) and flags 1 of the 20,000
//! same-label pairs (precision 0.9792); the index finds the same 47 and flags the same 1, so
//! recall and precision are unchanged (as with the 50 x 2 scheme). Those 47 score 0.35 to 1.0,
//! most above 0.9, where a miss is rarer still.
//!
//! # Stability
//! Every replica must compute the same bands for the same text, in every version that shares a
//! working set: the hashes are a fixed mixer (SplitMix64's finaliser) with fixed seeds, never
//! std's randomly seeded hasher. Changing the normalisation, [`BANDS`], [`ROWS`] or the seeds
//! changes every signature, so [`SCHEME`] names them and the index keeps its data under it: a
//! router with another scheme sees an index not built yet and rebuilds its own from the store.

use crate::duplicates::shingles;

/// Bands per signature.
pub const BANDS: usize = 20;
/// Minimum hashes per band.
pub const ROWS: usize = 1;
/// The bands a live ticket must share with a request to be compared with it exactly (the
/// router drops candidates sharing fewer; see the module docs).
pub const MIN_SHARED: usize = 2;
/// Whether a candidate sharing `shared_bands` bands with the request is worth the exact check
/// (a read of its text): the one rule the router and the recall test apply.
pub fn worth_verifying(shared_bands: usize) -> bool {
    shared_bands >= MIN_SHARED
}

/// Minimum hashes per signature.
pub const HASHES: usize = BANDS * ROWS;
/// The name of this signature scheme (normalisation, shingles, sizes, seeds): bump it with any
/// change that alters a signature.
pub const SCHEME: &str = "mh2-bigram-20x1";

/// The band hashes of one text, in band order: what the duplicate index files a ticket under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bands(pub [u64; BANDS]);

impl Bands {
    pub fn as_slice(&self) -> &[u64] {
        &self.0
    }
}

/// The probability that two texts of Jaccard index `jaccard` share at least [`MIN_SHARED`]
/// bands (each band agrees with probability `jaccard^ROWS`, independently).
pub fn candidate_probability(jaccard: f64) -> f64 {
    let p = jaccard.powi(ROWS as i32);
    let n = BANDS as i32;
    // 1 - P(fewer than MIN_SHARED agree), the binomial terms built up one k at a time.
    let mut choose = 1.0;
    let mut fewer = 0.0;
    for k in 0..MIN_SHARED as i32 {
        if k > 0 {
            choose *= f64::from(n - k + 1) / f64::from(k);
        }
        fewer += choose * p.powi(k) * (1.0 - p).powi(n - k);
    }
    (1.0 - fewer).clamp(0.0, 1.0)
}

/// The bands of a text, or `None` when nothing in it is compared (no letters or ideographs:
/// [`similarity`](crate::similarity) scores it 0.0 against anything, so it duplicates nothing).
pub fn bands(text: &str) -> Option<Bands> {
    bands_of(&shingles(text))
}

/// The bands of a text from its [`shingles`] (computed once by a caller that also compares
/// the text exactly), or `None` when there are none.
pub fn bands_of(grams: &[u64]) -> Option<Bands> {
    if grams.is_empty() {
        return None;
    }
    let mut minimums = [u64::MAX; HASHES];
    for &gram in grams {
        // Spread the packed characters first: bigrams of neighbouring code points differ in
        // few bits, and each seed's permutation below should see them as unrelated.
        let base = mix(gram);
        for (minimum, seed) in minimums.iter_mut().zip(SEEDS.iter()) {
            let hash = mix(base ^ seed);
            if hash < *minimum {
                *minimum = hash;
            }
        }
    }
    let mut out = [0u64; BANDS];
    for (band, rows) in minimums.chunks_exact(ROWS).enumerate() {
        let mut hash = mix(BAND_SEED ^ band as u64);
        for row in rows {
            hash = mix(hash ^ row);
        }
        out[band] = hash;
    }
    Some(Bands(out))
}

/// SplitMix64's finaliser: a fixed bijection of `u64` with good avalanche, the same in every
/// process and version.
pub const fn mix(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const BAND_SEED: u64 = 0x3234_3531_2d62_616e; // "2451-ban": any fixed value

/// One seed per minimum hash: the SplitMix64 sequence from a fixed start, computed at compile
/// time so it cannot drift between builds.
const SEEDS: [u64; HASHES] = seeds();

const fn seeds() -> [u64; HASHES] {
    let mut out = [0u64; HASHES];
    let mut state: u64 = 0x3132_3334_352d_6d68; // "12345-mh"
    let mut i = 0;
    while i < HASHES {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        out[i] = mix(state);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::similarity;

    #[test]
    fn the_bands_are_fixed_across_processes_and_versions() {
        // Pinned values: a change here means every replica and every stored index disagrees
        // with the old signatures, so SCHEME must change with it.
        let bands = bands("沧浪亭社区路灯坏了").unwrap();
        assert_eq!(mix(0), 0);
        assert_eq!(mix(1), 0x5692_161d_100b_05e5);
        assert_eq!(
            (bands.0[0], bands.0[BANDS - 1]),
            (PINNED_FIRST, PINNED_LAST),
            "{:#x} {:#x}",
            bands.0[0],
            bands.0[BANDS - 1]
        );
        assert_eq!(SCHEME, "mh2-bigram-20x1");
    }

    #[test]
    fn a_candidate_sharing_one_band_is_not_verified() {
        assert!(!worth_verifying(0));
        assert!(!worth_verifying(1));
        assert!(worth_verifying(2));
        assert!(worth_verifying(BANDS));
    }

    // Computed once by this implementation (see the test above).
    const PINNED_FIRST: u64 = 0xec90_eecb_0154_deae;
    const PINNED_LAST: u64 = 0x72e4_cb08_81e4_584b;

    #[test]
    fn texts_equal_after_normalising_have_equal_bands() {
        assert_eq!(bands("路灯坏了"), bands("路灯，坏了！2024"));
        assert_eq!(bands("ＡＢＣ"), bands("abc"));
        assert_eq!(bands("水"), bands("水!"));
        assert_ne!(bands("水"), bands("电"));
    }

    #[test]
    fn nothing_to_compare_has_no_bands() {
        assert_eq!(bands(""), None);
        assert_eq!(bands("12345 😀"), None);
        assert_eq!(bands_of(&[]), None);
    }

    #[test]
    fn a_repost_shares_bands_and_an_unrelated_text_almost_none() {
        let first = bands("沧浪亭社区5栋楼道灯坏了一个月，物业报修没人管！").unwrap();
        let again = bands("2024年3月1日：沧浪亭社区8栋楼道灯坏了一个月 物业报修没人管").unwrap();
        let other = bands("公司拖欠工资三个月，劳动监察大队不受理").unwrap();
        let shared =
            |a: &Bands, b: &Bands| a.0.iter().zip(b.0.iter()).filter(|(x, y)| x == y).count();
        assert!(shared(&first, &again) >= 8, "{}", shared(&first, &again));
        assert!(shared(&first, &other) <= 2, "{}", shared(&first, &other));
    }

    #[test]
    fn the_share_of_equal_minimums_estimates_the_jaccard_index() {
        // Over many pairs the band agreement follows J^ROWS: check the estimator on texts
        // of known similarity (the S-curve the module docs quote rests on it).
        let a = "市民反映小区门口道路破损严重，雨天积水，车辆和行人通行困难，希望尽快修复";
        let b = "市民反映小区门口道路破损严重，晴天扬尘，老人和孩子通行困难，希望有关部门处理";
        let exact = f64::from(similarity(a, b));
        let (x, y) = (bands(a).unwrap(), bands(b).unwrap());
        let agree = x.0.iter().zip(y.0.iter()).filter(|(p, q)| p == q).count() as f64;
        let expected = exact.powi(ROWS as i32) * BANDS as f64;
        // Binomial(BANDS, J^ROWS): within 4 standard deviations.
        let p = exact.powi(ROWS as i32);
        let sd = (BANDS as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (agree - expected).abs() <= 4.0 * sd + 1.0,
            "{agree} vs {expected} (J {exact})"
        );
    }

    #[test]
    fn at_the_threshold_a_pair_is_a_candidate_with_probability_099() {
        assert!(candidate_probability(0.3) > 0.99);
        assert!(candidate_probability(0.05) < 0.3);
        assert!(candidate_probability(0.02) < 0.07);
        assert!(candidate_probability(1.0) == 1.0);
        assert!(candidate_probability(0.0) == 0.0);
    }

    #[test]
    fn the_candidate_probability_is_the_binomial_tail() {
        // P(X >= 2), X ~ Binomial(20, 0.3), by its complement's two terms.
        let by_hand = 1.0 - 0.7f64.powi(20) - 20.0 * 0.3 * 0.7f64.powi(19);
        assert!((candidate_probability(0.3) - by_hand).abs() < 1e-12);
        // Monotone in the similarity.
        let mut last = 0.0;
        for j in 1..=100 {
            let p = candidate_probability(f64::from(j) / 100.0);
            assert!(p >= last, "{j}");
            last = p;
        }
    }
}
