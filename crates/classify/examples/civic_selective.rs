//! Which confidence ranks the civic messages best for selective dispatch, chosen without the
//! test set: k-fold cross-validation on the TRAINING part of the civic split (the 80% that
//! `split::holdout(.., 20, 12345)` leaves), as `civic_cv` does.
//!
//! For the out-of-fold bodies and titles it prints, per confidence measure, the precision at
//! 80% coverage and the coverage at 98% precision:
//! - `prob`: the top label's softmax probability at the scale fitted on the folds;
//! - `margin`: the top label's decision value;
//! - `gap`: the top decision value minus the second.
//!
//! With `SECOND=1` it also trains, per fold, a second model on other features (jieba word 1-2
//! grams with character 2-4 grams) and reports it and the average of the two models'
//! calibrated probabilities (`ensemble`), with macro-F1.
//!
//! With `PSEUDO=1` each fold's training set also gets pseudo-labelled examples from the
//! shipped taxonomy (every category's name and path under a label's root) and the keyword
//! rules (each category's keywords, joined), labelled with the root.
//!
//! Every run also prints the out-of-fold macro-F1 of bodies and titles. Settings come from the
//! environment as in `civic_cv` (unset = `TrainOptions::default()`): `C`, `NB`, `MIX` (the
//! plain-SVM share of NB-SVM's interpolation, `TrainOptions::plain_mix`), `MAXF`, and
//! `FOLDSEED` (default 777).
//!
//! With `CLASSCAL=1` it compares confidence maps fitted by cross-fitting on the out-of-fold
//! values (each fold's map is fitted on the other folds' out-of-fold values, bodies and titles
//! together, as the shipped calibration is): one temperature (`global`), one temperature per
//! predicted label (`class-temp`), and an isotonic map per predicted label of the global
//! probability (`class-iso`, which amounts to a threshold per label).
//!
//! With `CLEAN=1` it tries label-noise cleaning (confident learning): inside each outer fold,
//! out-of-fold probabilities on the fold's training calls (`KIN` inner folds, default 3; a
//! call's body and title probabilities averaged) flag a call whose given label has probability
//! below a cut while another label is at least as probable as that label's mean on its own
//! calls; the flagged calls are dropped and the model retrained. For each cut in `CUTS`
//! (default `0,0.05,0.1,0.2,0.3`) it prints the outer CV figures, and the nested choice: the
//! cut with the best inner-CV macro-F1 (bodies and titles averaged), chosen per outer fold
//! from the inner folds alone. (The inner flags come from the inner out-of-fold models, which
//! saw the inner validation fold: a small optimism in the inner choice only, none in the outer
//! figures.) `CLRULE=loose` flags a call whenever another label is more probable than the given
//! one and the given one is below the cut.
//!
//! Run: `cargo run --release -p hotline-classify --example civic_selective`

use hotline_classify::calibration::{choose_threshold, coverage_curve, fit_scale, Scored};
use hotline_classify::{split, train_examples, EvalReport, Example, Model, TrainOptions};

type Row = (String, String, String);
/// Decision values by global label, and the gold label.
type Oof = Vec<(Vec<f32>, usize)>;

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

/// [`TrainOptions`] with the overrides named in the module docs.
fn options() -> TrainOptions {
    let mut options = TrainOptions::default();
    if let Some(v) = env("C") {
        options.c = v;
    }
    if let Some(v) = env("NB") {
        options.nb = v;
    }
    if let Some(v) = env("MIX") {
        options.plain_mix = v;
    }
    if let Some(v) = env("MAXF") {
        options.max_features = v;
    }
    options
}

fn example(text: &str, label: &str) -> Example {
    Example {
        text: text.to_owned(),
        label: label.to_owned(),
    }
}

/// Trains on the bodies, then the titles, of the rows `keep` selects (the shipped order).
fn train_rows(
    rows: &[Row],
    keep: impl Fn(usize) -> bool,
    options: &TrainOptions,
    extra: &[Example],
) -> Result<Model, Box<dyn std::error::Error>> {
    let mut training = Vec::new();
    let mut titles = Vec::new();
    for (i, (text, label, title)) in rows.iter().enumerate() {
        if keep(i) {
            training.push(example(text, label));
            titles.push(example(title, label));
        }
    }
    training.extend(titles);
    training.extend(extra.iter().cloned());
    Ok(train_examples(&training, options)?)
}

/// The model's decision values in the order of `labels` (a label it never saw: very low).
fn margins(model: &Model, labels: &[String], text: &str) -> Vec<f32> {
    let mut m = vec![f32::MIN / 4.0; labels.len()];
    for (label, margin) in model.predict(text, 0).ranked {
        let global = labels
            .iter()
            .position(|g| g == &model.labels()[label])
            .unwrap();
        m[global] = margin;
    }
    m
}

fn top(m: &[f32]) -> usize {
    (0..m.len()).max_by(|&a, &b| m[a].total_cmp(&m[b])).unwrap()
}

fn probs(m: &[f32], scale: f32) -> Vec<f32> {
    let max = m.iter().fold(f32::MIN, |a, &b| a.max(b));
    let e: Vec<f32> = m.iter().map(|v| ((v - max) * scale).exp()).collect();
    let t: f32 = e.iter().sum();
    e.into_iter().map(|v| v / t).collect()
}

fn macro_f1(labels: &[String], set: &[(Vec<f32>, usize)]) -> f64 {
    let gold: Vec<&str> = set.iter().map(|(_, g)| labels[*g].as_str()).collect();
    let predicted: Vec<&str> = set.iter().map(|(m, _)| labels[top(m)].as_str()).collect();
    EvalReport::from_pairs(&gold, &predicted).macro_f1
}

/// Out-of-fold decision values of the bodies and titles of the rows `within` selects, over
/// `fold` (one fold per row; rows outside `within` are neither trained on nor predicted).
/// `drop(row)` removes a row from training only.
#[allow(clippy::too_many_arguments)]
fn out_of_fold(
    rows: &[Row],
    labels: &[String],
    fold: &[usize],
    k: usize,
    within: &dyn Fn(usize) -> bool,
    drop: &dyn Fn(usize) -> bool,
    options: &TrainOptions,
    extra: &[Example],
) -> Result<(Oof, Oof, Vec<usize>), Box<dyn std::error::Error>> {
    let mut bodies = Vec::new();
    let mut titles = Vec::new();
    let mut row_of = Vec::new();
    for f in 0..k {
        let model = train_rows(
            rows,
            |i| within(i) && fold[i] != f && !drop(i),
            options,
            extra,
        )?;
        for (i, (text, label, title)) in rows.iter().enumerate() {
            if within(i) && fold[i] == f {
                let gold = labels.iter().position(|g| g == label).unwrap();
                bodies.push((margins(&model, labels, text), gold));
                titles.push((margins(&model, labels, title), gold));
                row_of.push(i);
            }
        }
    }
    Ok((bodies, titles, row_of))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/civic/train.csv"
    );
    let mut reader = csv::Reader::from_path(path)?;
    let rows: Vec<Row> = reader.deserialize().collect::<Result<_, _>>()?;
    let test = split::holdout(
        rows.iter().map(|(t, l, _)| (t.as_str(), l.as_str())),
        20,
        12_345,
    );
    let rows: Vec<Row> = rows
        .into_iter()
        .zip(test)
        .filter(|(_, held_out)| !held_out)
        .map(|(row, _)| row)
        .collect();
    let k = 5;
    let fold_seed: u64 = env("FOLDSEED").unwrap_or(777);
    let fold = split::folds(
        rows.iter().map(|(t, l, _)| (t.as_str(), l.as_str())),
        k,
        fold_seed,
    );
    let options = options();
    println!("fold seed {fold_seed}; {options:?}");
    let mut labels: Vec<String> = rows.iter().map(|(_, l, _)| l.clone()).collect();
    labels.sort();
    labels.dedup();
    if flag("CLEAN") {
        return clean(&rows, &labels, &fold, k, fold_seed, &options);
    }
    let second = flag("SECOND");
    let extra = if flag("PSEUDO") {
        pseudo_examples(&labels)
    } else {
        Vec::new()
    };
    let started = std::time::Instant::now();
    let (bodies, titles, row_of) = out_of_fold(
        &rows,
        &labels,
        &fold,
        k,
        &|_| true,
        &|_| false,
        &options,
        &extra,
    )?;
    let fold_of_entry: Vec<usize> = row_of.iter().map(|&i| fold[i]).collect();
    println!(
        "CV macro-F1 bodies {:.4} titles {:.4} ({:.1?})",
        macro_f1(&labels, &bodies),
        macro_f1(&labels, &titles),
        started.elapsed()
    );
    let mixed: Vec<_> = bodies.iter().chain(&titles).cloned().collect();
    if second {
        let mut options_b = options.clone();
        options_b.features.word_ngrams = 2;
        options_b.features.char_min = 2;
        options_b.features.char_max = 4;
        let (bodies_b, titles_b, _) = out_of_fold(
            &rows,
            &labels,
            &fold,
            k,
            &|_| true,
            &|_| false,
            &options_b,
            &extra,
        )?;
        let mixed_b: Vec<_> = bodies_b.iter().chain(&titles_b).cloned().collect();
        let (sa, sb) = (fit_scale(&mixed), fit_scale(&mixed_b));
        for (name, a, b) in [
            ("bodies", &bodies, &bodies_b),
            ("titles", &titles, &titles_b),
        ] {
            // The ensemble's "margins" are log-probabilities, so report() works on them with
            // scale 1.
            let ensemble: Oof = a
                .iter()
                .zip(b.iter())
                .map(|((ma, gold), (mb, _))| {
                    let (pa, pb) = (probs(ma, sa), probs(mb, sb));
                    (
                        pa.iter()
                            .zip(&pb)
                            .map(|(x, y)| ((x + y) / 2.0).ln())
                            .collect(),
                        *gold,
                    )
                })
                .collect();
            for (which, set) in [("A", a), ("B", b), ("ensemble", &ensemble)] {
                let f1 = macro_f1(&labels, set);
                let scale = match which {
                    "A" => sa,
                    "B" => sb,
                    _ => 1.0,
                };
                report(name, &format!("{which} macro-F1 {f1:.4}"), set, |m| {
                    probs(m, scale)[top(m)]
                });
            }
        }
        return Ok(());
    }
    for (name, set) in [("bodies", &bodies), ("titles", &titles)] {
        for (scale_from, scale) in [("mixed", fit_scale(&mixed)), ("bodies", fit_scale(&bodies))] {
            report(
                name,
                &format!("prob(scale from {scale_from} {scale:.2})"),
                set,
                |m| probs(m, scale)[top(m)],
            );
        }
        report(name, "margin", set, |m| m[top(m)]);
        report(name, "gap", set, |m| {
            let mut sorted = m.clone();
            sorted.sort_by(|a, b| b.total_cmp(a));
            sorted[0] - sorted[1]
        });
    }
    if flag("CLASSCAL") {
        class_calibration(&labels, &bodies, &titles, &fold_of_entry, k);
    }
    Ok(())
}

/// The `CLASSCAL=1` comparison (see the module docs).
fn class_calibration(labels: &[String], bodies: &Oof, titles: &Oof, fold_of: &[usize], k: usize) {
    let n = bodies.len();
    // Confidence per entry and method, cross-fitted.
    let methods = ["global", "class-temp", "class-iso", "class-iso(margin)"];
    let mut confidence = vec![vec![(0.0_f32, 0.0_f32); 2 * n]; methods.len()];
    for f in 0..k {
        let fit: Oof = bodies
            .iter()
            .chain(titles)
            .enumerate()
            .filter(|(i, _)| fold_of[i % n] != f)
            .map(|(_, e)| e.clone())
            .collect();
        let scale = fit_scale(&fit);
        let class_scale: Vec<f32> = (0..labels.len())
            .map(|c| {
                let of_class: Oof = fit.iter().filter(|(m, _)| top(m) == c).cloned().collect();
                if of_class.len() < 20 {
                    scale
                } else {
                    fit_scale(&of_class)
                }
            })
            .collect();
        let iso: Vec<Isotonic> = (0..labels.len())
            .map(|c| {
                Isotonic::fit(
                    fit.iter()
                        .filter(|(m, _)| top(m) == c)
                        .map(|(m, g)| (probs(m, scale)[c], *g == c))
                        .collect(),
                )
            })
            .collect();
        let iso_margin: Vec<Isotonic> = (0..labels.len())
            .map(|c| {
                Isotonic::fit(
                    fit.iter()
                        .filter(|(m, _)| top(m) == c)
                        .map(|(m, g)| (m[c], *g == c))
                        .collect(),
                )
            })
            .collect();
        for (i, (m, _)) in bodies.iter().chain(titles).enumerate() {
            if fold_of[i % n] != f {
                continue;
            }
            let c = top(m);
            let p = probs(m, scale)[c];
            // (the map's value, the tie-breaker)
            confidence[0][i] = (p, 0.0);
            confidence[1][i] = (probs(m, class_scale[c])[c], 0.0);
            confidence[2][i] = (iso[c].predict(p), p);
            confidence[3][i] = (iso_margin[c].predict(m[c]), p);
        }
    }
    for (name, range, set) in [("bodies", 0..n, bodies), ("titles", n..2 * n, titles)] {
        for (method, values) in methods.iter().zip(&confidence) {
            let values = &values[range.clone()];
            let scored: Vec<Scored> = set
                .iter()
                .zip(values)
                .map(|((m, gold), &(v, tie))| Scored {
                    // The tie-breaker orders the messages within an isotonic step.
                    confidence: v + tie * 1e-4,
                    correct: top(m) == *gold,
                })
                .collect();
            report_scored(name, &format!("cross-fitted {method}"), &scored);
        }
    }
}

/// Isotonic regression (pool adjacent violators) of correctness on a confidence.
struct Isotonic {
    /// (lowest confidence of the step, value), ascending.
    steps: Vec<(f32, f32)>,
}

impl Isotonic {
    fn fit(mut points: Vec<(f32, bool)>) -> Self {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        // (start x, sum, count)
        let mut blocks: Vec<(f32, f64, f64)> = Vec::new();
        for (x, y) in points {
            blocks.push((x, f64::from(u8::from(y)), 1.0));
            while blocks.len() > 1 {
                let (b, a) = (blocks[blocks.len() - 1], blocks[blocks.len() - 2]);
                if a.1 / a.2 >= b.1 / b.2 {
                    let len = blocks.len();
                    blocks[len - 2] = (a.0, a.1 + b.1, a.2 + b.2);
                    blocks.pop();
                } else {
                    break;
                }
            }
        }
        Self {
            steps: blocks
                .into_iter()
                .map(|(x, sum, count)| (x, (sum / count) as f32))
                .collect(),
        }
    }

    fn predict(&self, x: f32) -> f32 {
        match self.steps.iter().rposition(|&(start, _)| start <= x) {
            Some(at) => self.steps[at].1,
            None => self.steps.first().map_or(0.0, |s| s.1),
        }
    }
}

/// The `CLEAN=1` experiment (see the module docs).
fn clean(
    rows: &[Row],
    labels: &[String],
    fold: &[usize],
    k: usize,
    fold_seed: u64,
    options: &TrainOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    let k_in: usize = env("KIN").unwrap_or(3);
    let cuts: Vec<f32> = std::env::var("CUTS")
        .unwrap_or_else(|_| "0,0.05,0.1,0.2,0.3".into())
        .split(',')
        .map(|c| c.trim().parse().expect("CUTS: numbers"))
        .collect();
    // `CLRULE=loose`: any label above the given one flags the call (no per-label threshold).
    let any_other = std::env::var("CLRULE").is_ok_and(|v| v == "loose");
    let other_share = if any_other { 0.0 } else { 1.0 };
    let started = std::time::Instant::now();
    // Outer out-of-fold values per cut, and for the nested choice.
    let mut per_cut: Vec<(Oof, Oof)> = vec![(Vec::new(), Vec::new()); cuts.len()];
    let mut nested: (Oof, Oof) = (Vec::new(), Vec::new());
    for f in 0..k {
        let within = |i: usize| fold[i] != f;
        // Inner folds over this outer fold's training rows (rows outside: usize::MAX).
        let inner_rows: Vec<usize> = (0..rows.len()).filter(|&i| within(i)).collect();
        let inner_assign = split::folds(
            inner_rows
                .iter()
                .map(|&i| (rows[i].0.as_str(), rows[i].1.as_str())),
            k_in,
            fold_seed.wrapping_add(1),
        );
        let mut inner_fold = vec![usize::MAX; rows.len()];
        for (&i, &g) in inner_rows.iter().zip(&inner_assign) {
            inner_fold[i] = g;
        }
        let (ib, it, row_of) = out_of_fold(
            rows,
            labels,
            &inner_fold,
            k_in,
            &within,
            &|_| false,
            options,
            &[],
        )?;
        let mixed: Oof = ib.iter().chain(&it).cloned().collect();
        let scale = fit_scale(&mixed);
        // Each call's probabilities: body and title averaged.
        let mut p_of = vec![Vec::new(); rows.len()];
        let mut gold_of = vec![0; rows.len()];
        for ((b, t), &i) in ib.iter().zip(&it).zip(&row_of) {
            let (pb, pt) = (probs(&b.0, scale), probs(&t.0, scale));
            p_of[i] = pb.iter().zip(&pt).map(|(x, y)| (x + y) / 2.0).collect();
            gold_of[i] = b.1;
        }
        // Confident learning's per-label threshold: the mean probability of a label on its
        // own calls.
        let threshold: Vec<f32> = (0..labels.len())
            .map(|c| {
                let own: Vec<f32> = row_of
                    .iter()
                    .filter(|&&i| gold_of[i] == c)
                    .map(|&i| p_of[i][c])
                    .collect();
                own.iter().sum::<f32>() / own.len().max(1) as f32
            })
            .collect();
        let flagged = |i: usize, cut: f32| {
            let p = &p_of[i];
            if p.is_empty() {
                return false;
            }
            let g = gold_of[i];
            p[g] < cut
                && (0..p.len()).any(|c| {
                    c != g && (!any_other || p[c] > p[g]) && p[c] >= threshold[c] * other_share
                })
        };
        // Inner choice: the baseline's inner figures are the out-of-fold values above.
        let inner_score = |b: &Oof, t: &Oof| (macro_f1(labels, b) + macro_f1(labels, t)) / 2.0;
        let mut best = (inner_score(&ib, &it), 0_usize);
        let mut line = format!("fold {f}: inner");
        for (ci, &cut) in cuts.iter().enumerate() {
            let dropped = row_of.iter().filter(|&&i| flagged(i, cut)).count();
            let score = if cut <= 0.0 {
                best.0
            } else {
                let (b, t, _) = out_of_fold(
                    rows,
                    labels,
                    &inner_fold,
                    k_in,
                    &within,
                    &|i| flagged(i, cut),
                    options,
                    &[],
                )?;
                inner_score(&b, &t)
            };
            line.push_str(&format!(" cut {cut} (-{dropped}) {score:.4};"));
            if score > best.0 + 1e-9 {
                best = (score, ci);
            }
        }
        println!("{line} chosen {}", cuts[best.1]);
        // Outer: train on the fold's training rows minus the flagged ones, per cut.
        for (ci, &cut) in cuts.iter().enumerate() {
            let model = train_rows(rows, |i| within(i) && !flagged(i, cut), options, &[])?;
            for (_, (text, label, title)) in rows.iter().enumerate().filter(|(i, _)| !within(*i)) {
                let gold = labels.iter().position(|g| g == label).unwrap();
                let (b, t) = (
                    (margins(&model, labels, text), gold),
                    (margins(&model, labels, title), gold),
                );
                if ci == best.1 {
                    nested.0.push(b.clone());
                    nested.1.push(t.clone());
                }
                per_cut[ci].0.push(b);
                per_cut[ci].1.push(t);
            }
        }
        eprintln!("fold {f} done ({:.1?})", started.elapsed());
    }
    for (cut, (b, t)) in cuts.iter().zip(&per_cut) {
        summary(labels, &format!("cut {cut}"), b, t);
    }
    summary(labels, "nested choice", &nested.0, &nested.1);
    Ok(())
}

/// Macro-F1 and the selective figures (one temperature fitted on the values themselves).
fn summary(labels: &[String], name: &str, bodies: &Oof, titles: &Oof) {
    let mixed: Oof = bodies.iter().chain(titles).cloned().collect();
    let scale = fit_scale(&mixed);
    println!(
        "{name:<14} macro-F1 bodies {:.4} titles {:.4}",
        macro_f1(labels, bodies),
        macro_f1(labels, titles)
    );
    for (set, values) in [("bodies", bodies), ("titles", titles)] {
        report(set, &format!("  {name} prob"), values, |m| {
            probs(m, scale)[top(m)]
        });
    }
}

/// Examples from the taxonomy's names and the rules' keywords, labelled with their root.
fn pseudo_examples(labels: &[String]) -> Vec<Example> {
    let taxonomy = hotline_classify::Taxonomy::shipped();
    let rules = hotline_classify::Rules::shipped();
    let mut out = Vec::new();
    for category in taxonomy.categories() {
        let path = taxonomy.path(&category.code);
        let Some(root) = path.first() else { continue };
        if !labels.iter().any(|l| l == root) || path.len() < 2 {
            continue;
        }
        out.push(Example {
            text: path[1..].join(" "),
            label: (*root).to_owned(),
        });
        let keywords = rules.keywords_for(&category.code);
        if !keywords.is_empty() {
            out.push(Example {
                text: keywords.join(" "),
                label: (*root).to_owned(),
            });
        }
    }
    eprintln!("{} pseudo-labelled examples", out.len());
    out
}

fn report(
    set: &str,
    measure: &str,
    data: &[(Vec<f32>, usize)],
    confidence: impl Fn(&Vec<f32>) -> f32,
) {
    let scored: Vec<Scored> = data
        .iter()
        .map(|(m, gold)| Scored {
            confidence: confidence(m),
            correct: top(m) == *gold,
        })
        .collect();
    report_scored(set, measure, &scored);
}

fn report_scored(set: &str, measure: &str, scored: &[Scored]) {
    let curve = coverage_curve(scored);
    let at80 = curve[7].precision;
    let selective = choose_threshold(scored, 0.02);
    println!(
        "{set:<7} {measure:<32} precision@80% {:.4}  coverage@98% {:.4}",
        at80, selective.coverage
    );
}
