//! RS256 JWTs for the emulator: signing shells out to `openssl` like the token server, and so
//! does verifying (`openssl dgst -verify` against the key's public half). Verified tokens are
//! remembered, so a client that reuses a token costs one `openssl` run, not one per request.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::process::run;
use crate::token::{cert_der_base64, generate_named_key_pair, openssl_sign};
use crate::KitError;

/// One RSA key: signs JWTs and checks their signatures.
#[derive(Debug)]
pub(crate) struct Key {
    key_path: PathBuf,
    cert_path: PathBuf,
    public_path: PathBuf,
    cert_der_b64: String,
    /// Put `x5c` (the certificate) in headers: distribution finds the key that way.
    with_x5c: bool,
    kid: String,
    scratch: PathBuf,
    verified: Mutex<HashSet<String>>,
}

impl Key {
    /// Generates a key and certificate named `stem` in `dir`.
    pub(crate) fn generate(
        dir: &Path,
        stem: &str,
        common_name: &str,
        with_x5c: bool,
    ) -> Result<Self, KitError> {
        let (key_path, cert_path) = generate_named_key_pair(dir, stem, common_name)?;
        let public = run(
            Command::new("openssl")
                .args(["x509", "-pubkey", "-noout", "-in"])
                .arg(&cert_path),
            "openssl x509 -pubkey",
        )?;
        let public_path = dir.join(format!("{stem}.pub.pem"));
        fs::write(&public_path, public)
            .map_err(|e| KitError::new(format!("cannot write {}: {e}", public_path.display())))?;
        Ok(Self {
            cert_der_b64: cert_der_base64(&cert_path)?,
            key_path,
            cert_path,
            public_path,
            with_x5c,
            kid: stem.to_string(),
            scratch: dir.to_path_buf(),
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// The PEM certificate of this key.
    pub(crate) fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// A compact JWS of `claims`.
    pub(crate) fn sign(&self, claims: &Value) -> Result<String, KitError> {
        let header = if self.with_x5c {
            json!({"typ": "JWT", "alg": "RS256", "x5c": [self.cert_der_b64]})
        } else {
            json!({"typ": "JWT", "alg": "RS256", "kid": self.kid})
        };
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = openssl_sign(&self.key_path, input.as_bytes())?;
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
        if let Ok(mut verified) = self.verified.lock() {
            verified.insert(token.clone());
        }
        Ok(token)
    }

    /// The claims of `token` when this key signed it; otherwise why not (never the token).
    pub(crate) fn verify(&self, token: &str) -> Result<Value, String> {
        let parts: Vec<&str> = token.split('.').collect();
        let [header, claims, signature] = parts[..] else {
            return Err("it is not a JWT (three dot-separated parts)".into());
        };
        let header = decode_json(header).ok_or("its header is not base64url JSON")?;
        if header["alg"] != "RS256" {
            return Err("it is not signed with RS256".into());
        }
        let claims = decode_json(claims).ok_or("its claims are not base64url JSON")?;
        let known = self.verified.lock().is_ok_and(|v| v.contains(token));
        if !known {
            let signature = URL_SAFE_NO_PAD
                .decode(signature)
                .map_err(|_| "its signature is not base64url")?;
            let input = &token[..token.len() - parts[2].len() - 1];
            if !self.openssl_verify(input.as_bytes(), &signature) {
                return Err("its signature does not verify with this issuer's key".into());
            }
            if let Ok(mut verified) = self.verified.lock() {
                verified.insert(token.to_string());
            }
        }
        Ok(claims)
    }

    fn openssl_verify(&self, data: &[u8], signature: &[u8]) -> bool {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let sig_path = self.scratch.join(format!("verify-{n}.sig"));
        if fs::write(&sig_path, signature).is_err() {
            return false;
        }
        let result = (|| {
            let mut child = Command::new("openssl")
                .args(["dgst", "-sha256", "-verify"])
                .arg(&self.public_path)
                .arg("-signature")
                .arg(&sig_path)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()?;
            // A JWT's signing input is small, well under a pipe buffer.
            child.stdin.take()?.write_all(data).ok()?;
            Some(child.wait().ok()?.success())
        })();
        let _ = fs::remove_file(&sig_path);
        result.unwrap_or(false)
    }
}

/// The JSON in a base64url JWT part.
pub(crate) fn decode_json(part: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}
