//! Accuracy of text resolution over a generated set of real addresses: every one of Suzhou's
//! 2,248 communities written the ways callers write it (full path, bare name, district + name,
//! official committee name, inside a sentence, with 园区/工业园区, county-level cities by their
//! stem, （镇） names by their other forms, street + name without district, with 江苏省).
//!
//! The expected answer of each sample is what a careful operator would conclude from it: the
//! community when the names in the sample identify exactly one community, else "ambiguous,
//! with this community among the candidates" (e.g. a bare 湖滨社区, of which there are four).
//!
//! Targets (issue): >= 98% of samples that identify a community resolve to it; 100% of samples
//! whose district is determined resolve inside the right district.
//! Run with `cargo test -p hotline-territory --test territory accuracy -- --nocapture` to see the numbers.

use std::collections::HashMap;
use std::sync::Arc;

use hotline_directory::{Directory, Division, Level};
use hotline_territory::{Outcome, Resolution, Resolver};

struct Sample {
    text: String,
    form: &'static str,
    community: usize,
    /// How many communities the names in the text fit (1: identified).
    fits: usize,
    /// The district is determined by the text (named, or shared by everything that fits).
    district_known: bool,
}

/// Village names that are also everyday phrases (社会主义新农村, 一个小山村): written alone they
/// are not an address, and a careful operator would not read one as such.
const EVERYDAY_PHRASES: &[&str] = &["新农村", "小山村"];

struct World<'a> {
    communities: Vec<&'a Division>,
    street_of: Vec<&'a Division>,
    district_of: Vec<&'a Division>,
    /// Names of districts and streets.
    higher_names: Vec<&'a str>,
    /// (bare stem, street code) -> how many communities of the street have that stem.
    stems_in_street: HashMap<(&'a str, &'a str), usize>,
}

fn bare_stem(short: &str) -> Option<&str> {
    short
        .strip_suffix("社区")
        .or_else(|| short.strip_suffix('村'))
}

fn world(directory: &Directory) -> World<'_> {
    let communities: Vec<&Division> = directory.divisions_at(Level::Community).collect();
    let street_of = communities
        .iter()
        .map(|c| directory.parent(&c.code).unwrap())
        .collect();
    let district_of = communities
        .iter()
        .map(|c| {
            directory
                .ancestors(&c.code)
                .find(|d| d.level == Level::District)
                .unwrap()
        })
        .collect();
    let higher_names = directory
        .divisions()
        .filter(|d| matches!(d.level, Level::District | Level::Street))
        .map(|d| d.name.as_str())
        .collect();
    let mut stems_in_street = HashMap::new();
    for c in &communities {
        if let Some(stem) = bare_stem(&c.short_name) {
            let street = c.parent.as_ref().unwrap().as_str();
            *stems_in_street.entry((stem, street)).or_default() += 1;
        }
    }
    World {
        communities,
        street_of,
        district_of,
        higher_names,
        stems_in_street,
    }
}

/// Ways people write a district: its name, the city prefix, and local nicknames.
fn district_variants(district: &Division) -> Vec<String> {
    let name = district.name.as_str();
    let mut variants = vec![name.to_owned(), format!("苏州{name}")];
    if district.code.as_str() == "320576" {
        variants.extend(["园区".to_owned(), "工业园区".to_owned()]);
    } else if let Some(stem) = name.strip_suffix('市') {
        variants.push(stem.to_owned());
    }
    variants
}

/// Ways people write a street: its name, and for the parenthesised ones their other names.
fn street_variants(street: &Division) -> Vec<String> {
    let name = street.name.as_str();
    let mut variants = vec![name.to_owned()];
    match name {
        "浒墅关经开区（镇）" => {
            variants.extend(["浒墅关镇".to_owned(), "浒墅关经开区".to_owned()])
        }
        "科技城（东渚街道）" => {
            variants.extend(["东渚街道".to_owned(), "东渚镇".to_owned()])
        }
        _ => {}
    }
    if name.contains('（') {
        variants.push(name.replace('（', "(").replace('）', ")"));
    }
    variants
}

fn samples(world: &World) -> Vec<Sample> {
    // How many communities share a short name, in the city, in a district, in a street.
    let mut in_city: HashMap<&str, usize> = HashMap::new();
    let mut in_district: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, c) in world.communities.iter().enumerate() {
        *in_city.entry(c.short_name.as_str()).or_default() += 1;
        *in_district
            .entry((c.short_name.as_str(), world.district_of[i].code.as_str()))
            .or_default() += 1;
    }
    let districts_of_name = |short: &str| {
        let mut codes: Vec<&str> = world
            .communities
            .iter()
            .enumerate()
            .filter(|(_, c)| c.short_name == short)
            .map(|(i, _)| world.district_of[i].code.as_str())
            .collect();
        codes.sort_unstable();
        codes.dedup();
        codes.len()
    };

    let mut out = Vec::new();
    for (i, c) in world.communities.iter().enumerate() {
        let street = world.street_of[i];
        let district = world.district_of[i];
        let short = c.short_name.as_str();
        let d = district.name.as_str();
        let s = street.name.as_str();
        let city_fits = in_city[short];
        let district_fits = in_district[&(short, district.code.as_str())];
        let is_village = short.ends_with('村');
        let mut push = |form: &'static str, text: String, fits: usize, district_known: bool| {
            out.push(Sample {
                text,
                form,
                community: i,
                fits,
                district_known,
            })
        };
        let n = i; // rotates through the variants deterministically
        let dv = district_variants(district);
        let sv = street_variants(street);
        let d_alt = &dv[n % dv.len()];
        let s_alt = &sv[n % sv.len()];

        push("full path", format!("苏州市{d}{s}{short}"), 1, true);
        if !EVERYDAY_PHRASES.contains(&short) {
            push(
                "bare name",
                short.to_owned(),
                city_fits,
                districts_of_name(short) == 1,
            );
        }
        push(
            "district + name",
            format!("{d}{short}门口"),
            district_fits,
            true,
        );
        push("official name", format!("{d}{s}{}", c.name), 1, true);
        let tail = if is_village { "3组" } else { "附近" };
        push(
            "living at",
            format!("我住在{d_alt}{s}{short}{tail}"),
            1,
            true,
        );
        push(
            "sentence",
            format!("您好，我是{d}{s}{short}的居民，小区路灯坏了，晚上出行很不方便"),
            1,
            true,
        );
        push("variants", format!("{d_alt}{s_alt}{short}"), 1, true);
        push("street + name", format!("{s_alt}{short}"), 1, true);
        push("spaced", format!("{d} {s} {short}"), 1, true);
        if let Some(stem) = d
            .strip_suffix('区')
            .filter(|stem| stem.chars().count() == 2)
        {
            push("district stem", format!("{stem}{s}{short}"), 1, true);
        }
        // A bare stem (沧浪亭 for 沧浪亭社区) next to the street, unless the stem is itself the
        // name of a district or street (张家港): then it does not name the community.
        if let Some(bare) = bare_stem(short).filter(|b| b.chars().count() >= 3) {
            if !world.higher_names.iter().any(|n| n.starts_with(bare)) {
                let fits = world.stems_in_street[&(bare, street.code.as_str())];
                push("street + bare stem", format!("{s}{bare}"), fits, true);
            }
        }
        push(
            "province prefix",
            format!("江苏省苏州市{d}{short}的垃圾清运不及时"),
            district_fits,
            true,
        );
    }
    out
}

/// The district a resolution lands in (for resolved or ambiguous-with-shared-division answers).
fn district_of_answer<'d>(directory: &'d Directory, answer: &Resolution) -> Option<&'d Division> {
    let code = answer.division.as_ref()?;
    directory
        .ancestors(code)
        .find(|d| d.level == Level::District)
}

#[test]
fn generated_addresses_resolve_to_the_right_community_and_district() {
    let directory = Arc::new(Directory::suzhou());
    let resolver = Resolver::new(directory.clone());
    let world = world(&directory);
    let samples = samples(&world);
    assert!(samples.len() >= 2248 * 9, "{} samples", samples.len());

    let mut identified = 0usize;
    let mut identified_right = 0usize;
    let mut repeated = 0usize;
    let mut repeated_flagged = 0usize;
    let mut district_known = 0usize;
    let mut district_right = 0usize;
    let mut strict_right = 0usize;
    let mut failures: Vec<String> = Vec::new();
    let mut per_form: HashMap<&str, (usize, usize)> = HashMap::new();

    for sample in &samples {
        let answer = resolver.resolve_text(&sample.text);
        let community = world.communities[sample.community];
        let right_community = answer.outcome == Outcome::Resolved
            && answer.division.as_ref() == Some(&community.code);
        strict_right += usize::from(right_community);
        let ok = if sample.fits == 1 {
            identified += 1;
            identified_right += usize::from(right_community);
            right_community
        } else {
            repeated += 1;
            let flagged = answer.outcome == Outcome::Ambiguous
                && answer.candidates.iter().any(|c| c.code == community.code);
            repeated_flagged += usize::from(flagged);
            flagged
        };
        if sample.district_known {
            district_known += 1;
            let district = district_of_answer(&directory, &answer);
            let right =
                district.map(|d| &d.code) == Some(&world.district_of[sample.community].code);
            district_right += usize::from(right);
            if !right && ok {
                failures.push(format!(
                    "[{}] district wrong: {} -> {:?} {:?} ({})",
                    sample.form,
                    sample.text,
                    answer.outcome,
                    answer.name,
                    answer.reason()
                ));
            }
        }
        let entry = per_form.entry(sample.form).or_default();
        entry.0 += 1;
        entry.1 += usize::from(ok);
        if !ok {
            failures.push(format!(
                "[{}] {} (expected {} {}) -> {:?} {:?}: {}",
                sample.form,
                sample.text,
                community.name,
                community.code,
                answer.outcome,
                answer.name,
                answer.reason()
            ));
        }
    }

    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    println!("samples: {}", samples.len());
    println!(
        "community identified by the text: {identified_right}/{identified} = {:.2}% resolved to the right community",
        pct(identified_right, identified)
    );
    println!(
        "community name repeated, text does not decide: {repeated_flagged}/{repeated} = {:.2}% answered ambiguous with it among the candidates",
        pct(repeated_flagged, repeated)
    );
    println!(
        "district determined by the text: {district_right}/{district_known} = {:.2}% inside the right district",
        pct(district_right, district_known)
    );
    println!(
        "strict (every sample resolved to exactly its community): {strict_right}/{} = {:.2}%",
        samples.len(),
        pct(strict_right, samples.len())
    );
    let mut forms: Vec<_> = per_form.into_iter().collect();
    forms.sort();
    for (form, (total, ok)) in forms {
        println!("  {form:>16}: {ok}/{total} = {:.2}%", pct(ok, total));
    }
    println!("failures: {}", failures.len());
    for failure in failures.iter().take(40) {
        println!("  {failure}");
    }

    assert!(
        pct(identified_right, identified) >= 98.0,
        "community accuracy below 98%"
    );
    assert!(
        pct(repeated_flagged, repeated) >= 98.0,
        "repeated names not flagged as ambiguous often enough"
    );
    assert_eq!(
        district_right, district_known,
        "district accuracy must be 100%"
    );
}

/// Real citizen messages from another (anonymised) province: any Suzhou community they resolve
/// to is a false positive. Test input only (no licence): read from ../shared at run time.
#[test]
fn messages_from_elsewhere_rarely_resolve_to_a_suzhou_community() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/civic/train.csv");
    assert!(
        path.exists(),
        "{} is missing: this test needs the shared civic messages",
        path.display()
    );
    let directory = Arc::new(Directory::suzhou());
    let resolver = Resolver::new(directory);
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let mut total = 0usize;
    let mut community = 0usize;
    let mut any_resolved = 0usize;
    let mut examples = Vec::new();
    for record in reader.records() {
        let record = record.unwrap();
        let text = format!("{} {}", &record[2], &record[0]);
        let answer = resolver.resolve_text(&text);
        total += 1;
        if answer.outcome == Outcome::Resolved {
            any_resolved += 1;
            if answer.level == Some(Level::Community) {
                community += 1;
                examples.push(format!(
                    "{:?} -> {:?} ({:?})",
                    answer.span.as_ref().map(|s| s.text.clone()),
                    answer.name,
                    answer.why
                ));
            }
        }
    }
    let pct = |a: usize| 100.0 * a as f64 / total as f64;
    println!(
        "{total} messages from elsewhere: {community} ({:.2}%) resolved to a Suzhou community, {any_resolved} ({:.2}%) to any Suzhou division",
        pct(community),
        pct(any_resolved)
    );
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for example in &examples {
        *counts.entry(example.as_str()).or_default() += 1;
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (example, count) in counts.iter().take(20) {
        println!("  {count:>4} {example}");
    }
    assert!(pct(community) < 5.0, "too many false positives");
}
