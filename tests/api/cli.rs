//! The administration CLI, run against the data directory of a running server.

use std::process::Output;

use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, both_backends, show};

both_backends! {
    tenant_create_prints_exactly_a_uuid_line,
    tenant_ids_are_uuid_v7_in_creation_order_and_name_their_tenant,
    a_tenants_first_user_administers_it_and_the_next_is_standard,
    user_create_reads_the_password_from_stdin_and_the_user_can_sign_in,
    user_create_takes_a_role_and_names,
    user_add_gives_an_existing_user_another_tenant,
    an_unknown_tenant_is_an_error,
    a_tenant_id_that_is_not_a_uuid_is_an_error,
    a_duplicate_email_is_an_error,
    an_empty_or_short_password_is_an_error,
    an_unknown_email_is_an_error,
    serve_refuses_zero_workers_before_opening_anything,
    user_add_and_remove_leave_the_audit_records_the_api_leaves,
    tenant_key_rate_limit_sets_the_tenants_default_and_bound_by_the_apis_rule,
}

/// Exit status 1, nothing on stdout, one `error: …` line on stderr.
fn assert_cli_error(out: &Output) {
    assert_eq!(out.status.code(), Some(1), "{}", show(out));
    assert!(
        out.stdout.is_empty(),
        "stdout should be empty: {}",
        show(out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {}", show(out));
    assert!(lines[0].starts_with("error:"), "{}", show(out));
}

fn user_create<'a>(email: &'a str, tenant: &'a str) -> [&'a str; 6] {
    ["user", "create", "--email", email, "--tenant", tenant]
}

async fn tenant_create_prints_exactly_a_uuid_line() {
    let app = TestApp::spawn().await;
    let out = app.cli(&["tenant", "create", "--name", "Acme"], None).await;
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let id = stdout.strip_suffix('\n').expect("ends with a newline");
    assert!(!id.contains('\n'), "one line only: {stdout:?}");
    let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
    assert_eq!(stdout, format!("{}\n", parsed.hyphenated()));
}

/// README: "Ids are UUID v7", time-ordered; and each id names the tenant created with it.
async fn tenant_ids_are_uuid_v7_in_creation_order_and_name_their_tenant() {
    let app = TestApp::spawn().await;
    let a = app.second_tenant("Alpha").await;
    let b = app.second_tenant("Beta").await;
    let ids: Vec<uuid::Uuid> = [&app.tenant_id, &a, &b]
        .iter()
        .map(|id| uuid::Uuid::parse_str(id).unwrap())
        .collect();
    for id in &ids {
        assert_eq!(id.get_version_num(), 7, "{id}");
    }
    assert!(ids[0] < ids[1] && ids[1] < ids[2], "{ids:?}");
    let me = app.me(&app.admin_token().await).await;
    for (id, name) in [(&a, "Alpha"), (&b, "Beta")] {
        let tenant = me["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} is not listed: {me}"));
        assert_eq!(tenant["developerName"], name);
    }
}

/// README: "A tenant's first user is its administrator unless `--role` says otherwise"; the
/// users after it are standard users, refused tenant administration.
async fn a_tenants_first_user_administers_it_and_the_next_is_standard() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Fresh").await;
    app.create_user("first@example.com", "first's password", &tenant)
        .await;
    app.create_user("second@example.com", "second's password", &tenant)
        .await;
    for (email, password, role, users) in [
        (
            "first@example.com",
            "first's password",
            "ADMINISTRATOR",
            StatusCode::OK,
        ),
        (
            "second@example.com",
            "second's password",
            "STANDARD_USER",
            StatusCode::FORBIDDEN,
        ),
    ] {
        let token = app.login(email, password).await;
        let me = app.me(&token).await;
        assert_eq!(me["tenants"][0]["id"], tenant.as_str());
        assert_eq!(me["tenants"][0]["role"], role, "{email}");
        let list = app
            .with_token(reqwest::Method::GET, "/api/admin/1/users", &token)
            .header("manywhotenant", &tenant)
            .send()
            .await
            .unwrap();
        assert_eq!(list.status(), users, "{email} listing the tenant's users");
    }
}

async fn user_create_reads_the_password_from_stdin_and_the_user_can_sign_in() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Acme").await;
    let out = app
        .cli(
            &user_create("carol@example.com", &tenant),
            Some("carol's password\n"),
        )
        .await;
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let id = uuid::Uuid::parse_str(stdout.strip_suffix('\n').unwrap()).expect("a user id");

    // The trailing newline was stripped: the password is exactly what was typed.
    let token = app.login("carol@example.com", "carol's password").await;
    let wrong = app
        .try_login("carol@example.com", "carol's password\n")
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let me = app.me(&token).await;
    assert_eq!(me["id"], id.to_string().as_str());
    assert_eq!(me["email"], "carol@example.com");
    let tenants = me["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 1);
    assert_eq!(tenants[0]["id"], tenant.as_str());
    assert_eq!(tenants[0]["developerName"], "Acme");
}

async fn user_create_takes_a_role_and_names() {
    let app = TestApp::spawn().await;
    let args = [
        "user",
        "create",
        "--email",
        "dan@example.com",
        "--tenant",
        &app.tenant_id,
        "--role",
        "standard",
        "--first-name",
        "Dan",
        "--last-name",
        "Brown",
    ];
    let out = app.cli(&args, Some("dan's password\n")).await;
    assert!(out.status.success(), "{}", show(&out));
    let me = app
        .me(&app.login("dan@example.com", "dan's password").await)
        .await;
    assert_eq!(me["firstName"], "Dan");
    assert_eq!(me["lastName"], "Brown");
    assert_eq!(me["tenants"][0]["role"], "STANDARD_USER");
}

async fn user_add_gives_an_existing_user_another_tenant() {
    let app = TestApp::spawn().await;
    let other = app.create_tenant("Other").await;
    let out = app.add_admin_to(&other).await;
    assert!(out.status.success(), "{}", show(&out));
    let me = app.me(&app.admin_token().await).await;
    let tenant = me["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == other.as_str())
        .expect("the new tenant is listed");
    assert_eq!(tenant["role"], "ADMINISTRATOR");
}

async fn an_unknown_tenant_is_an_error() {
    let app = TestApp::spawn().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let out = app
        .cli(
            &user_create("eve@example.com", &unknown),
            Some("long enough\n"),
        )
        .await;
    assert_cli_error(&out);
    let add = [
        "user",
        "add",
        "--email",
        &app.admin_email,
        "--tenant",
        &unknown,
    ];
    assert_cli_error(&app.cli(&add, None).await);
}

async fn a_tenant_id_that_is_not_a_uuid_is_an_error() {
    let app = TestApp::spawn().await;
    let seed = "b70ef1d6-edc9-4481-94b9-d81g126e32d1";
    assert_cli_error(
        &app.cli(&user_create("eve@example.com", seed), Some("long enough\n"))
            .await,
    );
    let remove = [
        "user",
        "remove",
        "--email",
        &app.admin_email,
        "--tenant",
        "Example",
    ];
    assert_cli_error(&app.cli(&remove, None).await);
}

async fn a_duplicate_email_is_an_error() {
    let app = TestApp::spawn().await;
    let out = app
        .cli(
            &user_create(&app.admin_email, &app.tenant_id),
            Some("long enough\n"),
        )
        .await;
    assert_cli_error(&out);
    // The administrator's password is unchanged.
    app.admin_token().await;
}

async fn an_empty_or_short_password_is_an_error() {
    let app = TestApp::spawn().await;
    for password in ["", "\n", "short7\n"] {
        let out = app
            .cli(
                &user_create("fay@example.com", &app.tenant_id),
                Some(password),
            )
            .await;
        assert_cli_error(&out);
    }
    let no_user = app.try_login("fay@example.com", "").await;
    assert_eq!(no_user.status(), StatusCode::UNAUTHORIZED);
}

async fn an_unknown_email_is_an_error() {
    let app = TestApp::spawn().await;
    let add = [
        "user",
        "add",
        "--email",
        "ghost@example.com",
        "--tenant",
        &app.tenant_id,
    ];
    assert_cli_error(&app.cli(&add, None).await);
    let remove = [
        "user",
        "remove",
        "--email",
        "ghost@example.com",
        "--tenant",
        &app.tenant_id,
    ];
    assert_cli_error(&app.cli(&remove, None).await);
}

async fn serve_refuses_zero_workers_before_opening_anything() {
    let app = TestApp::spawn().await;
    let out = app
        .cli(
            &["serve", "--listen", "127.0.0.1:0", "--workers", "0"],
            None,
        )
        .await;
    assert!(!out.status.success(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--workers"), "{}", show(&out));
}

/// One audit record: (actor, tenant, action, subject).
type AuditRecord = (Option<String>, Option<String>, String, Option<String>);

/// The audit trail in the order it was written, read from the database beside the server
/// (without the sign-ins, which the two paths compared here do not make alike).
async fn audit_trail(app: &TestApp) -> Vec<AuditRecord> {
    use sqlx::Connection;
    if app.backend() == Backend::Postgres {
        // No rowid: the order of writing is the records' times (the command line and the
        // server write from different processes), the ids breaking ties.
        let mut db = app.postgres().await;
        let records = sqlx::query_as(
            "SELECT actor_id::text, tenant_id::text, action, subject FROM audit_events \
             WHERE action <> 'user.signed_in' ORDER BY at, id",
        )
        .fetch_all(&mut db)
        .await
        .unwrap();
        db.close().await.unwrap();
        return records;
    }
    let mut db = app.database().await;
    let records = sqlx::query_as(
        "SELECT actor_id, tenant_id, action, subject FROM audit_events \
         WHERE action <> 'user.signed_in' ORDER BY rowid",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    records
}

/// `user add` and `user remove` follow the API's membership rules and leave the same audit
/// records (the same actions, tenant and user): the command line's with no actor, the API's
/// with whoever acted. Over the API a membership begins when its invitation is accepted, so
/// the `user.added` there is the user's own, after the administrator's `user.invited`.
async fn user_add_and_remove_leave_the_audit_records_the_api_leaves() {
    let app = TestApp::spawn().await;
    let other = app.create_tenant("Other").await;
    let bob = app
        .create_user("bob@example.com", "bob's password", &other)
        .await;
    let created = audit_trail(&app).await;
    let record = |actor: Option<&str>, tenant: &str, action: &str| -> AuditRecord {
        let tenant = Some(tenant.to_string());
        let subject = Some(bob.clone());
        (
            actor.map(str::to_string),
            tenant,
            action.to_string(),
            subject,
        )
    };
    assert_eq!(created.last(), Some(&record(None, &other, "user.added")));

    // The command line adds bob to Example and removes him again.
    app.add_user("bob@example.com", &app.tenant_id).await;
    app.remove_user("bob@example.com", &app.tenant_id).await;
    let by_cli = audit_trail(&app).await.split_off(created.len());

    // The administrator makes the same change over the API: an invitation, which bob accepts
    // (his membership begins then, by his own act), then the removal.
    let token = app.admin_token().await;
    let admin = app.me(&token).await["id"].as_str().unwrap().to_string();
    let invited = app.invite(&token, &app.tenant_id, "bob@example.com").await;
    app.accept_invitation(&invited, "bob's password").await;
    let path = format!("/api/admin/1/users/{bob}");
    let removed = app
        .with_token(reqwest::Method::DELETE, &path, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::OK);
    let by_api = audit_trail(&app)
        .await
        .split_off(created.len() + by_cli.len());

    let tenant = app.tenant_id.as_str();
    assert_eq!(
        by_cli,
        vec![
            record(None, tenant, "user.added"),
            record(None, tenant, "user.removed"),
        ]
    );
    assert_eq!(
        by_api,
        vec![
            record(Some(&admin), tenant, "user.invited"),
            record(Some(&bob), tenant, "user.added"),
            record(Some(&admin), tenant, "user.removed"),
        ]
    );
}

/// README, "Configuration": a password given as `--database` (or `--admin-password`) is on
/// the command line, where every local user reads it; keyflow warns, naming the variable to
/// use, and never the password. The same URL from `KEYFLOW_DATABASE_URL` is not warned of.
/// (Nothing listens on port 1, so the command fails at once after the warning.)
#[tokio::test]
async fn a_password_on_the_command_line_is_warned_of_but_not_one_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let url = "postgres://keyflow:canary-password@127.0.0.1:1/keyflow";
    let run = |flag: bool| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_keyflow"));
        command
            .args(["tenant", "create", "--name", "Acme", "--data-dir"])
            .arg(dir.path().join("data"));
        crate::helpers::clean_env(&mut command);
        if flag {
            command.args(["--database", url]);
        } else {
            command.env("KEYFLOW_DATABASE_URL", url);
        }
        command.kill_on_drop(true).output()
    };
    let flagged = run(true).await.unwrap();
    let stderr = String::from_utf8_lossy(&flagged.stderr);
    assert!(
        stderr.contains("--database puts a secret on the command line")
            && stderr.contains("KEYFLOW_DATABASE_URL"),
        "{}",
        show(&flagged)
    );
    let from_environment = run(false).await.unwrap();
    let quiet = String::from_utf8_lossy(&from_environment.stderr);
    assert!(
        !quiet.contains("puts a secret"),
        "{}",
        show(&from_environment)
    );
    for out in [&flagged, &from_environment] {
        assert_eq!(out.status.code(), Some(1), "{}", show(out));
        assert!(!show(out).contains("canary-password"), "{}", show(out));
    }
}

/// The `RateLimit-Limit` the key's next answer carries once the server took the command's
/// change. On a data directory the command told the server through its control socket before
/// it returned: the very next answer. On PostgreSQL the server hears the change's announcement
/// as it arrives, after the command returns: polled, within a bound.
async fn next_limit(app: &TestApp, key: &str, expected: u64) -> Option<u64> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let limit = limit_header(&app.list_flows(Some(key), None).await);
        if app.backend() == Backend::Sqlite
            || limit == Some(expected)
            || std::time::Instant::now() > deadline
        {
            return limit;
        }
        tokio::task::yield_now().await;
    }
}

/// The `RateLimit-Limit` of an answer (the burst this instance allows the key).
fn limit_header(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get("ratelimit-limit")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// README: `keyflow tenant key-rate-limit` sets what `tenantSettings.apiKeyRateLimit` sets,
/// by the same rule, and the running server's cached keys take it at once.
async fn tenant_key_rate_limit_sets_the_tenants_default_and_bound_by_the_apis_rule() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "plain", &app.tenant_id).await;
    // Cached with the server's default (burst 200) first.
    let before = app.list_flows(Some(&key), None).await;
    assert_eq!(limit_header(&before), Some(200));
    let tenant = app.tenant_id.clone();
    let set = |extra: &'static [&'static str]| {
        let mut args = vec!["tenant", "key-rate-limit", "--tenant", tenant.as_str()];
        args.extend_from_slice(extra);
        args
    };
    let out = app
        .cli(&set(&["--requests-per-second", "2", "--burst", "4"]), None)
        .await;
    assert!(out.status.success(), "{}", show(&out));
    assert!(out.stdout.is_empty(), "{}", show(&out));
    // The running server was told: the cached key has the tenant's limit now.
    assert_eq!(next_limit(&app, &key, 4).await, Some(4));
    let answer = app
        .with_token(reqwest::Method::GET, "/api/admin/1/tenant", &token)
        .send()
        .await
        .unwrap();
    let answer: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(
        answer["tenantSettings"]["apiKeyRateLimit"],
        serde_json::json!({ "requestsPerSecond": 2, "burst": 4 })
    );
    // It bounds the keys' own limits, as the API's setting does.
    let above = serde_json::json!({ "name": "fast", "tenantId": tenant,
        "rateLimit": { "requestsPerSecond": 3, "burst": 4 } });
    let refused = app
        .with_token(reqwest::Method::POST, "/api/admin/1/users/me/keys", &token)
        .json(&above)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Out of range, one figure without the other, both ways at once, or neither: refused,
    // and the limit stays.
    for bad in [
        &["--requests-per-second", "0", "--burst", "1"][..],
        &["--requests-per-second", "1", "--burst", "1000001"],
        &["--requests-per-second", "5"],
        &["--burst", "5"],
        &["--none", "--burst", "5"],
        &[],
    ] {
        let out = app.cli(&set(bad), None).await;
        assert!(!out.status.success(), "{bad:?}: {}", show(&out));
        assert!(out.stdout.is_empty(), "{bad:?}: {}", show(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("error"),
            "{bad:?}: {}",
            show(&out)
        );
    }
    let unknown = uuid::Uuid::new_v4().to_string();
    let args = [
        "tenant",
        "key-rate-limit",
        "--tenant",
        &unknown,
        "--requests-per-second",
        "5",
        "--burst",
        "5",
    ];
    assert_cli_error(&app.cli(&args, None).await);
    let still = app.list_flows(Some(&key), None).await;
    assert_eq!(limit_header(&still), Some(4));

    // `--none`: back to the server's default.
    let out = app.cli(&set(&["--none"]), None).await;
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(next_limit(&app, &key, 200).await, Some(200));
}
