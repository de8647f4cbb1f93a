//! Aurora MySQL's `MAX_EXECUTION_TIME` optimizer hint, made to act on MariaDB as on Aurora.
//!
//! `SELECT /*+ MAX_EXECUTION_TIME(n) */ …` makes MySQL stop the statement after `n` ms with error
//! 3024. MariaDB reads the hint as a comment; the emulator runs such a statement as
//! `SET STATEMENT max_statement_time = n/1000 FOR …` instead; [`crate::mysql8`] answers
//! MariaDB's error for it (1969) as MySQL's (3024).

use std::borrow::Cow;
use std::time::Duration;

const HINT: &str = "MAX_EXECUTION_TIME(";

/// The time limit of `sql`'s `MAX_EXECUTION_TIME` hint, if it has one.
fn max_execution_time(sql: &str) -> Option<u64> {
    let start = sql.find("/*+")?;
    let end = start + sql[start..].find("*/")?;
    let hints = &sql[start..end];
    let at = hints.to_ascii_uppercase().find(HINT)? + HINT.len();
    let digits = &hints[at..at + hints[at..].find(')')?];
    digits.trim().parse().ok()
}

/// `sql` as `server` runs it: unchanged on MySQL; on MariaDB (a server version of 10 or more)
/// a `MAX_EXECUTION_TIME` hint becomes `SET STATEMENT max_statement_time`.
pub(crate) fn for_server(sql: &str, server_version: (u16, u16, u16)) -> Cow<'_, str> {
    let mariadb = server_version.0 >= 10;
    match max_execution_time(sql) {
        Some(millis) if mariadb => Cow::Owned(format!(
            "SET STATEMENT max_statement_time = {}.{:03} FOR {sql}",
            millis / 1000,
            millis % 1000
        )),
        _ => Cow::Borrowed(sql),
    }
}

/// `sql`, a `SELECT`, made to work `delay` longer in the database (a fault rule's `stall`): its
/// rows come in no particular order, and its time limit still applies to the whole.
pub(crate) fn stalled(sql: &str, delay: Duration) -> String {
    let hint = max_execution_time(sql)
        .map(|millis| format!("/*+ MAX_EXECUTION_TIME({millis}) */ "))
        .unwrap_or_default();
    format!(
        "SELECT {hint}stalled.* FROM (SELECT SLEEP({:.3}) AS stall) AS stall, ({sql}) AS stalled",
        delay.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_becomes_a_statement_time_limit_on_mariadb_only() {
        let sql = "SELECT /*+ MAX_EXECUTION_TIME(1500) */ a FROM t";
        assert_eq!(
            for_server(sql, (10, 11, 6)),
            "SET STATEMENT max_statement_time = 1.500 FOR SELECT /*+ MAX_EXECUTION_TIME(1500) */ a FROM t"
        );
        assert_eq!(for_server(sql, (8, 0, 36)), sql);
        assert_eq!(
            for_server("SELECT /* MAX_EXECUTION_TIME(5) */ 1", (10, 11, 6)),
            "SELECT /* MAX_EXECUTION_TIME(5) */ 1"
        );
        assert_eq!(for_server("SELECT 1", (10, 11, 6)), "SELECT 1");
    }

    #[test]
    fn a_stalled_select_keeps_its_time_limit() {
        let sql = stalled(
            "SELECT /*+ MAX_EXECUTION_TIME(20) */ 1 AS a",
            Duration::from_millis(1500),
        );
        assert_eq!(
            sql,
            "SELECT /*+ MAX_EXECUTION_TIME(20) */ stalled.* FROM (SELECT SLEEP(1.500) AS stall) AS stall, \
             (SELECT /*+ MAX_EXECUTION_TIME(20) */ 1 AS a) AS stalled"
        );
        assert_eq!(max_execution_time(&sql), Some(20));
    }
}
