//! One fetch at a time per key: operations of one client that need the same token while it is
//! being fetched wait for that answer instead of each fetching their own (uploads that start
//! together would otherwise ask the token server once each).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// The keys being fetched, and who waits for one of them.
#[derive(Debug)]
pub(crate) struct InFlight<K> {
    fetching: BTreeSet<K>,
    waiting: Vec<Waker>,
}

impl<K> Default for InFlight<K> {
    fn default() -> Self {
        Self {
            fetching: BTreeSet::new(),
            waiting: Vec::new(),
        }
    }
}

impl<K: Ord + Clone> InFlight<K> {
    /// Whether `key` is being fetched now.
    pub(crate) fn is_fetching(this: &RefCell<Self>, key: &K) -> bool {
        this.borrow().fetching.contains(key)
    }

    /// Resolves once nobody fetches `key` any more (at once if nobody does).
    pub(crate) fn done<'a>(this: &'a RefCell<Self>, key: &'a K) -> Done<'a, K> {
        Done { this, key }
    }

    /// Marks `key` as being fetched until the returned guard is dropped (the fetch ended, or
    /// its operation was dropped), which wakes everyone waiting.
    pub(crate) fn start(this: &RefCell<Self>, key: K) -> Flight<'_, K> {
        this.borrow_mut().fetching.insert(key.clone());
        Flight { this, key }
    }
}

/// The future of [`InFlight::done`].
#[derive(Debug)]
pub(crate) struct Done<'a, K> {
    this: &'a RefCell<InFlight<K>>,
    key: &'a K,
}

impl<K: Ord> Future for Done<'_, K> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.this.borrow_mut();
        if !state.fetching.contains(self.key) {
            return Poll::Ready(());
        }
        state.waiting.push(cx.waker().clone());
        Poll::Pending
    }
}

/// A fetch under way ([`InFlight::start`]).
#[derive(Debug)]
pub(crate) struct Flight<'a, K: Ord> {
    this: &'a RefCell<InFlight<K>>,
    key: K,
}

impl<K: Ord> Drop for Flight<'_, K> {
    fn drop(&mut self) {
        let waiting = {
            let mut state = self.this.borrow_mut();
            state.fetching.remove(&self.key);
            std::mem::take(&mut state.waiting)
        };
        waiting.into_iter().for_each(Waker::wake);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Count(std::sync::atomic::AtomicUsize);

    impl Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_waiter_waits_until_the_flight_ends_and_is_woken() {
        let flights = RefCell::new(InFlight::<&str>::default());
        let woken = std::sync::Arc::new(Count(0.into()));
        let waker = Waker::from(woken.clone());
        let mut cx = Context::from_waker(&waker);

        let mut free = Box::pin(InFlight::done(&flights, &"token"));
        assert_eq!(
            free.as_mut().poll(&mut cx),
            Poll::Ready(()),
            "nobody fetches yet"
        );

        let flight = InFlight::start(&flights, "token");
        assert!(InFlight::is_fetching(&flights, &"token"));
        assert!(!InFlight::is_fetching(&flights, &"other"));
        let mut waiter = Box::pin(InFlight::done(&flights, &"token"));
        assert_eq!(waiter.as_mut().poll(&mut cx), Poll::Pending);
        let mut other = Box::pin(InFlight::done(&flights, &"other"));
        assert_eq!(
            other.as_mut().poll(&mut cx),
            Poll::Ready(()),
            "keys are apart"
        );

        drop(flight);
        assert_eq!(woken.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(waiter.as_mut().poll(&mut cx), Poll::Ready(()));
        assert!(!InFlight::is_fetching(&flights, &"token"));
    }
}
