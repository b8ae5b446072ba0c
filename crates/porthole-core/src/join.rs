//! Runs two futures at once on one thread, so hashing a chunk overlaps sending it.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

/// Polls both futures until both are done; returns both outputs. The first is polled first, so
/// a request is already on the wire when the second (CPU-bound hashing) runs.
pub(crate) async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut out_a, mut out_b) = (None, None);
    poll_fn(|cx| {
        if out_a.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                out_a = Some(v);
            }
        }
        if out_b.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                out_b = Some(v);
            }
        }
        if out_a.is_some() && out_b.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    match (out_a, out_b) {
        (Some(a), Some(b)) => (a, b),
        _ => unreachable!("poll_fn only returns once both outputs are set"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_both() {
        let (a, b) = futures::executor::block_on(join(async { 1 }, async { "two" }));
        assert_eq!((a, b), (1, "two"));
    }
}
