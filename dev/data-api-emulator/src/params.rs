//! Rewriting of the Data API's named parameters (`:name`) into MySQL's positional `?`
//! placeholders.
//!
//! The scanner understands enough MySQL lexical structure to leave alone everything that
//! is not a parameter: string literals (`'…'`, `"…"`, with backslash escapes and doubled
//! quotes), quoted identifiers (`` `…` ``), comments (`-- `, `#`, `/* … */`), the `::`
//! sequence and assignments such as `@x := 1`.
//!
//! It also enforces the Data API rule that a call carries exactly one statement: a single
//! trailing `;` is accepted (and dropped), anything after it is rejected.

/// A statement whose named parameters were replaced by `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RewrittenSql {
    /// The SQL text to send to MySQL.
    pub sql: String,
    /// The parameter names, one per `?` in `sql`, in order (a name used twice appears twice).
    pub names: Vec<String>,
}

/// Why a statement could not be rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RewriteError {
    /// The text contains more than one statement.
    #[error("Multistatements aren't supported.")]
    MultipleStatements,
}

/// Replaces every `:name` outside literals, identifiers and comments with `?`.
pub(crate) fn rewrite(sql: &str) -> Result<RewrittenSql, RewriteError> {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut names = Vec::new();
    // Start of the not-yet-copied part of `sql`.
    let mut copied = 0;
    let mut i = 0;

    while i < bytes.len() {
        i = match bytes[i] {
            quote @ (b'\'' | b'"') => skip_quoted(bytes, i, quote, true),
            b'`' => skip_quoted(bytes, i, b'`', false),
            b'#' => skip_line(bytes, i),
            b'-' if starts_dash_comment(bytes, i) => skip_line(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => skip_block_comment(bytes, i),
            b';' => {
                if only_trivia(bytes, i + 1) {
                    out.push_str(&sql[copied..i]);
                    return Ok(RewrittenSql { sql: out, names });
                }
                return Err(RewriteError::MultipleStatements);
            }
            b':' => match bytes.get(i + 1) {
                // `::` is never a parameter; skip both colons so the second one is not
                // mistaken for the start of one.
                Some(b':') => i + 2,
                Some(&c) if is_name_byte(c) => {
                    let end = name_end(bytes, i + 1);
                    out.push_str(&sql[copied..i]);
                    out.push('?');
                    names.push(sql[i + 1..end].to_owned());
                    copied = end;
                    end
                }
                _ => i + 1,
            },
            _ => i + 1,
        };
    }

    out.push_str(&sql[copied..]);
    Ok(RewrittenSql { sql: out, names })
}

/// The first word of `sql` (ASCII letters, digits and `_`), after leading whitespace and
/// comments, e.g. `"UPDATE"` for `"/* audit */ UPDATE t SET ..."`; empty when the text starts
/// with something else, such as `(`.
pub(crate) fn first_keyword(sql: &str) -> &str {
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        i = match bytes[i] {
            c if c.is_ascii_whitespace() => i + 1,
            b'#' => skip_line(bytes, i),
            b'-' if starts_dash_comment(bytes, i) => skip_line(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => skip_block_comment(bytes, i),
            _ => break,
        };
    }
    let start = i.min(bytes.len());
    &sql[start..name_end(bytes, start)]
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn name_end(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&c| !is_name_byte(c))
        .map_or(bytes.len(), |n| start + n)
}

/// Returns the index just past the literal or identifier that starts at `start`.
fn skip_quoted(bytes: &[u8], start: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslash_escapes => i += 2,
            c if c == quote => {
                if bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// MySQL only treats `--` as a comment when it is followed by whitespace, a control
/// character or the end of the text (`1--1` is arithmetic).
fn starts_dash_comment(bytes: &[u8], i: usize) -> bool {
    bytes.get(i + 1) == Some(&b'-')
        && bytes
            .get(i + 2)
            .is_none_or(|&c| c.is_ascii_whitespace() || c.is_ascii_control())
}

fn skip_line(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(bytes.len(), |n| start + n + 1)
}

fn skip_block_comment(bytes: &[u8], start: usize) -> usize {
    bytes[start + 2..]
        .windows(2)
        .position(|w| w == b"*/")
        .map_or(bytes.len(), |n| start + 2 + n + 2)
}

/// `true` when only whitespace, comments and further semicolons follow.
fn only_trivia(bytes: &[u8], mut i: usize) -> bool {
    while i < bytes.len() {
        i = match bytes[i] {
            c if c.is_ascii_whitespace() || c == b';' => i + 1,
            b'#' => skip_line(bytes, i),
            b'-' if starts_dash_comment(bytes, i) => skip_line(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => skip_block_comment(bytes, i),
            _ => return false,
        };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(sql: &str) -> (String, Vec<String>) {
        let rewritten = rewrite(sql).expect("rewrite");
        (rewritten.sql, rewritten.names)
    }

    #[test]
    fn replaces_named_parameters_in_order() {
        let (sql, names) = ok("INSERT INTO t (a, b) VALUES (:a, :b_2)");
        assert_eq!(sql, "INSERT INTO t (a, b) VALUES (?, ?)");
        assert_eq!(names, ["a", "b_2"]);
    }

    #[test]
    fn repeated_names_bind_each_occurrence() {
        let (sql, names) = ok("SELECT * FROM t WHERE a = :id OR b = :id");
        assert_eq!(sql, "SELECT * FROM t WHERE a = ? OR b = ?");
        assert_eq!(names, ["id", "id"]);
    }

    #[test]
    fn parameter_at_end_of_text() {
        let (sql, names) = ok("SELECT :x");
        assert_eq!(sql, "SELECT ?");
        assert_eq!(names, ["x"]);
    }

    #[test]
    fn leaves_string_literals_alone() {
        let (sql, names) = ok(r#"SELECT ':a', "x :b", 'it''s :c', 'esc\' :d', :e"#);
        assert_eq!(sql, r#"SELECT ':a', "x :b", 'it''s :c', 'esc\' :d', ?"#);
        assert_eq!(names, ["e"]);
    }

    #[test]
    fn leaves_quoted_identifiers_alone() {
        let (sql, names) = ok("SELECT `odd:name`, `a``:b` FROM t WHERE x = :x");
        assert_eq!(sql, "SELECT `odd:name`, `a``:b` FROM t WHERE x = ?");
        assert_eq!(names, ["x"]);
    }

    #[test]
    fn leaves_comments_alone() {
        let (sql, names) = ok("SELECT 1 -- :a\n, /* :b */ :c # :d\n, :e");
        assert_eq!(sql, "SELECT 1 -- :a\n, /* :b */ ? # :d\n, ?");
        assert_eq!(names, ["c", "e"]);
    }

    #[test]
    fn double_dash_without_space_is_not_a_comment() {
        let (sql, names) = ok("SELECT 1--:a");
        assert_eq!(sql, "SELECT 1--?");
        assert_eq!(names, ["a"]);
    }

    #[test]
    fn ignores_double_colon_and_assignment() {
        let (sql, names) = ok("SELECT @v := 1, x::text, ':', a : b");
        assert_eq!(sql, "SELECT @v := 1, x::text, ':', a : b");
        assert!(names.is_empty());
    }

    #[test]
    fn keeps_non_ascii_text_intact() {
        let (sql, names) = ok("SELECT 'héllo 邓' AS `ü`, :naïve");
        assert_eq!(sql, "SELECT 'héllo 邓' AS `ü`, ?ïve");
        assert_eq!(names, ["na"]);
    }

    #[test]
    fn drops_a_trailing_semicolon() {
        let (sql, names) = ok("SELECT :a ;  -- done\n");
        assert_eq!(sql, "SELECT ? ");
        assert_eq!(names, ["a"]);
    }

    #[test]
    fn semicolon_inside_literal_is_not_a_separator() {
        let (sql, _) = ok("SELECT 'a;b', `c;d` /* ; */");
        assert_eq!(sql, "SELECT 'a;b', `c;d` /* ; */");
    }

    #[test]
    fn rejects_multiple_statements() {
        assert_eq!(
            rewrite("SELECT 1; SELECT 2"),
            Err(RewriteError::MultipleStatements)
        );
        assert_eq!(
            rewrite("DELETE FROM t;DROP TABLE t;"),
            Err(RewriteError::MultipleStatements)
        );
    }

    #[test]
    fn first_keyword_skips_whitespace_and_comments() {
        assert_eq!(first_keyword("SELECT 1"), "SELECT");
        assert_eq!(first_keyword("  \n\tupdate t SET a = 1"), "update");
        assert_eq!(
            first_keyword("-- note\n/* x */ # y\nDELETE FROM t"),
            "DELETE"
        );
        assert_eq!(first_keyword("INSERT(a) VALUES (1)"), "INSERT");
        assert_eq!(first_keyword("(SELECT 1)"), "");
        assert_eq!(first_keyword(""), "");
        assert_eq!(first_keyword("/* unterminated"), "");
        assert_eq!(first_keyword("-- only a comment"), "");
    }

    #[test]
    fn unterminated_constructs_do_not_panic() {
        for sql in [
            "SELECT 'abc",
            "SELECT `x",
            "SELECT /* x",
            "SELECT '\\",
            ":",
            "x:",
        ] {
            let _ = rewrite(sql);
        }
        assert_eq!(ok("SELECT 'a:b").1, Vec::<String>::new());
    }
}
