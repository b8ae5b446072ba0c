//! Porthole's test kit (native only): the real servers the client is tested against.
//!
//! * [`Registry`]: Debian's `docker-registry` (distribution 2.8) on a free loopback port, in
//!   [`AuthMode::Anonymous`], [`AuthMode::Basic`] (htpasswd) or [`AuthMode::Token`] mode.
//! * [`TokenServer`]: a Docker token server whose RS256 tokens the registry verifies.
//! * [`CorsFront`]: nginx in front of a registry, answering CORS preflights for browser tests.
//! * [`NativeTransport`]: a plain-http [`porthole_core::Transport`] for native tests.
//! * [`HttpServer`]: a small stub server that records requests (redirect targets, probes).
//! * [`FaultProxy`]: a proxy in front of a registry that injects network and protocol faults on
//!   a deterministic schedule and counts them.
//! * [`AcrEmulator`]: Azure Container Registry's token exchange, `/acr/v1` metadata and image
//!   locks in front of a token-mode registry.
//!
//! Everything started here stops on drop: processes are killed and temp dirs removed.

pub mod acr;
pub mod cors;
pub mod fault;
pub mod front;
mod http1;
pub mod process;
pub mod registry;
pub mod server;
pub mod token;
pub mod transport;
pub mod users;

pub use acr::{AcrBuilder, AcrEmulator, AcrIdentity};
pub use fault::{Fault, FaultProxy, ProxyEvent, Rule};
pub use front::CorsFront;
pub use process::{free_port, process_alive, TempDir};
pub use registry::{AuthMode, Registry, RegistryBuilder, TrustedIssuer};
pub use server::{HttpServer, ServerRequest, ServerResponse};
pub use token::{Scope, TokenServer};
pub use transport::{NativeBodyStream, NativeTransport};
pub use users::{default_users, Grant, User};

/// Why the kit could not do what a test asked (a server would not start, a tool is missing).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct KitError {
    message: String,
}

impl KitError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}
