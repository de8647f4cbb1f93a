//! Emulator configuration.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::secrets::SecretValue;

/// MySQL server used when `EMULATOR_MYSQL_URL` is not set.
pub const DEFAULT_MYSQL_URL: &str = "mysql://mcp:mcp@127.0.0.1:3306/mcp";

/// How long a transaction may stay unused before it is rolled back (AWS: three minutes).
pub const DEFAULT_TRANSACTION_IDLE_TIMEOUT: Duration = Duration::from_secs(180);

/// Configuration of an [`Emulator`](crate::Emulator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// MySQL/MariaDB server the statements run on, e.g. `mysql://mcp:mcp@127.0.0.1:3306/mcp`.
    ///
    /// Its database is used by calls that do not name one in their `database` member.
    pub mysql_url: String,
    /// Delay added before every Data API call (not the `/_emulator` controls).
    pub latency: Duration,
    /// Idle time after which an open transaction is rolled back and forgotten.
    pub transaction_idle_timeout: Duration,
    /// Secrets Manager secrets, keyed by ARN: served by `GetSecretValue` and, when there is
    /// at least one, required by Data API calls, whose `secretArn` must then name a
    /// [`SecretValue::Credentials`] secret to run as its user. Empty: every call runs as
    /// the user of [`mysql_url`](Self::mysql_url), whatever its `secretArn`.
    pub secrets: BTreeMap<String, SecretValue>,
}

impl Default for EmulatorConfig {
    /// [`DEFAULT_MYSQL_URL`], no latency, [`DEFAULT_TRANSACTION_IDLE_TIMEOUT`], no secrets.
    fn default() -> Self {
        Self {
            mysql_url: DEFAULT_MYSQL_URL.to_owned(),
            latency: Duration::ZERO,
            transaction_idle_timeout: DEFAULT_TRANSACTION_IDLE_TIMEOUT,
            secrets: BTreeMap::new(),
        }
    }
}

impl EmulatorConfig {
    /// Reads the configuration from the environment. Unset or invalid numbers and an unset
    /// URL fall back to the defaults (an invalid value is logged); a secrets file that cannot
    /// be read or parsed is an error.
    ///
    /// - `EMULATOR_MYSQL_URL` (default [`DEFAULT_MYSQL_URL`])
    /// - `EMULATOR_LATENCY_MS` (default `0`)
    /// - `EMULATOR_TRANSACTION_IDLE_TIMEOUT_SECS` (default `180`)
    /// - `EMULATOR_SECRETS_FILE`: a JSON file of [`secrets`](Self::secrets), e.g.
    ///   `{"arn:...:secret:db": {"username": "u", "password": "p"}, "arn:...:secret:key":
    ///   "text"}` (default: none)
    pub fn try_from_env() -> Result<Self, String> {
        let secrets = match std::env::var_os("EMULATOR_SECRETS_FILE") {
            Some(path) if !path.is_empty() => read_secrets_file(Path::new(&path))?,
            _ => BTreeMap::new(),
        };
        let defaults = Self::default();
        Ok(Self {
            mysql_url: std::env::var("EMULATOR_MYSQL_URL")
                .ok()
                .filter(|url| !url.trim().is_empty())
                .unwrap_or(defaults.mysql_url),
            latency: env_number("EMULATOR_LATENCY_MS")
                .map(Duration::from_millis)
                .unwrap_or(defaults.latency),
            transaction_idle_timeout: env_number("EMULATOR_TRANSACTION_IDLE_TIMEOUT_SECS")
                .map(Duration::from_secs)
                .unwrap_or(defaults.transaction_idle_timeout),
            secrets,
        })
    }

    /// [`try_from_env`](Self::try_from_env), for tests and tools that want the emulator
    /// configured like the binary.
    ///
    /// # Panics
    ///
    /// When `EMULATOR_SECRETS_FILE` names a file that cannot be read or parsed: running
    /// without the secrets would let every call through as the URL's user.
    pub fn from_env() -> Self {
        Self::try_from_env().unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`mysql_url`](Self::mysql_url) with the password masked, for logs.
    pub fn redacted_mysql_url(&self) -> String {
        redact_url(&self.mysql_url)
    }
}

/// Reads a secrets file: a JSON object mapping ARNs to [`SecretValue`]s.
fn read_secrets_file(path: &Path) -> Result<BTreeMap<String, SecretValue>, String> {
    let describe = |problem: String| format!("EMULATOR_SECRETS_FILE={}: {problem}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| describe(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| {
        describe(format!(
            "expected a JSON object mapping each secret ARN to {{\"username\": ..., \
             \"password\": ...}} or to a string: {e}"
        ))
    })
}

/// Reads a non-negative integer variable; `None` when unset or invalid.
fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    let raw = std::env::var(name).ok()?;
    match raw.trim().parse() {
        Ok(value) => Some(value),
        Err(_) => {
            tracing::warn!(variable = name, value = %raw, "ignoring invalid value");
            None
        }
    }
}

/// The URL with its password replaced by `***`.
fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    let Some(at) = url[scheme_end..authority_end]
        .rfind('@')
        .map(|i| scheme_end + i)
    else {
        return url.to_owned();
    };
    match url[scheme_end..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..scheme_end + colon], &url[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password_only() {
        assert_eq!(
            redact_url("mysql://mcp:secret@127.0.0.1:3306/mcp"),
            "mysql://mcp:***@127.0.0.1:3306/mcp"
        );
        assert_eq!(
            redact_url("mysql://root@localhost/db"),
            "mysql://root@localhost/db"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn secrets_files_are_read_or_refused_with_their_path() {
        let path = std::env::temp_dir().join(format!("emu-secrets-{}.json", uuid::Uuid::new_v4()));
        std::fs::write(
            &path,
            r#"{"arn:db": {"username": "u", "password": "p"}, "arn:key": "k"}"#,
        )
        .expect("write secrets file");
        let secrets = read_secrets_file(&path);
        std::fs::write(&path, r#"{"arn:db": {"username": "u"}}"#).expect("write secrets file");
        let invalid = read_secrets_file(&path);
        std::fs::remove_file(&path).expect("remove secrets file");
        let missing = read_secrets_file(&path);

        let secrets = secrets.expect("valid file");
        assert_eq!(
            secrets["arn:db"],
            SecretValue::Credentials {
                username: "u".into(),
                password: "p".into()
            }
        );
        assert_eq!(secrets["arn:key"], SecretValue::Text("k".into()));
        for error in [invalid.expect_err("invalid"), missing.expect_err("missing")] {
            assert!(error.contains(&path.display().to_string()), "{error}");
        }
    }
}
