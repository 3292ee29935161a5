//! Seeds an empty data directory for the scale and load benchmarks: the first start's tenant
//! `Example` (with its administrator and `--flows` flows), then `--tenants` tenants with one
//! user each (and `--tenant-flows` flows each, one `apply_batch` transaction per tenant), and
//! `--keys` API keys spread evenly over them, written with the store's bulk `insert_keys` (one
//! transaction per batch). The server started on the directory afterwards uses them as its own:
//! the secrets are created in the directory as on a first start. With `--database-url`, the
//! data goes to that (empty) PostgreSQL database instead; start the server with the same data
//! directory (for the secrets) and `KEYFLOW_DATABASE_URL`.
//!
//! ```sh
//! cargo run --release --example seed -- --data-dir D --keys 1000000 --tenants 10000
//! ```
//! Key values are written, as `KEY<TAB>TENANT_ID` lines, to `--keys-out` (never into the data
//! directory): first a key of the administrator for `Example`, then `--samples` of the others.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use keyflow::auth::api_key::{ApiKey, Hasher, Sealer};
use keyflow::auth::password;
use keyflow::bootstrap;
use keyflow::config::ServeConfig;
use keyflow::data_dir;
use keyflow::domain::flow::{FlowDraft, FlowSettings};
use keyflow::domain::{
    Email, FlowId, FlowName, KeyId, KeyName, Password, Role, TenantId, TenantName, Timestamp,
    UserId,
};
use keyflow::secrets::Secrets;
use keyflow::store::{
    ElementBatch, FlowGraphWrite, GraphMode, NewKey, NewUser, Store, StoreConfig,
};
use secrecy::SecretString;

/// Keys per `insert_keys` transaction.
const BATCH: usize = 20_000;

#[derive(Parser)]
struct Args {
    /// The data directory to seed (created; must hold no database yet).
    #[arg(long)]
    data_dir: PathBuf,
    #[arg(long, default_value_t = 1_000_000)]
    keys: usize,
    #[arg(long, default_value_t = 10_000)]
    tenants: usize,
    /// Flows of the tenant `Example` (its sample flow included).
    #[arg(long, default_value_t = 20)]
    flows: usize,
    /// The password of admin@example.com.
    #[arg(long, default_value = "seeded admin password")]
    admin_password: String,
    /// Where the sample keys go.
    #[arg(long, default_value = "seed-keys.tsv")]
    keys_out: PathBuf,
    /// How many keys to write there besides Example's (spread over all of them).
    #[arg(long, default_value_t = 10_000)]
    samples: usize,
    /// Flows of each seeded tenant (besides Example), written in one transaction per tenant.
    #[arg(long, default_value_t = 0)]
    tenant_flows: usize,
    /// An empty PostgreSQL database to seed instead of the data directory's SQLite.
    #[arg(long)]
    database_url: Option<SecretString>,
}

/// One tenant with its one member.
#[derive(Clone, Copy)]
struct Owner {
    tenant: TenantId,
    user: UserId,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    anyhow::ensure!(
        !args.data_dir.join("keyflow.db").exists(),
        "{} already holds a database: seed an empty directory",
        args.data_dir.display()
    );
    std::fs::create_dir_all(&args.data_dir)?;
    let _lock = data_dir::lock(&args.data_dir)?;
    let place = StoreConfig::choose(args.database_url.as_ref(), &args.data_dir);
    let store = keyflow::store::open(&place).await?;
    let secrets = Secrets::load(&args.data_dir, None, None, &*store).await?;
    let (hasher, sealer) = (
        Hasher::new(&secrets.pepper),
        Sealer::new(&secrets.master_key),
    );
    let mut config = ServeConfig::new(args.data_dir.clone());
    config.admin_password = Some(SecretString::from(args.admin_password.clone()));
    let boot = bootstrap::seed_if_empty(&*store, &config)
        .await?
        .context("the database already had users")?;
    let example = TenantId(boot.tenant_id);
    let admin = store
        .user_by_email(&Email::parse(&boot.admin_email)?)
        .await?
        .context("the administrator")?
        .id;
    for n in 2..=args.flows {
        let draft = FlowDraft {
            developer_name: FlowName::parse(&format!("Flow {n:02}"))?,
            developer_summary: Some(format!("Seeded flow number {n}")),
            settings: FlowSettings::default(),
        };
        store.create_flow(example, &draft, admin).await?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args.keys_out)?);
    let bench_key = new_key(
        &hasher,
        &sealer,
        Owner {
            tenant: example,
            user: admin,
        },
        "bench",
    );
    writeln!(out, "{}\t{example}", bench_key.0.expose())?;
    store.insert_keys(vec![bench_key.1]).await?;
    println!(
        "Example: {} flows, key for the load benchmark written",
        args.flows
    );

    let owners = create_owners(&*store, args.tenants).await?;
    for owner in &owners {
        create_flows(&*store, *owner, args.tenant_flows).await?;
    }
    println!(
        "{} tenants with one user and {} flows each after {:.1} s",
        owners.len(),
        args.tenant_flows,
        started.elapsed().as_secs_f64()
    );

    let per_tenant = args.keys.div_ceil(owners.len().max(1));
    let sample_every = (args.keys / args.samples.max(1)).max(1);
    let mut batch = Vec::with_capacity(BATCH);
    let mut made = 0;
    'tenants: for owner in &owners {
        for n in 0..per_tenant {
            if made == args.keys {
                break 'tenants;
            }
            let tenant = owner.tenant;
            let (key, row) = new_key(&hasher, &sealer, *owner, &format!("key {n}"));
            if made % sample_every == 0 {
                writeln!(out, "{}\t{tenant}", key.expose())?;
            }
            batch.push(row);
            made += 1;
            if batch.len() == BATCH {
                store.insert_keys(std::mem::take(&mut batch)).await?;
            }
        }
    }
    store.insert_keys(batch).await?;
    out.flush()?;
    store.close().await;
    println!(
        "{made} keys over {} tenants in {:.1} s; sample keys in {}",
        owners.len(),
        started.elapsed().as_secs_f64(),
        args.keys_out.display()
    );
    Ok(())
}

/// `count` tenants, each with one administrator; they share one password hash, since Argon2
/// per user would dominate the seeding time.
async fn create_owners(store: &dyn Store, count: usize) -> anyhow::Result<Vec<Owner>> {
    let hash = password::hash(&Password::parse(SecretString::from(
        "seeded user password",
    ))?)
    .await?;
    let mut owners = Vec::with_capacity(count);
    for i in 0..count {
        let tenant = store
            .create_tenant(&TenantName::parse(&format!("Tenant {i:05}"))?)
            .await?
            .id;
        let user = NewUser {
            id: UserId::generate(),
            email: Email::parse(&format!("user{i:05}@seed.example"))?,
            first_name: None,
            last_name: None,
            password_hash: Some(hash.clone()),
        };
        let id = user.id;
        store.create_user(user, tenant, Role::Administrator).await?;
        owners.push(Owner { tenant, user: id });
    }
    Ok(owners)
}

/// `count` flows of `owner`'s tenant, named like Example's, in one transaction.
async fn create_flows(store: &dyn Store, owner: Owner, count: usize) -> anyhow::Result<()> {
    if count == 0 {
        return Ok(());
    }
    let mut flows = Vec::with_capacity(count);
    for n in 1..=count {
        flows.push(FlowGraphWrite {
            id: FlowId::generate(),
            mode: GraphMode::Create,
            header: Some(FlowDraft {
                developer_name: FlowName::parse(&format!("Flow {n:02}"))?,
                developer_summary: Some(format!("Seeded flow number {n}")),
                settings: FlowSettings::default(),
            }),
            start_map_element_id: None,
            elements: None,
            uses: None,
            author: owner.user,
        });
    }
    let batch = ElementBatch {
        flows,
        ..ElementBatch::default()
    };
    store.apply_batch(owner.tenant, batch).await?;
    Ok(())
}

/// A key of `owner` and its row, sealed as under the default reveal policy.
fn new_key(hasher: &Hasher, sealer: &Sealer, owner: Owner, name: &str) -> (ApiKey, NewKey) {
    let key = ApiKey::generate();
    let id = KeyId::generate();
    let row = NewKey {
        id,
        user_id: owner.user,
        tenant_id: owner.tenant,
        name: KeyName::parse(name).expect("a valid key name"),
        digest: hasher.digest(key.expose()),
        preview: key.preview(),
        sealed: Some(sealer.seal_key(&key, id.0)),
        created_at: Timestamp::now(),
        expires_at: None,
        scopes: Default::default(),
        allowed_networks: Default::default(),
        rate_per_second: None,
        rate_burst: None,
    };
    (key, row)
}
