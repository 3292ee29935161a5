//! The administration commands, run against a data directory (also while a server uses it).
//! Each prints only what a script needs on stdout; a mistake is one `error:` line on stderr.
//! The user commands follow the same rules as the API ([`crate::rules::members`]) and leave
//! the same audit records, with no actor.

use std::io::Read;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use async_trait::async_trait;
use secrecy::SecretString;

use crate::auth::password;
use crate::control::{self, Notified};
use crate::domain::{Email, Password, Role, TenantId, TenantName, UserId, person_name};
use crate::rules::audit::Origin;
use crate::rules::keys;
use crate::rules::members::{self, Members};
use crate::rules::{Actor, Revoker, RuleError};
use crate::store::{self, NewUser, Store, StoreConfig, StoreError, User};

/// A user's optional names, checked as the API checks them (blank is none).
pub struct Names {
    pub first: Option<String>,
    pub last: Option<String>,
}

/// The store the server opens: PostgreSQL, or the data directory's (made if there is none).
async fn open(config: &StoreConfig) -> anyhow::Result<Arc<dyn Store>> {
    if let StoreConfig::Sqlite { data_dir } = config {
        crate::data_dir::create(data_dir)?;
    }
    store::open(config).await
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
        StoreError::Conflict(message)
        | StoreError::Missing(message)
        | StoreError::Moved(message) => anyhow!(message),
        StoreError::Internal(cause) => cause,
    }
}

/// A rule's refusal as the command line prints it: its message.
fn refused(error: RuleError) -> anyhow::Error {
    match error {
        RuleError::Internal(cause) => cause,
        other => anyhow!(other.to_string()),
    }
}

/// The membership rules over the data directory's store; a revocation is announced to the
/// server running on it, if any.
fn members<'a>(store: &'a dyn Store, server: &'a RunningServer<'a>) -> Members<'a> {
    Members {
        store,
        revoker: server,
        origin: Origin::command_line(),
    }
}

/// The servers using the store: on a data directory, the one running there, if any, told
/// through its control socket to forget revoked keys, so they fail on its very next request.
/// On PostgreSQL the write itself announced the change to every instance, in its transaction.
struct RunningServer<'a>(&'a StoreConfig);

impl RunningServer<'_> {
    /// After a write that revokes nothing but shows in reads the server may have cached (a
    /// member added): on a data directory, the server is told to drop them.
    async fn changed(&self) {
        let StoreConfig::Sqlite { data_dir } = self.0 else {
            return;
        };
        if let Err(error) = control::notify_change(data_dir).await {
            eprintln!(
                "warning: done, but the running server could not be told ({error:#}); \
                 its cached reads show the change within a minute"
            );
        }
    }
}

#[async_trait]
impl Revoker for RunningServer<'_> {
    async fn revoke_cached(&self) {
        let StoreConfig::Sqlite { data_dir } = self.0 else {
            return;
        };
        match control::notify_revocation(data_dir).await {
            Ok(Notified::Server | Notified::NoServer) => {}
            Err(error) => eprintln!(
                "warning: done, but the running server could not be told ({error:#}); \
                 it drops its cached keys within its revocation poll interval"
            ),
        }
    }
}

pub async fn create_tenant(config: &StoreConfig, name: &str) -> anyhow::Result<()> {
    let name = TenantName::parse(name)?;
    let store = open(config).await?;
    let tenant = store.create_tenant(&name).await.map_err(plain)?;
    println!("{}", tenant.id);
    store.close().await;
    Ok(())
}

pub async fn create_user(
    config: &StoreConfig,
    email: &str,
    tenant: &str,
    role: Option<Role>,
    names: Names,
) -> anyhow::Result<()> {
    let email = Email::parse(email)?;
    let first_name = person_name("--first-name", names.first.as_deref())?;
    let last_name = person_name("--last-name", names.last.as_deref())?;
    let store = open(config).await?;
    let tenant = existing_tenant(&*store, tenant).await?;
    if store.user_by_email(&email).await.map_err(plain)?.is_some() {
        bail!("a user with the email {email} exists");
    }
    let password = Password::parse(read_password()?)?;
    let user = NewUser {
        id: UserId::generate(),
        email,
        first_name,
        last_name,
        password_hash: Some(password::hash(&password).await?),
    };
    let server = RunningServer(config);
    let id = members::create(
        &members(&*store, &server),
        Actor::CommandLine,
        tenant,
        user,
        role,
    )
    .await
    .map_err(refused)?;
    server.changed().await;
    println!("{id}");
    store.close().await;
    Ok(())
}

pub async fn add_user(
    config: &StoreConfig,
    email: &str,
    tenant: &str,
    role: Role,
) -> anyhow::Result<()> {
    let store = open(config).await?;
    let user = existing_user(&*store, email).await?;
    let tenant = existing_tenant(&*store, tenant).await?;
    let server = RunningServer(config);
    members::add_existing(
        &members(&*store, &server),
        Actor::CommandLine,
        tenant,
        user.id,
        role,
    )
    .await
    .map_err(refused)?;
    server.changed().await;
    store.close().await;
    Ok(())
}

/// `keyflow tenant max-key-lifetime`: the rule the tenant settings' `maxApiKeyLifetimeDays`
/// follows; prints how many keys were capped. The running server is told to drop them.
pub async fn set_max_key_lifetime(
    config: &StoreConfig,
    tenant: &str,
    days: &str,
) -> anyhow::Result<()> {
    let days = match days.trim() {
        "none" => None,
        text => Some(
            text.parse::<i64>()
                .map_err(|_| anyhow!("--days must be a number of days or `none`"))?,
        ),
    };
    let store = open(config).await?;
    let tenant = existing_tenant(&*store, tenant).await?;
    let server = RunningServer(config);
    let capped = keys::set_max_lifetime(&*store, &server, tenant, days)
        .await
        .map_err(refused)?;
    println!("{capped}");
    store.close().await;
    Ok(())
}

/// `keyflow tenant key-rate-limit`: the rule the tenant settings' `apiKeyRateLimit` follows
/// (`limit`: requests a second and burst; `None`, the server's default). The running server is
/// told to drop the cached grants, which carry the limit.
pub async fn set_key_rate_limit(
    config: &StoreConfig,
    tenant: &str,
    limit: Option<(u32, u32)>,
) -> anyhow::Result<()> {
    let limit = limit.map(|(per_second, burst)| keys::RateLimit { per_second, burst });
    let store = open(config).await?;
    let tenant = existing_tenant(&*store, tenant).await?;
    let server = RunningServer(config);
    keys::set_tenant_rate_limit(&*store, &server, tenant, limit)
        .await
        .map_err(refused)?;
    store.close().await;
    Ok(())
}

pub async fn remove_user(config: &StoreConfig, email: &str, tenant: &str) -> anyhow::Result<()> {
    let store = open(config).await?;
    let user = existing_user(&*store, email).await?;
    let tenant = existing_tenant(&*store, tenant).await?;
    // The membership and its keys go, and the running server is told to forget them now.
    let server = RunningServer(config);
    match members::remove(
        &members(&*store, &server),
        Actor::CommandLine,
        tenant,
        user.id,
    )
    .await
    {
        Ok(()) => {}
        Err(RuleError::Missing(_)) => {
            bail!("{} is not a member of the tenant {tenant}", user.email)
        }
        Err(other) => return Err(refused(other)),
    }
    store.close().await;
    Ok(())
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
