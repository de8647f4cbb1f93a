//! The rules of a tool's MCP fields, as the MCP specification (revision 2025-11-25) defines a
//! `Tool`: its JSON Schemas, `annotations`, `icons`, `execution` and `_meta`. Each validator
//! returns the value to store or a message for the field's entry in a 422 problem document.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde_json::{Map, Value};

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

/// `inputSchema` / `outputSchema`: a JSON Schema object whose root `type` is `"object"`, with
/// `properties` an object of schema objects and `required` a list of names when present. A
/// `$schema` naming the dialect (JSON Schema 2020-12 when absent) must be a string; any dialect
/// is accepted as given.
pub fn validate_schema(value: &Value) -> Result<Value, String> {
    let schema = value
        .as_object()
        .ok_or_else(|| "must be a JSON Schema object".to_owned())?;
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err("must be a JSON Schema whose \"type\" is \"object\"".to_owned());
    }
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
        if let Some((name, _)) = properties.iter().find(|(_, v)| !v.is_object()) {
            return Err(format!("\"properties\".{name:?} must be a schema object"));
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
    Ok(value.clone())
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

/// `execution`: MCP `ToolExecution`, `{taskSupport?: "forbidden" | "optional" | "required"}`.
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
/// labels, then a name) and do not use a prefix MCP reserves for itself; at most
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
    fn schemas_take_a_dialect_and_keep_the_mcp_shape() {
        let with_dialect = json!({
            "$schema": "https://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"q": {"type": "string"}},
            "required": ["q"]
        });
        assert_eq!(validate_schema(&with_dialect), Ok(with_dialect.clone()));
        for bad in [
            json!({"type": "array"}),
            json!({"type": "object", "$schema": 7}),
            json!({"type": "object", "properties": []}),
            json!({"type": "object", "properties": {"q": true}}),
            json!({"type": "object", "required": "q"}),
            json!({"type": "object", "required": [1]}),
        ] {
            assert!(validate_schema(&bad).is_err(), "{bad}");
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
