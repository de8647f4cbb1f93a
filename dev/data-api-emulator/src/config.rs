//! Emulator configuration.

use std::time::Duration;

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
}

impl Default for EmulatorConfig {
    /// [`DEFAULT_MYSQL_URL`], no latency, [`DEFAULT_TRANSACTION_IDLE_TIMEOUT`].
    fn default() -> Self {
        Self {
            mysql_url: DEFAULT_MYSQL_URL.to_owned(),
            latency: Duration::ZERO,
            transaction_idle_timeout: DEFAULT_TRANSACTION_IDLE_TIMEOUT,
        }
    }
}

impl EmulatorConfig {
    /// Reads the configuration from the environment; unset or invalid values fall back to
    /// the defaults (an invalid value is logged).
    ///
    /// - `EMULATOR_MYSQL_URL` (default [`DEFAULT_MYSQL_URL`])
    /// - `EMULATOR_LATENCY_MS` (default `0`)
    /// - `EMULATOR_TRANSACTION_IDLE_TIMEOUT_SECS` (default `180`)
    pub fn from_env() -> Self {
        let defaults = Self::default();
        Self {
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
        }
    }

    /// [`mysql_url`](Self::mysql_url) with the password masked, for logs.
    pub fn redacted_mysql_url(&self) -> String {
        redact_url(&self.mysql_url)
    }
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
}
