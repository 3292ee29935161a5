//! Issue 22, "nothing served stale", for credentials: one list, [`CASES`], names each kind of
//! credential — an API key, a token a key obtained (in `Authorization` and in the key header),
//! a password sign-in's token, a web session — with each way it ends: deleted, rotated with no
//! overlap (the old value expires at once), its member removed through the API or the command
//! line, a password changed, a signing out. Each credential is first answered from its cache
//! (the key or credential cache's hits move); once it ends, the next request is refused (after
//! the command line on PostgreSQL, and on another instance, within the bound). An expiry that
//! comes with time is the caches' own unit tests' (`auth::credential_cache`, `auth::verifier`,
//! with the time given).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use keyflow::state::AppState;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{Backend, KEY_HEADER, TENANT_HEADER, TestApp, assert_json, both_backends};

both_backends! {
    every_credential_is_refused_on_the_next_request_once_it_ends,
}

/// How soon a change announced through PostgreSQL must be seen (README, "Several instances").
const BOUND: Duration = Duration::from_secs(1);

const PASSWORD: &str = "member password";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Key,
    /// A token an API key obtained, sent in `Authorization`.
    KeyToken,
    /// The same, sent in the key header.
    KeyTokenInKeyHeader,
    SignIn,
    Session,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// `DELETE …/users/me/keys/{name}`.
    DeleteKey,
    /// `POST …/keys/{name}/rotate` with no overlap: the old value expires now.
    Rotate,
    /// `DELETE /api/admin/1/users/{id}` by an administrator.
    RemoveMember,
    /// `keyflow user remove`.
    CommandLine,
    /// The password changed on the settings page (from another session).
    PasswordChange,
    /// Signed out on the pages.
    SignOut,
}

/// Every kind of credential with every way it ends that reaches it. Not listed: a web session
/// and the command line, which neither signs out nor sets a password (a removed member's
/// session still reaches their own account); a token and a rotation (a key's token keeps the
/// key, which a rotation keeps).
const CASES: &[(Kind, End)] = &[
    (Kind::Key, End::DeleteKey),
    (Kind::Key, End::Rotate),
    (Kind::Key, End::RemoveMember),
    (Kind::Key, End::CommandLine),
    (Kind::KeyToken, End::DeleteKey),
    (Kind::KeyToken, End::RemoveMember),
    (Kind::KeyToken, End::CommandLine),
    (Kind::KeyTokenInKeyHeader, End::DeleteKey),
    (Kind::KeyTokenInKeyHeader, End::RemoveMember),
    (Kind::KeyTokenInKeyHeader, End::CommandLine),
    (Kind::SignIn, End::PasswordChange),
    (Kind::SignIn, End::RemoveMember),
    (Kind::SignIn, End::CommandLine),
    (Kind::Session, End::SignOut),
    (Kind::Session, End::PasswordChange),
];

/// Every kind is in the list, and so is every way of ending.
#[test]
fn every_kind_and_every_end_is_listed() {
    let kinds = [
        Kind::Key,
        Kind::KeyToken,
        Kind::KeyTokenInKeyHeader,
        Kind::SignIn,
        Kind::Session,
    ];
    for kind in kinds {
        assert!(CASES.iter().any(|(k, _)| *k == kind), "{kind:?}");
    }
    let ends = [
        End::DeleteKey,
        End::Rotate,
        End::RemoveMember,
        End::CommandLine,
        End::PasswordChange,
        End::SignOut,
    ];
    for end in ends {
        assert!(CASES.iter().any(|(_, e)| *e == end), "{end:?}");
    }
}

/// A member of the app's tenant with every credential: the sign-in's token, a key, the token
/// the key obtained, a browser signed in.
struct Member {
    email: String,
    id: String,
    token: String,
    key: String,
    key_token: String,
    browser: Option<Browser>,
    session: String,
}

impl Member {
    async fn new(app: &TestApp, admin: &str, n: usize, kind: Kind) -> Member {
        let email = format!("ending{n}@example.com");
        let added = app.invite(admin, &app.tenant_id, &email).await;
        app.accept_invitation(&added, PASSWORD).await;
        let token = app.login(&email, PASSWORD).await;
        let key = app.new_key_for(&token, "ending", &app.tenant_id).await;
        let path = format!("/api/draw/1/authentication/{}", app.tenant_id);
        let obtained = app.with_key(Method::GET, &path, &key).send().await.unwrap();
        let key_token: Value = assert_json(obtained, StatusCode::OK).await;
        // Only a session's case signs in on the pages (each sign-in hashes a password).
        let browser = if kind == Kind::Session {
            Some(Browser::signed_in_as(app, &email, PASSWORD).await)
        } else {
            None
        };
        let session = browser
            .as_ref()
            .and_then(|browser| browser.cookie("keyflow_session"))
            .unwrap_or_default()
            .to_string();
        Member {
            email,
            id: added["id"].as_str().unwrap().to_string(),
            token,
            key,
            key_token: key_token.as_str().unwrap().to_string(),
            browser,
            session,
        }
    }
}

/// Where the credential is used: an instance's address and state.
struct Reader<'a> {
    client: reqwest::Client,
    base: String,
    state: &'a AppState,
}

impl Reader<'_> {
    fn new(base: String, state: &AppState) -> Reader<'_> {
        // A refused session is a 303 to the sign-in page: not followed.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Reader {
            client,
            base,
            state,
        }
    }

    /// The cache hits that a use of `kind` answered from memory moves.
    fn hits(&self, kind: Kind) -> u64 {
        let metrics = &self.state.metrics;
        match kind {
            Kind::Key => metrics.key_cache_hits.load(Ordering::Relaxed),
            _ => metrics.credential_cache_hits.load(Ordering::Relaxed),
        }
    }

    /// One request with the member's credential of `kind`: its status.
    async fn try_with(&self, kind: Kind, member: &Member) -> StatusCode {
        let url = |path: &str| format!("{}{path}", self.base);
        let request = match kind {
            Kind::Key => self
                .client
                .get(url("/api/draw/1/flow"))
                .header(KEY_HEADER, &member.key),
            Kind::KeyToken => self
                .client
                .get(url("/api/admin/1/users/me"))
                .header("authorization", format!("Bearer {}", member.key_token)),
            Kind::KeyTokenInKeyHeader => self
                .client
                .get(url("/api/draw/1/flow"))
                .header(KEY_HEADER, &member.key_token),
            Kind::SignIn => self
                .client
                .get(url("/api/admin/1/users/me"))
                .header("authorization", format!("Bearer {}", member.token)),
            Kind::Session => self
                .client
                .get(url("/settings"))
                .header("cookie", format!("keyflow_session={}", member.session)),
        };
        request.send().await.unwrap().status()
    }

    /// Uses the credential until its cache answers it (the hits move).
    async fn cached(&self, kind: Kind, member: &Member) {
        assert_eq!(
            self.try_with(kind, member).await,
            StatusCode::OK,
            "{kind:?}"
        );
        let hits = self.hits(kind);
        assert_eq!(
            self.try_with(kind, member).await,
            StatusCode::OK,
            "{kind:?}"
        );
        assert!(
            self.hits(kind) > hits,
            "{kind:?}: not answered from its cache"
        );
    }

    /// The credential refused: on the next request when `bound` is None, else within it.
    async fn refused(&self, kind: Kind, end: End, member: &Member, bound: Option<Duration>) {
        let refusal = match kind {
            Kind::Session => StatusCode::SEE_OTHER,
            _ => StatusCode::UNAUTHORIZED,
        };
        let since = Instant::now();
        loop {
            let status = self.try_with(kind, member).await;
            if status == refusal {
                return;
            }
            assert!(
                bound.is_some_and(|bound| since.elapsed() < bound),
                "{kind:?} still {status} after {end:?} (bound {bound:?})"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Ends the member's credential through `app` (its API, its pages, or the command line on its
/// store).
async fn end_through(app: &TestApp, admin: &str, member: &mut Member, end: End) {
    let keys = "/api/admin/1/users/me/keys/ending";
    let status = match end {
        End::DeleteKey => {
            let sent = app.with_token(Method::DELETE, keys, &member.token);
            sent.send().await.unwrap().status()
        }
        End::Rotate => {
            let sent = app.with_token(Method::POST, &format!("{keys}/rotate"), &member.token);
            let sent = sent.json(&json!({"overlapSeconds": 0}));
            sent.send().await.unwrap().status()
        }
        End::RemoveMember => {
            let path = format!("/api/admin/1/users/{}", member.id);
            let sent = app.with_token(Method::DELETE, &path, admin);
            let sent = sent.header(TENANT_HEADER, &app.tenant_id);
            sent.send().await.unwrap().status()
        }
        End::CommandLine => {
            app.remove_user(&member.email, &app.tenant_id).await;
            StatusCode::OK
        }
        End::PasswordChange => {
            let mut other = Browser::signed_in_as(app, &member.email, PASSWORD).await;
            let csrf = other.get("/settings").await.csrf();
            let fields = [
                ("csrf", csrf.as_str()),
                ("current", PASSWORD),
                ("new", "a brand new password"),
                ("confirm", "a brand new password"),
            ];
            other.post("/settings/password", &fields).await.status
        }
        End::SignOut => {
            let browser = member.browser.as_mut().expect("a session's case signs in");
            let csrf = browser.get("/settings").await.csrf();
            let out = browser.post("/logout", &[("csrf", &csrf)]).await;
            assert_eq!(out.status, StatusCode::SEE_OTHER);
            StatusCode::OK
        }
    };
    assert_eq!(status, StatusCode::OK, "{end:?}");
}

/// Every case of [`CASES`]: a new member, the credential cached by `reader`, ended through
/// `app`, refused by `reader` (at once, or within `bound`; the command line on PostgreSQL
/// always within it).
async fn every_case(app: &TestApp, reader: &Reader<'_>, bound: Option<Duration>) {
    let admin = app.admin_token().await;
    for (n, &(kind, end)) in CASES.iter().enumerate() {
        let mut member = Member::new(app, &admin, n, kind).await;
        reader.cached(kind, &member).await;
        end_through(app, &admin, &mut member, end).await;
        let announced = end == End::CommandLine && app.backend() == Backend::Postgres;
        let bound = bound.or(announced.then_some(BOUND));
        reader.refused(kind, end, &member, bound).await;
    }
}

async fn every_credential_is_refused_on_the_next_request_once_it_ends() {
    let app = TestApp::spawn().await;
    every_case(&app, &Reader::new(app.url(""), &app.state), None).await;
}

/// On PostgreSQL, every case with the credential cached by another instance (B) and ended
/// through the first (A): refused by B within the bound.
#[tokio::test]
async fn every_credential_ended_through_one_instance_is_refused_by_the_other() {
    let Some((a, b, _url)) = crate::instances::two_instances("credentials_across").await else {
        return;
    };
    every_case(&a, &Reader::new(b.address.clone(), &b.state), Some(BOUND)).await;
}
