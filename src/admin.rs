//! The administration commands, run against a data directory (also while a server uses it).
//! Each prints only what a script needs on stdout; a mistake is one `error:` line on stderr.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use secrecy::SecretString;

use crate::auth::password;
use crate::control::{self, Notified};
use crate::domain::{Email, Password, Role, TenantId, TenantName, UserId, person_name};
use crate::store::sqlite::SqliteStore;
use crate::store::{NewUser, Store, StoreError, TenantStore, User, UserStore};

/// A user's optional names, checked as the API checks them (blank is none).
pub struct Names {
    pub first: Option<String>,
    pub last: Option<String>,
}

async fn open(data_dir: &Path) -> anyhow::Result<SqliteStore> {
    crate::data_dir::create(data_dir)?;
    SqliteStore::open(data_dir).await
}

/// A tenant id that names an existing tenant.
async fn existing_tenant(store: &dyn Store, text: &str) -> anyhow::Result<TenantId> {
    let id = TenantId::parse(text)?;
    store
        .tenant(id)
        .await?
        .ok_or_else(|| anyhow!("there is no tenant {id}"))?;
    Ok(id)
}

async fn existing_user(store: &dyn Store, email: &str) -> anyhow::Result<User> {
    let email = Email::parse(email)?;
    store
        .user_by_email(&email)
        .await?
        .ok_or_else(|| anyhow!("there is no user with the email {email}"))
}

fn plain(error: StoreError) -> anyhow::Error {
    match error {
        StoreError::Conflict(message) | StoreError::Missing(message) => anyhow!(message),
        StoreError::Internal(cause) => cause,
    }
}

pub async fn create_tenant(data_dir: &Path, name: &str) -> anyhow::Result<()> {
    let name = TenantName::parse(name)?;
    let store = open(data_dir).await?;
    let tenant = store.create_tenant(&name).await.map_err(plain)?;
    println!("{}", tenant.id);
    store.close().await;
    Ok(())
}

pub async fn create_user(
    data_dir: &Path,
    email: &str,
    tenant: &str,
    role: Option<Role>,
    names: Names,
) -> anyhow::Result<()> {
    let email = Email::parse(email)?;
    let first_name = person_name("--first-name", names.first.as_deref())?;
    let last_name = person_name("--last-name", names.last.as_deref())?;
    let store = open(data_dir).await?;
    let tenant = existing_tenant(&store, tenant).await?;
    if store.user_by_email(&email).await.map_err(plain)?.is_some() {
        bail!("a user with the email {email} exists");
    }
    let password = Password::parse(read_password()?)?;
    // A tenant's first member administers it; later ones are standard users unless told.
    let role = match role {
        Some(role) => role,
        None if store.member_count(tenant).await.map_err(plain)? == 0 => Role::Administrator,
        None => Role::Standard,
    };
    let user = NewUser {
        id: UserId::generate(),
        email,
        first_name,
        last_name,
        password_hash: Some(password::hash(&password).await?),
    };
    let id = user.id;
    store.create_user(user, tenant, role).await.map_err(plain)?;
    println!("{id}");
    store.close().await;
    Ok(())
}

pub async fn add_user(
    data_dir: &Path,
    email: &str,
    tenant: &str,
    role: Role,
) -> anyhow::Result<()> {
    let store = open(data_dir).await?;
    let user = existing_user(&store, email).await?;
    let tenant = existing_tenant(&store, tenant).await?;
    // Whoever holds such an account's invitation link would set its password and, with it,
    // get this membership too: a link must reach no further than its own tenant.
    if user.password_hash.is_none() {
        bail!(
            "{} has no password yet (an invitation of theirs is pending): add them once they \
             have accepted it, or invite them to this tenant too",
            user.email
        );
    }
    store
        .add_membership(user.id, tenant, role)
        .await
        .map_err(plain)?;
    store.close().await;
    Ok(())
}

pub async fn remove_user(data_dir: &Path, email: &str, tenant: &str) -> anyhow::Result<()> {
    let store = open(data_dir).await?;
    let user = existing_user(&store, email).await?;
    let tenant = existing_tenant(&store, tenant).await?;
    if !store
        .remove_membership(user.id, tenant)
        .await
        .map_err(plain)?
    {
        bail!("{} is not a member of the tenant {tenant}", user.email);
    }
    store.close().await;
    // The membership and its keys are gone; make sure a running server forgets them now.
    match control::notify_revocation(data_dir).await {
        Ok(Notified::Server | Notified::NoServer) => Ok(()),
        Err(error) => {
            eprintln!(
                "warning: removed, but the running server could not be told ({error:#}); \
                 it drops the user's keys within its revocation poll interval"
            );
            Ok(())
        }
    }
}

/// The password from standard input, without its trailing newline.
fn read_password() -> anyhow::Result<SecretString> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the password from standard input")?;
    let trimmed = text.strip_suffix('\n').unwrap_or(&text);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    Ok(SecretString::from(trimmed.to_string()))
}
