//! Quoting of strings that messages and warnings echo. A value from a request
//! (an image, a mount path, a container or volume name) is written between
//! double quotes with every character that could end the line or fake the
//! quoting escaped, so a crafted value can never add or forge a line in
//! `kubectl` output, events or audit logs. The API server admits an image
//! with an inner newline, so this is reachable.

/// Appends `s` to `out` between double quotes, escaped as a JSON string
/// (`\"`, `\\`, `\n`, `\t`, `\u001b`, ...), and also escaping the characters
/// that JSON leaves raw but a terminal or a log reader may act on: DEL, the
/// C1 controls, the Unicode line and paragraph separators and the
/// bidirectional overrides (which can make a line read backwards).
pub fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    push_escaped(out, s);
    out.push('"');
}

/// `s` between double quotes, escaped as [`push_quoted`] does.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_quoted(&mut out, s);
    out
}

/// Appends `s` escaped as [`push_quoted`] does, without the quotes.
pub fn push_escaped(out: &mut String, s: &str) {
    escape_into(out, s, true);
}

/// `s` with only the characters that could end or reorder a line escaped,
/// quotes kept: for messages that embed a parser's error text, which may
/// quote a key or value of the request.
pub fn line_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s, false);
    out
}

/// The one escaping loop; `quotes`: escape `"` and `\` too.
fn escape_into(out: &mut String, s: &str, quotes: bool) {
    // Most values need no escape: copy runs of plain characters at once.
    let mut plain_from = 0;
    for (at, c) in s.char_indices() {
        let escape = match c {
            '"' if quotes => "\\\"",
            '\\' if quotes => "\\\\",
            '\n' => "\\n",
            '\t' => "\\t",
            '\r' => "\\r",
            _ if needs_unicode_escape(c) => "",
            _ => continue,
        };
        out.push_str(&s[plain_from..at]);
        if escape.is_empty() {
            push_unicode_escape(out, c);
        } else {
            out.push_str(escape);
        }
        plain_from = at + c.len_utf8();
    }
    out.push_str(&s[plain_from..]);
}

fn needs_unicode_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `\uXXXX`, as JSON writes a character (every character escaped here is in
/// the Basic Multilingual Plane).
fn push_unicode_escape(out: &mut String, c: char) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let code = u32::from(c);
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(char::from(HEX[((code >> shift) & 0xf) as usize]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_only_quoted() {
        assert_eq!(quoted("nginx:1.27"), r#""nginx:1.27""#);
        assert_eq!(quoted(""), r#""""#);
        assert_eq!(quoted("ünïcode/ok"), "\"ünïcode/ok\"");
    }

    #[test]
    fn line_breaks_quotes_and_controls_are_escaped() {
        assert_eq!(
            quoted("evil:1\n- everything is fine"),
            r#""evil:1\n- everything is fine""#
        );
        assert_eq!(quoted("a\"b\\c\td\re"), r#""a\"b\\c\td\re""#);
        assert_eq!(quoted("\u{1b}[31mred"), r#""\u001b[31mred""#);
        assert_eq!(quoted("\u{7f}\u{85}"), r#""\u007f\u0085""#);
        assert_eq!(quoted("a\u{2028}b\u{202e}c"), r#""a\u2028b\u202ec""#);
        assert_eq!(quoted("\0"), r#""\u0000""#);
    }

    #[test]
    fn line_safe_keeps_quotes_and_escapes_line_breaks() {
        assert_eq!(
            line_safe("invalid type: string \"a\""),
            "invalid type: string \"a\""
        );
        assert_eq!(line_safe("key a\nb\u{1b}"), "key a\\nb\\u001b");
    }

    #[test]
    fn no_escaped_value_holds_a_raw_control_or_unescaped_quote() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let out = quoted(&all);
        let inner = &out[1..out.len() - 1];
        assert!(!inner.chars().any(needs_unicode_escape));
        assert!(!inner.replace("\\\\", "").replace("\\\"", "").contains('"'));
        // Escaped as JSON: reading it back as a JSON string gives the value.
        assert_eq!(serde_json::from_str::<String>(&out).unwrap(), all);
    }
}
