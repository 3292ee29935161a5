//! A user's role in one tenant, with Boomi's wire names.

use std::fmt;
use std::str::FromStr;

use super::Invalid;

/// What a member may do in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Everything, including tenant and user administration.
    Administrator,
    /// Everything but administration.
    Standard,
}

impl Role {
    /// The name on the wire and in storage (`UserTenantAPI.role`).
    pub fn wire_name(self) -> &'static str {
        match self {
            Role::Administrator => "ADMINISTRATOR",
            Role::Standard => "STANDARD_USER",
        }
    }

    /// `UserTenantAPI.roleId`.
    pub fn role_id(self) -> i32 {
        match self {
            Role::Administrator => 1,
            Role::Standard => 2,
        }
    }
}

impl FromStr for Role {
    type Err = Invalid;
    fn from_str(text: &str) -> Result<Self, Invalid> {
        match text.trim().to_ascii_uppercase().as_str() {
            "ADMINISTRATOR" => Ok(Role::Administrator),
            "STANDARD_USER" | "STANDARD" => Ok(Role::Standard),
            _ => Err(Invalid::new(format!(
                "'{}' is not a role",
                super::shorten(text)
            ))),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}
