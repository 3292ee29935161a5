//! Issue 22, "nothing served stale", for every cached read: one list, [`READS`], names for each
//! route template of `api::cached_reads::CACHED` a request, a write through the API that
//! changes its answer, and the command-line write that does (or why the command line cannot).
//! Each read is primed — read until the read cache answers it, as
//! `keyflow_read_cache_hits_total` shows — then the write is made, and the next read must differ
//! from the primed answer: at once after an API write; after a command-line write at once on
//! SQLite (the control socket) and within the bound on PostgreSQL (the announcement); through
//! another instance on PostgreSQL, within the bound. A member the command line removes is
//! refused by every cached read they had primed. A cached route missing from the list fails
//! `every_cached_route_is_in_the_list`, and a request that is not its route's fails the run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keyflow::state::AppState;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, KEY_HEADER, TestApp, assert_json, both_backends, show};

both_backends! {
    every_cached_read_shows_an_api_write_on_the_next_read,
    every_cached_read_shows_a_command_line_write,
    every_cached_read_refuses_a_member_the_command_line_removed,
}

/// How soon a change announced through PostgreSQL must be seen (README, "Several instances").
const BOUND: Duration = Duration::from_secs(1);

const FLOW: &str = "/api/draw/1/flow";

/// The tenant element kinds, as their paths name them.
const KINDS: [&str; 8] = [
    "customPageComponent",
    "identityprovider",
    "macro",
    "page",
    "service",
    "tag",
    "type",
    "value",
];

/// Why the command line changes none of a tenant's flows, elements, snapshots or packages.
const NO_CLI: &str = "the command line (tenant, user, copy) writes no flow, element, snapshot \
                      or package";

/// Which credential reads it.
#[derive(Debug, Clone, Copy)]
enum Who {
    /// The administrator's API key (answered early once cached).
    Key,
    /// The administrator's sign-in token (answered by the layer once cached): the key list,
    /// which a key may not read.
    Token,
}

/// A write through the API that changes the read's answer.
#[derive(Debug, Clone, Copy)]
enum Write {
    RenameFlow,
    Snapshot,
    /// A new snapshot, activated.
    Activate,
    DeleteFlow,
    /// The fixture's element of this kind, renamed.
    RenameElement(&'static str),
    /// The flow's element of this kind (map: the start), renamed.
    RenameFlowElement(&'static str),
    RenameTenant,
    Invite,
    RenameMe,
    NewKey,
    /// The invited user made an administrator.
    Promote,
    /// The invitation withdrawn (`DELETE …/users/{id}`).
    Withdraw,
}

impl Write {
    /// Whether the write leaves its fixture unfit for another read: deleted, withdrawn,
    /// promoted for good, or renamed (the active version's name would no longer be the flow's).
    /// Every other write is made on one fixture the reads share.
    fn spends_its_fixture(self) -> bool {
        matches!(
            self,
            Write::DeleteFlow | Write::Withdraw | Write::Promote | Write::RenameFlow
        )
    }
}

/// A write through the command line that changes the read's answer, or why there is none.
#[derive(Debug, Clone, Copy)]
enum Cli {
    Cannot(&'static str),
    /// `user create` into the tenant.
    CreateUser,
    /// `tenant create`, then `user add` of the administrator to it.
    AddToTenant,
    /// `user remove` of the invited user.
    RemoveUser,
    /// `tenant key-rate-limit`.
    KeyRateLimit,
    /// `tenant max-key-lifetime`: the keys now expire.
    MaxKeyLifetime,
}

/// One cached read: its route template, the request (from a fresh [`Fixture`]), who reads,
/// and the writes that change it.
struct Read {
    route: &'static str,
    path: fn(&Fixture) -> String,
    who: Who,
    /// Each made on a fixture of its own.
    api: &'static [Write],
    cli: Cli,
}

const fn read(
    route: &'static str,
    path: fn(&Fixture) -> String,
    api: &'static [Write],
    cli: Cli,
) -> Read {
    Read {
        route,
        path,
        who: Who::Key,
        api,
        cli,
    }
}

/// Every cached read (see the module's description).
const READS: &[Read] = &[
    // Administration.
    read(
        "/api/admin/1/tenant",
        |_| "/api/admin/1/tenant".into(),
        &[Write::RenameTenant],
        Cli::KeyRateLimit,
    ),
    read(
        "/api/admin/1/users",
        |_| "/api/admin/1/users".into(),
        &[Write::Invite],
        Cli::CreateUser,
    ),
    read(
        "/api/admin/1/users/me",
        |_| "/api/admin/1/users/me".into(),
        &[Write::RenameMe],
        Cli::AddToTenant,
    ),
    Read {
        who: Who::Token,
        ..read(
            "/api/admin/1/users/me/keys",
            |_| "/api/admin/1/users/me/keys".into(),
            &[Write::NewKey],
            Cli::MaxKeyLifetime,
        )
    },
    read(
        "/api/admin/1/users/{id}",
        |f| format!("/api/admin/1/users/{}", f.invited),
        &[Write::Promote, Write::Withdraw],
        Cli::RemoveUser,
    ),
    // The tenant's elements, each kind's list and one by id, and the paged lists.
    read(
        "/api/draw/1/element/customPageComponent",
        |_| "/api/draw/1/element/customPageComponent".into(),
        &[Write::RenameElement("customPageComponent")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/element/customPageComponent/{id}",
        |f| f.element("customPageComponent"),
        &[Write::RenameElement("customPageComponent")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/element/identityprovider",
        |_| "/api/draw/1/element/identityprovider".into(),
        &[Write::RenameElement("identityprovider")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/element/identityprovider/{id}",
        |f| f.element("identityprovider"),
        &[Write::RenameElement("identityprovider")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/element/macro",
        |_| "/api/draw/1/element/macro".into(),
        &[Write::RenameElement("macro")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/element/macro/{id}",
        |f| f.element("macro"),
        &[Write::RenameElement("macro")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/element/page",
        |_| "/api/draw/1/element/page".into(),
        &[Write::RenameElement("page")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/element/page/{id}",
        |f| f.element("page"),
        &[Write::RenameElement("page")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/element/service",
        |_| "/api/draw/1/element/service".into(),
        &[Write::RenameElement("service")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/element/service/{id}",
        |f| f.element("service"),
        &[Write::RenameElement("service")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/element/tag",
        |_| "/api/draw/1/element/tag".into(),
        &[Write::RenameElement("tag")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/element/tag/{id}",
        |f| f.element("tag"),
        &[Write::RenameElement("tag")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/element/type",
        |_| "/api/draw/1/element/type".into(),
        &[Write::RenameElement("type")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/element/type/{id}",
        |f| f.element("type"),
        &[Write::RenameElement("type")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/element/value",
        |_| "/api/draw/1/element/value".into(),
        &[Write::RenameElement("value")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/element/value/{id}",
        |f| f.element("value"),
        &[Write::RenameElement("value")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/2/element/page",
        |_| "/api/draw/2/element/page".into(),
        &[Write::RenameElement("page")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/2/element/service",
        |_| "/api/draw/2/element/service".into(),
        &[Write::RenameElement("service")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/2/element/type",
        |_| "/api/draw/2/element/type".into(),
        &[Write::RenameElement("type")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/2/element/value",
        |_| "/api/draw/2/element/value".into(),
        &[Write::RenameElement("value")],
        Cli::Cannot(NO_CLI),
    ),
    // Flows: the tenant elements one uses, the list, active versions, snapshots, the flow, its
    // own elements, its graphs.
    read(
        "/api/draw/1/element/flow/{flow}/{elementType}",
        |f| format!("/api/draw/1/element/flow/{}/value", f.flow),
        &[Write::RenameElement("value")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/flow",
        |_| FLOW.into(),
        &[Write::RenameFlow],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/flow/active",
        |_| format!("{FLOW}/active"),
        &[Write::Activate],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/flow/active/name/{name}",
        |f| format!("{FLOW}/active/name/{}", f.name),
        &[Write::Activate],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/flow/active/{id}",
        |f| format!("{FLOW}/active/{}", f.flow),
        &[Write::Activate],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/flow/snap/{flow}",
        |f| format!("{FLOW}/snap/{}", f.flow),
        &[Write::Snapshot],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/flow/snap/{flow}/diff/{versionBefore}/{versionAfter}",
        |f| format!("{FLOW}/snap/{}/diff/{}/{}", f.flow, f.first, f.second),
        &[Write::DeleteFlow],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/flow/snap/{flow}/{version}",
        |f| format!("{FLOW}/snap/{}/{}", f.flow, f.first),
        &[Write::DeleteFlow],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/flow/{id}",
        |f| format!("{FLOW}/{}", f.flow),
        &[Write::RenameFlow],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/flow/{id}/{editingToken}/element/group",
        |f| f.flow_elements("group"),
        &[Write::RenameFlowElement("group")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/flow/{id}/{editingToken}/element/group/{elementId}",
        |f| format!("{}/{}", f.flow_elements("group"), f.group),
        &[Write::RenameFlowElement("group")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/flow/{id}/{editingToken}/element/map",
        |f| f.flow_elements("map"),
        &[Write::RenameFlowElement("map")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/flow/{id}/{editingToken}/element/map/{elementId}",
        |f| format!("{}/{}", f.flow_elements("map"), f.start),
        &[Write::RenameFlowElement("map")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/flow/{id}/{editingToken}/element/navigation",
        |f| f.flow_elements("navigation"),
        &[Write::RenameFlowElement("navigation")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/flow/{id}/{editingToken}/element/navigation/{elementId}",
        |f| format!("{}/{}", f.flow_elements("navigation"), f.navigation),
        &[Write::RenameFlowElement("navigation")],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/1/graph/flow/{flow}",
        |f| format!("/api/draw/1/graph/flow/{}", f.flow),
        &[Write::RenameFlow],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/2/flow/snap/{flow}",
        |f| format!("/api/draw/2/flow/snap/{}", f.flow),
        &[Write::Snapshot],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/draw/2/graph/flow/{flow}",
        |f| format!("/api/draw/2/graph/flow/{}", f.flow),
        &[Write::RenameFlowElement("map")],
        Cli::Cannot(NO_CLI),
    ),
    // Packages.
    read(
        "/api/package/1/flow/{id}",
        |f| format!("/api/package/1/flow/{}", f.flow),
        &[Write::RenameFlow],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/package/1/flow/{id}/{version}",
        |f| format!("/api/package/1/flow/{}/{}", f.flow, f.first),
        &[Write::DeleteFlow],
        Cli::Cannot(NO_CLI),
    ),
    read(
        "/api/package/1/tenant",
        |_| "/api/package/1/tenant".into(),
        &[Write::RenameFlow],
        Cli::Cannot(NO_CLI),
    ),
];

/// Whether `path` (without its query) is one `route` matches: a `{…}` segment matches any.
fn matches(route: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    let (route, path): (Vec<&str>, Vec<&str>) =
        (route.split('/').collect(), path.split('/').collect());
    route.len() == path.len()
        && route
            .iter()
            .zip(&path)
            .all(|(want, got)| (want.starts_with('{') && !got.is_empty()) || want == got)
}

/// Every route template of `CACHED` is in [`READS`] once, and nothing else is.
#[test]
fn every_cached_route_is_in_the_list() {
    let cached: BTreeSet<&str> = keyflow::api::cached_reads::routes().collect();
    let mut listed = BTreeMap::new();
    for read in READS {
        *listed.entry(read.route).or_insert(0) += 1;
    }
    let twice: Vec<_> = listed.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "listed twice: {twice:?}");
    let listed: BTreeSet<&str> = listed.into_keys().collect();
    let missing: Vec<_> = cached.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "cached reads no test covers: {missing:?}"
    );
    let extra: Vec<_> = listed.difference(&cached).collect();
    assert!(extra.is_empty(), "listed but not cached: {extra:?}");
}

/// A name or an address no other in this test binary has.
fn fresh(what: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{what}{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// What one read is made of: a flow with a group, a navigation element and two snapshots (the
/// first active), a tenant element of every kind (the value imported into the flow), an
/// invited user. Shared by the reads whose writes leave it fit for the next
/// ([`Write::spends_its_fixture`]), made anew for the others.
#[derive(Clone)]
struct Fixture {
    flow: String,
    name: String,
    token: String,
    start: String,
    group: String,
    navigation: String,
    first: String,
    second: String,
    elements: BTreeMap<&'static str, String>,
    invited: String,
    invited_email: String,
}

impl Fixture {
    fn element(&self, kind: &str) -> String {
        format!("/api/draw/1/element/{kind}/{}", self.elements[kind])
    }

    fn flow_elements(&self, kind: &str) -> String {
        format!("{FLOW}/{}/{}/element/{kind}", self.flow, self.token)
    }

    async fn new(app: &TestApp, creds: &Creds) -> Fixture {
        let key = &creds.key;
        let name = fresh("flow ");
        let flow = send(
            app,
            key,
            Method::POST,
            FLOW,
            Some(json!({"developerName": name})),
        )
        .await;
        let id = flow["id"]["id"].as_str().unwrap().to_string();
        let start = flow["startMapElementId"].as_str().unwrap().to_string();
        let mut elements = BTreeMap::new();
        for kind in KINDS {
            let body = json!({"developerName": fresh(kind)});
            let path = format!("/api/draw/1/element/{kind}");
            let made = send(app, key, Method::POST, &path, Some(body)).await;
            elements.insert(kind, made["id"].as_str().unwrap().to_string());
        }
        let import = format!("/api/draw/1/element/flow/{id}/value/{}", elements["value"]);
        let imported = app
            .with_key(Method::POST, &import, key)
            .send()
            .await
            .unwrap();
        assert_eq!(imported.status(), StatusCode::OK, "{import}");
        let group = json!({"elementType": "GROUP", "developerName": "Lane", "x": 0, "y": 0,
                           "width": 400, "height": 200});
        let group = flow_element(app, key, &id, "group", group).await;
        let navigation = json!({"elementType": "NAVIGATION", "developerName": "Menu",
                                "label": "Main", "navigationItems": [{"label": "Home", "order": 1}],
                                "persistState": true});
        let navigation = flow_element(app, key, &id, "navigation", navigation).await;
        let snap = format!("{FLOW}/snap/{id}");
        let first = send(app, key, Method::POST, &snap, Some(json!("one"))).await;
        let first = first["id"]["versionId"].as_str().unwrap().to_string();
        let second = send(app, key, Method::POST, &snap, Some(json!("two"))).await;
        let second = second["id"]["versionId"].as_str().unwrap().to_string();
        let activation = format!("{FLOW}/activation/{id}/{first}/true/true");
        send(app, key, Method::POST, &activation, None).await;
        let invited_email = format!("{}@example.com", fresh("invited"));
        let invited = app
            .invite(&creds.token, &app.tenant_id, &invited_email)
            .await;
        Fixture {
            token: editing_token(app, key, &id).await,
            flow: id,
            name,
            start,
            group,
            navigation,
            first,
            second,
            elements,
            invited: invited["id"].as_str().unwrap().to_string(),
            invited_email,
        }
    }
}

/// The administrator's key and token (or a member's).
struct Creds {
    key: String,
    token: String,
}

/// A request through the API with `key`, its 200's JSON (Null when it has no body).
async fn send(app: &TestApp, key: &str, method: Method, path: &str, body: Option<Value>) -> Value {
    let request = app.with_key(method, path, key);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn editing_token(app: &TestApp, key: &str, flow: &str) -> String {
    let flow = send(app, key, Method::GET, &format!("{FLOW}/{flow}"), None).await;
    flow["editingToken"].as_str().unwrap().to_string()
}

/// Saves a flow's own element through its current editing token; its id.
async fn flow_element(app: &TestApp, key: &str, flow: &str, kind: &str, body: Value) -> String {
    let token = editing_token(app, key, flow).await;
    let path = format!("{FLOW}/{flow}/{token}/element/{kind}");
    let saved = send(app, key, Method::POST, &path, Some(body)).await;
    saved["id"].as_str().unwrap().to_string()
}

/// Reads `path`, renames what it answers, and saves it through `save`.
async fn rename(app: &TestApp, key: &str, path: &str, save: &str) {
    let mut body = send(app, key, Method::GET, path, None).await;
    body["developerName"] = json!(fresh("renamed "));
    send(app, key, Method::POST, save, Some(body)).await;
}

/// Makes `write` through the API of `app`.
async fn write_through_api(app: &TestApp, creds: &Creds, fixture: &Fixture, write: Write) {
    let (key, token) = (&creds.key, &creds.token);
    let flow = &fixture.flow;
    match write {
        Write::RenameFlow => rename(app, key, &format!("{FLOW}/{flow}"), FLOW).await,
        Write::Snapshot => {
            send(
                app,
                key,
                Method::POST,
                &format!("{FLOW}/snap/{flow}"),
                Some(json!("more")),
            )
            .await;
        }
        Write::Activate => {
            let snap = format!("{FLOW}/snap/{flow}");
            let made = send(app, key, Method::POST, &snap, Some(json!("new"))).await;
            let version = made["id"]["versionId"].as_str().unwrap();
            let activation = format!("{FLOW}/activation/{flow}/{version}/true/true");
            send(app, key, Method::POST, &activation, None).await;
        }
        Write::DeleteFlow => {
            send(app, key, Method::DELETE, &format!("{FLOW}/{flow}"), None).await;
        }
        Write::RenameElement(kind) => {
            let list = format!("/api/draw/1/element/{kind}");
            rename(app, key, &fixture.element(kind), &list).await;
        }
        Write::RenameFlowElement(kind) => {
            let id = match kind {
                "map" => &fixture.start,
                "group" => &fixture.group,
                _ => &fixture.navigation,
            };
            let elements = format!(
                "{FLOW}/{flow}/{}/element/{kind}",
                editing_token(app, key, flow).await
            );
            rename(app, key, &format!("{elements}/{id}"), &elements).await;
        }
        Write::RenameTenant => {
            let body = json!({"developerName": fresh("tenant-"), "developerSummary": "s"});
            let changed = app
                .with_token(Method::POST, "/api/admin/1/tenant", token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_json(changed, StatusCode::OK).await;
        }
        Write::Invite => {
            let email = format!("{}@example.com", fresh("more"));
            app.invite(token, &app.tenant_id, &email).await;
        }
        Write::RenameMe => {
            let renamed = app
                .with_token(Method::PUT, "/api/admin/1/users/me", token)
                .json(&json!({"firstName": fresh("Ada")}))
                .send()
                .await
                .unwrap();
            assert_eq!(renamed.status(), StatusCode::OK);
        }
        Write::NewKey => {
            app.new_key_for(token, &fresh("key"), &app.tenant_id).await;
        }
        Write::Withdraw => {
            let path = format!("/api/admin/1/users/{}", fixture.invited);
            let withdrawn = app
                .with_token(Method::DELETE, &path, token)
                .send()
                .await
                .unwrap();
            assert_eq!(withdrawn.status(), StatusCode::OK);
        }
        Write::Promote => {
            let path = format!("/api/admin/1/users/{}", fixture.invited);
            let promoted = app
                .with_token(Method::PUT, &path, token)
                .json(&json!({"role": {"developerName": "ADMINISTRATOR"}}))
                .send()
                .await
                .unwrap();
            assert_eq!(promoted.status(), StatusCode::OK);
        }
    }
}

/// Makes `write` through the command line on `app`'s store; false when it cannot.
async fn write_through_cli(app: &TestApp, fixture: &Fixture, write: Cli) -> bool {
    let tenant = app.tenant_id.as_str();
    let run = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = app.cli(&args, None).await;
        assert!(out.status.success(), "{args:?}: {}", show(&out));
    };
    match write {
        Cli::Cannot(_) => return false,
        Cli::CreateUser => {
            let email = format!("{}@example.com", fresh("made"));
            app.create_user(&email, "made password", tenant).await;
        }
        Cli::AddToTenant => {
            let other = app.create_tenant(&fresh("Other-")).await;
            app.add_user(&app.admin_email, &other).await;
        }
        Cli::RemoveUser => app.remove_user(&fixture.invited_email, tenant).await,
        Cli::KeyRateLimit => {
            // High enough never to limit the test's own reads.
            let rate = (100_000 + fresh("").parse::<u64>().unwrap() % 100_000).to_string();
            let args = ["tenant", "key-rate-limit", "--tenant", tenant];
            let mut args: Vec<String> = args.map(String::from).to_vec();
            args.extend(["--requests-per-second".into(), rate.clone()]);
            args.extend(["--burst".into(), rate]);
            run(args).await;
        }
        Cli::MaxKeyLifetime => {
            let args = [
                "tenant",
                "max-key-lifetime",
                "--tenant",
                tenant,
                "--days",
                "3650",
            ];
            run(args.map(String::from).to_vec()).await;
        }
    }
    true
}

/// Where reads go: an instance's address, and its state (for its read cache's hits).
struct Reader<'a> {
    client: &'a reqwest::Client,
    base: String,
    state: &'a AppState,
}

impl Reader<'_> {
    fn of(app: &TestApp) -> Reader<'_> {
        Reader {
            client: &app.client,
            base: app.url(""),
            state: &app.state,
        }
    }

    fn hits(&self) -> u64 {
        self.state.metrics.read_cache_hits.load(Ordering::Relaxed)
    }

    /// `GET path` as `who`: the status and the body (JSON, or the text as a string).
    async fn get(&self, path: &str, who: Who, creds: &Creds) -> (StatusCode, Value) {
        let request = self.client.get(format!("{}{path}", self.base));
        let request = match who {
            Who::Key => request.header(KEY_HEADER, &creds.key),
            Who::Token => request.header("authorization", format!("Bearer {}", creds.token)),
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    /// Reads `path` until the read cache answers it (a hit counted, the same answer): the
    /// answer it now holds. A few tries: a key's last use, written behind, moves the key list.
    async fn prime(&self, path: &str, who: Who, creds: &Creds) -> (StatusCode, Value) {
        let mut last = self.get(path, who, creds).await;
        assert_eq!(last.0, StatusCode::OK, "{path}: {}", last.1);
        for _ in 0..5 {
            let hits = self.hits();
            let again = self.get(path, who, creds).await;
            if self.hits() > hits && again == last {
                return again;
            }
            last = again;
        }
        panic!("{path}: never answered from the read cache");
    }

    /// Reads `path` until its answer differs from `primed`: the next read when `bound` is
    /// None, else polled within it.
    async fn changed(
        &self,
        path: &str,
        who: Who,
        creds: &Creds,
        primed: &(StatusCode, Value),
        bound: Option<Duration>,
        what: &str,
    ) {
        let since = Instant::now();
        loop {
            if self.get(path, who, creds).await != *primed {
                return;
            }
            assert!(
                bound.is_some_and(|bound| since.elapsed() < bound),
                "{path}: stale after {what} (bound {bound:?})"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// An app whose keys' rate limits let a whole list be read with one key.
async fn spawn() -> TestApp {
    TestApp::spawn_with(|config| {
        config.key_requests_per_second = 100_000;
        config.key_burst = 100_000;
    })
    .await
}

/// The administrator's key and token on `app`.
async fn administrator(app: &TestApp) -> Creds {
    let token = app.admin_token().await;
    Creds {
        key: app.new_key_for(&token, "stale reads", &app.tenant_id).await,
        token,
    }
}

/// For every read of [`READS`]: a fresh fixture, the read primed on `reader`, the API write
/// made on `app`, the change seen by `reader` (at once, or within `bound`).
async fn api_writes(app: &TestApp, reader: &Reader<'_>, creds: &Creds, bound: Option<Duration>) {
    let mut shared: Option<Fixture> = None;
    for (read, &write) in READS
        .iter()
        .flat_map(|read| read.api.iter().map(move |write| (read, write)))
    {
        // A key of its own for each read: a key's rate limit would refuse a whole list's reads.
        let creds = &Creds {
            key: app
                .new_key_for(&creds.token, &fresh("key"), &app.tenant_id)
                .await,
            token: creds.token.clone(),
        };
        let fixture = if write.spends_its_fixture() {
            Fixture::new(app, creds).await
        } else {
            if shared.is_none() {
                shared = Some(Fixture::new(app, creds).await);
            }
            let shared = shared.as_mut().expect("made above");
            // The flow's own elements' writes moved its editing token.
            shared.token = editing_token(app, &creds.key, &shared.flow).await;
            shared.clone()
        };
        let path = (read.path)(&fixture);
        assert!(matches(read.route, &path), "{path} is not {}", read.route);
        let primed = reader.prime(&path, read.who, creds).await;
        write_through_api(app, creds, &fixture, write).await;
        let what = format!("{write:?} through the API");
        reader
            .changed(&path, read.who, creds, &primed, bound, &what)
            .await;
    }
}

async fn every_cached_read_shows_an_api_write_on_the_next_read() {
    let app = spawn().await;
    let creds = administrator(&app).await;
    api_writes(&app, &Reader::of(&app), &creds, None).await;
}

async fn every_cached_read_shows_a_command_line_write() {
    let app = spawn().await;
    let creds = administrator(&app).await;
    let reader = Reader::of(&app);
    let bound = (app.backend() == Backend::Postgres).then_some(BOUND);
    let mut written = 0;
    for read in READS {
        if let Cli::Cannot(why) = read.cli {
            assert!(!why.is_empty(), "{}: say why not", read.route);
            continue;
        }
        let fixture = Fixture::new(&app, &creds).await;
        let path = (read.path)(&fixture);
        let primed = reader.prime(&path, read.who, &creds).await;
        assert!(write_through_cli(&app, &fixture, read.cli).await);
        let what = format!("{:?} through the command line", read.cli);
        reader
            .changed(&path, read.who, &creds, &primed, bound, &what)
            .await;
        written += 1;
    }
    assert_eq!(
        written, 5,
        "the command line changes the five administration reads"
    );
}

/// A member (an administrator, so every read answers them) primes every cached read with their
/// key and token; the command line removes them; none of those reads answers them again.
async fn every_cached_read_refuses_a_member_the_command_line_removed() {
    let app = spawn().await;
    let admin = administrator(&app).await;
    let email = "removed@example.com";
    let invited = app
        .try_invite(
            &admin.token,
            &app.tenant_id,
            json!({"email": email, "role": {"developerName": "ADMINISTRATOR"}}),
        )
        .await;
    let invited = assert_json(invited, StatusCode::OK).await;
    app.accept_invitation(&invited, "member password").await;
    let token = app.login(email, "member password").await;
    let member = Creds {
        key: app.new_key_for(&token, "member", &app.tenant_id).await,
        token,
    };
    let fixture = Fixture::new(&app, &admin).await;
    let reader = Reader::of(&app);
    let mut primed = Vec::new();
    for read in READS {
        let path = (read.path)(&fixture);
        reader.prime(&path, read.who, &member).await;
        primed.push((path, read.who));
    }
    app.remove_user(email, &app.tenant_id).await;
    let bound = (app.backend() == Backend::Postgres).then_some(BOUND);
    for (path, who) in &primed {
        let since = Instant::now();
        loop {
            let (status, _) = reader.get(path, *who, &member).await;
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                break;
            }
            assert!(
                bound.is_some_and(|bound| since.elapsed() < bound),
                "{path}: answered {status} to a removed member"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// On PostgreSQL, every read of [`READS`] primed on another instance (B) shows the API write
/// made through the first (A) within the bound.
#[tokio::test]
async fn every_cached_read_on_another_instance_sees_a_write_within_the_bound() {
    let Some((a, b, _url)) = crate::instances::two_instances("stale_reads_across").await else {
        return;
    };
    let creds = administrator(&a).await;
    let reader = Reader {
        client: &b.client,
        base: b.address.clone(),
        state: &b.state,
    };
    api_writes(&a, &reader, &creds, Some(BOUND)).await;
}
