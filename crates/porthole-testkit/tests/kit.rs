//! The kit against the real servers: registries in every mode, the token server, the nginx
//! front and the native transport's redirect and streaming behaviour.

use std::io::{Read, Write};
use std::net::TcpStream;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use futures::executor::block_on;
use porthole_core::{
    Body, BodyStream, Digest, Headers, Method, Request, Transport, TransportErrorKind, Url,
};
use porthole_testkit::users::{ALICE, ALICE_PASSWORD, READER, READER_PASSWORD};
use porthole_testkit::{
    free_port, process_alive, AuthMode, Grant, HttpServer, NativeTransport, Registry,
    ServerResponse, User,
};
use serde_json::Value;

/// Status, headers and the whole body of one exchange.
struct Answer {
    status: u16,
    headers: Headers,
    body: Vec<u8>,
    chunks: Vec<usize>,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

fn send(request: Request<Vec<u8>>) -> Answer {
    block_on(async {
        let mut response = NativeTransport::new()
            .send(request)
            .await
            .expect("an answer");
        let (mut body, mut chunks) = (Vec::new(), Vec::new());
        while let Some(chunk) = response.body.next_chunk().await.expect("a readable body") {
            chunks.push(chunk.len());
            body.extend_from_slice(&chunk);
        }
        Answer {
            status: response.status,
            headers: response.headers,
            body,
            chunks,
        }
    })
}

fn get(url: Url) -> Request<Vec<u8>> {
    Request::new(Method::Get, url)
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

/// A token from the registry's realm for `scope`, as `user` (basic auth on GET /token).
fn token_for(registry: &Registry, user: &str, password: &str, scope: &str) -> String {
    let server = registry.token_server().unwrap();
    let realm = url(&server.realm())
        .with_query_param("service", server.service())
        .with_query_param("scope", scope);
    let answer = send(get(realm).header("Authorization", basic(user, password)));
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let body = answer.json();
    assert_eq!(body["token"], body["access_token"]);
    assert_eq!(body["expires_in"], 300);
    body["token"].as_str().unwrap().to_string()
}

/// The `access` claim of a JWT (the middle part, base64url JSON).
fn access_claim(jwt: &str) -> Value {
    let claims = jwt.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    claims["access"].clone()
}

#[test]
fn anonymous_registry_answers_and_cleans_up_on_drop() {
    let registry = Registry::start(AuthMode::Anonymous).unwrap();
    let answer = send(get(registry.endpoint("/v2/")));
    assert_eq!(answer.status, 200, "{}", registry.log_tail(20));
    assert_eq!(answer.header("access-control-allow-origin"), "*");
    assert!(answer
        .header("access-control-expose-headers")
        .contains("Docker-Content-Digest"));
    let (pid, data) = (registry.pid(), registry.data_dir());
    assert!(process_alive(pid));
    drop(registry);
    assert!(
        !process_alive(pid),
        "registry {pid} still running after drop"
    );
    assert!(!data.parent().unwrap().exists(), "temp dir left behind");
}

#[test]
fn blobs_stream_up_and_down_in_pieces() {
    let registry = Registry::start(AuthMode::Anonymous).unwrap();
    let blob: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let digest = Digest::sha256_of(&blob);
    // distribution 2.8 ignores a monolithic POST (it answers 202 and opens a session), so
    // open one and PUT the bytes to its Location.
    let post = Request::new(
        Method::Post,
        registry.endpoint("/v2/kit/stream/blobs/uploads/"),
    );
    let started = send(post);
    assert_eq!(started.status, 202, "{}", registry.log_tail(20));
    let location = registry
        .endpoint("/")
        .join(started.header("location"))
        .unwrap()
        .with_query_param("digest", digest.as_str());
    let len = blob.len() as u64;
    let put = Request::new(Method::Put, location)
        .header("Content-Type", "application/octet-stream")
        .with_body(Body::Native {
            body: blob.clone(),
            len,
        });
    assert_eq!(send(put).status, 201, "{}", registry.log_tail(20));
    let path = format!("/v2/kit/stream/blobs/{digest}");
    let answer = send(get(registry.endpoint(&path)));
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, blob);
    assert!(answer.chunks.len() > 1 && answer.chunks.iter().all(|&n| n <= 64 * 1024));
    let head = send(Request::new(Method::Head, registry.endpoint(&path)));
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("content-length"), blob.len().to_string());
}

#[test]
fn basic_registry_checks_passwords() {
    let registry = Registry::start(AuthMode::Basic).unwrap();
    let v2 = registry.endpoint("/v2/");
    let challenge = send(get(v2.clone()));
    assert_eq!(challenge.status, 401);
    assert!(challenge
        .header("www-authenticate")
        .starts_with("Basic realm="));
    let ok = send(get(v2.clone()).header("Authorization", basic(ALICE, ALICE_PASSWORD)));
    assert_eq!(ok.status, 200, "{}", registry.log_tail(20));
    let wrong = send(get(v2).header("Authorization", basic(ALICE, "not-the-password")));
    assert_eq!(wrong.status, 401);
}

#[test]
fn token_registry_enforces_granted_scopes() {
    let registry = Registry::start(AuthMode::Token).unwrap();
    let challenge = send(get(registry.endpoint("/v2/")));
    assert_eq!(challenge.status, 401);
    let header = challenge.header("www-authenticate");
    let server = registry.token_server().unwrap();
    assert!(header.starts_with("Bearer "), "{header}");
    assert!(
        header.contains(&format!("realm=\"{}\"", server.realm())),
        "{header}"
    );
    assert!(
        header.contains(&format!("service=\"{}\"", server.service())),
        "{header}"
    );

    let uploads = registry.endpoint("/v2/x/blobs/uploads/");
    let alice = token_for(&registry, ALICE, ALICE_PASSWORD, "repository:x:pull,push");
    let post = Request::new(Method::Post, uploads.clone());
    let started = send(
        post.clone()
            .header("Authorization", format!("Bearer {alice}")),
    );
    assert_eq!(started.status, 202, "{}", registry.log_tail(20));
    assert!(!started.header("location").is_empty());

    let reader = token_for(&registry, READER, READER_PASSWORD, "repository:x:pull,push");
    assert_eq!(
        access_claim(&reader)[0]["actions"],
        serde_json::json!(["pull"])
    );
    let denied = send(post.header("Authorization", format!("Bearer {reader}")));
    assert_eq!(denied.status, 401);
    assert!(
        denied
            .header("www-authenticate")
            .contains("insufficient_scope"),
        "{}",
        denied.header("www-authenticate")
    );
}

#[test]
fn token_server_speaks_oauth2_and_refuses_bad_credentials() {
    let registry = Registry::start(AuthMode::Token).unwrap();
    let server = registry.token_server().unwrap();
    let realm = url(&server.realm());
    let wrong = send(get(realm.clone()).header("Authorization", basic(ALICE, "nope")));
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["error"], "invalid_grant");

    let anonymous = send(get(realm.with_query_param("scope", "repository:x:pull")));
    assert_eq!(anonymous.status, 200);
    assert_eq!(
        access_claim(anonymous.json()["token"].as_str().unwrap()),
        serde_json::json!([])
    );

    let form = format!(
        "grant_type=password&username={ALICE}&password={ALICE_PASSWORD}&service={}\
         &scope=repository%3Ax%3Apull+registry%3Acatalog%3A*&access_type=offline&client_id=kit",
        server.service()
    );
    let first = send(post_form(&realm, form));
    assert_eq!(first.status, 200);
    let body = first.json();
    assert_eq!(
        access_claim(body["access_token"].as_str().unwrap())
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(body["issued_at"].as_str().unwrap().ends_with('Z'));
    let refresh = body["refresh_token"].as_str().unwrap();

    let again = send(post_form(
        &realm,
        format!("grant_type=refresh_token&refresh_token={refresh}"),
    ));
    assert_eq!(again.status, 200);
    let bad = send(post_form(
        &realm,
        "grant_type=refresh_token&refresh_token=nope".into(),
    ));
    assert_eq!(bad.status, 401);

    let catalog = token_for(&registry, ALICE, ALICE_PASSWORD, "registry:catalog:*");
    let listed = send(
        get(registry.endpoint("/v2/_catalog")).header("Authorization", format!("Bearer {catalog}")),
    );
    assert_eq!(listed.status, 200, "{}", registry.log_tail(20));

    let preflight = preflight(&realm);
    assert!(preflight.starts_with("HTTP/1.1 204"), "{preflight}");
    assert!(
        preflight.contains("Access-Control-Allow-Origin: *"),
        "{preflight}"
    );
}

fn post_form(realm: &Url, form: String) -> Request<Vec<u8>> {
    Request::new(Method::Post, realm.clone())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .with_body(Body::Bytes(form.into_bytes()))
}

/// A CORS preflight as a browser sends it. `OPTIONS` is not a method the core sends, so this goes
/// over a raw socket; returns the whole answer as text.
fn preflight(url: &Url) -> String {
    let mut stream = TcpStream::connect(url.authority()).unwrap();
    let request = format!(
        "OPTIONS {} HTTP/1.1\r\nHost: {}\r\nOrigin: http://page.test\r\n\
         Access-Control-Request-Method: PUT\r\n\
         Access-Control-Request-Headers: authorization, content-type\r\nConnection: close\r\n\r\n",
        url.path_and_query(),
        url.authority()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn nginx_front_answers_preflight_and_proxies() {
    let registry = Registry::start(AuthMode::Token).unwrap();
    let front = registry.start_front().unwrap();
    let v2 = url(&format!("{}/v2/", front.url()));
    // The registry itself refuses the preflight: that is why the front exists.
    assert!(preflight(&registry.endpoint("/v2/")).starts_with("HTTP/1.1 401"));
    let answer = preflight(&v2);
    assert!(
        answer.starts_with("HTTP/1.1 204"),
        "{answer}\n{}",
        front.log_tail(20)
    );
    assert!(
        answer.contains("Access-Control-Allow-Origin: *"),
        "{answer}"
    );
    assert!(answer.contains("PATCH"), "{answer}");

    let challenge = send(get(v2));
    assert_eq!(challenge.status, 401, "{}", front.log_tail(20));
    assert_eq!(challenge.header("access-control-allow-origin"), "*");
    assert!(challenge
        .header("access-control-expose-headers")
        .contains("WWW-Authenticate"));

    // Uploads through the front get Locations on the front's origin (Host is passed through).
    let server = registry.token_server().unwrap();
    let token = server
        .issue(Some(ALICE), &["repository:x:push,pull"])
        .unwrap();
    let uploads = url(&format!("{}/v2/x/blobs/uploads/", front.url()));
    let post =
        Request::new(Method::Post, uploads).header("Authorization", format!("Bearer {token}"));
    let started = send(post);
    assert_eq!(started.status, 202, "{}", front.log_tail(20));
    let location = started.header("location");
    assert!(
        location.starts_with(&front.url()) || location.starts_with('/'),
        "{location}"
    );

    let via_front = send(get(url(&format!("{}/token", front.url()))));
    assert_eq!(via_front.status, 200);

    let pid = front.pid();
    drop(front);
    assert!(!process_alive(pid), "nginx {pid} still running after drop");
}

#[test]
fn redirects_keep_authorization_only_on_the_same_origin() {
    let target = HttpServer::start(|_| ServerResponse::new(200).body(b"landed".to_vec())).unwrap();
    let target_url = format!("{}/elsewhere", target.url());
    let origin = HttpServer::start(move |req| match req.path() {
        "/same" => ServerResponse::new(302).header("Location", "/cross"),
        "/cross" => ServerResponse::new(307).header("Location", target_url.clone()),
        _ => ServerResponse::new(404),
    })
    .unwrap();
    let request =
        get(url(&format!("{}/same", origin.url()))).header("Authorization", "Bearer secret-token");
    let answer = send(request);
    assert_eq!(
        (answer.status, answer.body.as_slice()),
        (200, &b"landed"[..])
    );

    let seen = origin.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].path(), "/cross");
    assert_eq!(seen[1].header("authorization"), Some("Bearer secret-token"));
    let landed = target.requests();
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].path(), "/elsewhere");
    assert_eq!(
        landed[0].header("authorization"),
        None,
        "Authorization leaked to another port"
    );
}

#[test]
fn redirect_loops_and_refused_connections_are_errors() {
    let looping =
        HttpServer::start(|_| ServerResponse::new(307).header("Location", "/again")).unwrap();
    let err = block_on(NativeTransport::new().send(get(url(&looping.url())))).unwrap_err();
    assert!(err.message.contains("redirects"), "{err}");
    assert_eq!(looping.requests().len(), 11);

    let closed = url(&format!("http://127.0.0.1:{}/v2/", free_port().unwrap()));
    let err = block_on(NativeTransport::new().send(get(closed))).unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Network);
}

#[test]
fn missing_statuses_are_responses_not_errors() {
    let registry = Registry::start(AuthMode::Anonymous).unwrap();
    let answer = send(get(registry.endpoint("/v2/nothing/manifests/latest")));
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json()["errors"][0]["code"], "MANIFEST_UNKNOWN");
}

#[test]
fn a_missing_registry_binary_says_how_to_install_it() {
    let err = Registry::builder(AuthMode::Anonymous)
        .binary("/nonexistent/docker-registry")
        .start()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "docker-registry is not installed: run `cargo xtask setup`"
    );
}

#[test]
fn custom_users_and_relative_locations() {
    let registry = Registry::builder(AuthMode::Token)
        .users(vec![
            User::new("ci", "ci-pass").grant(Grant::repositories("ci/*", &["pull", "push"]))
        ])
        .relative_urls(true)
        .start()
        .unwrap();
    assert!(registry.user(ALICE).is_none());
    let allowed = token_for(&registry, "ci", "ci-pass", "repository:ci/app:pull,push");
    let elsewhere = token_for(&registry, "ci", "ci-pass", "repository:other:pull,push");
    assert_eq!(access_claim(&elsewhere), serde_json::json!([]));
    let post = Request::new(Method::Post, registry.endpoint("/v2/ci/app/blobs/uploads/"))
        .header("Authorization", format!("Bearer {allowed}"));
    let started = send(post);
    assert_eq!(started.status, 202, "{}", registry.log_tail(20));
    assert!(started
        .header("location")
        .starts_with("/v2/ci/app/blobs/uploads/"));
}
