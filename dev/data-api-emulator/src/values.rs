//! Conversion between MySQL values and Data API values.
//!
//! The Data API runs on a JDBC driver, so a column is first classified by the
//! `java.sql.Types` code a MySQL JDBC driver reports for it ([`sql_type`]), and the value is
//! then rendered by that code, following the Aurora user guide:
//!
//! | JDBC type                                   | `records` field | `formattedRecords` (JSON)   |
//! |---------------------------------------------|-----------------|-----------------------------|
//! | TINYINT, SMALLINT, INTEGER, BIGINT          | `longValue`     | number                      |
//! | FLOAT, REAL, DOUBLE                         | `doubleValue`   | number                      |
//! | DECIMAL                                     | `stringValue`   | string                      |
//! | BIT, BOOLEAN (incl. `TINYINT(1)`, `BIT(n)`) | `booleanValue`  | `true` / `false`            |
//! | BINARY, VARBINARY, LONGVARBINARY (BLOB)     | `blobValue`     | base64 string               |
//! | NULL                                        | `isNull: true`  | `null`                      |
//! | anything else (text, JSON, date and time)   | `stringValue`   | string                      |
//!
//! `longReturnType: STRING` turns integers into strings and `decimalReturnType:
//! DOUBLE_OR_LONG` turns decimals into a long (scale 0) or a double, in both formats.

use base64::Engine as _;
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::{Column, Value};

use crate::protocol::{ColumnMetadata, DecimalReturnType, Field, LongReturnType, ResultSetOptions};

/// How values of a column are represented in a Data API result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    Null,
    Boolean,
    Long,
    Double,
    Decimal,
    Blob,
    String,
}

/// The JDBC view of a MySQL column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SqlType {
    /// `java.sql.Types` code.
    pub type_code: i32,
    /// Type name as MySQL Connector/J reports it.
    pub type_name: &'static str,
    pub kind: ValueKind,
}

mod jdbc {
    pub const BIT: i32 = -7;
    pub const TINYINT: i32 = -6;
    pub const SMALLINT: i32 = 5;
    pub const INTEGER: i32 = 4;
    pub const BIGINT: i32 = -5;
    pub const REAL: i32 = 7;
    pub const DOUBLE: i32 = 8;
    pub const DECIMAL: i32 = 3;
    pub const CHAR: i32 = 1;
    pub const VARCHAR: i32 = 12;
    pub const LONGVARCHAR: i32 = -1;
    pub const DATE: i32 = 91;
    pub const TIME: i32 = 92;
    pub const TIMESTAMP: i32 = 93;
    pub const BINARY: i32 = -2;
    pub const VARBINARY: i32 = -3;
    pub const LONGVARBINARY: i32 = -4;
    pub const NULL: i32 = 0;
    pub const OTHER: i32 = 1111;
}

/// Collation id of the `binary` character set: the column holds bytes, not text.
const BINARY_CHARSET: u16 = 63;

/// Classifies a column the way MySQL Connector/J does (with its default `tinyInt1isBit`).
pub(crate) fn sql_type(column: &Column) -> SqlType {
    use ColumnType::*;
    use ValueKind as K;

    let unsigned = column.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let binary = column.character_set() == BINARY_CHARSET;
    let t = |type_code, type_name, kind| SqlType {
        type_code,
        type_name,
        kind,
    };

    match column.column_type() {
        MYSQL_TYPE_TINY if column.column_length() == 1 => t(jdbc::BIT, "BIT", K::Boolean),
        MYSQL_TYPE_TINY if unsigned => t(jdbc::TINYINT, "TINYINT UNSIGNED", K::Long),
        MYSQL_TYPE_TINY => t(jdbc::TINYINT, "TINYINT", K::Long),
        MYSQL_TYPE_SHORT if unsigned => t(jdbc::INTEGER, "SMALLINT UNSIGNED", K::Long),
        MYSQL_TYPE_SHORT => t(jdbc::SMALLINT, "SMALLINT", K::Long),
        MYSQL_TYPE_INT24 if unsigned => t(jdbc::INTEGER, "MEDIUMINT UNSIGNED", K::Long),
        MYSQL_TYPE_INT24 => t(jdbc::INTEGER, "MEDIUMINT", K::Long),
        MYSQL_TYPE_LONG if unsigned => t(jdbc::BIGINT, "INT UNSIGNED", K::Long),
        MYSQL_TYPE_LONG => t(jdbc::INTEGER, "INT", K::Long),
        MYSQL_TYPE_LONGLONG if unsigned => t(jdbc::BIGINT, "BIGINT UNSIGNED", K::Long),
        MYSQL_TYPE_LONGLONG => t(jdbc::BIGINT, "BIGINT", K::Long),
        MYSQL_TYPE_FLOAT => t(jdbc::REAL, "FLOAT", K::Double),
        MYSQL_TYPE_DOUBLE => t(jdbc::DOUBLE, "DOUBLE", K::Double),
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => t(jdbc::DECIMAL, "DECIMAL", K::Decimal),
        MYSQL_TYPE_BIT => t(jdbc::BIT, "BIT", K::Boolean),
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => t(jdbc::DATE, "DATE", K::String),
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => t(jdbc::TIME, "TIME", K::String),
        MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 => t(jdbc::TIMESTAMP, "DATETIME", K::String),
        MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => t(jdbc::TIMESTAMP, "TIMESTAMP", K::String),
        MYSQL_TYPE_YEAR => t(jdbc::DATE, "YEAR", K::String),
        MYSQL_TYPE_JSON => t(jdbc::LONGVARCHAR, "JSON", K::String),
        MYSQL_TYPE_NULL => t(jdbc::NULL, "NULL", K::Null),
        MYSQL_TYPE_ENUM => t(jdbc::CHAR, "ENUM", K::String),
        MYSQL_TYPE_SET => t(jdbc::CHAR, "SET", K::String),
        MYSQL_TYPE_STRING | MYSQL_TYPE_VAR_STRING | MYSQL_TYPE_VARCHAR
            if column.flags().contains(ColumnFlags::ENUM_FLAG) =>
        {
            t(jdbc::CHAR, "ENUM", K::String)
        }
        MYSQL_TYPE_STRING | MYSQL_TYPE_VAR_STRING | MYSQL_TYPE_VARCHAR
            if column.flags().contains(ColumnFlags::SET_FLAG) =>
        {
            t(jdbc::CHAR, "SET", K::String)
        }
        MYSQL_TYPE_STRING if binary => t(jdbc::BINARY, "BINARY", K::Blob),
        MYSQL_TYPE_STRING => t(jdbc::CHAR, "CHAR", K::String),
        MYSQL_TYPE_VAR_STRING | MYSQL_TYPE_VARCHAR if binary => {
            t(jdbc::VARBINARY, "VARBINARY", K::Blob)
        }
        MYSQL_TYPE_VAR_STRING | MYSQL_TYPE_VARCHAR => t(jdbc::VARCHAR, "VARCHAR", K::String),
        MYSQL_TYPE_TINY_BLOB | MYSQL_TYPE_MEDIUM_BLOB | MYSQL_TYPE_LONG_BLOB | MYSQL_TYPE_BLOB => {
            blob_type(column)
        }
        MYSQL_TYPE_GEOMETRY => t(jdbc::BINARY, "GEOMETRY", K::Blob),
        _ => t(jdbc::OTHER, "UNKNOWN", K::String),
    }
}

/// The server reports every BLOB/TEXT column as `MYSQL_TYPE_BLOB`; the maximum length in
/// bytes (for text: in characters times the bytes per character) tells them apart.
fn blob_type(column: &Column) -> SqlType {
    let binary = column.character_set() == BINARY_CHARSET;
    let length = u64::from(column.column_length()) / max_bytes_per_char(column.character_set());
    let (type_code, type_name, kind) = match (length, binary) {
        (0..=255, true) => (jdbc::VARBINARY, "TINYBLOB", ValueKind::Blob),
        (0..=255, false) => (jdbc::VARCHAR, "TINYTEXT", ValueKind::String),
        (256..=65_535, true) => (jdbc::LONGVARBINARY, "BLOB", ValueKind::Blob),
        (256..=65_535, false) => (jdbc::LONGVARCHAR, "TEXT", ValueKind::String),
        (65_536..=16_777_215, true) => (jdbc::LONGVARBINARY, "MEDIUMBLOB", ValueKind::Blob),
        (65_536..=16_777_215, false) => (jdbc::LONGVARCHAR, "MEDIUMTEXT", ValueKind::String),
        (_, true) => (jdbc::LONGVARBINARY, "LONGBLOB", ValueKind::Blob),
        (_, false) => (jdbc::LONGVARCHAR, "LONGTEXT", ValueKind::String),
    };
    SqlType {
        type_code,
        type_name,
        kind,
    }
}

/// A value of a result set, decoded but not yet rendered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Bool(bool),
    Long(i64),
    Double(f64),
    Decimal(String),
    Text(String),
    Bytes(Vec<u8>),
}

/// Decodes a value of `column` (text or binary protocol) into a [`Cell`].
///
/// Never fails: a value that does not parse as its column type is kept as text.
pub(crate) fn to_cell(column: &Column, kind: ValueKind, value: Value) -> Cell {
    if value == Value::NULL {
        return Cell::Null;
    }
    match kind {
        ValueKind::Null => Cell::Null,
        ValueKind::Boolean => Cell::Bool(match value {
            // BIT(n) arrives as raw big-endian bytes in both protocols.
            Value::Bytes(bytes) if column.column_type() == ColumnType::MYSQL_TYPE_BIT => {
                bytes.iter().any(|&b| b != 0)
            }
            Value::Bytes(bytes) => text(bytes).trim().parse::<i64>().is_ok_and(|n| n != 0),
            Value::Int(n) => n != 0,
            Value::UInt(n) => n != 0,
            other => return Cell::Text(render_text(column, other)),
        }),
        ValueKind::Long => match value {
            Value::Int(n) => Cell::Long(n),
            Value::UInt(n) => {
                i64::try_from(n).map_or_else(|_| Cell::Text(n.to_string()), Cell::Long)
            }
            Value::Bytes(bytes) => {
                let s = text(bytes);
                s.parse::<i64>().map_or(Cell::Text(s), Cell::Long)
            }
            other => Cell::Text(render_text(column, other)),
        },
        ValueKind::Double => match value {
            Value::Double(d) => Cell::Double(d),
            // Go through the shortest decimal form so FLOAT 0.1 reads as 0.1, not 0.100000001.
            Value::Float(f) => Cell::Double(f.to_string().parse().unwrap_or(f64::from(f))),
            Value::Bytes(bytes) => {
                let s = text(bytes);
                s.parse::<f64>().map_or(Cell::Text(s), Cell::Double)
            }
            other => Cell::Text(render_text(column, other)),
        },
        ValueKind::Decimal => Cell::Decimal(render_text(column, value)),
        ValueKind::Blob => match value {
            Value::Bytes(bytes) => Cell::Bytes(bytes),
            other => Cell::Bytes(render_text(column, other).into_bytes()),
        },
        ValueKind::String => Cell::Text(render_text(column, value)),
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Formats a value as MySQL prints it (the text protocol already does; the binary protocol
/// sends dates and times as structures).
fn render_text(column: &Column, value: Value) -> String {
    match value {
        Value::NULL => String::new(),
        Value::Bytes(bytes) => text(bytes),
        Value::Int(n) => n.to_string(),
        Value::UInt(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Date(year, month, day, hour, minute, second, micros) => {
            let date = format!("{year:04}-{month:02}-{day:02}");
            match column.column_type() {
                ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE => date,
                _ => format!(
                    "{date} {hour:02}:{minute:02}:{second:02}{}",
                    fraction(column, micros)
                ),
            }
        }
        Value::Time(negative, days, hours, minutes, seconds, micros) => format!(
            "{}{:02}:{minutes:02}:{seconds:02}{}",
            if negative { "-" } else { "" },
            u64::from(days) * 24 + u64::from(hours),
            fraction(column, micros)
        ),
    }
}

/// The fractional seconds of a temporal column, with as many digits as the column declares.
fn fraction(column: &Column, micros: u32) -> String {
    let digits = usize::from(column.decimals());
    if digits == 0 || digits > 6 {
        return String::new();
    }
    let all = format!("{micros:06}");
    format!(".{}", &all[..digits])
}

/// How integers and decimals are returned (`resultSetOptions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RenderOptions {
    pub longs_as_strings: bool,
    pub decimals_as_numbers: bool,
}

impl From<Option<&ResultSetOptions>> for RenderOptions {
    fn from(options: Option<&ResultSetOptions>) -> Self {
        let options = options.cloned().unwrap_or_default();
        Self {
            longs_as_strings: options.long_return_type == Some(LongReturnType::String),
            decimals_as_numbers: options.decimal_return_type
                == Some(DecimalReturnType::DoubleOrLong),
        }
    }
}

/// A decimal under `DOUBLE_OR_LONG`: a long when it has no fractional part, else a double.
enum DecimalNumber {
    Long(i64),
    Double(f64),
    Unparsable,
}

fn decimal_number(s: &str) -> DecimalNumber {
    if !s.contains(['.', 'e', 'E']) {
        if let Ok(n) = s.parse() {
            return DecimalNumber::Long(n);
        }
    }
    s.parse()
        .map_or(DecimalNumber::Unparsable, DecimalNumber::Double)
}

/// Renders a cell as a `records` field.
pub(crate) fn to_field(cell: Cell, options: RenderOptions) -> Field {
    match cell {
        Cell::Null => Field::IsNull(true),
        Cell::Bool(b) => Field::BooleanValue(b),
        Cell::Long(n) if options.longs_as_strings => Field::StringValue(n.to_string()),
        Cell::Long(n) => Field::LongValue(n),
        Cell::Double(d) => Field::DoubleValue(d),
        Cell::Decimal(s) if options.decimals_as_numbers => match decimal_number(&s) {
            DecimalNumber::Long(n) => Field::LongValue(n),
            DecimalNumber::Double(d) => Field::DoubleValue(d),
            DecimalNumber::Unparsable => Field::StringValue(s),
        },
        Cell::Decimal(s) | Cell::Text(s) => Field::StringValue(s),
        Cell::Bytes(bytes) => {
            Field::BlobValue(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
    }
}

/// Renders a cell as a value of `formattedRecords`.
pub(crate) fn to_json(cell: Cell, options: RenderOptions) -> serde_json::Value {
    use serde_json::Value as J;
    let double = |d: f64| serde_json::Number::from_f64(d).map_or(J::Null, J::Number);
    match cell {
        Cell::Null => J::Null,
        Cell::Bool(b) => J::Bool(b),
        Cell::Long(n) if options.longs_as_strings => J::String(n.to_string()),
        Cell::Long(n) => J::from(n),
        Cell::Double(d) => double(d),
        Cell::Decimal(s) if options.decimals_as_numbers => match decimal_number(&s) {
            DecimalNumber::Long(n) => J::from(n),
            DecimalNumber::Double(d) => double(d),
            DecimalNumber::Unparsable => J::String(s),
        },
        Cell::Decimal(s) | Cell::Text(s) => J::String(s),
        Cell::Bytes(bytes) => J::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
    }
}

/// Converts a request parameter into a MySQL value.
pub(crate) fn to_mysql(field: &Field) -> Result<Value, String> {
    Ok(match field {
        Field::IsNull(_) => Value::NULL,
        Field::BooleanValue(b) => Value::Int(i64::from(*b)),
        Field::LongValue(n) => Value::Int(*n),
        Field::DoubleValue(d) => Value::Double(*d),
        Field::StringValue(s) => Value::Bytes(s.as_bytes().to_vec()),
        Field::BlobValue(b64) => Value::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("blobValue is not valid base64: {e}"))?,
        ),
        Field::ArrayValue(_) => return Err("Array parameters are not supported.".to_owned()),
    })
}

/// Describes a column the way `ResultSetMetaData` of a MySQL JDBC driver does.
pub(crate) fn column_metadata(column: &Column) -> ColumnMetadata {
    let sql_type = sql_type(column);
    let flags = column.flags();
    let numeric = matches!(
        sql_type.kind,
        ValueKind::Long | ValueKind::Double | ValueKind::Decimal
    );
    let label = column.name_str().into_owned();
    let original_name = column.org_name_str();
    let table = column.org_table_str();
    let length = u64::from(column.column_length());
    let decimals = i32::from(column.decimals());
    let scale = if decimals <= 30 { decimals } else { 0 };

    let temporal = matches!(
        sql_type.type_code,
        jdbc::DATE | jdbc::TIME | jdbc::TIMESTAMP
    );
    let textual = sql_type.kind == ValueKind::String && !temporal;
    let precision = match sql_type.kind {
        // Connector/J: digits only, without the sign and the decimal point.
        ValueKind::Decimal => length
            .saturating_sub(u64::from(scale > 0))
            .saturating_sub(u64::from(!flags.contains(ColumnFlags::UNSIGNED_FLAG))),
        _ if textual => length / max_bytes_per_char(column.character_set()),
        _ => length,
    };

    ColumnMetadata {
        name: if original_name.is_empty() {
            label.clone()
        } else {
            original_name.into_owned()
        },
        type_code: sql_type.type_code,
        type_name: sql_type.type_name.to_owned(),
        label,
        schema_name: String::new(),
        table_name: if table.is_empty() {
            column.table_str().into_owned()
        } else {
            table.into_owned()
        },
        is_auto_increment: flags.contains(ColumnFlags::AUTO_INCREMENT_FLAG),
        is_signed: numeric && !flags.contains(ColumnFlags::UNSIGNED_FLAG),
        is_currency: false,
        is_case_sensitive: (textual || sql_type.kind == ValueKind::Blob)
            && is_case_sensitive(column.character_set()),
        nullable: i32::from(!flags.contains(ColumnFlags::NOT_NULL_FLAG)),
        precision: i32::try_from(precision).unwrap_or(i32::MAX),
        scale: match sql_type.kind {
            ValueKind::Decimal | ValueKind::Double | ValueKind::String => scale,
            _ => 0,
        },
        array_base_column_type: 0,
    }
}

/// Bytes per character of the common collations (the result charset is usually utf8mb4).
fn max_bytes_per_char(collation: u16) -> u64 {
    match collation {
        BINARY_CHARSET | 5 | 8 | 11 | 15 | 31 | 47 | 48 | 49 | 65 | 94 => 1,
        33 | 83 | 192..=215 | 223 => 3,
        _ => 4,
    }
}

/// Binary data and `_bin` collations compare case-sensitively.
fn is_case_sensitive(collation: u16) -> bool {
    matches!(collation, BINARY_CHARSET | 46 | 47 | 65 | 83)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn column(column_type: ColumnType) -> Column {
        Column::new(column_type).with_character_set(45)
    }

    fn cell(column: &Column, value: Value) -> Cell {
        to_cell(column, sql_type(column).kind, value)
    }

    fn text_value(s: &str) -> Value {
        Value::Bytes(s.as_bytes().to_vec())
    }

    #[test]
    fn integers_are_longs_from_either_protocol() {
        let int = column(ColumnType::MYSQL_TYPE_LONG).with_column_length(11);
        assert_eq!(cell(&int, text_value("-42")), Cell::Long(-42));
        assert_eq!(cell(&int, Value::Int(7)), Cell::Long(7));
        assert_eq!(
            to_field(Cell::Long(7), RenderOptions::default()),
            Field::LongValue(7)
        );
        assert_eq!(to_json(Cell::Long(7), RenderOptions::default()), json!(7));
    }

    #[test]
    fn long_return_type_string_quotes_integers() {
        let options = RenderOptions {
            longs_as_strings: true,
            ..Default::default()
        };
        assert_eq!(
            to_field(Cell::Long(9_007_199_254_740_993), options),
            Field::StringValue("9007199254740993".into())
        );
        assert_eq!(to_json(Cell::Long(5), options), json!("5"));
    }

    #[test]
    fn unsigned_bigint_beyond_i64_is_kept_exact_as_text() {
        let big = column(ColumnType::MYSQL_TYPE_LONGLONG).with_flags(ColumnFlags::UNSIGNED_FLAG);
        assert_eq!(
            cell(&big, Value::UInt(u64::MAX)),
            Cell::Text(u64::MAX.to_string())
        );
    }

    #[test]
    fn tinyint1_and_bit_are_booleans() {
        let tinyint1 = column(ColumnType::MYSQL_TYPE_TINY).with_column_length(1);
        assert_eq!(sql_type(&tinyint1).type_name, "BIT");
        assert_eq!(cell(&tinyint1, text_value("1")), Cell::Bool(true));
        assert_eq!(cell(&tinyint1, Value::Int(0)), Cell::Bool(false));
        let bit = column(ColumnType::MYSQL_TYPE_BIT)
            .with_column_length(1)
            .with_character_set(63);
        assert_eq!(cell(&bit, Value::Bytes(vec![1])), Cell::Bool(true));
        assert_eq!(
            to_json(Cell::Bool(true), RenderOptions::default()),
            json!(true)
        );
        let tinyint4 = column(ColumnType::MYSQL_TYPE_TINY).with_column_length(4);
        assert_eq!(cell(&tinyint4, text_value("3")), Cell::Long(3));
    }

    #[test]
    fn decimals_are_strings_unless_double_or_long() {
        let dec = column(ColumnType::MYSQL_TYPE_NEWDECIMAL).with_decimals(2);
        let value = cell(&dec, text_value("12.50"));
        assert_eq!(value, Cell::Decimal("12.50".into()));
        assert_eq!(
            to_field(value.clone(), RenderOptions::default()),
            Field::StringValue("12.50".into())
        );
        assert_eq!(
            to_json(value.clone(), RenderOptions::default()),
            json!("12.50")
        );
        let numbers = RenderOptions {
            decimals_as_numbers: true,
            ..Default::default()
        };
        assert_eq!(to_field(value.clone(), numbers), Field::DoubleValue(12.5));
        assert_eq!(to_json(value, numbers), json!(12.5));
        assert_eq!(
            to_field(Cell::Decimal("12".into()), numbers),
            Field::LongValue(12)
        );
    }

    #[test]
    fn floats_keep_their_short_decimal_form() {
        let float = column(ColumnType::MYSQL_TYPE_FLOAT);
        assert_eq!(cell(&float, Value::Float(0.1)), Cell::Double(0.1));
        let double = column(ColumnType::MYSQL_TYPE_DOUBLE);
        assert_eq!(cell(&double, text_value("10")), Cell::Double(10.0));
        assert_eq!(
            to_json(Cell::Double(10.0), RenderOptions::default()).to_string(),
            "10.0"
        );
    }

    #[test]
    fn binary_columns_are_base64_blobs_and_text_is_string() {
        let blob = column(ColumnType::MYSQL_TYPE_BLOB)
            .with_column_length(65_535)
            .with_character_set(63);
        let value = cell(&blob, text_value("hello world"));
        assert_eq!(
            to_field(value.clone(), RenderOptions::default()),
            Field::BlobValue("aGVsbG8gd29ybGQ=".into())
        );
        assert_eq!(
            to_json(value, RenderOptions::default()),
            json!("aGVsbG8gd29ybGQ=")
        );
        let text = column(ColumnType::MYSQL_TYPE_BLOB).with_column_length(262_140);
        assert_eq!(sql_type(&text).type_name, "TEXT");
        assert_eq!(
            cell(&text, text_value("{\"a\":1}")),
            Cell::Text("{\"a\":1}".into())
        );
    }

    #[test]
    fn null_is_null_in_both_formats() {
        let int = column(ColumnType::MYSQL_TYPE_LONG);
        assert_eq!(cell(&int, Value::NULL), Cell::Null);
        assert_eq!(
            to_field(Cell::Null, RenderOptions::default()),
            Field::IsNull(true)
        );
        assert_eq!(to_json(Cell::Null, RenderOptions::default()), json!(null));
    }

    #[test]
    fn binary_protocol_dates_and_times_print_like_mysql() {
        let datetime = column(ColumnType::MYSQL_TYPE_DATETIME);
        assert_eq!(
            cell(&datetime, Value::Date(2021, 1, 2, 3, 4, 5, 0)),
            Cell::Text("2021-01-02 03:04:05".into())
        );
        let datetime3 = column(ColumnType::MYSQL_TYPE_DATETIME).with_decimals(3);
        assert_eq!(
            cell(&datetime3, Value::Date(2021, 1, 2, 3, 4, 5, 120_000)),
            Cell::Text("2021-01-02 03:04:05.120".into())
        );
        let date = column(ColumnType::MYSQL_TYPE_DATE);
        assert_eq!(
            cell(&date, Value::Date(2021, 1, 2, 0, 0, 0, 0)),
            Cell::Text("2021-01-02".into())
        );
        let time = column(ColumnType::MYSQL_TYPE_TIME);
        assert_eq!(
            cell(&time, Value::Time(true, 1, 2, 3, 4, 0)),
            Cell::Text("-26:03:04".into())
        );
        let text_protocol = cell(&datetime, text_value("2021-01-02 03:04:05"));
        assert_eq!(text_protocol, Cell::Text("2021-01-02 03:04:05".into()));
    }

    #[test]
    fn parameters_convert_to_mysql_values() {
        assert_eq!(to_mysql(&Field::IsNull(true)), Ok(Value::NULL));
        assert_eq!(to_mysql(&Field::BooleanValue(true)), Ok(Value::Int(1)));
        assert_eq!(
            to_mysql(&Field::StringValue("x".into())),
            Ok(Value::Bytes(b"x".to_vec()))
        );
        assert_eq!(
            to_mysql(&Field::BlobValue("aGk=".into())),
            Ok(Value::Bytes(b"hi".to_vec()))
        );
        assert!(to_mysql(&Field::BlobValue("***".into())).is_err());
        assert!(to_mysql(&Field::ArrayValue(json!({"longValues": [1]}))).is_err());
    }

    #[test]
    fn metadata_describes_columns_like_jdbc() {
        let id = Column::new(ColumnType::MYSQL_TYPE_LONGLONG)
            .with_name(b"id")
            .with_org_name(b"id")
            .with_table(b"t")
            .with_org_table(b"tools")
            .with_column_length(20)
            .with_character_set(63)
            .with_flags(
                ColumnFlags::NOT_NULL_FLAG
                    | ColumnFlags::AUTO_INCREMENT_FLAG
                    | ColumnFlags::PRI_KEY_FLAG,
            );
        let meta = column_metadata(&id);
        assert_eq!(meta.type_code, -5);
        assert_eq!(meta.type_name, "BIGINT");
        assert_eq!(meta.table_name, "tools");
        assert!(meta.is_auto_increment && meta.is_signed);
        assert_eq!(meta.nullable, 0);
        assert_eq!(meta.precision, 20);

        let name = Column::new(ColumnType::MYSQL_TYPE_VAR_STRING)
            .with_name(b"n")
            .with_org_name(b"name")
            .with_column_length(1020)
            .with_character_set(45);
        let meta = column_metadata(&name);
        assert_eq!((meta.name.as_str(), meta.label.as_str()), ("name", "n"));
        assert_eq!(
            (meta.type_code, meta.precision, meta.nullable),
            (12, 255, 1)
        );

        let price = Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL)
            .with_column_length(12)
            .with_decimals(2);
        let meta = column_metadata(&price);
        assert_eq!((meta.precision, meta.scale), (10, 2));
    }
}
