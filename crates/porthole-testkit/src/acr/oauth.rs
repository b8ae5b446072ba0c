//! `/oauth2/exchange` and `/oauth2/token` (reference/acr-rest-api.md section 3), and the check of
//! the emulator's own access tokens on `/acr/v1`.
//!
//! Error bodies are `AcrErrors` (section 5) with code `UNAUTHORIZED` (401) or `BAD_REQUEST`
//! (400, a malformed form: the references record no body for it). They say which step failed
//! and why, and never contain a token.

use std::sync::atomic::Ordering;

use serde_json::{json, Value};

use super::{acr_error, page_not_found, AcrIdentity, Incoming, Shared, ADMIN_PASSWORD, ADMIN_USER};
use super::{ISSUER, TENANT};
use crate::server::{parse_form, ServerResponse};
use crate::token::{basic_credentials, random_hex, rfc3339, unix_now, Scope};

/// Who a token is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Principal<'a> {
    /// The admin user: everything.
    Admin,
    /// An AAD identity: its role's actions.
    Identity(&'a AcrIdentity),
    /// Nobody (anonymous pull): pull, metadata read and the catalog.
    Anonymous,
}

impl Principal<'_> {
    fn subject(&self) -> String {
        match self {
            Self::Admin => ADMIN_USER.into(),
            Self::Identity(i) => i.object_id.clone(),
            Self::Anonymous => String::new(),
        }
    }

    /// The actions of `scope` this principal may have.
    fn granted(&self, scope: &Scope) -> Vec<String> {
        let allowed = |action: &str| match (self, scope.resource_type.as_str()) {
            (Self::Admin, _) => true,
            (Self::Identity(i), "registry") => i.catalog && scope.name == "catalog",
            (Self::Anonymous, "registry") => scope.name == "catalog",
            (Self::Identity(i), "repository") => i.actions.iter().any(|a| a == action),
            (Self::Anonymous, "repository") => matches!(action, "pull" | "metadata_read"),
            _ => false,
        };
        scope
            .actions
            .iter()
            .filter(|a| allowed(a))
            .cloned()
            .collect()
    }
}

fn bad_request(message: &str) -> ServerResponse {
    acr_error(400, "BAD_REQUEST", message, json!({}))
}

fn unauthorized(message: &str) -> ServerResponse {
    acr_error(401, "UNAUTHORIZED", message, json!({}))
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Routes `/oauth2/...`.
pub(crate) fn handle(shared: &Shared, req: &Incoming) -> ServerResponse {
    let response = match (req.method.as_str(), req.path()) {
        ("POST", "/oauth2/exchange") => exchange(shared, &form(req)),
        ("POST", "/oauth2/token") => token_post(shared, &form(req)),
        ("GET", "/oauth2/token") => token_get(shared, req),
        _ => page_not_found(),
    };
    response.header("Cache-Control", "no-store")
}

fn form(req: &Incoming) -> Vec<(String, String)> {
    parse_form(&String::from_utf8_lossy(&req.body))
}

fn check_service(shared: &Shared, params: &[(String, String)]) -> Result<(), ServerResponse> {
    match param(params, "service") {
        Some(s) if s == shared.service => Ok(()),
        Some(s) => Err(bad_request(&format!(
            "service '{s}' is not this registry ('{}')",
            shared.service
        ))),
        None => Err(bad_request("the form has no service")),
    }
}

/// `POST /oauth2/exchange`: an AAD access token for an ACR refresh token.
fn exchange(shared: &Shared, params: &[(String, String)]) -> ServerResponse {
    if let Err(e) = check_service(shared, params) {
        return e;
    }
    match param(params, "grant_type") {
        Some("access_token" | "access_token_refresh_token") => {}
        Some("refresh_token") => {
            return bad_request("grant_type refresh_token (an AAD refresh token) is not supported by this emulator; use access_token");
        }
        Some(other) => return bad_request(&format!("unknown grant_type '{other}'")),
        None => return bad_request("the form has no grant_type"),
    }
    let Some(aad) = param(params, "access_token").filter(|t| !t.is_empty()) else {
        return bad_request("grant_type access_token needs an access_token");
    };
    let claims = match shared.aad_key.verify(aad) {
        Ok(claims) => claims,
        Err(why) => {
            return unauthorized(&format!(
                "the AAD access token was refused: {why} (only the emulator's test authority is trusted)"
            ))
        }
    };
    let now = unix_now() as i64;
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if exp <= now {
        return unauthorized(&format!(
            "the AAD access token expired at {}",
            rfc3339(exp.max(0) as u64)
        ));
    }
    let audience = claims["aud"].as_str().unwrap_or("");
    if audience.trim_end_matches('/') != shared.audience.trim_end_matches('/') {
        return unauthorized(&format!(
            "the AAD access token is for audience '{audience}', not '{}' (ask for the scope '{}/.default')",
            shared.audience, shared.audience
        ));
    }
    let tid = claims["tid"].as_str().unwrap_or("");
    if let Some(tenant) = param(params, "tenant").filter(|t| !t.is_empty() && *t != tid) {
        return unauthorized(&format!(
            "the AAD access token is from tenant '{tid}', not '{tenant}'"
        ));
    }
    let oid = claims["oid"].as_str().unwrap_or("");
    let Some(identity) = shared.identities.iter().find(|i| i.object_id == oid) else {
        return unauthorized(&format!(
            "the identity '{oid}' has no role assignment on this registry"
        ));
    };
    let claims = json!({
        "jti": random_hex(16),
        "sub": identity.object_id,
        "nbf": now,
        "exp": now + shared.refresh_lifetime.as_secs() as i64,
        "iat": now,
        "iss": ISSUER,
        "aud": shared.service,
        "version": "1.0",
        "grant_type": "refresh_token",
        "tenant": TENANT,
        "permissions": {"actions": ["*"], "notActions": []},
        "roles": [],
    });
    match shared.acr_key.sign(&claims) {
        Ok(token) => ServerResponse::json(200, &json!({ "refresh_token": token })),
        Err(e) => acr_error(500, "INTERNAL_ERROR", &e.to_string(), json!({})),
    }
}

/// `POST /oauth2/token`: a refresh token (or the admin's password, or nothing at all for
/// anonymous pull) for an access token.
fn token_post(shared: &Shared, params: &[(String, String)]) -> ServerResponse {
    if let Err(e) = check_service(shared, params) {
        return e;
    }
    let refresh = param(params, "refresh_token").unwrap_or("");
    let principal = match param(params, "grant_type") {
        Some("refresh_token") => match refresh_principal(shared, refresh) {
            Ok(p) => p,
            Err(e) => return e,
        },
        Some("password") => {
            let user = param(params, "username").unwrap_or("");
            if !user.is_empty() {
                if user != ADMIN_USER || param(params, "password") != Some(ADMIN_PASSWORD) {
                    return unauthorized("wrong user name or password");
                }
                Principal::Admin
            } else if !refresh.is_empty() {
                match refresh_principal(shared, refresh) {
                    Ok(p) => p,
                    Err(e) => return e,
                }
            } else if shared.anonymous_pull.load(Ordering::SeqCst) {
                Principal::Anonymous
            } else {
                return unauthorized(
                    "anonymous pull is not enabled on this registry: send a refresh token",
                );
            }
        }
        Some(other) => return bad_request(&format!("unknown grant_type '{other}'")),
        None => return bad_request("the form has no grant_type"),
    };
    access_token_response(shared, principal, params)
}

/// `GET /oauth2/token?service=&scope=` with the admin user's basic credentials.
fn token_get(shared: &Shared, req: &Incoming) -> ServerResponse {
    let params = req.query();
    if let Err(e) = check_service(shared, &params) {
        return e;
    }
    match req.header("authorization").and_then(basic_credentials) {
        Some((user, password)) if user == ADMIN_USER && password == ADMIN_PASSWORD => {
            access_token_response(shared, Principal::Admin, &params)
        }
        Some(_) => unauthorized("wrong user name or password"),
        None => unauthorized("GET /oauth2/token needs basic credentials (the admin user)"),
    }
}

fn refresh_principal<'a>(shared: &'a Shared, token: &str) -> Result<Principal<'a>, ServerResponse> {
    if token.is_empty() {
        return Err(bad_request(
            "grant_type refresh_token needs a refresh_token",
        ));
    }
    let claims = shared
        .acr_key
        .verify(token)
        .map_err(|why| unauthorized(&format!("the refresh token was refused: {why}")))?;
    if claims["grant_type"] != "refresh_token" {
        return Err(unauthorized(
            "the refresh token was refused: it is not an ACR refresh token",
        ));
    }
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if exp <= unix_now() as i64 {
        return Err(unauthorized(&format!(
            "the refresh token expired at {}: exchange a new AAD token at /oauth2/exchange",
            rfc3339(exp.max(0) as u64)
        )));
    }
    if claims["aud"] != shared.service.as_str() {
        return Err(unauthorized(
            "the refresh token was refused: it is for another registry",
        ));
    }
    let sub = claims["sub"].as_str().unwrap_or("");
    shared
        .identities
        .iter()
        .find(|i| i.object_id == sub)
        .map(Principal::Identity)
        .ok_or_else(|| unauthorized("the refresh token's identity is unknown here"))
}

/// Every `scope` value, each split at spaces.
fn scopes_in(params: &[(String, String)]) -> Vec<Scope> {
    params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').filter_map(Scope::parse).collect::<Vec<_>>())
        .collect()
}

fn access_token_response(
    shared: &Shared,
    principal: Principal<'_>,
    params: &[(String, String)],
) -> ServerResponse {
    match access_token(shared, principal, &scopes_in(params)) {
        Ok(token) => ServerResponse::json(200, &json!({ "access_token": token })),
        Err(e) => acr_error(500, "INTERNAL_ERROR", &e.to_string(), json!({})),
    }
}

/// A signed access token granting `principal` what it may of `scopes`.
pub(crate) fn access_token(
    shared: &Shared,
    principal: Principal<'_>,
    scopes: &[Scope],
) -> Result<String, crate::KitError> {
    let access: Vec<Value> = scopes
        .iter()
        .map(|s| (s, principal.granted(s)))
        .filter(|(_, actions)| !actions.is_empty())
        .map(|(s, actions)| json!({"type": s.resource_type, "name": s.name, "actions": actions}))
        .collect();
    let now = unix_now();
    let claims = json!({
        "jti": random_hex(16),
        "sub": principal.subject(),
        "nbf": now,
        "exp": now + shared.access_lifetime.as_secs(),
        "iat": now,
        "iss": ISSUER,
        "aud": shared.service,
        "version": "1.0",
        "grant_type": "access_token",
        "access": access,
    });
    shared.acr_key.sign(&claims)
}

/// Whether the request's credentials allow `action` on `type:name`: an emulator access token
/// (`Bearer`) or the admin user (`Basic`). `Ok(false)` when they verify but lack the action.
fn allowed(shared: &Shared, req_auth: Option<&str>, scope: &Scope) -> Option<bool> {
    let header = req_auth?;
    if let Some((user, password)) = basic_credentials(header) {
        return (user == ADMIN_USER && password == ADMIN_PASSWORD).then_some(true);
    }
    let (scheme, token) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let claims = shared.acr_key.verify(token.trim()).ok()?;
    let fresh = claims["exp"].as_u64().is_some_and(|exp| exp > unix_now());
    if !fresh || claims["aud"] != shared.service.as_str() || claims["grant_type"] != "access_token"
    {
        return None;
    }
    let empty = Vec::new();
    let access = claims["access"].as_array().unwrap_or(&empty);
    Some(scope.actions.iter().all(|wanted| {
        access.iter().any(|a| {
            a["type"] == scope.resource_type.as_str()
                && a["name"] == scope.name.as_str()
                && a["actions"]
                    .as_array()
                    .is_some_and(|acts| acts.iter().any(|x| x == wanted.as_str() || x == "*"))
        })
    }))
}

/// Whether the request's token carries `action` on repository `name` (no answer built: the
/// proxy uses this to decide whether the registry should answer first).
pub(crate) fn token_allows(shared: &Shared, auth: Option<&str>, name: &str, action: &str) -> bool {
    let scope = Scope {
        resource_type: "repository".into(),
        name: name.into(),
        actions: vec![action.into()],
    };
    allowed(shared, auth, &scope) == Some(true)
}

/// The ACR 401 (section 3): the challenge for `scope` and `UNAUTHORIZED` with the scope's
/// actions as `detail`.
pub(crate) fn challenge_response(
    shared: &Shared,
    scope: &Scope,
    insufficient: bool,
) -> ServerResponse {
    let text = format!(
        "{}:{}:{}",
        scope.resource_type,
        scope.name,
        scope.actions.join(",")
    );
    let detail: Vec<Value> = scope
        .actions
        .iter()
        .map(|a| json!({"Type": scope.resource_type, "Name": scope.name, "Action": a}))
        .collect();
    acr_error(
        401,
        "UNAUTHORIZED",
        "authentication required, visit https://aka.ms/acr/authorization for more information.",
        Value::Array(detail),
    )
    .header("WWW-Authenticate", shared.challenge(&text, insufficient))
}

/// `Ok` when the request may do `action` on `type:name`; otherwise the ACR 401.
pub(crate) fn authorize(
    shared: &Shared,
    req: &Incoming,
    resource_type: &str,
    name: &str,
    action: &str,
) -> Result<(), ServerResponse> {
    let scope = Scope {
        resource_type: resource_type.into(),
        name: name.into(),
        actions: vec![action.into()],
    };
    match allowed(shared, req.header("authorization"), &scope) {
        Some(true) => Ok(()),
        Some(false) => Err(challenge_response(shared, &scope, true)),
        None => Err(challenge_response(shared, &scope, false)),
    }
}
