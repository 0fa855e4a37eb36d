//! Drafts from the centre's own work: a station's public reply turned into a draft article,
//! with what identifies the caller taken out first.
//!
//! Public replies open with the caller's handle (网友“UU008398”您好！, 尊敬的张先生：) and
//! sometimes quote a phone number, an address down to the flat, or an e-mail. None of that
//! belongs in an answer read to other callers. [`strip_personal`] drops the opening
//! salutation and puts [`PLACEHOLDER`] where a phone number (mobile or landline), an ID-card
//! number, an e-mail address, a house number (12幢3单元502室, 5号楼301, 302室), a handle or a
//! caller's name with 先生/女士 was. The draft still goes through review: an editor reads it
//! before anyone hears it, so the rules lean towards hiding too much rather than too little
//! (a department's public hotline number is hidden too, and the editor may put it back).

use std::sync::LazyLock;

use chrono::NaiveDate;
use hotline_core::{CategoryCode, DivisionCode, StaffId, StationId};
use regex::Regex;

use crate::domain::{Article, Content, Source};
use crate::service::Knowledge;
use crate::KnowledgeError;

/// What replaces a hidden detail.
pub const PLACEHOLDER: &str = "【已隐去】";

/// The internal note of a draft made from a reply.
pub const DRAFT_NOTE: &str = "由站点的公开答复生成的草稿：来电人的称呼、姓名、电话、证件号、邮箱和门牌号已隐去（【已隐去】）。发布前请核对原文、补上来源文件，并确认仍符合现行政策。";

fn regex(pattern: &str) -> Regex {
    // The patterns are constants checked by the tests; a typo fails every test at once.
    Regex::new(pattern).unwrap_or_else(|e| panic!("bad pattern {pattern}: {e}"))
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
});
/// 18 digits (the last may be X): region, birth date, sequence, check digit.
static ID_CARD: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]",
    )
});
/// 1[3-9] and nine more digits, maybe after +86, maybe grouped 3-4-4 by spaces or dashes.
static MOBILE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?:\+?86[ \-]?)?1[3-9][0-9](?:[ \-]?[0-9]{4}){2}"));
/// An area code (0512, or (0512)) and a 7-8 digit number, maybe an extension.
static LANDLINE: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?:[（(]0[0-9]{2,3}[）)]|0[0-9]{2,3})[ \-]?[2-9][0-9]{6,7}(?:(?:-|转)[0-9]{1,5})?")
});
/// A building with its unit and flat, a unit and flat, or a flat.
static HOUSE: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        r"[0-9]+(?:幢|栋|号楼)(?:[0-9]+单元)?(?:[0-9]+(?:室|号|层|楼|房)?)?",
        r"|[0-9]+单元[0-9]+(?:室|号)?",
        r"|[0-9]{2,5}(?:室|房)",
    ))
});
/// A handle quoted or numbered after 网友/市民 anywhere in the text (the group keeps the word).
static HANDLE: LazyLock<Regex> = LazyLock::new(|| {
    regex(r#"(网友|市民)(?:[“"「『][^”"」』\s]{1,30}[”"」』]|[A-Za-z]{0,4}[0-9]{3,})"#)
});
/// A surname and 先生/女士/小姐 (the group keeps what comes before).
static NAME: LazyLock<Regex> = LazyLock::new(|| regex(r"(\p{Han})(?:先生|女士|小姐)"));

fn is_digit(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_digit() || ('０'..='９').contains(&c))
}

/// Replaces the matches of `pattern` not inside a longer run of digits (an amount, a
/// document number) with the placeholder.
fn hide_numbers(text: &str, pattern: &Regex) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(m) = pattern.find_at(text, from) {
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        if is_digit(before) || is_digit(after) {
            // Try again one character further on: a shorter match may still stand alone.
            from = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        out.push_str(&text[copied..m.start()]);
        out.push_str(PLACEHOLDER);
        copied = m.end();
        from = m.end();
    }
    out.push_str(&text[copied..]);
    out
}

const SEPARATORS: [char; 8] = ['：', ':', '，', ',', '！', '!', '、', '。'];
const GREETINGS: [&str; 5] = ["您好", "你好", "您们好", "你们好", "大家好"];
const ADDRESSED: [&str; 8] = [
    "网友", "市民", "先生", "女士", "小姐", "同志", "朋友", "居民",
];

/// Whether `clause` (the text before the first separator `sep`) is a salutation.
fn is_salutation(clause: &str, sep: char) -> bool {
    let n = clause.chars().count();
    if n == 0 || n > 20 {
        return false;
    }
    // 您好 / 网友您好 / “UU0081646”您好 / 尊敬的网友
    if GREETINGS.iter().any(|g| clause.ends_with(g)) || clause.starts_with("尊敬的") {
        return true;
    }
    // What follows a name: a colon, a space, or (after 网友, 张先生) a comma.
    let colon = matches!(sep, '：' | ':') || sep.is_whitespace();
    let handle = clause.contains(['“', '"', '「', '『'])
        || (clause.chars().any(|c| c.is_ascii_digit())
            && clause
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c > '\u{2e7f}'));
    if ADDRESSED.iter().any(|w| clause.ends_with(w)) && n <= 12 {
        return colon || matches!(sep, '，' | ',' | '！' | '!');
    }
    // 网友1234： / 市民张某某： / 李某某： / UU008398：
    colon
        && n <= 12
        && (handle
            || ["网友", "市民"].iter().any(|w| clause.starts_with(w))
            || clause.contains('某'))
}

/// Drops the salutations a reply opens with (up to four: 网友： 您好！ ...).
fn strip_opening(text: &str) -> &str {
    let mut rest = text.trim_start();
    for _ in 0..4 {
        let Some((end, sep)) = rest
            .char_indices()
            .find(|&(_, c)| SEPARATORS.contains(&c) || c.is_whitespace())
        else {
            break;
        };
        if !is_salutation(&rest[..end], sep) {
            break;
        }
        rest = rest[end..].trim_start_matches(|c: char| {
            c.is_whitespace() || SEPARATORS.contains(&c) || c == '\u{3000}'
        });
    }
    rest
}

/// A station's public reply without what identifies the caller: the opening salutation
/// dropped; handles, names with 先生/女士, e-mail, ID-card and phone numbers, and house numbers
/// replaced by [`PLACEHOLDER`]. Everything else is kept as written.
pub fn strip_personal(text: &str) -> String {
    let text = strip_opening(text);
    let text = HANDLE.replace_all(text, "$1");
    let text = NAME.replace_all(&text, |caps: &regex::Captures<'_>| {
        let before = &caps[1];
        // 一位女士, 该先生: not a name; 各位/诸位 are addressed to everyone.
        if "位名该这那此其每各".contains(before) {
            caps[0].to_owned()
        } else {
            PLACEHOLDER.to_owned()
        }
    });
    let text = EMAIL.replace_all(&text, PLACEHOLDER);
    let mut text = text.into_owned();
    for pattern in [&*ID_CARD, &*MOBILE, &*LANDLINE, &*HOUSE] {
        text = hide_numbers(&text, pattern);
    }
    text.trim().to_owned()
}

impl Knowledge {
    /// A draft article from a station's public reply (a supervisor's one click): the answer is
    /// the reply through [`strip_personal`], in effect from `today`, with a note saying where
    /// it came from. It is a draft like any other: an editor completes it and a reviewer
    /// approves it before callers hear it.
    // The parameters are the router's request, field by field, as agreed with the desk.
    #[allow(clippy::too_many_arguments)]
    pub async fn draft_from_reply(
        &self,
        editor: &StaffId,
        title: &str,
        reply: &str,
        categories: Vec<CategoryCode>,
        territories: Vec<DivisionCode>,
        owner: StationId,
        today: NaiveDate,
    ) -> Result<Article, KnowledgeError> {
        let content = Content {
            title: title.to_owned(),
            alt_questions: Vec::new(),
            answer: strip_personal(reply),
            internal_note: DRAFT_NOTE.to_owned(),
            categories,
            territories,
            source: Source::default(),
            effective_from: today,
            effective_until: None,
            owner,
            review_on: None,
        };
        self.create(editor, content, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opening_handle_is_dropped() {
        let cases = [
            ("网友您好！您反映的问题已收悉。", "您反映的问题已收悉。"),
            (
                "网友：您好！留言已收悉，现回复如下：",
                "留言已收悉，现回复如下：",
            ),
            (
                "网友“UU008123” 您好！经核实，该路段已修复。",
                "经核实，该路段已修复。",
            ),
            ("“UU0081234”您好！函件收悉。", "函件收悉。"),
            ("尊敬的网友：您好，来信收悉！", "来信收悉！"),
            (
                "尊敬的王先生：\n  您好！关于公积金提取，",
                "关于公积金提取，",
            ),
            ("张先生/女士：您的来信收悉。", "您的来信收悉。"),
            ("网友1234：关于停车收费，", "关于停车收费，"),
            ("市民张某某：经调查，", "经调查，"),
            ("您好！函件收悉，经调查处理，", "函件收悉，经调查处理，"),
        ];
        for (reply, expected) in cases {
            assert_eq!(strip_personal(reply), expected, "{reply}");
        }
    }

    #[test]
    fn an_opening_that_is_not_a_salutation_is_kept() {
        for reply in [
            "您的留言已收悉。关于您反映的问题，",
            "市民反映的小区停车问题，经核实，",
            "经核实，网友反映属实。",
        ] {
            assert_eq!(strip_personal(reply), reply);
        }
    }

    #[test]
    fn phones_ids_and_mail_are_hidden() {
        let reply =
            "如有疑问请联系13912345678或139 1234 5678，座机0512-65223456、（0512）65223456转8001，\
                     邮箱service@example.gov.cn，身份证号32050819900101123X已核验。";
        let out = strip_personal(reply);
        for gone in ["139", "0512", "65223456", "example", "32050819900101123X"] {
            assert!(!out.contains(gone), "{gone} left in {out}");
        }
        assert_eq!(out.matches(PLACEHOLDER).count(), 6, "{out}");
        assert!(
            out.starts_with("如有疑问请联系【已隐去】或【已隐去】"),
            "{out}"
        );
    }

    #[test]
    fn numbers_that_identify_no_one_are_kept() {
        let reply =
            "依据苏府规字〔2024〕12号，2018-08-22起执行，补贴标准为每户12000元，咨询12345。";
        assert_eq!(strip_personal(reply), reply);
    }

    #[test]
    fn house_numbers_are_hidden() {
        let out = strip_personal("经查，12幢3单元502室、5号楼301及302室住户反映的噪音问题已处理。");
        assert_eq!(
            out,
            "经查，【已隐去】、【已隐去】及【已隐去】住户反映的噪音问题已处理。"
        );
    }

    #[test]
    fn handles_and_names_in_the_body_are_hidden() {
        let out = strip_personal("已与网友“UU008899”及李女士电话沟通，一位女士表示认可。");
        assert_eq!(out, "已与网友及【已隐去】电话沟通，一位女士表示认可。");
    }
}
