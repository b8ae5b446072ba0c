//! JS credentials to [`Credential`]s.
//!
//! - nothing (`undefined`): anonymous (the registry's anonymous tokens are still fetched);
//! - `{ username, password }`: Basic auth, or sent to the registry's token server;
//! - `{ token }`: a bearer token sent as it is;
//! - anything with `getToken(scopes)` resolving to `{ token, expiresOnTimestamp }`: an Azure AD
//!   credential exchanged at ACR ([`Credential::AadToken`]) or a registry token provider
//!   ([`Credential::TokenProvider`]), as the client options' `tokenKind` says; by default AAD
//!   for `*.azurecr.*` hosts or when an `audience` is set, else as the registry's first
//!   challenge says ([`Credential::AadOrRegistryToken`]: ACR's token server, or a proxy's in
//!   front of it, is `/oauth2/token` on the registry's origin). Tokens are kept until two
//!   minutes before `expiresOnTimestamp`, per list of scopes.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Promise};
use porthole_browser::FetchTransport;
use porthole_core::auth::TokenFuture;
use porthole_core::{Credential, Secret, Url};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::glue::{describe, get, type_error};

#[wasm_bindgen(module = "/js/helpers.js")]
extern "C" {
    /// `promise`, rejected as soon as `signal` aborts (its listener removed once settled).
    #[wasm_bindgen(js_name = untilAborted)]
    fn until_aborted(promise: Promise, signal: Option<&web_sys::AbortSignal>) -> Promise;
}
use crate::types::ContainerRegistryClientOptions;

/// Tokens are renewed this long before they expire.
const EXPIRY_MARGIN_MS: f64 = 120_000.0;

/// Whether a second constructor argument is a credential (rather than the options bag).
pub(crate) fn is_credential(value: &JsValue) -> bool {
    ["getToken", "username", "password", "token"]
        .iter()
        .any(|key| !get(value, key).is_undefined())
}

/// Whether a `getToken` credential gives Azure AD tokens for this registry; `None` when the
/// registry's first challenge is to decide (the host does not say, and nothing was set).
fn is_aad(base: &Url, options: &ContainerRegistryClientOptions) -> Result<Option<bool>, JsValue> {
    match options.token_kind.as_deref() {
        Some("aad") => Ok(Some(true)),
        Some("registry") => Ok(Some(false)),
        Some(other) => Err(type_error(&format!(
            "tokenKind must be \"aad\" or \"registry\", not {other:?}"
        ))),
        None => Ok(
            (porthole_core::acr::is_acr_host(base) || options.audience.is_some()).then_some(true),
        ),
    }
}

/// The credential a JS value stands for.
pub(crate) fn credential(
    value: &JsValue,
    base: &Url,
    options: &ContainerRegistryClientOptions,
) -> Result<Credential, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(Credential::Anonymous);
    }
    let get_token = get(value, "getToken");
    if let Some(get_token) = get_token.dyn_ref::<Function>() {
        let provider = token_provider(value.clone(), get_token.clone());
        return Ok(match is_aad(base, options)? {
            Some(true) => Credential::AadToken {
                provider,
                audience: options.audience.clone(),
                tenant: None,
            },
            Some(false) => Credential::TokenProvider(provider),
            None => Credential::AadOrRegistryToken(provider),
        });
    }
    if let (Some(username), Some(password)) = (
        get(value, "username").as_string(),
        get(value, "password").as_string(),
    ) {
        return Ok(Credential::basic(username, password));
    }
    if let Some(token) = get(value, "token").as_string() {
        return Ok(Credential::Bearer(Secret::new(token)));
    }
    Err(type_error(
        "the credential must be { username, password }, { token }, or an object with \
         getToken(scopes) such as an @azure/identity credential",
    ))
}

type Cache = Rc<RefCell<Vec<(Vec<String>, Secret, f64)>>>;

fn token_provider(object: JsValue, get_token: Function) -> porthole_core::auth::TokenProvider {
    let cache: Cache = Rc::default();
    Rc::new(move |scopes: Vec<String>| -> TokenFuture {
        let (object, get_token, cache) = (object.clone(), get_token.clone(), cache.clone());
        // The signal of the call asking (current now, while the call is polled): getToken gets
        // it (`GetTokenOptions.abortSignal`), and an abort ends the wait for it even when it
        // does not listen.
        let signal = FetchTransport::new().abort_signal();
        Box::pin(async move {
            let now = js_sys::Date::now();
            if let Some((_, token, _)) = cache
                .borrow()
                .iter()
                .find(|(s, _, expires)| s == &scopes && *expires - EXPIRY_MARGIN_MS > now)
            {
                return Ok(token.clone());
            }
            let list: Array = scopes.iter().map(|s| JsValue::from_str(s)).collect();
            let options = js_sys::Object::new();
            if let Some(signal) = &signal {
                crate::glue::set(&options, "abortSignal", signal);
            }
            let promise = get_token
                .call2(&object, &list, &options)
                .map_err(|e| format!("getToken threw: {}", describe(&e)))?;
            let answer = JsFuture::from(until_aborted(Promise::resolve(&promise), signal.as_ref()))
                .await
                .map_err(|e| format!("getToken failed: {}", describe(&e)))?;
            let token = get(&answer, "token").as_string().ok_or_else(|| {
                "getToken gave no token (it must resolve to { token, expiresOnTimestamp })"
                    .to_string()
            })?;
            let expires = get(&answer, "expiresOnTimestamp").as_f64().unwrap_or(0.0);
            let token = Secret::new(token);
            let mut cache = cache.borrow_mut();
            cache.retain(|(s, _, _)| s != &scopes);
            cache.push((scopes, token.clone(), expires));
            Ok(token)
        })
    })
}
