//! Authentication: access tokens, password hashing, and sessions with rotating refresh tokens.

mod password;
mod service;
mod throttle;
mod tokens;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::tools::Tool;

pub use password::PasswordHasher;
pub use service::{
    sha256_hex, AuthError, AuthService, ClientInfo, SessionView, TokenPair, UserView,
};
pub use tokens::{AccessClaims, TokenError, TokenKeys};

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

impl From<&AccessClaims> for Actor {
    fn from(claims: &AccessClaims) -> Self {
        Self {
            user_id: claims.sub,
            session_id: claims.sid,
            role: claims.role,
        }
    }
}
