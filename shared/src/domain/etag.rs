//! Entity tags (RFC 9110): a tool's tag names its revision, a list page's is the MD5 digest of the
//! page's JSON, computed once when the page is built.

use md5::{Digest as _, Md5};

/// The strong entity tag of a tool at `revision`: `"r{revision}"`.
pub fn of_revision(revision: i64) -> String {
    format!("\"r{revision}\"")
}

/// The strong entity tag of a list page whose JSON is `body`: `"p{md5 hex}"`.
pub fn of_page(body: &[u8]) -> String {
    format!("\"p{}\"", hex::encode(Md5::digest(body)))
}

/// Whether an `If-Match` list names `current` (strong comparison; `*` matches any current
/// representation).
pub fn if_match(condition: &str, current: &str) -> bool {
    tags(condition).any(|tag| tag == "*" || tag == current)
}

/// Whether an `If-None-Match` list names `current` (weak comparison, as RFC 9110 asks for this
/// header: `W/"x"` matches `"x"`).
pub fn if_none_match(condition: &str, current: &str) -> bool {
    tags(condition)
        .map(|tag| tag.strip_prefix("W/").unwrap_or(tag))
        .any(|tag| tag == "*" || tag == current)
}

fn tags(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_is_strong_and_takes_star_and_lists() {
        let current = of_revision(3);
        assert!(if_match("\"r3\"", &current));
        assert!(if_match("*", &current));
        assert!(if_match("\"r1\", \"r3\"", &current));
        assert!(!if_match("\"r2\"", &current));
        assert!(!if_match("W/\"r3\"", &current));
    }

    #[test]
    fn if_none_match_is_weak() {
        let current = of_page(b"{}");
        assert!(if_none_match(&current, &current));
        assert!(if_none_match(&format!("\"x\", W/{current}"), &current));
        assert!(if_none_match("*", &current));
        assert!(!if_none_match(&of_page(b"[]"), &current));
    }

    #[test]
    fn page_tags_are_the_md5_of_the_body() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(of_page(b""), "\"pd41d8cd98f00b204e9800998ecf8427e\"");
    }
}
