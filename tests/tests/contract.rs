//! The routers, the OpenAPI document and the SAM template describe the same routes.

use std::collections::BTreeSet;

fn repo_file(name: &str) -> String {
    let path = format!("{}/../{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

type Routes = BTreeSet<(String, String)>;

fn router_routes() -> Routes {
    tools_read::routes()
        .into_iter()
        .chain(tools_write::routes())
        .chain(auth::routes())
        .map(|(method, path)| (method.as_str().to_owned(), path.to_owned()))
        .collect()
}

/// `paths:` entries (two-space indent) and their operations (four-space indent).
fn openapi_routes(text: &str) -> Routes {
    let mut routes = Routes::new();
    let mut in_paths = false;
    let mut path: Option<String> = None;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line == "paths:";
            path = None;
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /").and_then(|l| l.strip_suffix(':')) {
            path = Some(format!("/{p}"));
        } else if let (Some(p), Some(op)) = (
            &path,
            line.strip_prefix("    ").and_then(|l| l.strip_suffix(':')),
        ) {
            if ["get", "post", "put", "patch", "delete"].contains(&op) {
                routes.insert((op.to_uppercase(), p.clone()));
            }
        }
    }
    routes
}

/// `Type: HttpApi` events: `Properties: {ApiId: …, Method: GET, Path: /tools}`.
fn template_routes(text: &str) -> Routes {
    text.lines()
        .filter_map(|line| {
            let method = line.split("Method: ").nth(1)?.split(',').next()?.trim();
            let path = line
                .split("Path: ")
                .nth(1)?
                .trim_end_matches('}')
                .trim()
                .trim_matches('"');
            Some((method.to_owned(), path.to_owned()))
        })
        .collect()
}

#[test]
fn every_route_is_in_the_routers_the_openapi_document_and_the_template() {
    let routers = router_routes();
    assert_eq!(routers.len(), 10, "{routers:?}");
    assert_eq!(
        openapi_routes(&repo_file("openapi.yaml")),
        routers,
        "openapi.yaml vs routers"
    );
    assert_eq!(
        template_routes(&repo_file("template.yaml")),
        routers,
        "template.yaml vs routers"
    );
}

#[test]
fn the_document_describes_the_contract_headers() {
    let doc = repo_file("openapi.yaml");
    assert!(doc.starts_with("openapi: 3.1."));
    for header in [
        "X-Cache",
        "ETag",
        "If-Match",
        "If-None-Match",
        "Location",
        "WWW-Authenticate",
        "Retry-After",
    ] {
        assert!(
            doc.contains(&format!("{header}:")) || doc.contains(&format!("name: {header},")),
            "{header}"
        );
    }
    for status in [
        "\"304\"", "\"400\"", "\"401\"", "\"403\"", "\"404\"", "\"409\"", "\"412\"", "\"413\"",
        "\"415\"", "\"422\"", "\"503\"",
    ] {
        assert!(doc.contains(status), "{status}");
    }
    assert!(doc.contains("application/problem+json"));
}
