//! One `AbortSignal` per call, however many calls run at once on one client.
//!
//! A client (with its token cache) is shared by every call made through it, so the signal cannot
//! live in the transport the way [`FetchTransport::set_abort_signal`] keeps it: two concurrent
//! calls would clobber each other's. Instead each call's future is wrapped in [`with_signal`],
//! which makes the call's signal the *current* one while (and only while) that future is polled.
//! [`JsTransport::send`] reads it when a request starts, on the same poll, and gives that
//! request (and the reading of its body) its own [`FetchTransport`].
//!
//! A clean-up after an abort (an upload session's `DELETE` and the token it needs, run by the
//! core under `porthole_core::transport::cleanup`) goes out without the signal:
//! [`FetchTransport`] sees to that, so the registry drops the session at once instead of
//! keeping it until it expires.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use porthole_browser::{FetchBody, FetchTransport};
use porthole_core::{Request, Response, Transport, TransportError};
use web_sys::{AbortSignal, Blob};

thread_local! {
    static CURRENT_SIGNAL: RefCell<Option<AbortSignal>> = const { RefCell::new(None) };
}

/// A future that runs with its own abort signal current (see the module docs).
#[derive(Debug)]
pub struct WithSignal<F> {
    signal: Option<AbortSignal>,
    future: Pin<Box<F>>,
}

/// Runs `future` with `signal` as the current abort signal of every request it sends.
pub fn with_signal<F: Future>(signal: Option<AbortSignal>, future: F) -> WithSignal<F> {
    WithSignal {
        signal,
        future: Box::pin(future),
    }
}

impl<F: Future> Future for WithSignal<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let outer = CURRENT_SIGNAL.with(|s| s.replace(this.signal.clone()));
        let result = this.future.as_mut().poll(cx);
        CURRENT_SIGNAL.with(|s| *s.borrow_mut() = outer);
        result
    }
}

fn current_signal() -> Option<AbortSignal> {
    CURRENT_SIGNAL.with(|s| s.borrow().clone())
}

/// The package's transport: `fetch`, with the abort signal of the call that sends the request.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsTransport;

impl Transport for JsTransport {
    type NativeBody = Blob;
    type Stream = FetchBody;

    async fn send(&self, request: Request<Blob>) -> Result<Response<FetchBody>, TransportError> {
        let fetch = FetchTransport::new();
        fetch.set_abort_signal(current_signal());
        fetch.send(request).await
    }

    fn now_millis(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    async fn sleep(&self, millis: u64) {
        // The call's signal ends the wait too: an abort during a long back-off or `Retry-After`
        // takes effect at once.
        let fetch = FetchTransport::new();
        fetch.set_abort_signal(current_signal());
        fetch.sleep(millis).await;
    }
}
