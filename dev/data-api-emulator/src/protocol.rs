//! Wire types of the RDS Data API REST-JSON protocol (service model `rds-data` 2018-08-01).
//!
//! Only the members the emulator reads or writes are modelled; unknown request members are
//! ignored, as an AWS service would ignore members added by a newer client.

use serde::{Deserialize, Serialize};

/// A value in a parameter, a record or `generatedFields` (the `Field` union).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Field {
    IsNull(bool),
    BooleanValue(bool),
    LongValue(i64),
    DoubleValue(f64),
    StringValue(String),
    /// Base64, as the protocol encodes blobs.
    BlobValue(String),
    /// Accepted so that it can be rejected with a clear message: Aurora MySQL has no arrays.
    ArrayValue(serde_json::Value),
}

/// `SqlParameter`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SqlParameter {
    pub name: Option<String>,
    pub value: Option<Field>,
    /// Parsed only to reject values outside the enum: with MySQL every hint (DATE, DECIMAL,
    /// JSON, TIME, TIMESTAMP, UUID) means "send the string value as is".
    #[serde(rename = "typeHint")]
    pub _type_hint: Option<TypeHint>,
}

/// `TypeHint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum TypeHint {
    Json,
    Uuid,
    Timestamp,
    Date,
    Time,
    Decimal,
}

/// `ResultSetOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResultSetOptions {
    pub decimal_return_type: Option<DecimalReturnType>,
    pub long_return_type: Option<LongReturnType>,
}

/// `DecimalReturnType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum DecimalReturnType {
    String,
    DoubleOrLong,
}

/// `LongReturnType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum LongReturnType {
    String,
    Long,
}

/// `RecordsFormatType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum RecordsFormat {
    #[default]
    None,
    Json,
}

/// `ExecuteStatementRequest` (`POST /Execute`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExecuteStatementRequest {
    pub resource_arn: Option<String>,
    pub secret_arn: Option<String>,
    pub sql: Option<String>,
    pub database: Option<String>,
    pub schema: Option<String>,
    pub parameters: Option<Vec<SqlParameter>>,
    pub transaction_id: Option<String>,
    pub include_result_metadata: Option<bool>,
    pub continue_after_timeout: Option<bool>,
    pub result_set_options: Option<ResultSetOptions>,
    pub format_records_as: Option<RecordsFormat>,
}

/// `ExecuteStatementResponse`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExecuteStatementResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<Vec<Vec<Field>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column_metadata: Option<Vec<ColumnMetadata>>,
    pub number_of_records_updated: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_fields: Option<Vec<Field>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formatted_records: Option<String>,
}

/// `ColumnMetadata`, filled the way a JDBC driver describes a MySQL column.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ColumnMetadata {
    pub name: String,
    /// `java.sql.Types` code.
    #[serde(rename = "type")]
    pub type_code: i32,
    pub type_name: String,
    pub label: String,
    pub schema_name: String,
    pub table_name: String,
    pub is_auto_increment: bool,
    pub is_signed: bool,
    pub is_currency: bool,
    pub is_case_sensitive: bool,
    /// 0 = no nulls, 1 = nullable (`ResultSetMetaData.columnNullable`).
    pub nullable: i32,
    pub precision: i32,
    pub scale: i32,
    pub array_base_column_type: i32,
}

/// `BatchExecuteStatementRequest` (`POST /BatchExecute`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchExecuteStatementRequest {
    pub resource_arn: Option<String>,
    pub secret_arn: Option<String>,
    pub sql: Option<String>,
    pub database: Option<String>,
    pub schema: Option<String>,
    pub parameter_sets: Option<Vec<Vec<SqlParameter>>>,
    pub transaction_id: Option<String>,
}

/// `BatchExecuteStatementResponse`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchExecuteStatementResponse {
    pub update_results: Vec<UpdateResult>,
}

/// `UpdateResult`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateResult {
    pub generated_fields: Vec<Field>,
}

/// `BeginTransactionRequest` (`POST /BeginTransaction`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BeginTransactionRequest {
    pub resource_arn: Option<String>,
    pub secret_arn: Option<String>,
    pub database: Option<String>,
    pub schema: Option<String>,
}

/// `BeginTransactionResponse`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BeginTransactionResponse {
    pub transaction_id: String,
}

/// `CommitTransactionRequest` and `RollbackTransactionRequest`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EndTransactionRequest {
    pub resource_arn: Option<String>,
    pub secret_arn: Option<String>,
    pub transaction_id: Option<String>,
}

/// `CommitTransactionResponse` and `RollbackTransactionResponse`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransactionStatusResponse {
    pub transaction_status: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_union_round_trips_in_wire_form() {
        let fields: Vec<Field> = serde_json::from_value(json!([
            {"isNull": true},
            {"booleanValue": false},
            {"longValue": -5},
            {"doubleValue": 1.5},
            {"stringValue": "x"},
            {"blobValue": "aGk="}
        ]))
        .expect("fields");
        assert_eq!(
            fields,
            [
                Field::IsNull(true),
                Field::BooleanValue(false),
                Field::LongValue(-5),
                Field::DoubleValue(1.5),
                Field::StringValue("x".into()),
                Field::BlobValue("aGk=".into()),
            ]
        );
        assert_eq!(
            serde_json::to_value(&fields[2]).expect("json"),
            json!({"longValue": -5})
        );
    }

    #[test]
    fn execute_request_reads_sdk_member_names() {
        let request: ExecuteStatementRequest = serde_json::from_value(json!({
            "resourceArn": "arn:r", "secretArn": "arn:s", "sql": "SELECT :a",
            "database": "mcp", "includeResultMetadata": true, "formatRecordsAs": "JSON",
            "resultSetOptions": {"decimalReturnType": "DOUBLE_OR_LONG", "longReturnType": "STRING"},
            "parameters": [{"name": "a", "value": {"stringValue": "2024-01-01"}, "typeHint": "DATE"}],
            "someFutureMember": 1
        }))
        .expect("request");
        assert_eq!(request.format_records_as, Some(RecordsFormat::Json));
        let options = request.result_set_options.expect("options");
        assert_eq!(
            options.decimal_return_type,
            Some(DecimalReturnType::DoubleOrLong)
        );
        assert_eq!(options.long_return_type, Some(LongReturnType::String));
        assert_eq!(request.parameters.expect("parameters").len(), 1);
    }

    #[test]
    fn response_omits_absent_members() {
        let response = ExecuteStatementResponse {
            number_of_records_updated: 1,
            generated_fields: Some(vec![Field::LongValue(7)]),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&response).expect("json"),
            json!({"numberOfRecordsUpdated": 1, "generatedFields": [{"longValue": 7}]})
        );
    }
}
