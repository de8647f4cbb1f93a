//! The rules of a tool's MCP fields, as the MCP specification defines a `Tool` in revisions
//! 2025-11-25 and 2026-07-28: its JSON Schemas, `annotations`, `icons`, `execution` and `_meta`.
//! Where the revisions differ the wider rule applies, so a tool valid under either is accepted
//! ([`revisions_of`] tells which it is valid under). Each validator returns the value to store or
//! a message for the field's entry in a 422 problem document.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde_json::{Map, Value};

/// The MCP revisions a registry tool can be valid under, oldest first.
pub const REVISIONS: [&str; 2] = ["2025-11-25", "2026-07-28"];

/// The `_meta` prefix of the registry's own keys (`mcp-tool-registry/…`), which publishers may
/// not use.
pub const REGISTRY_META_PREFIX: &str = "mcp-tool-registry";

/// Largest number of icons on one tool.
pub const MAX_ICONS: usize = 8;
/// Largest `src` of an icon, in bytes (a `data:` URI carries the image itself).
pub const MAX_ICON_SRC_BYTES: usize = 16 * 1024;
/// Largest `https:` icon URL, in bytes.
pub const MAX_ICON_URL_BYTES: usize = 2048;
/// Largest number of `sizes` entries on one icon.
pub const MAX_ICON_SIZES: usize = 16;
/// Largest `_meta`, serialized, in bytes.
pub const MAX_META_BYTES: usize = 8 * 1024;

const ANNOTATION_HINTS: [&str; 4] = [
    "readOnlyHint",
    "destructiveHint",
    "idempotentHint",
    "openWorldHint",
];

/// The annotation that mirrors an argument into an `Mcp-Param-{name}` HTTP header (SEP-2243).
const MCP_HEADER: &str = "x-mcp-header";

/// `inputSchema`: a JSON Schema object whose root `type` is `"object"` (tool arguments are
/// always an object), holding any JSON Schema 2020-12 keyword; `x-mcp-header` annotations
/// follow [`check_mcp_headers`]. A `$schema` naming the dialect (2020-12 when absent) must be a
/// string; any dialect is accepted as given.
pub fn validate_input_schema(value: &Value) -> Result<Value, String> {
    let schema = check_schema_root(value)?;
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err("must be a JSON Schema whose \"type\" is \"object\"".to_owned());
    }
    check_mcp_headers(value)?;
    Ok(value.clone())
}

/// `outputSchema`: a JSON Schema object describing the tool's structured result, whose root may
/// be of any type (MCP 2026-07-28; 2025-11-25 asked for an object).
pub fn validate_output_schema(value: &Value) -> Result<Value, String> {
    let schema = check_schema_root(value)?;
    if let Some(kind) = schema.get("type") {
        let one = |t: &Value| t.as_str().is_some_and(|t| JSON_TYPES.contains(&t));
        let valid = match kind {
            Value::Array(kinds) => !kinds.is_empty() && kinds.iter().all(one),
            single => one(single),
        };
        if !valid {
            return Err(format!(
                "\"type\" must be one of {JSON_TYPES:?} or a list of them"
            ));
        }
    }
    Ok(value.clone())
}

/// The type names of JSON Schema.
const JSON_TYPES: [&str; 7] = [
    "array", "boolean", "integer", "null", "number", "object", "string",
];

/// What every tool schema's root must be: a JSON object (the MCP schema's own rule), whose
/// `$schema`, `properties` and `required` are well formed when present.
fn check_schema_root(value: &Value) -> Result<&Map<String, Value>, String> {
    let schema = value
        .as_object()
        .ok_or_else(|| "must be a JSON Schema object".to_owned())?;
    if let Some(dialect) = schema.get("$schema") {
        if !dialect.is_string() {
            return Err(
                "\"$schema\" must be a string (the URI of a JSON Schema dialect)".to_owned(),
            );
        }
    }
    if let Some(properties) = schema.get("properties") {
        let properties = properties
            .as_object()
            .ok_or_else(|| "\"properties\" must be an object".to_owned())?;
        let not_schema = properties.iter().find(|(_, v)| !is_schema(v));
        if let Some((name, _)) = not_schema {
            return Err(format!(
                "\"properties\".{name:?} must be a schema (an object or a boolean)"
            ));
        }
    }
    if let Some(required) = schema.get("required") {
        let names = required
            .as_array()
            .filter(|a| a.iter().all(Value::is_string));
        if names.is_none() {
            return Err("\"required\" must be an array of property names".to_owned());
        }
    }
    Ok(schema)
}

/// A JSON Schema 2020-12 schema: an object, or `true` / `false`.
fn is_schema(value: &Value) -> bool {
    value.is_object() || value.is_boolean()
}

/// The MCP revisions whose `Tool` the schemas `input` and `output` (already valid here) fit:
/// 2026-07-28 always; 2025-11-25 too when every property schema is an object and the output
/// schema, if any, describes an object.
pub fn revisions_of(input: &Value, output: Option<&Value>) -> &'static [&'static str] {
    let object_properties = |schema: &Value| {
        schema
            .get("properties")
            .and_then(Value::as_object)
            .is_none_or(|properties| properties.values().all(Value::is_object))
    };
    let output_fits = output.is_none_or(|schema| {
        schema.get("type").and_then(Value::as_str) == Some("object") && object_properties(schema)
    });
    if object_properties(input) && output_fits {
        &REVISIONS
    } else {
        &REVISIONS[1..]
    }
}

/// The `x-mcp-header` rules of MCP 2026-07-28 (SEP-2243): an annotation's value is a non-empty
/// HTTP token (RFC 9110 `tchar`s, so no control characters), unique in the schema whatever its
/// case; it annotates a `string`, `integer` or `boolean` property reached from the root through
/// `properties` alone (never through `items`, a composition, a condition or `$ref`). A client
/// must drop a tool that breaks them, so the registry refuses it.
fn check_mcp_headers(schema: &Value) -> Result<(), String> {
    let mut names = Vec::new();
    walk_schema(schema, &mut Vec::new(), true, &mut names)
}

/// Checks the `x-mcp-header` of `schema`, found at `path` (`reachable`: through `properties`
/// alone), then of every schema inside it.
fn walk_schema(
    schema: &Value,
    path: &mut Vec<String>,
    reachable: bool,
    names: &mut Vec<String>,
) -> Result<(), String> {
    let Some(fields) = schema.as_object() else {
        return Ok(());
    };
    if let Some(header) = fields.get(MCP_HEADER) {
        let at = if path.is_empty() {
            "the root".to_owned()
        } else {
            path.join(".")
        };
        let fail = |why: &str| Err(format!("\"{MCP_HEADER}\" at {at}: {why}"));
        if !reachable || path.is_empty() {
            return fail(
                "only a property reached from the root through \"properties\" alone may carry it",
            );
        }
        let Some(name) = header
            .as_str()
            .filter(|n| !n.is_empty() && n.bytes().all(is_tchar))
        else {
            return fail(
                "must be a non-empty HTTP header name token (letters, digits and !#$%&'*+-.^_`|~)",
            );
        };
        if !matches!(
            fields.get("type").and_then(Value::as_str),
            Some("string" | "integer" | "boolean")
        ) {
            return fail("may only annotate a property whose \"type\" is \"string\", \"integer\" or \"boolean\"");
        }
        let lower = name.to_ascii_lowercase();
        if names.contains(&lower) {
            return fail(&format!(
                "{name:?} is used twice (names are compared ignoring case)"
            ));
        }
        names.push(lower);
    }
    for (keyword, child) in fields {
        match (keyword.as_str(), child) {
            ("properties", Value::Object(properties)) => {
                for (name, schema) in properties {
                    path.extend(["properties".to_owned(), name.clone()]);
                    walk_schema(schema, path, reachable, names)?;
                    path.truncate(path.len() - 2);
                }
            }
            (
                "patternProperties" | "$defs" | "definitions" | "dependentSchemas",
                Value::Object(schemas),
            ) => {
                for (name, schema) in schemas {
                    path.extend([keyword.clone(), name.clone()]);
                    walk_schema(schema, path, false, names)?;
                    path.truncate(path.len() - 2);
                }
            }
            ("prefixItems" | "allOf" | "anyOf" | "oneOf" | "items", Value::Array(schemas)) => {
                for (i, schema) in schemas.iter().enumerate() {
                    path.push(format!("{keyword}[{i}]"));
                    walk_schema(schema, path, false, names)?;
                    path.pop();
                }
            }
            (
                "items"
                | "additionalItems"
                | "additionalProperties"
                | "unevaluatedItems"
                | "unevaluatedProperties"
                | "contains"
                | "propertyNames"
                | "not"
                | "if"
                | "then"
                | "else"
                | "contentSchema",
                schema,
            ) => {
                path.push(keyword.clone());
                walk_schema(schema, path, false, names)?;
                path.pop();
            }
            _ => {}
        }
    }
    Ok(())
}

/// RFC 9110 `tchar`: the characters of a header field name.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `annotations`: MCP `ToolAnnotations` (`title`, and the four boolean hints); other keys refused.
pub fn validate_annotations(value: &Value) -> Result<Value, String> {
    let fields = object(value)?;
    for (key, v) in fields {
        if key == "title" {
            let title = v
                .as_str()
                .ok_or_else(|| "\"title\" must be a string".to_owned())?;
            if title.chars().count() > 200 {
                return Err("\"title\" must be 0 to 200 characters long".to_owned());
            }
        } else if ANNOTATION_HINTS.contains(&key.as_str()) {
            if !v.is_boolean() {
                return Err(format!("\"{key}\" must be a boolean"));
            }
        } else {
            return Err(format!("\"{key}\" is not an MCP tool annotation"));
        }
    }
    Ok(value.clone())
}

/// `icons`: up to [`MAX_ICONS`] MCP `Icon`s, each `{src, mimeType?, sizes?, theme?}`.
pub fn validate_icons(value: &Value) -> Result<Value, String> {
    let icons = value
        .as_array()
        .ok_or_else(|| "must be an array of icons".to_owned())?;
    if icons.len() > MAX_ICONS {
        return Err(format!("must hold at most {MAX_ICONS} icons"));
    }
    for (i, icon) in icons.iter().enumerate() {
        validate_icon(icon).map_err(|message| format!("[{i}]{message}"))?;
    }
    Ok(value.clone())
}

fn validate_icon(icon: &Value) -> Result<(), String> {
    let fields = icon
        .as_object()
        .ok_or_else(|| " must be an object".to_owned())?;
    let src = fields
        .get("src")
        .ok_or_else(|| ".src is required".to_owned())?;
    let src = src
        .as_str()
        .ok_or_else(|| ".src must be a string".to_owned())?;
    check_icon_src(src).map_err(|message| format!(".src {message}"))?;
    for (key, v) in fields {
        match key.as_str() {
            "src" => {}
            "mimeType" => {
                let ok = v.as_str().is_some_and(is_image_mime_type);
                if !ok {
                    return Err(".mimeType must be an image MIME type such as \"image/png\"".into());
                }
            }
            "sizes" => {
                let sizes = v.as_array().filter(|s| {
                    s.len() <= MAX_ICON_SIZES && s.iter().all(|x| x.as_str().is_some_and(is_size))
                });
                if sizes.is_none() {
                    return Err(format!(
                        ".sizes must be an array of at most {MAX_ICON_SIZES} sizes, each \
                         \"WxH\" (such as \"48x48\") or \"any\""
                    ));
                }
            }
            "theme" => {
                if !matches!(v.as_str(), Some("light" | "dark")) {
                    return Err(".theme must be \"light\" or \"dark\"".to_owned());
                }
            }
            other => return Err(format!(": {other:?} is not a field of an MCP icon")),
        }
    }
    Ok(())
}

/// An icon's `src`: an `https:` URL, or a `data:image/…;base64,…` URI (the two the MCP
/// specification lets clients display; `http:`, `javascript:`, `file:` and the like are refused).
fn check_icon_src(src: &str) -> Result<(), String> {
    if src.len() > MAX_ICON_SRC_BYTES {
        return Err(format!("must be at most {MAX_ICON_SRC_BYTES} bytes long"));
    }
    if let Some(data) = src.strip_prefix("data:") {
        return check_data_uri(data);
    }
    let invalid = || "must be an https:// URL or a data:image/…;base64 URI".to_owned();
    if !src.starts_with("https://") || src.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    if src.len() > MAX_ICON_URL_BYTES {
        return Err(format!(
            "must be at most {MAX_ICON_URL_BYTES} bytes long as a URL"
        ));
    }
    let url = url::Url::parse(src).map_err(|_| invalid())?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid());
    }
    Ok(())
}

/// The part of a `data:` URI after `data:`: `image/<subtype>[;param]*;base64,<base64 data>`.
fn check_data_uri(rest: &str) -> Result<(), String> {
    let invalid = || "must be a data:image/<type>;base64,<data> URI with Base64 image data";
    let (header, data) = rest.split_once(',').ok_or_else(|| invalid().to_owned())?;
    let mut parts = header.split(';');
    let media = parts.next().unwrap_or_default();
    let base64 = header
        .rsplit(';')
        .next()
        .is_some_and(|p| p.eq_ignore_ascii_case("base64"));
    if !is_image_mime_type(media) || !base64 || data.is_empty() {
        return Err(invalid().to_owned());
    }
    STANDARD.decode(data).map_err(|_| invalid().to_owned())?;
    Ok(())
}

/// `image/<subtype>` with RFC 6838 name characters (the type spelled in lowercase).
fn is_image_mime_type(text: &str) -> bool {
    let Some(subtype) = text.strip_prefix("image/") else {
        return false;
    };
    (1..=100).contains(&subtype.len())
        && subtype
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
}

/// `"any"`, or `WxH` with positive whole numbers (such as `"48x48"`).
fn is_size(text: &str) -> bool {
    let dimension = |d: &str| {
        (1..=5).contains(&d.len()) && !d.starts_with('0') && d.bytes().all(|b| b.is_ascii_digit())
    };
    text == "any"
        || text
            .split_once('x')
            .is_some_and(|(w, h)| dimension(w) && dimension(h))
}

/// `execution`: MCP 2025-11-25 `ToolExecution`, `{taskSupport?: "forbidden" | "optional" |
/// "required"}`. Revision 2026-07-28 moved tasks to an extension; the field is still accepted
/// and served, for 2025-11-25 clients.
pub fn validate_execution(value: &Value) -> Result<Value, String> {
    for (key, v) in object(value)? {
        if key != "taskSupport" {
            return Err(format!("{key:?} is not a field of MCP tool execution"));
        }
        if !matches!(v.as_str(), Some("forbidden" | "optional" | "required")) {
            return Err(
                "\"taskSupport\" must be \"forbidden\", \"optional\" or \"required\"".to_owned(),
            );
        }
    }
    Ok(value.clone())
}

/// `_meta`: an object whose keys follow the MCP naming rules (an optional `prefix/` of dot-separated
/// labels, then a name) and do not use a prefix MCP or the registry reserves; at most
/// [`MAX_META_BYTES`] serialized. Values are free.
pub fn validate_meta(value: &Value) -> Result<Value, String> {
    let fields = object(value)?;
    for key in fields.keys() {
        check_meta_key(key)?;
    }
    let size = serde_json::to_vec(value).map_or(usize::MAX, |v| v.len());
    if size > MAX_META_BYTES {
        return Err(format!("must be at most {MAX_META_BYTES} bytes serialized"));
    }
    Ok(value.clone())
}

/// One `_meta` key: `[prefix/]name`. A prefix is labels separated by dots, each starting with a
/// letter and ending with a letter or digit, with letters, digits and hyphens between; one whose
/// second label is `modelcontextprotocol` or `mcp` is reserved for MCP. A name, unless empty,
/// begins and ends with a letter or digit, with letters, digits, `-`, `_` and `.` between.
fn check_meta_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let labels: Vec<&str> = prefix.split('.').collect();
        if !labels.iter().all(|l| is_label(l)) {
            return Err(format!(
                "key {key:?}: a prefix is dot-separated labels that start with a letter, end with \
                 a letter or digit and hold only letters, digits and '-', then '/'"
            ));
        }
        // Reserved prefixes are MCP's own keys: a publisher may not claim them.
        if matches!(labels.get(1), Some(&("modelcontextprotocol" | "mcp"))) {
            return Err(format!(
                "key {key:?}: the prefix {prefix:?}/ is reserved for MCP"
            ));
        }
        // The registry's keys of an MCP-shaped list (`format=mcp`).
        if prefix == REGISTRY_META_PREFIX {
            return Err(format!(
                "key {key:?}: the prefix {prefix:?}/ is reserved for the registry"
            ));
        }
    }
    let bytes = name.as_bytes();
    let ok = bytes.is_empty()
        || (bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')));
    if !ok {
        return Err(format!(
            "key {key:?}: a name begins and ends with a letter or digit and holds only letters, \
             digits, '-', '_' and '.'"
        ));
    }
    Ok(())
}

fn is_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes[0].is_ascii_alphabetic()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

fn object(value: &Value) -> Result<&Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| "must be an object".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==";

    #[test]
    fn input_schemas_take_a_dialect_and_any_keyword_under_an_object_root() {
        let with_dialect = json!({
            "$schema": "https://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"q": {"type": "string"}, "anything": true},
            "required": ["q"],
            "oneOf": [{"required": ["q"]}],
            "$defs": {"id": {"type": "string"}},
            "if": {"properties": {"q": {"const": "x"}}}, "then": false
        });
        assert_eq!(
            validate_input_schema(&with_dialect),
            Ok(with_dialect.clone())
        );
        for bad in [
            json!({"type": "array"}),
            json!({"properties": {}}),
            json!(true),
            json!({"type": "object", "$schema": 7}),
            json!({"type": "object", "properties": []}),
            json!({"type": "object", "properties": {"q": 1}}),
            json!({"type": "object", "required": "q"}),
            json!({"type": "object", "required": [1]}),
        ] {
            assert!(validate_input_schema(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn output_schemas_may_describe_any_root() {
        for good in [
            json!({"type": "object", "properties": {"t": {"type": "number"}}}),
            json!({"type": "array", "items": {"type": "string"}}),
            json!({"type": ["string", "null"]}),
            json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "oneOf": [{"type": "integer"}, {"type": "string"}]}),
            json!({}),
        ] {
            assert_eq!(validate_output_schema(&good), Ok(good.clone()));
        }
        for bad in [
            json!([{"type": "string"}]),
            json!(true),
            json!({"type": "text"}),
            json!({"type": []}),
            json!({"type": 3}),
            json!({"type": "object", "properties": {"t": "number"}}),
        ] {
            assert!(validate_output_schema(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn revisions_follow_what_only_2026_07_28_allows() {
        let input = json!({"type": "object", "properties": {"q": {"type": "string"}}});
        let object_output = json!({"type": "object"});
        assert_eq!(revisions_of(&input, None), REVISIONS);
        assert_eq!(revisions_of(&input, Some(&object_output)), REVISIONS);
        let array_output = json!({"type": "array", "items": {"type": "string"}});
        assert_eq!(revisions_of(&input, Some(&array_output)), ["2026-07-28"]);
        let boolean_property = json!({"type": "object", "properties": {"q": true}});
        assert_eq!(revisions_of(&boolean_property, None), ["2026-07-28"]);
    }

    /// An input schema with `property` (a schema) as its `region` property.
    fn with_region(property: Value) -> Value {
        json!({"type": "object", "properties": {"region": property, "query": {"type": "string"}}})
    }

    #[test]
    fn mcp_headers_annotate_primitive_properties_reached_through_properties() {
        let nested = json!({
            "type": "object",
            "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"},
                "tenant": {"type": "object", "properties": {
                    "id": {"type": "integer", "x-mcp-header": "Tenant-Id"},
                    "dry": {"type": "boolean", "x-mcp-header": "x_dry!run~"}
                }},
                "x-mcp-header": {"type": "string", "description": "a property so named is no annotation"}
            },
            "default": {"x-mcp-header": 7}
        });
        assert_eq!(validate_input_schema(&nested), Ok(nested.clone()));
    }

    #[test]
    fn a_malformed_mcp_header_is_refused_naming_it_and_where() {
        let cases = [
            (
                with_region(json!({"type": "string", "x-mcp-header": ""})),
                "properties.region",
                "token",
            ),
            (
                with_region(json!({"type": "string", "x-mcp-header": "Re gion"})),
                "properties.region",
                "token",
            ),
            (
                with_region(json!({"type": "string", "x-mcp-header": "Region\r\nX-Evil: 1"})),
                "properties.region",
                "token",
            ),
            (
                with_region(json!({"type": "string", "x-mcp-header": "Région"})),
                "properties.region",
                "token",
            ),
            (
                with_region(json!({"type": "string", "x-mcp-header": 5})),
                "properties.region",
                "token",
            ),
            (
                with_region(json!({"type": "number", "x-mcp-header": "Region"})),
                "properties.region",
                "\"type\"",
            ),
            (
                with_region(json!({"type": "array", "x-mcp-header": "Region"})),
                "properties.region",
                "\"type\"",
            ),
            (
                with_region(json!({"x-mcp-header": "Region"})),
                "properties.region",
                "\"type\"",
            ),
            (
                with_region(
                    json!({"type": "array", "items": {"type": "string", "x-mcp-header": "Region"}}),
                ),
                "properties.region.items",
                "reached from the root",
            ),
            (
                json!({"type": "object", "x-mcp-header": "Root"}),
                "the root",
                "reached from the root",
            ),
            (
                json!({"type": "object", "anyOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}),
                "anyOf[0].properties.a",
                "reached from the root",
            ),
            (
                json!({"type": "object", "$defs": {"r": {"type": "string", "x-mcp-header": "R"}}, "properties": {"r": {"$ref": "#/$defs/r"}}}),
                "$defs.r",
                "reached from the root",
            ),
            (
                json!({"type": "object", "properties": {
                    "a": {"type": "string", "x-mcp-header": "Region"},
                    "b": {"type": "string", "x-mcp-header": "REGION"}
                }}),
                "properties.b",
                "twice",
            ),
        ];
        for (schema, at, why) in cases {
            let message = validate_input_schema(&schema).unwrap_err();
            assert!(
                message.starts_with("\"x-mcp-header\" at "),
                "{schema}: {message}"
            );
            assert!(message.contains(at), "{schema}: {message}");
            assert!(message.contains(why), "{schema}: {message}");
        }
    }

    #[test]
    fn annotations_accept_only_mcp_keys() {
        assert!(validate_annotations(&json!({"title": "t", "readOnlyHint": true})).is_ok());
        assert!(validate_annotations(&json!({"readOnlyHint": "yes"})).is_err());
        assert!(validate_annotations(&json!({"sneaky": true})).is_err());
    }

    #[test]
    fn icons_take_https_urls_and_base64_image_data() {
        let good = json!([
            {"src": "https://example.com/icon.png", "mimeType": "image/png", "sizes": ["48x48", "96x96"], "theme": "light"},
            {"src": "https://cdn.example.com/i.svg", "sizes": ["any"], "theme": "dark"},
            {"src": format!("data:image/png;base64,{PNG_1X1}")},
            {"src": "data:image/svg+xml;charset=utf-8;base64,PHN2Zy8+"},
            {"src": "https://example.com/icons/i.png?v=2&size=48#top"},
        ]);
        assert_eq!(validate_icons(&good), Ok(good.clone()));
        assert_eq!(validate_icons(&json!([])), Ok(json!([])));
    }

    #[test]
    fn icons_refuse_unsafe_sources_and_malformed_fields() {
        let cases = [
            (json!({"src": "http://example.com/i.png"}), ".src"),
            (json!({"src": "HTTPS://example.com/i.png"}), ".src"),
            (json!({"src": "https://example.com/a b.png"}), ".src"),
            (json!({"src": "DATA:image/png;base64,PHN2Zy8+"}), ".src"),
            (json!({"src": "data:IMAGE/png;base64,PHN2Zy8+"}), ".src"),
            (json!({"src": "javascript:alert(1)"}), ".src"),
            (json!({"src": "file:///etc/passwd"}), ".src"),
            (json!({"src": "https://"}), ".src"),
            (json!({"src": "data:text/html;base64,PGI+"}), ".src"),
            (json!({"src": "data:image/png,rawbytes"}), ".src"),
            (json!({"src": "data:image/png;base64,%%%"}), ".src"),
            (
                json!({"src": format!("https://example.com/{}", "a".repeat(3000))}),
                ".src",
            ),
            (json!({"mimeType": "image/png"}), ".src is required"),
            (json!({"src": 1}), ".src"),
            (
                json!({"src": "https://e.com/i", "mimeType": "text/html"}),
                ".mimeType",
            ),
            (
                json!({"src": "https://e.com/i", "mimeType": "image/"}),
                ".mimeType",
            ),
            (
                json!({"src": "https://e.com/i", "sizes": "48x48"}),
                ".sizes",
            ),
            (json!({"src": "https://e.com/i", "sizes": ["48"]}), ".sizes"),
            (
                json!({"src": "https://e.com/i", "sizes": ["0x48"]}),
                ".sizes",
            ),
            (
                json!({"src": "https://e.com/i", "sizes": ["48X48"]}),
                ".sizes",
            ),
            (json!({"src": "https://e.com/i", "theme": "blue"}), ".theme"),
            (json!({"src": "https://e.com/i", "alt": "x"}), "\"alt\""),
            (json!("https://e.com/i"), "must be an object"),
        ];
        for (icon, expected) in cases {
            let message = validate_icons(&json!([icon])).unwrap_err();
            assert!(message.starts_with("[0]"), "{icon}: {message}");
            assert!(message.contains(expected), "{icon}: {message}");
        }
        let nine = json!(vec![json!({"src": "https://e.com/i"}); MAX_ICONS + 1]);
        assert!(validate_icons(&nine).is_err());
        assert!(validate_icons(&json!({"src": "https://e.com/i"})).is_err());
    }

    #[test]
    fn execution_is_task_support_only() {
        for mode in ["forbidden", "optional", "required"] {
            assert!(validate_execution(&json!({"taskSupport": mode})).is_ok());
        }
        assert!(validate_execution(&json!({})).is_ok());
        assert!(validate_execution(&json!({"taskSupport": "always"})).is_err());
        assert!(validate_execution(&json!({"taskSupport": true})).is_err());
        assert!(validate_execution(&json!({"mode": "optional"})).is_err());
        assert!(validate_execution(&json!("optional")).is_err());
    }

    #[test]
    fn meta_keys_follow_the_mcp_naming_rules() {
        for key in [
            "com.example/build",
            "com.example.mcp/x",
            "com.MCP/x",
            "io.github.someone/ratings_v2",
            "plain",
            "a.b-c_d",
            "com.example/",
            "x",
            "",
        ] {
            assert!(validate_meta(&json!({ key: 1 })).is_ok(), "{key:?}");
        }
        for (key, why) in [
            ("io.modelcontextprotocol/official", "reserved"),
            ("dev.mcp/x", "reserved"),
            ("org.modelcontextprotocol.api/x", "reserved"),
            ("mcp-tool-registry/tool", "reserved for the registry"),
            ("1com.example/x", "prefix"),
            ("com.example-/x", "prefix"),
            ("com..example/x", "prefix"),
            ("/x", "prefix"),
            ("com.example/-x", "name"),
            ("com.example/x.", "name"),
            ("has space", "name"),
            ("a/b/c", "prefix"),
        ] {
            let message = validate_meta(&json!({ key: 1 })).unwrap_err();
            assert!(message.contains(why), "{key:?}: {message}");
        }
    }

    #[test]
    fn meta_is_an_object_of_bounded_size() {
        assert!(validate_meta(&json!([1])).is_err());
        let big = json!({"com.example/blob": "x".repeat(MAX_META_BYTES)});
        assert!(validate_meta(&big).unwrap_err().contains("bytes"));
        let nested = json!({"com.example/cfg": {"any": ["value", 1, null, {"deep": true}]}});
        assert_eq!(validate_meta(&nested), Ok(nested.clone()));
    }
}
