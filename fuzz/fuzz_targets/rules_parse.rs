//! The classifier's rules file parser (`classify/data/rules.txt` format). Property: never
//! panics, and rules it accepts can be applied to text, including their own source.
#![no_main]

use hotline_classify::Rules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(rules) = Rules::parse("fuzz.txt", text) else {
        return;
    };
    let _ = rules.apply(text);
    let _ = rules.apply("小区门口路灯坏了，物业不管，要求尽快维修");
});
