//! The server's settings, whether they came from flags, the environment or a test.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::domain::Networks;
use crate::store::StoreConfig;

/// When the value of an existing key may be shown again: see the README, "Reveal policy".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RevealPolicy {
    /// The list carries a preview (`kf_…abcd`); the value comes from an audited reveal call.
    #[default]
    OnDemand,
    /// The list carries every value, as Boomi's does.
    List,
    /// The value is shown once, at creation; nothing sealed is kept.
    Never,
}

impl RevealPolicy {
    /// Whether a sealed copy of each new key is kept.
    pub fn keeps_sealed_copies(self) -> bool {
        self != RevealPolicy::Never
    }
}

/// Everything `keyflow serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// PostgreSQL to keep the data in (`postgres://…`) instead of the data directory's SQLite.
    pub database_url: Option<SecretString>,
    pub key_reveal: RevealPolicy,
    /// 32 bytes as 64 hex characters; generated into the data directory when absent.
    pub pepper: Option<SecretString>,
    /// 32 bytes as 64 hex characters; generated into the data directory when absent.
    pub master_key: Option<SecretString>,
    /// The first administrator's sign-in, used only when the database holds no user.
    pub admin_email: String,
    /// The first administrator's password; generated and printed once when absent.
    pub admin_password: Option<SecretString>,
    /// How long a token from `POST /api/draw/1/authentication` stays valid.
    pub token_ttl: Duration,
    /// Failed sign-ins or key checks one address may make in a burst before 429.
    pub auth_failure_burst: u32,
    /// How often one more failure is allowed once the burst is spent.
    pub auth_failure_refill: Duration,
    /// Runs one client address may start without a credential (public flows) in a burst; one
    /// more a second after that.
    pub anonymous_run_start_burst: u32,
    /// Failed sign-ins one account may have (from any addresses) before its delays start.
    pub account_failure_burst: u32,
    /// The first delay of an account past its budget; each further failure doubles it.
    pub account_failure_first_delay: Duration,
    /// The longest delay: how long an account is refused at a time, at most.
    pub account_failure_max_delay: Duration,
    /// How many verified keys the in-process cache holds.
    pub key_cache_capacity: u64,
    /// How many grants of tokens, of web sessions, and memberships tokens reach, the
    /// in-process credential cache holds (each kind up to this many).
    pub credential_cache_capacity: u64,
    /// How often the server checks storage for revocations made by other processes.
    pub revocation_poll: Duration,
    /// The largest request body accepted.
    pub body_limit_bytes: usize,
    /// The largest body of a request that carries no credential (no `Authorization`, API key
    /// or cookie): only sign-in and accepting an invitation take one, and need far less.
    pub anonymous_body_limit_bytes: usize,
    /// Mark the session cookie `Secure` even when no proxy says the request came over TLS.
    pub secure_cookies: bool,
    /// Requests served at once; more are answered 503 with `Retry-After` at once.
    pub max_in_flight: usize,
    /// The bytes of answers to reads kept in memory (`read_cache`); 0 keeps none.
    pub read_cache_bytes: u64,
    /// How long a connection may take to send a whole request head, from when it connects or
    /// its last answer was made; then it is closed. (Also how long an idle connection stays.)
    pub header_timeout: Duration,
    /// How long a request may take to send its whole body once its head has arrived; then it
    /// is answered 408 and its connection closed.
    pub body_timeout: Duration,
    /// Connections one client address may hold open at once (an IPv6 client: its /64); more
    /// are closed as soon as they are accepted. 0: no bound.
    pub max_connections_per_address: usize,
    /// The browser origins (`https://host[:port]`) allowed to call `/api/` from a page
    /// (CORS); `None`: any origin. Never with credentials (cookies): the API authenticates
    /// with headers.
    pub cors_origins: Option<Vec<String>>,
    /// The reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxies`):
    /// a request from one of them comes from the rightmost hop that is not itself trusted.
    /// Empty (the default): every request comes from its TCP peer, and the header is not read.
    pub trusted_proxies: Networks,
    /// How long audit events are kept; older ones are pruned in the background.
    pub audit_retention: Duration,
    /// The rate limit of a key whose own and whose tenant's are unset: requests a second (0:
    /// none) and burst.
    pub key_requests_per_second: u32,
    pub key_burst: u32,
}

impl ServeConfig {
    /// Where the data is kept: PostgreSQL when a URL is given, else the data directory.
    pub fn store(&self) -> StoreConfig {
        StoreConfig::choose(self.database_url.as_ref(), &self.data_dir)
    }

    /// The defaults, with the given data directory.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir,
            database_url: None,
            key_reveal: RevealPolicy::OnDemand,
            pepper: None,
            master_key: None,
            admin_email: "admin@example.com".to_string(),
            admin_password: None,
            token_ttl: Duration::from_secs(24 * 60 * 60),
            auth_failure_burst: 10,
            auth_failure_refill: Duration::from_secs(6),
            anonymous_run_start_burst: 60,
            account_failure_burst: 5,
            account_failure_first_delay: Duration::from_secs(1),
            account_failure_max_delay: Duration::from_secs(15 * 60),
            key_cache_capacity: 100_000,
            credential_cache_capacity: 20_000,
            revocation_poll: Duration::from_secs(1),
            body_limit_bytes: 1024 * 1024,
            anonymous_body_limit_bytes: 64 * 1024,
            secure_cookies: false,
            max_in_flight: 1024,
            read_cache_bytes: 128 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections_per_address: 256,
            cors_origins: None,
            trusted_proxies: Networks::default(),
            audit_retention: Duration::from_secs(90 * 24 * 60 * 60),
            key_requests_per_second: 100,
            key_burst: 200,
        }
    }
}
