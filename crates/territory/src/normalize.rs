//! The one form address-book keys and callers' addresses are compared in, so that common
//! variants match exactly:
//! - full-width digits and letters (`３号`, what many input methods type) become half-width,
//!   letters lower case, the ideographic space a space;
//! - Chinese numerals written as house, building, unit or room numbers become digits
//!   (`三号楼` -> `3幢`, `十二幢` -> `12幢`, `一二〇号` -> `120号`); elsewhere they stay, because
//!   they are part of names (`十全街`, `三香路`);
//! - `号楼` and `栋` become `幢` (the three words for a residential building);
//! - `苑` becomes `园` (`南园新村` / `南苑新村`: estates are registered under one and called by
//!   the other).
//!
//! The normalised text keeps, for each of its bytes, the byte range of the original text it
//! came from, so a match in the normalised text is reported as the span the caller wrote.

/// Words that make a preceding Chinese numeral a number (house, building, unit, room, lane,
/// floor). `村` and `区` are left out on purpose: `三香一村` stays a name.
const NUMBER_UNITS: &[&str] = &["号", "幢", "栋", "单元", "室", "弄", "楼", "层"];

/// Text in the normalised form, with the way back to the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// The normalised text.
    pub text: String,
    /// For every byte of `text`, the byte range of the original it came from.
    origin: Vec<(usize, usize)>,
}

impl Normalized {
    /// The original byte range a normalised byte range `[start, end)` came from.
    pub fn original_range(&self, start: usize, end: usize) -> (usize, usize) {
        debug_assert!(start < end && end <= self.origin.len());
        (self.origin[start].0, self.origin[end - 1].1)
    }
}

/// `text` in the comparison form (see the module's documentation).
pub fn normalize(text: &str) -> Normalized {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |i: usize| chars.get(i + 1).map_or(text.len(), |(b, _)| *b);
    let mut out = Normalized {
        text: String::with_capacity(text.len()),
        origin: Vec::with_capacity(text.len()),
    };
    let push = |out: &mut Normalized, piece: &str, from: usize, to: usize| {
        out.text.push_str(piece);
        out.origin
            .extend(std::iter::repeat_n((from, to), piece.len()));
    };
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        // A run of Chinese numerals directly before a number unit is a number.
        if is_chinese_numeral(c) {
            let run_end = (i..chars.len())
                .find(|&j| !is_chinese_numeral(chars[j].1))
                .unwrap_or(chars.len());
            let rest = &text[chars.get(run_end).map_or(text.len(), |(b, _)| *b)..];
            let numeral: String = chars[i..run_end].iter().map(|(_, c)| *c).collect();
            if NUMBER_UNITS.iter().any(|u| rest.starts_with(u)) {
                if let Some(value) = numeral_value(&numeral) {
                    push(&mut out, &value.to_string(), start, end_of(run_end - 1));
                    i = run_end;
                    continue;
                }
            }
            for (j, &(b, c)) in chars.iter().enumerate().take(run_end).skip(i) {
                let mut buffer = [0u8; 4];
                push(&mut out, c.encode_utf8(&mut buffer), b, end_of(j));
            }
            i = run_end;
            continue;
        }
        // 号楼 -> 幢 (two characters to one).
        if c == '号' && chars.get(i + 1).is_some_and(|(_, n)| *n == '楼') {
            push(&mut out, "幢", start, end_of(i + 1));
            i += 2;
            continue;
        }
        let mapped = match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => {
                char::from_u32(c as u32 - 0xFEE0).map_or(c, |h| h.to_ascii_lowercase())
            }
            '栋' | '棟' => '幢',
            '苑' => '园',
            other => other.to_ascii_lowercase(),
        };
        let mut buffer = [0u8; 4];
        push(&mut out, mapped.encode_utf8(&mut buffer), start, end_of(i));
        i += 1;
    }
    out
}

fn is_chinese_numeral(c: char) -> bool {
    matches!(
        c,
        '零' | '〇' | '一' | '二' | '两' | '三' | '四' | '五' | '六' | '七' | '八' | '九' | '十'
    )
}

fn digit(c: char) -> Option<u32> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// The value of a Chinese numeral as written in addresses: tens with 十 (`十`, `十二`, `二十`,
/// `二十三`) or digit by digit (`一二〇`). `None` for forms that are not a number (`十十`).
fn numeral_value(numeral: &str) -> Option<u32> {
    let chars: Vec<char> = numeral.chars().collect();
    match chars.iter().position(|&c| c == '十') {
        None => chars
            .iter()
            .try_fold(0u32, |acc, &c| acc.checked_mul(10)?.checked_add(digit(c)?)),
        Some(at) => {
            let tens = match &chars[..at] {
                [] => 1,
                [d] => digit(*d)?,
                _ => return None,
            };
            let ones = match &chars[at + 1..] {
                [] => 0,
                [d] => digit(*d)?,
                _ => return None,
            };
            Some(tens * 10 + ones)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> String {
        normalize(text).text
    }

    #[test]
    fn full_width_digits_and_letters_become_half_width() {
        assert_eq!(n("十全街８８号"), "十全街88号");
        assert_eq!(n("Ａ区\u{3000}３幢"), "a区 3幢");
    }

    #[test]
    fn chinese_numerals_become_digits_only_as_numbers() {
        assert_eq!(n("三号楼"), "3幢");
        assert_eq!(n("十二幢二单元"), "12幢2单元");
        assert_eq!(n("二十三号"), "23号");
        assert_eq!(n("一二〇号"), "120号");
        assert_eq!(n("十全街"), "十全街");
        assert_eq!(n("三香一村"), "三香一村");
        assert_eq!(n("十十号"), "十十号");
    }

    #[test]
    fn building_words_and_garden_variants_are_unified() {
        assert_eq!(n("5号楼"), "5幢");
        assert_eq!(n("5栋"), "5幢");
        assert_eq!(n("南苑新村"), "南园新村");
    }

    #[test]
    fn a_normalised_range_maps_back_to_what_was_written() {
        let text = "南苑新村五号楼";
        let normalized = normalize(text);
        assert_eq!(normalized.text, "南园新村5幢");
        let at = normalized.text.find("5幢").unwrap();
        let (start, end) = normalized.original_range(at, normalized.text.len());
        assert_eq!(&text[start..end], "五号楼");
        let (start, end) = normalized.original_range(0, "南园新村".len());
        assert_eq!(&text[start..end], "南苑新村");
    }
}
