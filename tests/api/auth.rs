//! Administrator authentication over HTTP.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn first_sign_up_works_and_a_second_is_refused() {
    let app = spawn_app().await;
    let first_run: Value = app
        .client
        .get(app.url("/api/auth/first-run"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first_run, json!({"firstRun": true}));

    let tokens = app.sign_up_admin().await;
    assert!(tokens["accessToken"].as_str().unwrap().starts_with("eyJ"));
    assert!(tokens["refreshToken"].as_str().unwrap().starts_with("eyJ"));
    assert_eq!(tokens["expiresIn"], 900);

    let first_run: Value = app
        .client
        .get(app.url("/api/auth/first-run"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first_run, json!({"firstRun": false}));

    let res = app
        .post_json(
            "/api/auth/sign-up",
            &json!({"username": "mallory", "password": PASSWORD}),
        )
        .await;
    let body = problem(res, 403).await;
    assert_eq!(body["code"], "signup_closed");
    assert_eq!(
        app.sign_in("mallory", PASSWORD).await.status(),
        401,
        "no account was created"
    );
}

#[tokio::test]
async fn concurrent_first_sign_ups_create_exactly_one_admin() {
    let app = spawn_app().await;
    let bodies: Vec<Value> = (0..6)
        .map(|i| json!({"username": format!("admin{i}"), "password": PASSWORD}))
        .collect();
    let attempts = bodies.iter().map(|b| app.post_json("/api/auth/sign-up", b));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 403),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn sign_up_is_open_when_configured() {
    let app = spawn_app_with(|s| s.auth.allow_signup = true).await;
    app.sign_up_admin().await;
    let res = app
        .post_json(
            "/api/auth/sign-up",
            &json!({"username": "second", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post_json(
            "/api/auth/sign-up",
            &json!({"username": "SECOND", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        problem(res, 409).await["code"],
        "username_taken",
        "names are unique whatever their case"
    );
}

#[tokio::test]
async fn sign_up_enforces_the_username_and_password_rules() {
    let app = spawn_app().await;
    for (username, password, field) in [
        ("ab", PASSWORD, "username"),
        ("bad name", PASSWORD, "username"),
        (&"x".repeat(65) as &str, PASSWORD, "username"),
        ("admin", "short", "password"),
        ("admin", "elevenchars", "password"),
    ] {
        let res = app
            .post_json(
                "/api/auth/sign-up",
                &json!({"username": username, "password": password}),
            )
            .await;
        let body = problem(res, 400).await;
        assert_eq!(body["field"], field, "{username:?}/{password:?}: {body}");
    }
    let first_run: Value = app
        .client
        .get(app.url("/api/auth/first-run"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first_run["firstRun"], true, "nothing was created");
}

#[tokio::test]
async fn sign_in_returns_tokens_that_open_me() {
    let app = spawn_app().await;
    app.sign_up_admin().await;
    let res = app.sign_in("ADMIN", PASSWORD).await;
    assert_eq!(res.status(), 200, "usernames match case-insensitively");
    let tokens: Value = res.json().await.unwrap();
    let me: Value = app
        .get_auth("/api/auth/me", tokens["accessToken"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "admin");
    assert!(me["id"].as_str().unwrap().len() == 36);
    assert!(me["createdAt"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    app.sign_up_admin().await;
    let wrong = problem(app.sign_in("admin", "wrong password!!").await, 401).await;
    let unknown = problem(app.sign_in("nobody", PASSWORD).await, 401).await;
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["code"], "invalid_credentials");
}

#[tokio::test]
async fn password_guessing_is_throttled_per_username_with_retry_after() {
    let app = spawn_app_with(|s| s.auth.max_failed_sign_ins_per_username = 3).await;
    app.sign_up_admin().await;
    for _ in 0..3 {
        assert_eq!(app.sign_in("admin", "wrong password!!").await.status(), 401);
    }
    let res = app.sign_in("admin", PASSWORD).await;
    assert_eq!(
        res.status(),
        429,
        "even the right password waits once the limit is reached"
    );
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900, "Retry-After {retry}");
    assert_eq!(problem(res, 429).await["code"], "too_many_requests");
}

#[tokio::test]
async fn password_guessing_is_throttled_per_address_across_usernames() {
    let app = spawn_app_with(|s| s.auth.max_failed_sign_ins_per_address = 4).await;
    app.sign_up_admin().await;
    for i in 0..4 {
        assert_eq!(
            app.sign_in(&format!("user{i}"), "wrong password!!")
                .await
                .status(),
            401
        );
    }
    assert_eq!(app.sign_in("admin", PASSWORD).await.status(), 429);
}

#[tokio::test]
async fn a_spoofed_forwarded_for_does_not_escape_the_throttle() {
    let app = spawn_app_with(|s| s.auth.max_failed_sign_ins_per_address = 2).await;
    for i in 0..4 {
        let res = app
            .client
            .post(app.url("/api/auth/sign-in"))
            .header("X-Forwarded-For", format!("198.51.100.{i}"))
            .json(&json!({"username": format!("user{i}"), "password": "wrong password!!"}))
            .send()
            .await
            .unwrap();
        let expected = if i < 2 { 401 } else { 429 };
        assert_eq!(res.status(), expected, "attempt {i}");
    }
}

#[tokio::test]
async fn a_trusted_proxy_forwards_the_client_address() {
    let app = spawn_app_with(|s| {
        s.auth.max_failed_sign_ins_per_address = 2;
        s.auth.max_failed_sign_ins_per_username = 100;
        s.http.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let attempt = |ip: &'static str| {
        app.client
            .post(app.url("/api/auth/sign-in"))
            .header("X-Forwarded-For", ip)
            .json(&json!({"username": "someone", "password": "wrong password!!"}))
            .send()
    };
    assert_eq!(attempt("198.51.100.1").await.unwrap().status(), 401);
    assert_eq!(attempt("198.51.100.1").await.unwrap().status(), 401);
    assert_eq!(attempt("198.51.100.1").await.unwrap().status(), 429);
    assert_eq!(
        attempt("198.51.100.2").await.unwrap().status(),
        401,
        "another client is not throttled"
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let app = spawn_app().await;
    let first = app.sign_up_admin().await;
    let r1 = first["refreshToken"].as_str().unwrap();

    let res = app
        .post_json("/api/auth/refresh", &json!({"refreshToken": r1}))
        .await;
    assert_eq!(res.status(), 200);
    let second: Value = res.json().await.unwrap();
    let r2 = second["refreshToken"].as_str().unwrap();
    assert_ne!(r1, r2, "a new refresh token");
    let a2 = second["accessToken"].as_str().unwrap();
    assert_eq!(app.get_auth("/api/auth/me", a2).await.status(), 200);

    // The spent token comes back: an attacker replaying it. The whole family dies.
    let body = problem(
        app.post_json("/api/auth/refresh", &json!({"refreshToken": r1}))
            .await,
        401,
    )
    .await;
    assert_eq!(body["code"], "invalid_token");
    assert!(
        body["detail"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    assert_eq!(
        app.post_json("/api/auth/refresh", &json!({"refreshToken": r2}))
            .await
            .status(),
        401,
        "the newest token is revoked too"
    );
    assert_eq!(
        app.get_auth("/api/auth/me", a2).await.status(),
        401,
        "and the session's access token"
    );

    // Other sessions are untouched.
    let other: Value = app
        .sign_in("admin", crate::helpers::PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        app.get_auth("/api/auth/me", other["accessToken"].as_str().unwrap())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn access_and_refresh_tokens_are_not_interchangeable() {
    let app = spawn_app().await;
    let tokens = app.sign_up_admin().await;
    let res = app
        .get_auth("/api/auth/me", tokens["refreshToken"].as_str().unwrap())
        .await;
    assert_eq!(problem(res, 401).await["code"], "invalid_token");
    let res = app
        .post_json(
            "/api/auth/refresh",
            &json!({"refreshToken": tokens["accessToken"]}),
        )
        .await;
    assert_eq!(problem(res, 401).await["code"], "invalid_token");
}

fn forge(claims: &Value, key: &[u8], alg: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .unwrap()
}

fn claims_of(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn forged_unsigned_and_expired_tokens_are_refused() {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    let app = spawn_app().await;
    let tokens = app.sign_up_admin().await;
    let access = tokens["accessToken"].as_str().unwrap();
    let claims = claims_of(access);
    let real_key = crate::helpers::master_key().derive(secrets::KeyPurpose::JwtSigning);

    // Sanity: the harness can mint a token the server accepts, so the refusals below are real.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut fresh = claims.clone();
    fresh["iat"] = json!(now);
    fresh["exp"] = json!(now + 60);
    assert_eq!(
        app.get_auth(
            "/api/auth/me",
            &forge(&fresh, real_key.expose(), jsonwebtoken::Algorithm::HS256)
        )
        .await
        .status(),
        200
    );

    let mut expired = claims.clone();
    expired["iat"] = json!(now - 3600);
    expired["exp"] = json!(now - 1800);
    let res = app
        .get_auth(
            "/api/auth/me",
            &forge(&expired, real_key.expose(), jsonwebtoken::Algorithm::HS256),
        )
        .await;
    assert!(
        problem(res, 401).await["detail"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    let foreign = forge(
        &fresh,
        b"some other key that is long enough!!",
        jsonwebtoken::Algorithm::HS256,
    );
    assert_eq!(app.get_auth("/api/auth/me", &foreign).await.status(), 401);

    let wrong_alg = forge(&fresh, real_key.expose(), jsonwebtoken::Algorithm::HS512);
    assert_eq!(app.get_auth("/api/auth/me", &wrong_alg).await.status(), 401);

    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(fresh.to_string())
    );
    assert_eq!(app.get_auth("/api/auth/me", &none).await.status(), 401);

    let res = app
        .client
        .get(app.url("/api/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"sluice\"");
    assert_eq!(problem(res, 401).await["code"], "missing_token");
}

#[tokio::test]
async fn sign_out_ends_the_session_at_once() {
    let app = spawn_app().await;
    let tokens = app.sign_up_admin().await;
    let access = tokens["accessToken"].as_str().unwrap();
    let res = app
        .client
        .post(app.url("/api/auth/sign-out"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.get_auth("/api/auth/me", access).await.status(),
        401,
        "the access token stops working"
    );
    let res = app
        .post_json(
            "/api/auth/refresh",
            &json!({"refreshToken": tokens["refreshToken"]}),
        )
        .await;
    assert_eq!(res.status(), 401, "the refresh token too");
}

#[tokio::test]
async fn sign_out_with_a_refresh_token_ends_that_session_only() {
    let app = spawn_app().await;
    let a = app.sign_up_admin().await;
    let b: Value = app.sign_in("admin", PASSWORD).await.json().await.unwrap();
    let res = app
        .client
        .post(app.url("/api/auth/sign-out"))
        .bearer_auth(a["accessToken"].as_str().unwrap())
        .json(&json!({"refreshToken": b["refreshToken"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.get_auth("/api/auth/me", b["accessToken"].as_str().unwrap())
            .await
            .status(),
        401
    );
    assert_eq!(
        app.get_auth("/api/auth/me", a["accessToken"].as_str().unwrap())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn change_password_checks_the_old_one_and_ends_other_sessions() {
    let app = spawn_app().await;
    let a = app.sign_up_admin().await;
    let b: Value = app.sign_in("admin", PASSWORD).await.json().await.unwrap();
    let access = a["accessToken"].as_str().unwrap();
    let change = |current: &str, new: &str| {
        app.client
            .post(app.url("/api/auth/change-password"))
            .bearer_auth(access)
            .json(&json!({"currentPassword": current, "newPassword": new}))
            .send()
    };
    let body = problem(
        change("wrong password!!", "a brand new passphrase")
            .await
            .unwrap(),
        401,
    )
    .await;
    assert_eq!(body["field"], "currentPassword");
    let body = problem(change(PASSWORD, "short").await.unwrap(), 400).await;
    assert_eq!(body["field"], "newPassword");

    let res = change(PASSWORD, "a brand new passphrase").await.unwrap();
    assert_eq!(res.status(), 200);
    let fresh: Value = res.json().await.unwrap();
    assert_eq!(
        app.get_auth("/api/auth/me", fresh["accessToken"].as_str().unwrap())
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get_auth("/api/auth/me", b["accessToken"].as_str().unwrap())
            .await
            .status(),
        401
    );
    assert_eq!(app.get_auth("/api/auth/me", access).await.status(), 401);
    assert_eq!(app.sign_in("admin", PASSWORD).await.status(), 401);
    assert_eq!(
        app.sign_in("admin", "a brand new passphrase")
            .await
            .status(),
        200
    );
}
