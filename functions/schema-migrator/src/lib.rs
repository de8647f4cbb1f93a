//! `schema-migrator`: the CloudFormation custom resource that provisions the database at every
//! deploy: the schema migrations, then each function's database user
//! ([`shared::store::provision`], the code behind `mcp-admin migrate`).
//!
//! CloudFormation sends `Create` on the first deploy and `Update` whenever the resource's
//! properties change. The template passes this function's published version, which changes with
//! its code, and so with the migrations and grants compiled into it. Both provision; provisioning
//! is idempotent, so a re-deploy with nothing new applies nothing. `Delete` changes nothing: the
//! data outlives the resource (the cluster keeps a final snapshot).
//!
//! The answer goes to the request's pre-signed `ResponseURL`: `SUCCESS` with the schema version,
//! or `FAILED` with the reason, which makes CloudFormation roll the deploy back. The functions
//! depend on this resource, so their new code never runs on an older schema. A run that would
//! outlast the function answers `FAILED` before its deadline rather than leave CloudFormation
//! waiting for an hour; what it applied stays applied, and the next deploy goes on from there.

use std::time::Duration;

use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceRequest, CloudFormationCustomResourceResponse,
    CloudFormationCustomResourceResponseStatus,
};
use bytes::Bytes;
use http_body_util::Full;
use shared::store::migrations::Migration;
use shared::store::provision::{provision, Provisioned};
use shared::store::DataApi;

/// A custom resource request, with free-form properties.
pub type Request = CloudFormationCustomResourceRequest;
/// The answer CloudFormation waits for.
pub type Response = CloudFormationCustomResourceResponse;

/// Time kept back from the function's deadline to deliver the answer.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(15);

/// CloudFormation takes at most 4 KiB of answer; the reason is cut well below that.
const REASON_BYTES: usize = 2_000;

/// Provisions the database on CloudFormation's requests.
pub struct Migrator {
    db: DataApi,
    secrets: aws_sdk_secretsmanager::Client,
    lookup: fn(&str) -> Option<String>,
    migrations: Vec<Migration>,
    physical_id: String,
}

impl Migrator {
    /// A migrator applying `migrations` to `db` as its administrator, reading the functions'
    /// database secrets named in `lookup` (the environment) through `secrets`. `physical_id`
    /// names the provisioned database (one per cluster and database name).
    pub fn new(
        db: DataApi,
        secrets: aws_sdk_secretsmanager::Client,
        lookup: fn(&str) -> Option<String>,
        migrations: &[Migration],
        physical_id: String,
    ) -> Self {
        Self {
            db,
            secrets,
            lookup,
            migrations: migrations.to_vec(),
            physical_id,
        }
    }

    /// The answer to `request`, provisioning on `Create` and `Update` within `time`.
    pub async fn handle(&self, request: &Request, time: Duration) -> Response {
        // Another database (a new name or cluster) is another resource: CloudFormation then
        // deletes the old one, which changes nothing.
        let (request_id, stack_id, logical_id, physical_id, provisions) = match request {
            Request::Create(r) => (
                &r.request_id,
                &r.stack_id,
                &r.logical_resource_id,
                &self.physical_id,
                true,
            ),
            Request::Update(r) => (
                &r.request_id,
                &r.stack_id,
                &r.logical_resource_id,
                &self.physical_id,
                true,
            ),
            Request::Delete(r) => (
                &r.request_id,
                &r.stack_id,
                &r.logical_resource_id,
                &r.physical_resource_id,
                false,
            ),
            _ => unreachable!("CloudFormation sends Create, Update or Delete"),
        };
        let mut response = Response::default();
        response.request_id.clone_from(request_id);
        response.stack_id.clone_from(stack_id);
        response.logical_resource_id.clone_from(logical_id);
        response.physical_resource_id.clone_from(physical_id);
        let outcome = if provisions {
            Some(self.provision(time).await)
        } else {
            None
        };
        match outcome {
            Some(Ok(provisioned)) => {
                tracing::info!(
                    applied = ?provisioned.applied,
                    schema_version = provisioned.schema_version,
                    "database provisioned"
                );
                let applied: Vec<String> = provisioned.applied.iter().map(i64::to_string).collect();
                response.data.insert(
                    "SchemaVersion".into(),
                    provisioned.schema_version.to_string(),
                );
                response.data.insert("Applied".into(), applied.join(","));
            }
            Some(Err(reason)) => {
                tracing::error!(%reason, "provisioning failed");
                response.status = CloudFormationCustomResourceResponseStatus::Failed;
                response.reason = Some(cut(&reason, REASON_BYTES).to_owned());
            }
            None => {}
        }
        response
    }

    async fn provision(&self, time: Duration) -> Result<Provisioned, String> {
        let run = provision(&self.db, &self.secrets, self.lookup, &self.migrations);
        match tokio::time::timeout(time, run).await {
            Ok(outcome) => outcome.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "provisioning did not finish within {} s; what it applied stays applied and \
                 the next deploy goes on from there",
                time.as_secs()
            )),
        }
    }
}

/// `text` cut to at most `bytes` bytes, at a character boundary.
fn cut(text: &str, bytes: usize) -> &str {
    let mut end = text.len().min(bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Where CloudFormation waits for the answer to `request`.
pub fn response_url(request: &Request) -> &str {
    match request {
        Request::Create(r) => &r.response_url,
        Request::Update(r) => &r.response_url,
        Request::Delete(r) => &r.response_url,
        _ => unreachable!("CloudFormation sends Create, Update or Delete"),
    }
}

/// Why an answer could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// The request could not be sent or no answer came.
    #[error("sending the answer failed: {0}")]
    Transport(String),
    /// The response URL refused it.
    #[error("the response URL answered {0}")]
    Refused(http::StatusCode),
}

/// Delivers `response` to the request's pre-signed `url` (an S3 object URL; `http://` too, for
/// local runs).
pub async fn answer(url: &str, response: &Response) -> Result<(), AnswerError> {
    let transport = |e: &dyn std::fmt::Display| AnswerError::Transport(e.to_string());
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| transport(&e))?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Full<Bytes>>(https);
    let body = serde_json::to_vec(response).map_err(|e| transport(&e))?;
    // No Content-Type: the URL is signed for none.
    let request = http::Request::put(url)
        .header(http::header::CONTENT_LENGTH, body.len())
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| transport(&e))?;
    let status = client
        .request(request)
        .await
        .map_err(|e| transport(&e))?
        .status();
    if status.is_success() {
        Ok(())
    } else {
        Err(AnswerError::Refused(status))
    }
}
