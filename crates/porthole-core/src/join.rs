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

/// Polls both futures until either is done; the other is dropped. The first is polled first.
pub(crate) async fn race<A: Future<Output = ()>, B: Future<Output = ()>>(a: A, b: B) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

/// Polls both fallible futures until both succeed, or returns the first error at once (the
/// other future is dropped: an upload that failed stops hashing, a failed hash stops sending).
pub(crate) async fn try_join<A, B, T, U, E>(a: A, b: B) -> Result<(T, U), E>
where
    A: Future<Output = Result<T, E>>,
    B: Future<Output = Result<U, E>>,
{
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut out_a, mut out_b) = (None, None);
    poll_fn(|cx| {
        if out_a.is_none() {
            match a.as_mut().poll(cx) {
                Poll::Ready(Ok(v)) => out_a = Some(v),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        if out_b.is_none() {
            match b.as_mut().poll(cx) {
                Poll::Ready(Ok(v)) => out_b = Some(v),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        if out_a.is_some() && out_b.is_some() {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    })
    .await?;
    match (out_a, out_b) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => unreachable!("poll_fn only returns Ok once both outputs are set"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_join_returns_the_first_error_without_waiting() {
        use futures::executor::block_on;
        let never = std::future::pending::<Result<u8, &str>>();
        let failed = async { Err::<u8, &str>("boom") };
        assert_eq!(block_on(try_join(never, failed)), Err("boom"));
        let both = block_on(try_join(async { Ok::<_, ()>(1) }, async { Ok::<_, ()>(2) }));
        assert_eq!(both, Ok((1, 2)));
    }

    #[test]
    fn joins_both() {
        let (a, b) = futures::executor::block_on(join(async { 1 }, async { "two" }));
        assert_eq!((a, b), (1, "two"));
    }

    #[test]
    fn a_race_ends_with_either() {
        use futures::executor::block_on;
        block_on(race(std::future::pending(), async {}));
        block_on(race(async {}, std::future::pending()));
    }
}
