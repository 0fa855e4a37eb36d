//! A deterministic, stratified hold-out split, reproducible outside Rust
//! (`benches/peers/classify_baseline.py` implements the same rule):
//!
//! 1. each row gets the key FNV-1a-64 of the UTF-8 bytes of `"{seed}:{text}"`;
//! 2. rows are grouped by label; within a label they are ordered by `(key, row index)`;
//! 3. the first `(n * percent + 50) / 100` rows of each label (integer arithmetic) are held out.

/// Returns, for each row, whether it is in the held-out (test) part.
pub fn holdout<'a>(
    rows: impl IntoIterator<Item = (&'a str, &'a str)>,
    percent: u32,
    seed: u64,
) -> Vec<bool> {
    let rows: Vec<(&str, &str)> = rows.into_iter().collect();
    let mut by_label: std::collections::BTreeMap<&str, Vec<(u64, usize)>> = Default::default();
    for (index, (text, label)) in rows.iter().enumerate() {
        by_label
            .entry(label)
            .or_default()
            .push((row_key(text, seed), index));
    }
    let mut test = vec![false; rows.len()];
    for members in by_label.values_mut() {
        members.sort_unstable();
        let take = (members.len() * percent as usize + 50) / 100;
        for &(_, index) in members.iter().take(take) {
            test[index] = true;
        }
    }
    test
}

/// Assigns each row to one of `k` folds for cross-validation, stratified like [`holdout`]:
/// within a label, rows ordered by `(key, row index)` are dealt to folds 0, 1, ..., k-1 in
/// turn. Returns each row's fold (`k` at least 1).
pub fn folds<'a>(
    rows: impl IntoIterator<Item = (&'a str, &'a str)>,
    k: usize,
    seed: u64,
) -> Vec<usize> {
    let k = k.max(1);
    let rows: Vec<(&str, &str)> = rows.into_iter().collect();
    let mut by_label: std::collections::BTreeMap<&str, Vec<(u64, usize)>> = Default::default();
    for (index, (text, label)) in rows.iter().enumerate() {
        by_label
            .entry(label)
            .or_default()
            .push((row_key(text, seed), index));
    }
    let mut fold = vec![0; rows.len()];
    for members in by_label.values_mut() {
        members.sort_unstable();
        for (rank, &(_, index)) in members.iter().enumerate() {
            fold[index] = rank % k;
        }
    }
    fold
}

fn row_key(text: &str, seed: u64) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for &b in format!("{seed}:").as_bytes().iter().chain(text.as_bytes()) {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_out_the_rounded_share_of_every_label() {
        let texts: Vec<String> = (0..25).map(|i| format!("message {i}")).collect();
        let rows: Vec<(&str, &str)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), if i < 10 { "a" } else { "b" }))
            .collect();
        let test = holdout(rows.iter().copied(), 20, 1);
        assert_eq!(test[..10].iter().filter(|t| **t).count(), 2);
        assert_eq!(test[10..].iter().filter(|t| **t).count(), 3);
        assert_eq!(test, holdout(rows.iter().copied(), 20, 1));
        assert_ne!(test, holdout(rows.iter().copied(), 20, 2));
    }

    #[test]
    fn folds_are_stratified_and_cover_every_row() {
        let texts: Vec<String> = (0..23).map(|i| format!("message {i}")).collect();
        let rows: Vec<(&str, &str)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), if i < 10 { "a" } else { "b" }))
            .collect();
        let fold = folds(rows.iter().copied(), 5, 3);
        assert_eq!(fold.len(), 23);
        for f in 0..5 {
            assert_eq!(fold[..10].iter().filter(|&&x| x == f).count(), 2);
            let b = fold[10..].iter().filter(|&&x| x == f).count();
            assert!((2..=3).contains(&b), "fold {f}: {b}");
        }
        assert_eq!(fold, folds(rows.iter().copied(), 5, 3));
    }

    #[test]
    fn the_key_is_fnv1a_of_seed_colon_text() {
        // Pinned so the Python baseline's copy of the rule can be checked against it.
        assert_eq!(row_key("", 0), 0x07fc_0e07_b4bd_112f);
        assert_eq!(row_key("路灯", 12345), 0x2e5b_f151_89b7_1431);
    }
}
