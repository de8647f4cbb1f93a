//! The routers, the OpenAPI document and the SAM template describe the same routes.

use std::collections::BTreeSet;

use serde_json::Value;

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

/// The OpenAPI document, parsed.
fn openapi() -> Value {
    serde_yaml_ng::from_str(&repo_file("openapi.yaml")).expect("openapi.yaml is YAML")
}

/// Every `(METHOD, path)` under `paths`.
fn openapi_routes(doc: &Value) -> Routes {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|op| ["get", "post", "put", "patch", "delete"].contains(&op.as_str()))
                .map(move |op| (op.to_uppercase(), path.clone()))
        })
        .collect()
}

/// `value`, or what its `$ref` (`#/a/b/c`) points to in `doc`.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(pointer) => {
            let target = doc
                .pointer(pointer.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling $ref {pointer}"));
            resolve(doc, target)
        }
        None => value,
    }
}

/// The response `status` of `method path`, resolved; panics naming what is missing.
fn response<'a>(doc: &'a Value, method: &str, path: &str, status: &str) -> &'a Value {
    let operation = &doc["paths"][path][method.to_lowercase()];
    assert!(operation.is_object(), "{method} {path} is not documented");
    let response = &operation["responses"][status];
    assert!(
        response.is_object(),
        "{method} {path} does not document {status}"
    );
    resolve(doc, response)
}

/// The names of the header parameters of `method path` (the operation's and the path's).
fn header_parameters(doc: &Value, method: &str, path: &str) -> BTreeSet<String> {
    let item = &doc["paths"][path];
    let operation = &item[method.to_lowercase()];
    [&item["parameters"], &operation["parameters"]]
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .map(|p| resolve(doc, p))
        .filter(|p| p["in"] == "header")
        .map(|p| p["name"].as_str().expect("parameter name").to_owned())
        .collect()
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
    assert_eq!(routers.len(), 13, "{routers:?}");
    assert_eq!(
        openapi_routes(&openapi()),
        routers,
        "openapi.yaml vs routers"
    );
    assert_eq!(
        template_routes(&repo_file("template.yaml")),
        routers,
        "template.yaml vs routers"
    );
}

/// Each route's statuses and the headers they carry, as the handlers and `ApiError` answer them.
#[test]
fn every_operation_documents_its_statuses_and_headers() {
    let doc = openapi();
    assert!(doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1.")));
    let expected: &[(&str, &str, &str, &[&str])] = &[
        (
            "GET",
            "/tools",
            "200",
            &["ETag", "Cache-Control", "X-Cache"],
        ),
        (
            "GET",
            "/tools",
            "304",
            &["ETag", "Cache-Control", "X-Cache"],
        ),
        ("GET", "/tools", "400", &[]),
        ("GET", "/tools", "503", &["Retry-After"]),
        (
            "GET",
            "/tools/{id}",
            "200",
            &["ETag", "Cache-Control", "X-Cache"],
        ),
        (
            "GET",
            "/tools/{id}",
            "304",
            &["ETag", "Cache-Control", "X-Cache"],
        ),
        ("GET", "/tools/{id}", "404", &[]),
        ("GET", "/tools", "422", &[]),
        ("GET", "/tools", "429", &["Retry-After"]),
        ("POST", "/tools", "201", &["Location", "ETag"]),
        ("POST", "/tools", "401", &["WWW-Authenticate"]),
        ("POST", "/tools", "409", &[]),
        ("POST", "/tools", "413", &[]),
        ("POST", "/tools", "415", &[]),
        ("POST", "/tools", "422", &[]),
        ("PATCH", "/tools/{id}", "200", &["ETag"]),
        ("PATCH", "/tools/{id}", "403", &[]),
        ("PATCH", "/tools/{id}", "412", &[]),
        ("DELETE", "/tools/{id}", "204", &[]),
        ("DELETE", "/tools/{id}", "403", &[]),
        ("POST", "/auth/register", "429", &["Retry-After"]),
        ("POST", "/auth/login", "200", &["Cache-Control"]),
        ("POST", "/auth/login", "401", &["WWW-Authenticate"]),
        ("POST", "/auth/login", "429", &["Retry-After"]),
    ];
    for (method, path, status, headers) in expected {
        let response = response(&doc, method, path, status);
        for header in *headers {
            assert!(
                response["headers"][header].is_object(),
                "{method} {path} {status} does not document {header}"
            );
        }
    }
    let conditional: &[(&str, &str, &str)] = &[
        ("GET", "/tools", "If-None-Match"),
        ("GET", "/tools/{id}", "If-None-Match"),
        ("PATCH", "/tools/{id}", "If-Match"),
    ];
    for (method, path, header) in conditional {
        assert!(
            header_parameters(&doc, method, path).contains(*header),
            "{method} {path} does not take {header}"
        );
    }
}

/// Every error the API documents is a problem document, with the headers its status carries
/// (`ApiError`): 401 `WWW-Authenticate`, 429 and 503 `Retry-After`.
#[test]
fn every_documented_error_is_a_problem_document_with_its_headers() {
    let doc = openapi();
    let mut errors = 0;
    for (method, path) in openapi_routes(&doc) {
        let responses = doc["paths"][&path][method.to_lowercase()]["responses"]
            .as_object()
            .expect("responses");
        for (status, response) in responses {
            if status.as_str() < "400" {
                continue;
            }
            errors += 1;
            let response = resolve(&doc, response);
            let header = match status.as_str() {
                "401" => Some("WWW-Authenticate"),
                "429" | "503" => Some("Retry-After"),
                _ => None,
            };
            if let Some(header) = header {
                assert!(
                    response["headers"][header].is_object(),
                    "{method} {path} {status} does not document {header}"
                );
            }
            let content = response["content"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} {status} has no content"));
            assert_eq!(
                content.keys().collect::<Vec<_>>(),
                ["application/problem+json"],
                "{method} {path} {status}"
            );
        }
    }
    assert!(errors >= 40, "only {errors} error responses documented");
}

/// Every alarm on a metric of the functions' namespace names one the code emits, under a set of
/// dimensions it is published with: an alarm on a metric nobody emits never fires.
#[test]
fn every_alarm_names_a_metric_and_dimensions_the_code_emits() {
    use serde_yaml_ng::Value as Yaml;
    let template: Yaml =
        serde_yaml_ng::from_str(&repo_file("template.yaml")).expect("template.yaml is YAML");
    let resources = template["Resources"].as_mapping().expect("Resources");
    let routes = router_routes();
    let (mut checked, mut routed) = (0, 0);
    for (name, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let properties = &resource["Properties"];
        let mut metrics = vec![properties];
        if let Some(queries) = properties["Metrics"].as_sequence() {
            metrics.extend(queries.iter().map(|query| &query["MetricStat"]["Metric"]));
        }
        for metric in metrics {
            if metric["Namespace"].as_str() != Some(shared::metrics::NAMESPACE) {
                continue;
            }
            let metric_name = metric["MetricName"].as_str().expect("MetricName");
            let dimensions: BTreeSet<&str> = metric["Dimensions"]
                .as_sequence()
                .expect("Dimensions")
                .iter()
                .map(|d| d["Name"].as_str().expect("a dimension's Name"))
                .collect();
            let emitted = shared::metrics::EMITTED.iter().any(|set| {
                set.metrics
                    .iter()
                    .any(|(emitted, _)| *emitted == metric_name)
                    && set
                        .dimensions
                        .iter()
                        .any(|names| names.iter().copied().collect::<BTreeSet<_>>() == dimensions)
            });
            assert!(
                emitted,
                "{name:?}: {metric_name} by {dimensions:?} is not a metric the code emits"
            );
            // A route's value is one the routers serve, as the code writes it.
            for dimension in metric["Dimensions"].as_sequence().expect("Dimensions") {
                if dimension["Name"].as_str() == Some("Route") {
                    let value = dimension["Value"].as_str().expect("a Route value");
                    assert!(
                        routes
                            .iter()
                            .any(|(method, path)| format!("{method} {path}") == value),
                        "{name:?}: no route {value:?}"
                    );
                    routed += 1;
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 6, "alarms on the functions' metrics: {checked}");
    assert_eq!(routed, routes.len(), "one latency alarm per route");
}

/// The deploy provisions the database before any function runs on it: every function of the API
/// and the sweeper waits for the `Schema` custom resource, whose migrator is given every
/// function's database secret (it sets their passwords) and the master secret.
#[test]
fn every_function_waits_for_the_schema_and_the_migrator_reads_every_database_secret() {
    use serde_yaml_ng::Value as Yaml;
    use shared::config::Function;
    let template: Yaml =
        serde_yaml_ng::from_str(&repo_file("template.yaml")).expect("template.yaml is YAML");
    let resources = &template["Resources"];
    let binary = |resource: &Yaml| {
        resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .map(str::to_owned)
    };
    let functions: Vec<&Yaml> = resources
        .as_mapping()
        .expect("Resources")
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .collect();
    for function in Function::LAMBDAS {
        let resource = functions
            .iter()
            .find(|r| binary(r).as_deref() == Some(function.name()))
            .unwrap_or_else(|| panic!("{} is in the template", function.name()));
        assert_eq!(
            resource["DependsOn"].as_str(),
            Some("Schema"),
            "{function:?}"
        );
    }
    let migrator = functions
        .iter()
        .find(|r| binary(r).as_deref() == Some("schema-migrator"))
        .expect("the schema migrator is in the template");
    let variables = &migrator["Properties"]["Environment"]["Variables"];
    for function in Function::LAMBDAS.into_iter().chain([Function::Admin]) {
        let variable = function.database_secret_variable();
        assert!(
            !variables[variable].is_null(),
            "the migrator's {variable} is set"
        );
    }
    assert_eq!(
        resources["Schema"]["Properties"]["ServiceToken"],
        Yaml::Tagged(Box::new(serde_yaml_ng::value::TaggedValue {
            tag: serde_yaml_ng::value::Tag::new("GetAtt"),
            value: "SchemaMigratorFunction.Arn".into(),
        }))
    );
}

/// Only the auth function can sign access tokens or derive refresh tokens: no other function is
/// given those secrets or may read them (tools-write verifies with the published public keys).
#[test]
fn only_the_auth_function_reads_the_token_secrets() {
    use serde_yaml_ng::Value as Yaml;
    let template: Yaml =
        serde_yaml_ng::from_str(&repo_file("template.yaml")).expect("template.yaml is YAML");
    let functions: Vec<(String, String)> = template["Resources"]
        .as_mapping()
        .expect("Resources")
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|r| {
            let binary = r["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (binary, serde_yaml_ng::to_string(r).unwrap())
        })
        .collect();
    assert!(functions.len() >= 5);
    for secret in ["TokenSigningSecret", "RefreshTokenSecret"] {
        let readers: Vec<&str> = functions
            .iter()
            .filter(|(_, text)| text.contains(secret))
            .map(|(binary, _)| binary.as_str())
            .collect();
        assert_eq!(readers, ["auth"], "{secret}");
    }
    let globals = serde_yaml_ng::to_string(&template["Globals"]).unwrap();
    assert!(
        !globals.contains("Secret"),
        "no secret is given to every function"
    );
}
