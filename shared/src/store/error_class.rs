//! What a Data API error means to the registry, decided by the exception's name and the MySQL
//! error number the message carries, never by the message's English text.
//!
//! The Data API of Aurora MySQL ends a database error's message with MySQL's error number and
//! SQLSTATE: `Duplicate entry 'x' for key 'tools.uq_tools_name'; Error code: 1062; SQLState:
//! 23000` ([`mysql_error`] reads that tail). The local Data API emulator answers the same form
//! (MariaDB's errors translated to MySQL 8's numbers), so one table serves both.

use super::StoreError;

/// What the registry does about a failed Data API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// A unique key was violated: the client's conflict (409).
    Duplicate,
    /// The transaction lost a race for a lock: roll back and run it again.
    LockConflict,
    /// The transaction is gone (committed by an attempt whose answer was lost, aborted or
    /// expired): check whether it landed, else run it again.
    TransactionEnded,
    /// The database or the path to it is failing for now: 503 with `Retry-After`.
    Unavailable,
    /// The statement reached its `MAX_EXECUTION_TIME`: the client must narrow the query (422).
    TimeLimit,
    /// The result is over the Data API's 1 MiB limit.
    TooLarge,
    /// A table, column or index to be created exists already, or one to be dropped is gone: a
    /// schema migration ran before.
    AlreadyExists,
    /// A bug or a misconfiguration: 500.
    Bug,
}

/// A MySQL error number, its name in MySQL's error reference, and its class. Numbers not
/// listed are [`ErrorClass::Bug`], except those of SQLSTATE class `08` (connection
/// exceptions), which are [`ErrorClass::Unavailable`].
pub const MYSQL_ERRORS: &[(u32, &str, ErrorClass)] = &[
    (1062, "ER_DUP_ENTRY", ErrorClass::Duplicate),
    (1586, "ER_DUP_ENTRY_WITH_KEY_NAME", ErrorClass::Duplicate),
    // The deadlock victim's transaction was rolled back; after a lock wait timeout only the
    // statement was, and the caller rolls back the rest.
    (1213, "ER_LOCK_DEADLOCK", ErrorClass::LockConflict),
    (1205, "ER_LOCK_WAIT_TIMEOUT", ErrorClass::LockConflict),
    (3024, "ER_QUERY_TIMEOUT", ErrorClass::TimeLimit),
    (1050, "ER_TABLE_EXISTS_ERROR", ErrorClass::AlreadyExists),
    (1060, "ER_DUP_FIELDNAME", ErrorClass::AlreadyExists),
    (1061, "ER_DUP_KEYNAME", ErrorClass::AlreadyExists),
    (1091, "ER_CANT_DROP_FIELD_OR_KEY", ErrorClass::AlreadyExists),
    // The server is going away, full, or no longer the writer (after a failover the old
    // writer's connections find a read-only replica).
    (1040, "ER_CON_COUNT_ERROR", ErrorClass::Unavailable),
    (1053, "ER_SERVER_SHUTDOWN", ErrorClass::Unavailable),
    (
        1290,
        "ER_OPTION_PREVENTS_STATEMENT",
        ErrorClass::Unavailable,
    ),
    (1317, "ER_QUERY_INTERRUPTED", ErrorClass::Unavailable),
    (1836, "ER_READ_ONLY_MODE", ErrorClass::Unavailable),
    (2006, "CR_SERVER_GONE_ERROR", ErrorClass::Unavailable),
    (2013, "CR_SERVER_LOST", ErrorClass::Unavailable),
];

/// The Data API's exceptions that carry no MySQL error, and their class. Not listed (access
/// denied, validation, a malformed call): [`ErrorClass::Bug`].
pub const EXCEPTIONS: &[(&str, ErrorClass)] = &[
    ("DatabaseUnavailableException", ErrorClass::Unavailable),
    ("DatabaseResumingException", ErrorClass::Unavailable),
    ("DatabaseNotFoundException", ErrorClass::Unavailable),
    ("ServiceUnavailableError", ErrorClass::Unavailable),
    ("StatementTimeoutException", ErrorClass::Unavailable),
    ("InternalServerErrorException", ErrorClass::Unavailable),
    ("ThrottlingException", ErrorClass::Unavailable),
    ("SecretsErrorException", ErrorClass::Unavailable),
    ("HttpEndpointNotEnabledException", ErrorClass::Unavailable),
    // A `DatabaseErrorException` without a MySQL error is the Data API's own: a transaction
    // still running an earlier attempt's statement.
    ("DatabaseErrorException", ErrorClass::Unavailable),
    ("TransactionNotFoundException", ErrorClass::TransactionEnded),
    ("UnsupportedResultException", ErrorClass::TooLarge),
];

/// The MySQL error a Data API message ends with: `…; Error code: <number>; SQLState: <state>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MysqlError<'a> {
    pub number: u32,
    pub sqlstate: &'a str,
}

/// The MySQL error at the end of `message`, if it names one.
pub fn mysql_error(message: &str) -> Option<MysqlError<'_>> {
    let (rest, sqlstate) = message.trim_end().rsplit_once("SQLState: ")?;
    let (_, number) = rest
        .trim_end()
        .strip_suffix(';')?
        .rsplit_once("Error code: ")?;
    let sqlstate_ok = sqlstate.len() == 5 && sqlstate.bytes().all(|b| b.is_ascii_alphanumeric());
    Some(MysqlError {
        number: number.parse().ok()?,
        sqlstate: sqlstate_ok.then_some(sqlstate)?,
    })
}

/// The class of a Data API error: by its MySQL error number when the message has one
/// (`DatabaseErrorException`, or `BadRequestException` from older clusters), else by the
/// exception.
pub fn classify(exception: &str, message: &str) -> ErrorClass {
    match mysql_error(message) {
        Some(error) if matches!(exception, "DatabaseErrorException" | "BadRequestException") => {
            of_mysql_error(error)
        }
        _ => EXCEPTIONS
            .iter()
            .find(|(name, _)| *name == exception)
            .map_or(ErrorClass::Bug, |(_, class)| *class),
    }
}

fn of_mysql_error(error: MysqlError<'_>) -> ErrorClass {
    match MYSQL_ERRORS
        .iter()
        .find(|(number, ..)| *number == error.number)
    {
        Some((.., class)) => *class,
        None if error.sqlstate.starts_with("08") => ErrorClass::Unavailable,
        None => ErrorClass::Bug,
    }
}

impl ErrorClass {
    /// The store's error of this class, carrying `detail` for the logs.
    pub fn into_store_error(self, detail: String) -> StoreError {
        match self {
            Self::Duplicate => StoreError::Duplicate,
            Self::LockConflict => StoreError::LockConflict(detail),
            Self::TransactionEnded => StoreError::TransactionEnded(detail),
            Self::Unavailable => StoreError::Unavailable(detail),
            Self::TimeLimit => StoreError::TimeLimit(detail),
            Self::TooLarge => StoreError::TooLarge(detail),
            Self::AlreadyExists => StoreError::AlreadyExists(detail),
            Self::Bug => StoreError::Database(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message as the Data API of Aurora MySQL words it.
    fn aurora(message: &str, number: u32, sqlstate: &str) -> String {
        format!("{message}; Error code: {number}; SQLState: {sqlstate}")
    }

    #[test]
    fn the_error_number_and_sqlstate_are_read_from_the_tail() {
        assert_eq!(
            mysql_error(&aurora(
                "Duplicate entry 'a; Error code: 7' for key 'k'",
                1062,
                "23000"
            )),
            Some(MysqlError {
                number: 1062,
                sqlstate: "23000"
            })
        );
        assert_eq!(
            mysql_error(&aurora("Lock wait timeout exceeded", 1205, "HY000")),
            Some(MysqlError {
                number: 1205,
                sqlstate: "HY000"
            })
        );
        for message in [
            "Transaction is still running a query",
            "Duplicate entry 'x' for key 'k'",
            "x; Error code: ; SQLState: 23000",
            "x; Error code: 1062; SQLState: 2300",
            "x Error code: 1062 SQLState: 23000",
        ] {
            assert_eq!(mysql_error(message), None, "{message}");
        }
    }

    #[test]
    fn every_listed_mysql_error_has_its_class() {
        for exception in ["DatabaseErrorException", "BadRequestException"] {
            for &(number, name, class) in MYSQL_ERRORS {
                let message = aurora(&format!("({name})"), number, "HY000");
                assert_eq!(classify(exception, &message), class, "{exception} {name}");
            }
        }
    }

    #[test]
    fn what_the_registry_does_about_each_error_it_meets() {
        let cases = [
            (1062, "23000", ErrorClass::Duplicate),
            (1213, "40001", ErrorClass::LockConflict),
            (1205, "HY000", ErrorClass::LockConflict),
            (3024, "HY000", ErrorClass::TimeLimit),
            (1060, "42S21", ErrorClass::AlreadyExists),
            (1061, "42000", ErrorClass::AlreadyExists),
            (1091, "42000", ErrorClass::AlreadyExists),
            (1290, "HY000", ErrorClass::Unavailable),
            (1836, "HY000", ErrorClass::Unavailable),
            // Not listed: a bug or a grant, unless the connection broke (JDBC's "Communications
            // link failure" has no server error number, only SQLSTATE class 08).
            (1064, "42000", ErrorClass::Bug),
            (1142, "42000", ErrorClass::Bug),
            (1045, "28000", ErrorClass::Bug),
            (1146, "42S02", ErrorClass::Bug),
            (1054, "42S22", ErrorClass::Bug),
            (1406, "22001", ErrorClass::Bug),
            (1264, "22003", ErrorClass::Bug),
            (0, "08S01", ErrorClass::Unavailable),
            (1158, "08S01", ErrorClass::Unavailable),
        ];
        for (number, sqlstate, class) in cases {
            let message = aurora("whatever the text", number, sqlstate);
            assert_eq!(
                classify("DatabaseErrorException", &message),
                class,
                "{number}"
            );
        }
    }

    #[test]
    fn every_listed_exception_has_its_class() {
        for &(exception, class) in EXCEPTIONS {
            assert_eq!(classify(exception, "any text"), class, "{exception}");
        }
    }

    #[test]
    fn other_exceptions_are_bugs() {
        for exception in [
            "BadRequestException",
            "ValidationException",
            "AccessDeniedException",
            "ForbiddenException",
            "InvalidSecretException",
            "Unknown",
        ] {
            assert_eq!(
                classify(exception, "any text"),
                ErrorClass::Bug,
                "{exception}"
            );
        }
    }

    #[test]
    fn the_text_of_a_message_never_decides() {
        // English that once decided, now beside a number that says otherwise.
        let message = aurora("Deadlock found when trying to get lock", 1064, "42000");
        assert_eq!(
            classify("DatabaseErrorException", &message),
            ErrorClass::Bug
        );
        assert_eq!(
            classify("BadRequestException", "Duplicate entry 'x' for key 'k'"),
            ErrorClass::Bug
        );
    }

    #[test]
    fn a_mysql_error_on_another_exception_goes_by_the_exception() {
        let message = aurora("Duplicate entry 'x' for key 'k'", 1062, "23000");
        assert_eq!(
            classify("StatementTimeoutException", &message),
            ErrorClass::Unavailable
        );
    }
}
