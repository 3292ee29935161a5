//! The command line: `serve`, the administration commands `tenant` and `user`, and `copy`.
//! Every flag but `copy`'s can also come from a `KEYFLOW_…` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use tracing_subscriber::EnvFilter;

use crate::admin;
use crate::app::Server;
use crate::config::{RevealPolicy, ServeConfig};
use crate::copy;
use crate::domain::{Networks, Role};
use crate::store::StoreConfig;

#[derive(Debug, Parser)]
#[command(
    name = "keyflow",
    version,
    about = "A self-hosted server for the Flow platform API and its API keys"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// What to log (a tracing filter such as `info` or `keyflow=debug`), on stderr.
    #[arg(long, env = "KEYFLOW_LOG", default_value = "info", global = true)]
    pub log: String,
}

impl Cli {
    /// Parses the process's command line (a mistake exits with clap's message and usage, as
    /// `Cli::parse` does), with a warning for each secret it carries
    /// ([`secrets_on_command_line`]), to log once logging has started.
    pub fn parse_with_warnings() -> (Self, Vec<String>) {
        let matches = Self::command().get_matches();
        let cli = Self::from_arg_matches(&matches)
            .unwrap_or_else(|error| error.format(&mut Self::command()).exit());
        let warnings = secrets_on_command_line(&matches);
        (cli, warnings)
    }

    /// The runtime's worker threads `serve --workers` asks for (none: one per CPU).
    pub fn workers(&self) -> Option<usize> {
        match &self.command {
            Command::Serve(args) => args.workers.map(usize::from),
            _ => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage users and their tenant memberships.
    #[command(subcommand)]
    User(UserCommand),
    /// Copy all data from one store into another, empty one: a data directory (SQLite) to
    /// PostgreSQL, or back.
    #[command(long_about = COPY_ABOUT)]
    Copy(CopyArgs),
}

const COPY_ABOUT: &str = "Copy all data from one store into another, empty one: a data \
directory (SQLite) to PostgreSQL, PostgreSQL to a data directory, or between two of a kind.

Every row is read in one consistent read of SOURCE and written into TARGET in one transaction: \
TARGET gets all of it or nothing. A TARGET that holds anything (a tenant, a user, a key…) is \
refused, as is TARGET being SOURCE or a directory of other files. Stop the servers on SOURCE first: what they write after the \
copy is not in it. Prints the rows copied per table; a database URL is never printed.

Secrets: the keys, tokens and invitation links copied work only with SOURCE's pepper and \
master key, whose fingerprints are copied too. Run every server on TARGET with the same ones: \
the same --data-dir (its secrets/ folder holds them) or the same KEYFLOW_PEPPER and \
KEYFLOW_MASTER_KEY. A server given others refuses to start. When SOURCE and TARGET are both \
data directories, the secrets/ files are copied too (mode 0600) if TARGET has none.";

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Where the data is now: a data directory, or postgres://user:password@host:port/database.
    #[arg(long, value_name = "SOURCE")]
    pub from: SecretString,
    /// Where to copy it: a new data directory, or an empty PostgreSQL database
    /// (postgres://… or postgresql://…).
    #[arg(long, value_name = "TARGET")]
    pub to: SecretString,
}

#[derive(Debug, Args)]
pub struct DataDir {
    /// The data directory: the SQLite database (unless --database is given) and, unless given
    /// in the environment, the secrets.
    #[arg(long, env = "KEYFLOW_DATA_DIR", default_value = "./keyflow-data")]
    pub data_dir: PathBuf,
    /// A PostgreSQL database to keep the data in instead, shared by every instance:
    /// postgres://user:password@host:port/database (the password is never printed). Given
    /// here, its password is on the command line, which every user of the machine can read
    /// (`ps`): give it in KEYFLOW_DATABASE_URL instead.
    #[arg(
        long = "database",
        env = "KEYFLOW_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<SecretString>,
}

impl DataDir {
    /// Where the data is: PostgreSQL when --database is given, else the data directory.
    pub fn store(&self) -> StoreConfig {
        StoreConfig::choose(self.database_url.as_ref(), &self.data_dir)
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (port 0 picks a free port; the real address is printed).
    #[arg(long, env = "KEYFLOW_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub data: DataDir,
    /// When an existing key's value may be shown again.
    #[arg(
        long,
        env = "KEYFLOW_KEY_REVEAL",
        value_enum,
        default_value = "on-demand"
    )]
    pub key_reveal: RevealPolicy,
    /// The pepper for key and token digests: 64 hex characters (default: generated into the data
    /// directory). Given here, every user of the machine can read it (`ps`): give it in
    /// KEYFLOW_PEPPER instead.
    #[arg(long, env = "KEYFLOW_PEPPER", hide_env_values = true)]
    pub pepper: Option<SecretString>,
    /// The master key that seals key values for Show: 64 hex characters (default: generated into
    /// the data directory). Given here, every user of the machine can read it (`ps`): give it
    /// in KEYFLOW_MASTER_KEY instead.
    #[arg(long, env = "KEYFLOW_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<SecretString>,
    /// The first administrator's email, used on the first start only.
    #[arg(long, env = "KEYFLOW_ADMIN_EMAIL", default_value = "admin@example.com")]
    pub admin_email: String,
    /// The first administrator's password, used on the first start only (default: generated and
    /// printed once). Given here, every user of the machine can read it (`ps`): give it in
    /// KEYFLOW_ADMIN_PASSWORD instead.
    #[arg(long, env = "KEYFLOW_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<SecretString>,
    /// How long a sign-in token stays valid, in minutes.
    #[arg(long, env = "KEYFLOW_TOKEN_TTL_MINUTES", default_value_t = 24 * 60)]
    pub token_ttl_minutes: u64,
    /// Failed sign-ins or key checks one client address may make in a burst before 429
    /// (1 to 1000000).
    #[arg(
        long,
        env = "KEYFLOW_AUTH_FAILURE_BURST",
        default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    pub auth_failure_burst: u32,
    /// Seconds until one more failure is allowed once the burst is spent.
    #[arg(long, env = "KEYFLOW_AUTH_FAILURE_REFILL_SECONDS", default_value_t = 6)]
    pub auth_failure_refill_seconds: u64,
    /// Runs of public flows one client address may start without a credential in a burst
    /// before 429; one more a second after that (1 to 1000000).
    #[arg(
        long,
        env = "KEYFLOW_ANONYMOUS_RUN_START_BURST",
        default_value_t = 60,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    pub anonymous_run_start_burst: u32,
    /// Failed sign-ins one account may have, from any addresses, before each further one
    /// starts a delay (1 s, doubling) during which the account's sign-ins get 429 (1 to 1000000).
    #[arg(
        long,
        env = "KEYFLOW_ACCOUNT_FAILURE_BURST",
        default_value_t = 5,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    pub account_failure_burst: u32,
    /// The longest of those delays, in seconds: how long an account is refused at a time
    /// (1 to 86400).
    #[arg(
        long,
        env = "KEYFLOW_ACCOUNT_FAILURE_MAX_DELAY_SECONDS",
        default_value_t = 900,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub account_failure_max_delay_seconds: u64,
    /// How many verified keys the in-process cache holds.
    #[arg(long, env = "KEYFLOW_KEY_CACHE_CAPACITY", default_value_t = 100_000)]
    pub key_cache_capacity: u64,
    /// How many verified tokens, web sessions and memberships tokens reach the in-process
    /// cache holds (each kind up to this many).
    #[arg(
        long,
        env = "KEYFLOW_CREDENTIAL_CACHE_CAPACITY",
        default_value_t = 20_000
    )]
    pub credential_cache_capacity: u64,
    /// How often to look for revocations made by other processes, in milliseconds.
    #[arg(long, env = "KEYFLOW_REVOCATION_POLL_MS", default_value_t = 1000)]
    pub revocation_poll_ms: u64,
    /// Mark the web pages' session cookie Secure (set it when browsers reach keyflow over HTTPS).
    #[arg(long, env = "KEYFLOW_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Requests served at once; beyond it keyflow answers 503 with Retry-After at once.
    #[arg(long, env = "KEYFLOW_MAX_IN_FLIGHT", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: u32,
    /// Seconds a connection may take to send a whole request head (from connecting, or from its
    /// last answer: also how long an idle connection is kept); then it is closed.
    #[arg(long, env = "KEYFLOW_HEADER_TIMEOUT_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_seconds: u64,
    /// Seconds a request may take to send its whole body once its head has arrived; then it is
    /// answered 408 and its connection closed.
    #[arg(long, env = "KEYFLOW_BODY_TIMEOUT_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_seconds: u64,
    /// Connections one client address (an IPv6 client: its /64) may hold open at once; more are
    /// closed at once (0: no bound). Behind a reverse proxy, every client is the proxy's address.
    #[arg(
        long,
        env = "KEYFLOW_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 256
    )]
    pub max_connections_per_address: u32,
    /// The browser origins allowed to call `/api/` from their pages (CORS), comma-separated,
    /// each `scheme://host[:port]`, e.g. `https://flow.example.com`. Default: any origin.
    /// Cookies are never allowed across origins; the API authenticates with headers.
    #[arg(long, env = "KEYFLOW_CORS_ORIGINS", value_delimiter = ',', value_parser = cors_origin)]
    pub cors_origins: Option<Vec<String>>,
    /// The reverse proxies in front of keyflow, comma-separated CIDR ranges or addresses (e.g.
    /// `127.0.0.1,10.0.0.0/8`). A request whose TCP peer is one of them comes from the
    /// rightmost `X-Forwarded-For` hop that is not itself one of them; that address decides
    /// a key's allowed networks, whose failure budget a refused credential spends, and the
    /// audit. Default: none (the TCP peer is the client; the header is ignored).
    #[arg(long, env = "KEYFLOW_TRUSTED_PROXIES", value_parser = trusted_proxies)]
    pub trusted_proxies: Option<Networks>,
    /// How many days audit events are kept (1 to 36500); older ones are pruned in the
    /// background, a thousand at a time.
    #[arg(
        long,
        env = "KEYFLOW_AUDIT_RETENTION_DAYS",
        default_value_t = 90,
        value_parser = clap::value_parser!(u64).range(1..=36_500)
    )]
    pub audit_retention_days: u64,
    /// Requests a second an API key may make when neither the key nor its tenant sets its own
    /// rate limit (0 to 1000000; 0: no default limit). Across instances on one database each
    /// takes its share.
    #[arg(
        long,
        env = "KEYFLOW_KEY_REQUESTS_PER_SECOND",
        default_value_t = 100,
        value_parser = clap::value_parser!(u32).range(0..=1_000_000)
    )]
    pub key_requests_per_second: u32,
    /// The burst of that default limit: requests a key may make at once (1 to 1000000).
    #[arg(
        long,
        env = "KEYFLOW_KEY_BURST",
        default_value_t = 200,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    pub key_burst: u32,
    /// MiB of answers to reads kept in memory (0 keeps none). `--flow-cache-mib`, its former
    /// name, is read as this.
    #[arg(
        long,
        env = "KEYFLOW_READ_CACHE_MIB",
        alias = "flow-cache-mib",
        default_value_t = 128
    )]
    pub read_cache_mib: u64,
    /// Threads serving requests (default: one per CPU). Fewer leaves cores to other busy work
    /// on the machine, such as a load generator.
    #[arg(long, env = "KEYFLOW_WORKERS", value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints its id.
    Create {
        #[command(flatten)]
        data: DataDir,
        /// The tenant's name.
        #[arg(long)]
        name: String,
    },
    /// Set the tenant's maximum key lifetime (`none` removes it). Keys that would outlive the
    /// new maximum now expire at it; none ends at once.
    MaxKeyLifetime {
        #[command(flatten)]
        data: DataDir,
        /// The tenant's id.
        #[arg(long)]
        tenant: String,
        /// Days (1 to 3650), or `none`.
        #[arg(long)]
        days: String,
    },
    /// Set the default and upper bound of the tenant's keys' rate limits: a key without its
    /// own limit gets this one, and none may have more. `--none` goes back to the server's
    /// default (`--key-requests-per-second`, `--key-burst`). Keys in use take it at once.
    #[command(group(
        clap::ArgGroup::new("limit")
            .required(true)
            .args(["requests_per_second", "none"])
    ))]
    KeyRateLimit {
        #[command(flatten)]
        data: DataDir,
        /// The tenant's id.
        #[arg(long)]
        tenant: String,
        /// Requests a second (1 to 1000000); with `--burst`.
        #[arg(
            long,
            requires = "burst",
            value_parser = clap::value_parser!(u32).range(1..=1_000_000)
        )]
        requests_per_second: Option<u32>,
        /// Requests a key may make at once (1 to 1000000); with `--requests-per-second`.
        #[arg(
            long,
            requires = "requests_per_second",
            value_parser = clap::value_parser!(u32).range(1..=1_000_000)
        )]
        burst: Option<u32>,
        /// No limit of the tenant's own: the server's default.
        #[arg(long, conflicts_with_all = ["requests_per_second", "burst"])]
        none: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user in a tenant, reading the password from standard input; prints the user's id.
    Create {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        email: String,
        /// The tenant's id.
        #[arg(long)]
        tenant: String,
        /// The role in the tenant (default: administrator for a tenant's first user, else standard).
        #[arg(long, value_enum)]
        role: Option<Role>,
        #[arg(long)]
        first_name: Option<String>,
        #[arg(long)]
        last_name: Option<String>,
    },
    /// Add an existing user to another tenant.
    Add {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        email: String,
        #[arg(long)]
        tenant: String,
        /// The role in the tenant.
        #[arg(long, value_enum, default_value = "standard")]
        role: Role,
    },
    /// Remove a user from a tenant; their keys for it stop working at once.
    Remove {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        email: String,
        #[arg(long)]
        tenant: String,
    },
}

/// The flags that carry a secret: each one's argument id, its flag, and the variable that
/// carries the same secret out of other users' sight.
const SECRET_FLAGS: [(&str, &str, &str); 4] = [
    ("database_url", "--database", "KEYFLOW_DATABASE_URL"),
    (
        "admin_password",
        "--admin-password",
        "KEYFLOW_ADMIN_PASSWORD",
    ),
    ("pepper", "--pepper", "KEYFLOW_PEPPER"),
    ("master_key", "--master-key", "KEYFLOW_MASTER_KEY"),
];

/// A warning for each secret given as a flag: a process's arguments are readable by every
/// user of the machine (`ps`, `/proc/PID/cmdline`), its environment only by its owner. Only
/// the command line counts (`value_source`): the same setting from its variable is where it
/// belongs. A database URL counts only when it holds a password. The warning names the flag
/// and the variable, never the value.
pub fn secrets_on_command_line(matches: &ArgMatches) -> Vec<String> {
    let mut leaf = matches;
    while let Some((_, nested)) = leaf.subcommand() {
        leaf = nested;
    }
    SECRET_FLAGS
        .iter()
        .filter(|(id, ..)| {
            leaf.try_contains_id(id).unwrap_or(false)
                && leaf.value_source(id) == Some(ValueSource::CommandLine)
        })
        .filter(|(id, ..)| {
            *id != "database_url"
                || leaf
                    .get_raw(id)
                    .into_iter()
                    .flatten()
                    .any(|url| url.to_str().is_none_or(holds_password))
        })
        .map(|(_, flag, variable)| {
            format!(
                "{flag} puts a secret on the command line, where every user of this machine can \
                 read it (ps); give it in {variable} instead"
            )
        })
        .collect()
}

/// Whether a database URL holds a password: in its user information
/// (`postgres://user:password@host`) or as a `password` parameter of its query.
fn holds_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let in_user_info = authority
        .rsplit_once('@')
        .and_then(|(user_info, _)| user_info.split_once(':'))
        .is_some_and(|(_, password)| !password.is_empty());
    let in_query = rest.split_once('?').is_some_and(|(_, query)| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some("password"))
    });
    in_user_info || in_query
}

/// Logs go to stderr, so stdout carries only what a command prints for scripts.
pub fn init_telemetry(cli: &Cli) {
    let filter = EnvFilter::try_new(&cli.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        // A log line that cannot be written is dropped. Reporting the failure would mean
        // printing to the very stderr that failed, which panics: a closed log pipe or a full
        // disk would otherwise stop the server in the middle of whatever it was doing.
        .log_internal_errors(false)
        .try_init();
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Tenant(TenantCommand::Create { data, name }) => {
            admin::create_tenant(&data.store(), &name).await
        }
        Command::Tenant(TenantCommand::MaxKeyLifetime { data, tenant, days }) => {
            admin::set_max_key_lifetime(&data.store(), &tenant, &days).await
        }
        Command::Tenant(TenantCommand::KeyRateLimit {
            data,
            tenant,
            requests_per_second,
            burst,
            none: _,
        }) => {
            // clap allows both figures or `--none`, nothing else.
            let limit = requests_per_second.zip(burst);
            admin::set_key_rate_limit(&data.store(), &tenant, limit).await
        }
        Command::User(UserCommand::Create {
            data,
            email,
            tenant,
            role,
            first_name,
            last_name,
        }) => {
            let names = admin::Names {
                first: first_name,
                last: last_name,
            };
            admin::create_user(&data.store(), &email, &tenant, role, names).await
        }
        Command::User(UserCommand::Add {
            data,
            email,
            tenant,
            role,
        }) => admin::add_user(&data.store(), &email, &tenant, role).await,
        Command::User(UserCommand::Remove {
            data,
            email,
            tenant,
        }) => admin::remove_user(&data.store(), &email, &tenant).await,
        Command::Copy(CopyArgs { from, to }) => {
            let from = copy::location(from.expose_secret(), "--from")?;
            let to = copy::location(to.expose_secret(), "--to")?;
            let copied = copy::copy(&from, &to).await?;
            print!("{}", copied.summary());
            Ok(())
        }
    }
}

impl ServeArgs {
    pub fn into_config(self) -> ServeConfig {
        let mut config = ServeConfig::new(self.data.data_dir);
        config.database_url = self.data.database_url;
        config.listen = self.listen;
        config.key_reveal = self.key_reveal;
        config.pepper = self.pepper;
        config.master_key = self.master_key;
        config.admin_email = self.admin_email;
        config.admin_password = self.admin_password;
        config.token_ttl = Duration::from_secs(self.token_ttl_minutes.max(1) * 60);
        config.auth_failure_burst = self.auth_failure_burst;
        config.auth_failure_refill = Duration::from_secs(self.auth_failure_refill_seconds.max(1));
        config.anonymous_run_start_burst = self.anonymous_run_start_burst;
        config.account_failure_burst = self.account_failure_burst;
        config.account_failure_max_delay =
            Duration::from_secs(self.account_failure_max_delay_seconds);
        config.key_cache_capacity = self.key_cache_capacity;
        config.credential_cache_capacity = self.credential_cache_capacity;
        config.revocation_poll = Duration::from_millis(self.revocation_poll_ms.max(10));
        config.secure_cookies = self.secure_cookies;
        config.max_in_flight = self.max_in_flight as usize;
        config.read_cache_bytes = self.read_cache_mib.saturating_mul(1024 * 1024);
        config.header_timeout = Duration::from_secs(self.header_timeout_seconds);
        config.body_timeout = Duration::from_secs(self.body_timeout_seconds);
        config.max_connections_per_address = self.max_connections_per_address as usize;
        config.cors_origins = self.cors_origins;
        config.trusted_proxies = self.trusted_proxies.unwrap_or_default();
        config.audit_retention = Duration::from_secs(self.audit_retention_days * 24 * 60 * 60);
        config.key_requests_per_second = self.key_requests_per_second;
        config.key_burst = self.key_burst;
        config
    }
}

/// `--trusted-proxies`: ranges or addresses separated by commas.
fn trusted_proxies(text: &str) -> Result<Networks, String> {
    Networks::parse(Networks::split(text)).map_err(|error| error.0)
}

/// An origin as a browser sends it in `Origin`: a scheme, a host and maybe a port, no path.
fn cors_origin(text: &str) -> Result<String, String> {
    let text = text.trim();
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    let well_formed = rest.is_some_and(|host| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    });
    if well_formed {
        Ok(text.to_string())
    } else {
        Err(format!(
            "'{text}' is not an origin: write scheme://host[:port], e.g. https://flow.example.com"
        ))
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.into_config();
    crate::http::limits::raise_open_files();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let server = Server::start(config, listener).await?;
    let base_url = format!("http://{}", server.local_addr());
    if let Some(bootstrap) = server.bootstrap() {
        println!("{}", bootstrap.banner(&base_url));
    }
    println!("listening on {base_url}");
    tracing::info!(address = %server.local_addr(), "serving");
    server.run(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down: finishing the requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_config(args: &[&str]) -> Result<ServeConfig, clap::Error> {
        let cli = Cli::try_parse_from(["keyflow", "serve"].iter().chain(args))?;
        match cli.command {
            Command::Serve(args) => Ok(args.into_config()),
            _ => unreachable!("a serve command"),
        }
    }

    #[test]
    fn the_cors_origins_are_a_comma_separated_list_of_origins_and_any_by_default() {
        assert_eq!(serve_config(&[]).unwrap().cors_origins, None);
        let config =
            serve_config(&["--cors-origins", "https://a.example,http://b.example:8443"]).unwrap();
        assert_eq!(
            config.cors_origins.unwrap(),
            ["https://a.example", "http://b.example:8443"]
        );
        for wrong in [
            "a.example",
            "https://a.example/path",
            "ftp://a.example",
            "https://",
        ] {
            assert!(serve_config(&["--cors-origins", wrong]).is_err(), "{wrong}");
        }
    }

    fn warnings(args: &[&str]) -> Vec<String> {
        let matches = Cli::command()
            .try_get_matches_from(std::iter::once(&"keyflow").chain(args))
            .unwrap();
        secrets_on_command_line(&matches)
    }

    #[test]
    fn a_secret_given_as_a_flag_is_warned_of_without_its_value() {
        let url = "postgres://keyflow:canary-pw@db.example:5432/keyflow";
        let found = warnings(&[
            "serve",
            "--database",
            url,
            "--admin-password",
            "canary-admin",
        ]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("--database") && found[0].contains("KEYFLOW_DATABASE_URL"));
        assert!(
            found[1].contains("--admin-password") && found[1].contains("KEYFLOW_ADMIN_PASSWORD")
        );
        assert!(!found.concat().contains("canary"), "{found:?}");
        // The administration commands take --database too.
        let found = warnings(&[
            "user",
            "remove",
            "--email",
            "a@b.c",
            "--tenant",
            "t",
            "--database",
            url,
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        let hex = "ab".repeat(32);
        assert_eq!(
            warnings(&["serve", "--pepper", &hex, "--master-key", &hex]).len(),
            2
        );
        // A URL without a password, and no secret flag at all, are fine.
        assert!(
            warnings(&[
                "serve",
                "--database",
                "postgres://keyflow@db.example/keyflow"
            ])
            .is_empty()
        );
        assert!(warnings(&["serve"]).is_empty());
        assert!(warnings(&["copy", "--from", "a", "--to", "b"]).is_empty());
    }

    #[test]
    fn a_password_is_found_in_the_user_information_or_the_query() {
        assert!(holds_password("postgres://u:p@h/d"));
        assert!(holds_password(
            "postgresql://u:p%40ss@h:5432/d?sslmode=require"
        ));
        assert!(holds_password(
            "postgres://u@h/d?sslmode=disable&password=p"
        ));
        assert!(!holds_password("postgres://u@h/d"));
        assert!(!holds_password("postgres://u:@h/d"));
        assert!(!holds_password("postgres://h:5432/d"));
        assert!(!holds_password("postgres:///d?host=/run/postgresql"));
    }

    #[test]
    fn the_deadlines_and_the_bound_per_address_come_from_their_flags() {
        let defaults = serve_config(&[]).unwrap();
        assert_eq!(defaults.header_timeout, Duration::from_secs(10));
        assert_eq!(defaults.body_timeout, Duration::from_secs(30));
        assert_eq!(defaults.max_connections_per_address, 256);
        let set = serve_config(&[
            "--header-timeout-seconds",
            "2",
            "--body-timeout-seconds",
            "5",
            "--max-connections-per-address",
            "0",
        ])
        .unwrap();
        assert_eq!(set.header_timeout, Duration::from_secs(2));
        assert_eq!(set.body_timeout, Duration::from_secs(5));
        assert_eq!(set.max_connections_per_address, 0);
        assert!(serve_config(&["--header-timeout-seconds", "0"]).is_err());
        assert!(serve_config(&["--body-timeout-seconds", "3601"]).is_err());
    }

    #[test]
    fn trusted_proxies_are_ranges_or_addresses_and_none_by_default() {
        assert!(serve_config(&[]).unwrap().trusted_proxies.is_empty());
        let set = serve_config(&["--trusted-proxies", "127.0.0.1, 10.0.0.0/8,::1"]).unwrap();
        assert_eq!(set.trusted_proxies.to_string(), "127.0.0.1,10.0.0.0/8,::1");
        assert!(serve_config(&["--trusted-proxies", "nginx"]).is_err());
    }
}
