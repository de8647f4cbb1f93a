//! MariaDB made to answer as MySQL 8, the engine of Aurora MySQL 3: its errors and its session
//! defaults.
//!
//! # Errors
//!
//! The Data API of Aurora MySQL (Serverless v2 and provisioned) answers a statement the
//! database refused with `DatabaseErrorException` whose message is MySQL's, followed by its
//! error number and SQLSTATE: `<message>; Error code: <number>; SQLState: <state>`. Clients
//! find the error by that tail (`cloud-utils/aurora-data-api`, `aurora_data_api/base.py`:
//! `re.search(r"Error code: (\d+); SQLState: (\d+)$", error_msg)`, then
//! `MySQLError.from_code`); the PostgreSQL flavour ends the same way (`…; SQLState: 23503`,
//! cloud-utils/aurora-data-api issue 53).
//!
//! MariaDB shares MySQL's numbers for the common errors but not every number or text;
//! [`to_mysql8`] translates where they differ:
//!
//! | MariaDB                                                        | MySQL 8                                                              |
//! |----------------------------------------------------------------|----------------------------------------------------------------------|
//! | 1969 `ER_STATEMENT_TIMEOUT` (70100) `… (max_statement_time exceeded)` | 3024 `ER_QUERY_TIMEOUT` (HY000) `…, maximum statement execution time exceeded` |
//! | 1064 `… your MariaDB server version …`                          | 1064 `… your MySQL server version …`                                  |
//! | 1054 `Unknown column 'c' in 'WHERE'` (the clause's keyword)     | 1054 `Unknown column 'c' in 'where clause'`                           |
//! | 1052 `Column 'c' in SELECT is ambiguous`                         | 1052 `Column 'c' in field list is ambiguous`                          |
//! | 1142 ``… for table `db`.`t` ``                                     | 1142 `… for table 't'`                                                |
//!
//! Duplicate keys (1062), deadlocks (1213), lock wait timeouts (1205), unknown tables (1146),
//! data too long (1406), out-of-range values (1264) and refused logins (1045) read the same on
//! both, except that MySQL 8 names a duplicate key with its table (`'tools.uq_tools_name'`)
//! where MariaDB names the key alone (`'uq_tools_name'`): the table is not in MariaDB's error.
//!
//! # Session
//!
//! [`SESSION_SETUP`] gives every connection Aurora's time zone (UTC) and, on MariaDB only,
//! MySQL 8's default `sql_mode` plus `TIME_ROUND_FRACTIONAL`: MySQL rounds a fractional second
//! that a column cannot hold (`13:49:32.78` in a `DATETIME` is `13:49:33`), MariaDB truncates
//! it unless told to round.

use std::borrow::Cow;

/// Run on every pooled connection. `/*M! … */` is read by MariaDB only; MySQL (which rounds
/// fractional seconds and has this `sql_mode` by default) skips it as a comment.
pub(crate) const SESSION_SETUP: &str = "SET time_zone = '+00:00' \
     /*M!, sql_mode = 'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,\
     ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,TIME_ROUND_FRACTIONAL' */";

/// What MySQL says of a statement it stopped at its `MAX_EXECUTION_TIME`.
const QUERY_TIMEOUT: &str =
    "Query execution was interrupted, maximum statement execution time exceeded";

/// MariaDB's `ER_STATEMENT_TIMEOUT`, its error for a statement past `max_statement_time`.
const MARIADB_STATEMENT_TIMEOUT: u16 = 1969;
/// MySQL's `ER_QUERY_TIMEOUT`, its error for a statement past `MAX_EXECUTION_TIME`.
const MYSQL_QUERY_TIMEOUT: u16 = 3024;
const ER_BAD_FIELD_ERROR: u16 = 1054;
const ER_LOCK_DEADLOCK: u16 = 1213;
const ER_NON_UNIQ_ERROR: u16 = 1052;
const ER_PARSE_ERROR: u16 = 1064;
const ER_TABLEACCESS_DENIED_ERROR: u16 = 1142;

/// Whether `error` rolled back the transaction it happened in: InnoDB ends a deadlock's
/// victim's transaction, where any other refused statement (a duplicate key, a lock wait
/// timeout, a parse error) is undone alone and the transaction goes on. The Data API keeps
/// such a transaction open: clients tested against Aurora commit after a parse error in one
/// (`cloud-utils/aurora-data-api`, `test/test_sync.py`, `test_invalid_statements`).
pub(crate) fn rolled_back(error: &mysql_async::Error) -> bool {
    matches!(error, mysql_async::Error::Server(e) if e.code == ER_LOCK_DEADLOCK)
}

/// A database error: MySQL's number, SQLSTATE and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerError<'a> {
    pub number: u16,
    pub state: Cow<'a, str>,
    pub message: Cow<'a, str>,
}

impl ServerError<'_> {
    /// The message the Data API of Aurora MySQL answers for this error.
    pub(crate) fn data_api_message(&self) -> String {
        format!(
            "{}; Error code: {}; SQLState: {}",
            self.message, self.number, self.state
        )
    }
}

/// `error`, as MySQL 8 reports the same failure.
pub(crate) fn to_mysql8(error: &mysql_async::ServerError) -> ServerError<'_> {
    let message = error.message.as_str();
    let translated = |message: String| ServerError {
        number: error.code,
        state: Cow::Borrowed(&error.state),
        message: Cow::Owned(message),
    };
    match error.code {
        MARIADB_STATEMENT_TIMEOUT => ServerError {
            number: MYSQL_QUERY_TIMEOUT,
            state: Cow::Borrowed("HY000"),
            message: Cow::Borrowed(QUERY_TIMEOUT),
        },
        ER_PARSE_ERROR => translated(message.replacen(
            "your MariaDB server version",
            "your MySQL server version",
            1,
        )),
        ER_BAD_FIELD_ERROR => match message.rsplit_once(" in '") {
            Some((head, clause)) => translated(format!(
                "{head} in '{}'",
                clause_name(clause.trim_end_matches('\''))
            )),
            None => translated(message.to_owned()),
        },
        ER_NON_UNIQ_ERROR => match message
            .strip_suffix(" is ambiguous")
            .and_then(|m| m.rsplit_once(" in "))
        {
            Some((head, clause)) => {
                translated(format!("{head} in {} is ambiguous", clause_name(clause)))
            }
            None => translated(message.to_owned()),
        },
        ER_TABLEACCESS_DENIED_ERROR => match message.rsplit_once(" for table `") {
            Some((head, table)) => {
                let table = table.rsplit("`.`").next().unwrap_or(table);
                translated(format!(
                    "{head} for table '{}'",
                    table.trim_end_matches('`')
                ))
            }
            None => translated(message.to_owned()),
        },
        _ => ServerError {
            number: error.code,
            state: Cow::Borrowed(&error.state),
            message: Cow::Borrowed(message),
        },
    }
}

/// MySQL's name of the clause MariaDB names by its keyword, in "unknown column" and
/// "ambiguous column" errors.
fn clause_name(mariadb: &str) -> &str {
    match mariadb {
        "SELECT" | "SET" | "INSERT INTO" | "field list" => "field list",
        "WHERE" => "where clause",
        "ORDER BY" => "order clause",
        "GROUP BY" => "group statement",
        "HAVING" => "having clause",
        "ON" => "on clause",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mariadb(code: u16, state: &str, message: &str) -> mysql_async::ServerError {
        mysql_async::ServerError {
            code,
            state: state.into(),
            message: message.into(),
        }
    }

    fn answered(code: u16, state: &str, message: &str) -> String {
        to_mysql8(&mariadb(code, state, message)).data_api_message()
    }

    #[test]
    fn errors_read_as_mysql_8_with_number_and_sqlstate() {
        let cases = [
            (
                (
                    1969,
                    "70100",
                    "Query execution was interrupted (max_statement_time exceeded)",
                ),
                "Query execution was interrupted, maximum statement execution time exceeded; \
                 Error code: 3024; SQLState: HY000",
            ),
            (
                (
                    1064,
                    "42000",
                    "You have an error in your SQL syntax; check the manual that \
                  corresponds to your MariaDB server version for the right syntax to use near \
                  'SELEC 1' at line 1",
                ),
                "You have an error in your SQL syntax; check the manual that corresponds to your \
                 MySQL server version for the right syntax to use near 'SELEC 1' at line 1; \
                 Error code: 1064; SQLState: 42000",
            ),
            (
                (1054, "42S22", "Unknown column 'nope' in 'SELECT'"),
                "Unknown column 'nope' in 'field list'; Error code: 1054; SQLState: 42S22",
            ),
            (
                (1054, "42S22", "Unknown column 'nope' in 'ORDER BY'"),
                "Unknown column 'nope' in 'order clause'; Error code: 1054; SQLState: 42S22",
            ),
            (
                (1052, "23000", "Column 'id' in SELECT is ambiguous"),
                "Column 'id' in field list is ambiguous; Error code: 1052; SQLState: 23000",
            ),
            (
                (
                    1142,
                    "42000",
                    "INSERT command denied to user 'ro'@'127.0.0.1' for table `mcp`.`tools`",
                ),
                "INSERT command denied to user 'ro'@'127.0.0.1' for table 'tools'; \
                 Error code: 1142; SQLState: 42000",
            ),
            (
                (1062, "23000", "Duplicate entry 'x' for key 'uq_tools_name'"),
                "Duplicate entry 'x' for key 'uq_tools_name'; Error code: 1062; SQLState: 23000",
            ),
            (
                (
                    1213,
                    "40001",
                    "Deadlock found when trying to get lock; try restarting transaction",
                ),
                "Deadlock found when trying to get lock; try restarting transaction; \
                 Error code: 1213; SQLState: 40001",
            ),
        ];
        for ((code, state, message), expected) in cases {
            assert_eq!(answered(code, state, message), expected);
        }
    }

    #[test]
    fn every_clause_keyword_has_its_mysql_name() {
        for (keyword, name) in [
            ("WHERE", "where clause"),
            ("GROUP BY", "group statement"),
            ("HAVING", "having clause"),
            ("ON", "on clause"),
            ("SET", "field list"),
            ("INSERT INTO", "field list"),
            ("field list", "field list"),
        ] {
            assert_eq!(clause_name(keyword), name);
        }
    }
}
