//! Masking a caller's phone number for roles that must not see it (个人信息保护法 Art. 51):
//! `13912345678` becomes `139****5678`.

/// Keeps the first three and the last four characters and stars the middle; a number too short
/// to keep seven characters of keeps only its last two, so a short extension is not shown whole.
/// Non-digit separators count as characters: the output is as long as the input.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.trim().chars().collect();
    let n = chars.len();
    let (head, tail) = if n >= 8 {
        (3, 4)
    } else {
        (0, n.min(2).min(n.saturating_sub(1)))
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < head || i >= n - tail { *c } else { '*' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::mask_phone;

    #[test]
    fn a_mobile_number_keeps_its_first_three_and_last_four_digits() {
        assert_eq!(mask_phone("13912345678"), "139****5678");
        assert_eq!(mask_phone(" 13912345678 "), "139****5678");
    }

    #[test]
    fn a_landline_keeps_its_area_code_prefix_and_last_four() {
        assert_eq!(mask_phone("051265221234"), "051*****1234");
    }

    #[test]
    fn short_numbers_show_at_most_their_last_two_characters() {
        assert_eq!(mask_phone("1234567"), "*****67");
        assert_eq!(mask_phone("12"), "*2");
        assert_eq!(mask_phone("1"), "*");
        assert_eq!(mask_phone(""), "");
    }
}
