//! The user shapes of tenant administration: `UserAPI` out (with keyflow's `setPasswordLink`
//! when a new account was made), `UserAPI` in, and Boomi's `Role`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Invalid, Role, Timestamp, UserId};
use crate::store::Member;

/// Boomi's `Role`: the member's role in the request's tenant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Role)]
pub struct RoleOut {
    pub role_id: i32,
    pub developer_name: Option<String>,
    pub friendly_name: Option<String>,
}

impl From<Role> for RoleOut {
    fn from(role: Role) -> Self {
        let friendly = match role {
            Role::Administrator => "Administrator",
            Role::Standard => "Standard user",
        };
        Self {
            role_id: role.role_id(),
            developer_name: Some(role.wire_name().to_string()),
            friendly_name: Some(friendly.to_string()),
        }
    }
}

/// `UserAPI`: a member of the request's tenant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UserAPI)]
pub struct UserOut {
    pub id: UserId,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub created_at: Option<Timestamp>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub organizations: Option<Vec<serde_json::Value>>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub tenants: Option<Vec<serde_json::Value>>,
    pub role: RoleOut,
    pub is_sso: bool,
    #[schema(value_type = Option<Vec<Object>>)]
    pub tokens: Option<Vec<serde_json::Value>>,
    /// keyflow's extension, only when `POST /api/admin/1/users` made a new account: the
    /// one-time link (relative to keyflow's address) with which the user sets a password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_password_link: Option<String>,
}

impl From<Member> for UserOut {
    fn from(member: Member) -> Self {
        let user = member.user;
        Self {
            id: user.id,
            first_name: user.first_name,
            last_name: user.last_name,
            email: Some(user.email),
            created_at: Some(user.created_at),
            organizations: None,
            tenants: None,
            role: member.role.into(),
            is_sso: false,
            tokens: None,
            set_password_link: None,
        }
    }
}

/// A role as a client sends it: `developerName` (`ADMINISTRATOR`, `STANDARD_USER`) or
/// `roleId` (1, 2); other fields are ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RoleRequest)]
pub struct RoleIn {
    #[schema(value_type = Option<RoleName>)]
    pub developer_name: Option<String>,
    #[schema(minimum = 1, maximum = 2)]
    #[serde(default, deserialize_with = "crate::http::json::integral")]
    pub role_id: Option<i64>,
}

impl RoleIn {
    /// The role named, `None` when neither field names one.
    pub fn parse(&self) -> Result<Option<Role>, Invalid> {
        if let Some(name) = &self.developer_name {
            return name.parse().map(Some);
        }
        match self.role_id {
            None => Ok(None),
            Some(1) => Ok(Some(Role::Administrator)),
            Some(2) => Ok(Some(Role::Standard)),
            Some(other) => Err(Invalid::new(format!(
                "roleId must be 1 (administrator) or 2 (standard user), not {other}"
            ))),
        }
    }
}

/// The role names the description offers (keyflow also reads them in any case, and
/// `STANDARD`).
#[derive(ToSchema)]
#[allow(dead_code, clippy::upper_case_acronyms, non_camel_case_types)]
pub enum RoleName {
    ADMINISTRATOR,
    STANDARD_USER,
}

/// `UserAPI` as `PUT /api/admin/1/users/{id}` reads it; other fields (`email` too) are
/// ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UserUpdateRequestAPI)]
pub struct UserIn {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Absent or null: a standard user (when adding) or the role unchanged (when updating).
    pub role: Option<RoleIn>,
}

/// `UserAPI` as `POST /api/admin/1/users` reads it: `email` is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UserAddRequestAPI)]
pub struct NewUserIn {
    /// What [`crate::domain::Email`] accepts: one `@` between two parts with no space or
    /// control character.
    #[schema(
        max_length = 254,
        pattern = r"^[^\s@\u0000-\u001f\u007f-\u009f]+@[^\s@\u0000-\u001f\u007f-\u009f]+$"
    )]
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Absent or null: a standard user.
    pub role: Option<RoleIn>,
}

impl NewUserIn {
    /// The fields an update would also set.
    pub fn details(self) -> UserIn {
        UserIn {
            first_name: self.first_name,
            last_name: self.last_name,
            role: self.role,
        }
    }
}

/// `{token, password}`: a password link's token and the password to set.
#[derive(Deserialize, ToSchema)]
#[schema(as = SetPasswordRequest)]
pub struct SetPassword {
    /// The `token` of a `setPasswordLink`.
    pub token: String,
    /// 8 to 1024 characters.
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 1024)]
    pub password: secrecy::SecretString,
}

/// Blank names are no names.
pub fn name(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}
