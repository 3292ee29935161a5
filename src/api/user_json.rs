//! The user shapes of tenant administration: `UserAPI` out (with keyflow's `setPasswordLink`
//! in the answer that adds a user, and `invitationPending` while they have not accepted),
//! `UserAPI` in, and Boomi's `Role`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder, Schema, SchemaType};
use utoipa::{PartialSchema, ToSchema};

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
    /// keyflow's extension, only in the answer to `POST /api/admin/1/users`: the one-time
    /// link (relative to keyflow's address) through which the user accepts the invitation,
    /// setting a password if the account has none yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_password_link: Option<String>,
    /// keyflow's extension, `true` only while the user has not accepted the invitation: until
    /// then `id`, the names and `createdAt` are the invitation's, not the account's.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub invitation_pending: bool,
}

impl From<Member> for UserOut {
    fn from(member: Member) -> Self {
        Self {
            id: member.id,
            first_name: member.first_name,
            last_name: member.last_name,
            email: Some(member.email),
            created_at: Some(member.created_at),
            organizations: None,
            tenants: None,
            role: member.role.into(),
            is_sso: false,
            tokens: None,
            set_password_link: None,
            invitation_pending: member.pending,
        }
    }
}

/// A role as a client sends it: `developerName` (`ADMINISTRATOR`, `STANDARD_USER`) or
/// `roleId` (1, 2), or both when they name the same role; other fields are ignored. (Its
/// description, `RoleRequest`, is [`RoleFields`] and the rule that both name the same role.)
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleIn {
    pub developer_name: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::integral")]
    pub role_id: Option<i64>,
}

// The fields of a role, for the description only ([`RoleIn`] reads them).
/// A role's `developerName` or `roleId`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct RoleFields {
    #[schema(value_type = Option<RoleName>)]
    developer_name: Option<String>,
    #[schema(minimum = 1, maximum = 2)]
    role_id: Option<i64>,
}

/// `RoleRequest`: [`RoleFields`], of which both, when given, name the same role. Written by
/// hand because utoipa's attributes cannot say that two fields must agree; without it a
/// generated request naming `ADMINISTRATOR` and `2` would fit the description and be refused.
impl utoipa::PartialSchema for RoleIn {
    fn schema() -> RefOr<Schema> {
        let naming = |name: &str, id: i32| {
            ObjectBuilder::new()
                .property(
                    "developerName",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::AnyValue)
                        .enum_values(Some([json!(name), Value::Null])),
                )
                .property(
                    "roleId",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::AnyValue)
                        .enum_values(Some([json!(id), Value::Null])),
                )
        };
        let agreeing = [Role::Administrator, Role::Standard]
            .into_iter()
            .fold(AnyOfBuilder::new(), |any, role| {
                any.item(naming(role.wire_name(), role.role_id()))
            });
        AllOfBuilder::new()
            .description(Some(
                "A role as a client sends it: `developerName` (`ADMINISTRATOR`, \
                 `STANDARD_USER`) or `roleId` (1, 2), or both when they name the same role; \
                 other fields are ignored.",
            ))
            .item(RoleFields::schema())
            .item(agreeing)
            .into()
    }
}

impl ToSchema for RoleIn {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("RoleRequest")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((RoleName::name().into_owned(), RoleName::schema()));
        RoleFields::schemas(schemas);
    }
}

impl RoleIn {
    /// The role named, `None` when neither field names one. Both fields must name the same
    /// role: one that says `ADMINISTRATOR` and `2` means two things, and is refused rather
    /// than read as whichever field keyflow happened to look at first.
    pub fn parse(&self) -> Result<Option<Role>, Invalid> {
        let by_name = self
            .developer_name
            .as_deref()
            .map(str::parse::<Role>)
            .transpose()?;
        let by_id = match self.role_id {
            None => None,
            Some(1) => Some(Role::Administrator),
            Some(2) => Some(Role::Standard),
            Some(other) => {
                return Err(Invalid::new(format!(
                    "roleId must be 1 (administrator) or 2 (standard user), not {other}"
                )));
            }
        };
        match (by_name, by_id) {
            (Some(named), Some(numbered)) if named != numbered => Err(Invalid::new(format!(
                "the role's developerName ({named}) and roleId ({}) name different roles",
                numbered.role_id()
            ))),
            (named, numbered) => Ok(named.or(numbered)),
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
/// ignored. The names are checked as they are read, so no handler stores one unchecked.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UserUpdateRequestAPI)]
pub struct UserIn {
    /// Up to 100 characters (blank is none), with no control character and no invisible or
    /// direction-changing one. (The pattern: the white space keyflow trims, then a name with
    /// none of those characters, then white space again.)
    #[serde(default, deserialize_with = "first_name")]
    #[schema(
        max_length = 100,
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub first_name: Option<String>,
    /// As `firstName`.
    #[serde(default, deserialize_with = "last_name")]
    #[schema(
        max_length = 100,
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub last_name: Option<String>,
    /// Absent or null: a standard user (when adding) or the role unchanged (when updating).
    pub role: Option<RoleIn>,
}

/// `UserAPI` as `POST /api/admin/1/users` reads it: `email` is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UserAddRequestAPI)]
pub struct NewUserIn {
    /// What [`crate::domain::Email`] accepts: one `@` between two parts with no space, no
    /// control character and no invisible or direction-changing one.
    #[schema(
        max_length = 254,
        pattern = r"^[^\s@\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]+@[^\s@\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]+$"
    )]
    pub email: String,
    /// As in `UserUpdateRequestAPI`.
    #[serde(default, deserialize_with = "first_name")]
    #[schema(
        max_length = 100,
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub first_name: Option<String>,
    /// As in `UserUpdateRequestAPI`.
    #[serde(default, deserialize_with = "last_name")]
    #[schema(
        max_length = 100,
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
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

/// Reads `firstName`, refusing (422, naming the field) a name that breaks the rules of names:
/// checked where it is read, so no handler that takes a [`UserIn`] or [`NewUserIn`] can
/// store one unchecked. The value is trimmed; blank is none.
pub(crate) fn first_name<'de, D: serde::Deserializer<'de>>(
    from: D,
) -> Result<Option<String>, D::Error> {
    checked_name("firstName", from)
}

/// Reads `lastName`, as [`first_name`].
pub(crate) fn last_name<'de, D: serde::Deserializer<'de>>(
    from: D,
) -> Result<Option<String>, D::Error> {
    checked_name("lastName", from)
}

fn checked_name<'de, D: serde::Deserializer<'de>>(
    what: &str,
    from: D,
) -> Result<Option<String>, D::Error> {
    let text = Option::<String>::deserialize(from)?;
    let checked =
        crate::domain::person_name(what, text.as_deref()).map_err(serde::de::Error::custom)?;
    // A blank name stays an empty string here, so an update can tell "clear it" from "left
    // out" (none); [`name`] turns it into none where it is stored.
    Ok(checked.or_else(|| text.map(|_| String::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(developer_name: Option<&str>, role_id: Option<i64>) -> Result<Option<Role>, Invalid> {
        RoleIn {
            developer_name: developer_name.map(str::to_string),
            role_id,
        }
        .parse()
    }

    #[test]
    fn a_role_named_twice_must_be_named_alike() {
        assert_eq!(role(None, None), Ok(None));
        assert_eq!(
            role(Some("ADMINISTRATOR"), None),
            Ok(Some(Role::Administrator))
        );
        assert_eq!(role(None, Some(2)), Ok(Some(Role::Standard)));
        assert_eq!(
            role(Some("STANDARD_USER"), Some(2)),
            Ok(Some(Role::Standard))
        );
        assert_eq!(
            role(Some("ADMINISTRATOR"), Some(1)),
            Ok(Some(Role::Administrator))
        );
        let error = role(Some("ADMINISTRATOR"), Some(2)).unwrap_err();
        assert!(error.0.contains("different roles"), "{error}");
        assert!(role(Some("STANDARD_USER"), Some(1)).is_err());
        assert!(role(Some("ADMINISTRATOR"), Some(3)).is_err());
        assert!(role(Some("OWNER"), Some(1)).is_err());
    }
}
