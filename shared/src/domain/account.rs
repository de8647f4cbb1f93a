//! Accounts as the rest of the code sees them: roles, the authenticated caller, and the form of
//! an email that makes it unique.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Tool;

/// A user's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May manage its own tools.
    User,
    /// May manage every tool (granted only by an operator in the database).
    Admin,
}

impl Role {
    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }

    /// Parses the wire and database spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Self::User),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// The authenticated caller of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The user.
    pub user_id: Uuid,
    /// The session the token belongs to.
    pub session_id: Uuid,
    /// The role.
    pub role: Role,
}

impl Actor {
    /// Whether this caller may change or delete `tool` (its owner, or an admin).
    pub fn may_modify(&self, tool: &Tool) -> bool {
        self.role == Role::Admin || tool.owner_id == self.user_id
    }
}

/// The form of an email used for uniqueness: trimmed and lowercased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}
