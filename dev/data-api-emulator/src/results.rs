//! Turning what MySQL returned into Data API responses.

use std::collections::HashSet;

use mysql_async::Column;

use crate::db::QueryOutcome;
use crate::error::ApiError;
use crate::protocol::{ExecuteStatementResponse, Field, RecordsFormat};
use crate::values::{self, Cell, RenderOptions};

/// The Data API refuses `formattedRecords` strings larger than 10 MB.
const MAX_FORMATTED_RECORDS_BYTES: usize = 10 * 1024 * 1024;

/// How the caller asked for the result of an `ExecuteStatement`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ResultShape {
    pub format: RecordsFormat,
    pub options: RenderOptions,
    pub include_metadata: bool,
}

/// `generatedFields`: the auto-increment id a statement generated, if any.
pub(crate) fn generated_fields(last_insert_id: Option<u64>) -> Vec<Field> {
    last_insert_id
        .filter(|&id| id > 0)
        .and_then(|id| i64::try_from(id).ok())
        .map(Field::LongValue)
        .into_iter()
        .collect()
}

/// Builds the `ExecuteStatement` response.
///
/// A statement without a result set answers `numberOfRecordsUpdated` and
/// `generatedFields`; a query answers `records` (plus `columnMetadata` on request) or, in
/// JSON format, `formattedRecords` only, with `numberOfRecordsUpdated` 0.
pub(crate) fn execute_response(
    outcome: QueryOutcome,
    shape: ResultShape,
) -> Result<ExecuteStatementResponse, ApiError> {
    let Some(columns) = outcome.columns else {
        return Ok(ExecuteStatementResponse {
            number_of_records_updated: outcome.affected_rows,
            generated_fields: Some(generated_fields(outcome.last_insert_id)),
            ..Default::default()
        });
    };
    if outcome.too_large {
        return Err(ApiError::UnsupportedResult(
            "Database response exceeded size limit: the result set is larger than 1 MiB. \
             Use LIMIT to fetch it in smaller parts."
                .into(),
        ));
    }

    let kinds: Vec<_> = columns.iter().map(|c| values::sql_type(c).kind).collect();
    let rows = outcome.rows.into_iter().map(|row| {
        row.into_iter()
            .zip(columns.iter().zip(&kinds))
            .map(|(value, (column, &kind))| values::to_cell(column, kind, value))
            .collect::<Vec<Cell>>()
    });

    let mut response = ExecuteStatementResponse::default();
    match shape.format {
        RecordsFormat::Json => {
            response.formatted_records = Some(format_json(&columns, rows, shape.options)?);
        }
        RecordsFormat::None => {
            response.records = Some(
                rows.map(|row| {
                    row.into_iter()
                        .map(|cell| values::to_field(cell, shape.options))
                        .collect()
                })
                .collect(),
            );
            if shape.include_metadata {
                response.column_metadata =
                    Some(columns.iter().map(values::column_metadata).collect());
            }
        }
    }
    Ok(response)
}

/// `formattedRecords`: a JSON array with one object per row, keyed by column label, in
/// column order.
fn format_json(
    columns: &[Column],
    rows: impl Iterator<Item = Vec<Cell>>,
    options: RenderOptions,
) -> Result<String, ApiError> {
    let mut seen = HashSet::new();
    let keys = columns
        .iter()
        .map(|column| {
            let label = column.name_str();
            if !seen.insert(label.clone()) {
                return Err(ApiError::BadRequest(format!(
                    "The result set contains more than one column named '{label}', which JSON \
                     format does not support. Use column aliases to make the labels unique."
                )));
            }
            Ok(serde_json::Value::String(label.into_owned()).to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut out = String::from("[");
    for (i, row) in rows.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        for (j, (key, cell)) in keys.iter().zip(row).enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(key);
            out.push(':');
            out.push_str(&values::to_json(cell, options).to_string());
        }
        out.push('}');
        if out.len() > MAX_FORMATTED_RECORDS_BYTES {
            return Err(ApiError::BadRequest(
                "The JSON-formatted result set exceeds the 10 MB limit.".into(),
            ));
        }
    }
    out.push(']');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_async::consts::ColumnType;
    use mysql_async::Value;
    use std::sync::Arc;

    fn columns(names: &[&str]) -> Arc<[Column]> {
        names
            .iter()
            .map(|name| {
                Column::new(ColumnType::MYSQL_TYPE_VAR_STRING)
                    .with_name(name.as_bytes())
                    .with_character_set(45)
            })
            .collect()
    }

    fn query(names: &[&str], rows: Vec<Vec<Value>>) -> QueryOutcome {
        QueryOutcome {
            columns: Some(columns(names)),
            rows,
            ..Default::default()
        }
    }

    #[test]
    fn statements_without_result_set_report_updates_and_ids() {
        let outcome = QueryOutcome {
            affected_rows: 2,
            last_insert_id: Some(41),
            ..Default::default()
        };
        let response = execute_response(outcome, ResultShape::default()).expect("response");
        assert_eq!(response.number_of_records_updated, 2);
        assert_eq!(response.generated_fields, Some(vec![Field::LongValue(41)]));
        assert!(response.records.is_none() && response.formatted_records.is_none());
        assert_eq!(generated_fields(Some(0)), vec![]);
    }

    #[test]
    fn json_format_keeps_column_order_and_escapes() {
        let outcome = query(
            &["z", "a"],
            vec![
                vec![Value::Bytes(b"q\"uote".to_vec()), Value::NULL],
                vec![
                    Value::Bytes("邓".as_bytes().to_vec()),
                    Value::Bytes(b"x".to_vec()),
                ],
            ],
        );
        let shape = ResultShape {
            format: RecordsFormat::Json,
            ..Default::default()
        };
        let response = execute_response(outcome, shape).expect("response");
        assert_eq!(
            response.formatted_records.as_deref(),
            Some(r#"[{"z":"q\"uote","a":null},{"z":"邓","a":"x"}]"#)
        );
        assert!(response.records.is_none() && response.column_metadata.is_none());
        assert_eq!(response.number_of_records_updated, 0);
    }

    #[test]
    fn json_format_of_an_empty_result_is_an_empty_array() {
        let shape = ResultShape {
            format: RecordsFormat::Json,
            include_metadata: true,
            ..Default::default()
        };
        let response = execute_response(query(&["a"], vec![]), shape).expect("response");
        assert_eq!(response.formatted_records.as_deref(), Some("[]"));
    }

    #[test]
    fn json_format_rejects_duplicate_labels() {
        let shape = ResultShape {
            format: RecordsFormat::Json,
            ..Default::default()
        };
        let error = execute_response(query(&["a", "a"], vec![]), shape).expect_err("duplicate");
        assert_eq!(error.error_type(), "BadRequestException");
    }

    #[test]
    fn records_format_with_metadata() {
        let shape = ResultShape {
            include_metadata: true,
            ..Default::default()
        };
        let outcome = query(
            &["a"],
            vec![vec![Value::Bytes(b"x".to_vec())], vec![Value::NULL]],
        );
        let response = execute_response(outcome, shape).expect("response");
        assert_eq!(
            response.records,
            Some(vec![
                vec![Field::StringValue("x".into())],
                vec![Field::IsNull(true)]
            ])
        );
        assert_eq!(response.column_metadata.map(|m| m.len()), Some(1));
        assert!(response.generated_fields.is_none());
    }

    #[test]
    fn oversized_results_are_refused() {
        let outcome = QueryOutcome {
            too_large: true,
            ..query(&["a"], vec![])
        };
        let error = execute_response(outcome, ResultShape::default()).expect_err("too large");
        assert_eq!(error.error_type(), "UnsupportedResultException");
    }
}
