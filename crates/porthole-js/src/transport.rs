//! One `AbortSignal` per call, however many calls run at once on one client.
//!
//! A client (with its token cache) is shared by every call made through it, so the signal cannot
//! live in the transport the way [`FetchTransport::set_abort_signal`] keeps it: two concurrent
//! calls would clobber each other's. Instead each call's future is wrapped in [`with_signal`]
//! (porthole-browser's [`porthole_browser::with_abort_signal`]), which makes the call's signal
//! the *current* one while (and only while) that future is polled; [`JsTransport`] sends each
//! request through a `FetchTransport` without a signal of its own, which reads the current one
//! when the request starts, on the same poll.
//!
//! A clean-up after an abort (an upload session's `DELETE` and the token it needs, run by the
//! core under `porthole_core::transport::cleanup`) goes out without the signal:
//! [`FetchTransport`] sees to that, so the registry drops the session at once instead of
//! keeping it until it expires.

pub use porthole_browser::{with_abort_signal as with_signal, WithAbortSignal as WithSignal};
use porthole_browser::{FetchBody, FetchTransport};
use porthole_core::{Request, Response, Transport, TransportError};
use web_sys::Blob;

/// The package's transport: `fetch`, with the abort signal of the call that sends the request.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsTransport;

impl Transport for JsTransport {
    type NativeBody = Blob;
    type Stream = FetchBody;

    async fn send(&self, request: Request<Blob>) -> Result<Response<FetchBody>, TransportError> {
        FetchTransport::new().send(request).await
    }

    fn now_millis(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    async fn sleep(&self, millis: u64) {
        // The call's signal ends the wait too: an abort during a long back-off or `Retry-After`
        // takes effect at once.
        FetchTransport::new().sleep(millis).await;
    }

    fn aborted(&self) -> Option<TransportError> {
        FetchTransport::new().aborted()
    }

    async fn until_aborted(&self) {
        FetchTransport::new().until_aborted().await;
    }
}
