//! The first start: a database with no user gets a tenant named `Example`, an administrator
//! and a sample flow, so the worked example can be followed straight away.

use rand::Rng;
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::password;
use crate::config::ServeConfig;
use crate::domain::flow::{FlowDraft, FlowSettings};
use crate::domain::{Email, FlowName, Password, Role, TenantId, TenantName, UserId};
use crate::store::{NewUser, Store};

/// What the first start created; printed once by `keyflow serve`.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub admin_email: String,
    /// Generated when none was configured; `None` when the operator chose it.
    pub generated_password: Option<SecretString>,
    pub tenant_id: uuid::Uuid,
    pub tenant_name: String,
}

pub const EXAMPLE_TENANT: &str = "Example";
pub const SAMPLE_FLOW: &str = "Hello World";

/// Seeds the database when it holds no user; `None` when it already had one.
pub async fn seed_if_empty(
    store: &dyn Store,
    config: &ServeConfig,
) -> anyhow::Result<Option<Bootstrap>> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let email = Email::parse(&config.admin_email)
        .map_err(|e| anyhow::anyhow!("the administrator email: {e}"))?;
    let (password, generated) = match &config.admin_password {
        Some(given) => (given.clone(), None),
        None => {
            let text: String = OsRng
                .sample_iter(&Alphanumeric)
                .take(20)
                .map(char::from)
                .collect();
            let secret = SecretString::from(text);
            (secret.clone(), Some(secret))
        }
    };
    let password = Password::parse(password)
        .map_err(|e| anyhow::anyhow!("the administrator password: {e}"))?;
    let password_hash = password::hash(&password).await?;
    // Instances started together on one empty database: the first to claim the seeding seeds,
    // the others start on what it makes. The claim comes after everything that can be refused,
    // so a start refused for its settings leaves the database to the next one.
    let claim = crate::domain::new_id().to_string();
    if store.claim_meta("bootstrap", &claim).await? != claim {
        tracing::info!(
            "another instance claimed the first start of this database and seeds it (should it \
             not finish, create the first tenant and administrator with `keyflow tenant create` \
             and `keyflow user create`)"
        );
        return Ok(None);
    }
    let tenant = store
        .create_tenant(&TenantName::parse(EXAMPLE_TENANT)?)
        .await?;
    let user = UserId::generate();
    store
        .create_user(
            NewUser {
                id: user,
                email: email.clone(),
                first_name: Some("Example".into()),
                last_name: Some("Administrator".into()),
                password_hash: Some(password_hash),
            },
            tenant.id,
            Role::Administrator,
        )
        .await?;
    let sample = FlowDraft {
        developer_name: FlowName::parse(SAMPLE_FLOW)?,
        developer_summary: Some("A sample flow, so the first list is not empty.".into()),
        settings: FlowSettings::default(),
    };
    store.create_flow(tenant.id, &sample, user).await?;
    Ok(Some(Bootstrap {
        admin_email: email.to_string(),
        generated_password: generated,
        tenant_id: tenant.id.0,
        tenant_name: tenant.name,
    }))
}

impl Bootstrap {
    /// The lines `keyflow serve` prints once: how to sign in and list the flows.
    pub fn banner(&self, base_url: &str) -> String {
        let (shown, in_shell) = match &self.generated_password {
            Some(password) => {
                let password = password.expose_secret().to_string();
                (
                    format!("{password}   (generated; shown only now)"),
                    password,
                )
            }
            None => (
                "the value of KEYFLOW_ADMIN_PASSWORD".to_string(),
                "$KEYFLOW_ADMIN_PASSWORD".to_string(),
            ),
        };
        let (name, email) = (&self.tenant_name, &self.admin_email);
        let tenant = TenantId(self.tenant_id);
        format!(
            "First start: created the tenant {name} ({tenant}) and its administrator.\n\
             \x20 email:    {email}\n\
             \x20 password: {shown}\n\
             List the flows of {name}:\n\
             \x20 TOKEN=$(curl -s {base_url}/api/draw/1/authentication -H 'content-type: application/json' \
             -d \"{{\\\"username\\\":\\\"{email}\\\",\\\"password\\\":\\\"{in_shell}\\\"}}\" | tr -d '\"') \
             && curl -s -H \"Authorization: $TOKEN\" {base_url}/api/draw/1/flow"
        )
    }
}
