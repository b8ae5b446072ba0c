//! An nginx front for browser tests: distribution answers a CORS preflight with 401 as soon as
//! auth is on (the browser sends no credentials on preflight), so nginx answers `OPTIONS` itself
//! and proxies the rest.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::cors;
use crate::process::{free_port, log_tail, require_binary, ChildGuard, TempDir};
use crate::registry::{instance_name, wait_until_up};
use crate::KitError;

/// Where nginx-light installs nginx. `PORTHOLE_NGINX_BIN` overrides it.
pub const NGINX_BIN: &str = "/usr/sbin/nginx";

/// A running nginx in front of a registry; killed, and its files removed, on drop.
#[derive(Debug)]
pub struct CorsFront {
    // Field order is drop order: the process goes before its files.
    child: ChildGuard,
    port: u16,
    log_path: PathBuf,
    _dir: TempDir,
}

impl CorsFront {
    /// Starts nginx on a free loopback port in front of `backend` (`http://host:port`).
    /// With `token_backend`, `/token` goes there, so a page can keep the realm on this origin.
    pub fn start(backend: &str, token_backend: Option<&str>) -> Result<Self, KitError> {
        let bin = std::env::var("PORTHOLE_NGINX_BIN").unwrap_or_else(|_| NGINX_BIN.into());
        require_binary(&bin, "nginx is not installed: run `cargo xtask setup`")?;
        let dir = TempDir::new("nginx")?;
        let log_path = dir.path().join("error.log");
        let mut last_error = None;
        // Retried like the registry: the port may be taken between probing and binding.
        for _ in 0..3 {
            let port = free_port()?;
            let conf = dir.path().join("nginx.conf");
            fs::write(&conf, config(&dir, port, backend, token_backend))
                .map_err(|e| KitError::new(format!("cannot write {}: {e}", conf.display())))?;
            let mut command = Command::new(&bin);
            command
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                // -e: nginx opens its default error log before reading the config; that path
                // may not be writable, and it is not ours.
                .arg("-e")
                .arg(&log_path);
            let mut child = ChildGuard::spawn("nginx", command, &dir.path().join("stderr.log"))?;
            let url = format!("http://127.0.0.1:{port}");
            match wait_until_up(&mut child, &url, &log_path, &instance_name(port)) {
                Ok(()) => {
                    return Ok(Self {
                        child,
                        port,
                        log_path,
                        _dir: dir,
                    })
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| KitError::new("nginx did not start")))
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The nginx process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The last lines of nginx's error log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_path, lines)
    }
}

fn config(dir: &TempDir, port: u16, backend: &str, token_backend: Option<&str>) -> String {
    let d = dir.path().display();
    let token_location = token_backend.map_or_else(String::new, |t| {
        // The token server answers CORS (and its own OPTIONS) itself.
        format!("    location = /token {{\n      proxy_pass {t};\n    }}\n")
    });
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
error_log "{d}/error.log" warn;
pid "{d}/nginx.pid";
events {{ worker_connections 512; }}
http {{
  access_log "{d}/access.log";
  client_body_temp_path "{d}/client_body";
  proxy_temp_path "{d}/proxy";
  fastcgi_temp_path "{d}/fastcgi";
  uwsgi_temp_path "{d}/uwsgi";
  scgi_temp_path "{d}/scgi";
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_read_timeout 600s;
    proxy_send_timeout 600s;
{token_location}    # Closes the connection without an answer, as a broken network does: browser tests
    # tell a dropped connection from a CORS block with it.
    location = /porthole-test/dropped {{
      return 444;
    }}
    location / {{
      if ($request_method = OPTIONS) {{
        add_header Access-Control-Allow-Origin "*" always;
        add_header Access-Control-Allow-Methods "{methods}" always;
        add_header Access-Control-Allow-Headers "{allow}" always;
        add_header Access-Control-Max-Age "{max_age}" always;
        return 204;
      }}
      proxy_pass {backend};
      add_header X-Porthole-Instance "{instance}" always;
      # The registry builds absolute Locations from Host: keep them pointing at this front.
      proxy_set_header Host $http_host;
      proxy_hide_header Access-Control-Allow-Origin;
      proxy_hide_header Access-Control-Allow-Methods;
      proxy_hide_header Access-Control-Allow-Headers;
      proxy_hide_header Access-Control-Expose-Headers;
      proxy_hide_header Access-Control-Max-Age;
      add_header Access-Control-Allow-Origin "*" always;
      add_header Access-Control-Expose-Headers "{expose}" always;
    }}
  }}
}}
"#,
        methods = cors::ALLOW_METHODS,
        allow = cors::ALLOW_HEADERS,
        max_age = cors::MAX_AGE,
        expose = cors::EXPOSE_HEADERS,
        instance = instance_name(port),
    )
}
