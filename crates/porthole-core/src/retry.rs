//! When to try a request again: exponential backoff with jitter, `Retry-After`, and a bound on
//! attempts and on the total time, so a client never hammers a struggling registry nor waits
//! forever.

use crate::transport::{Method, TransportErrorKind};

/// How the client retries failed requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 turns retries off).
    pub max_attempts: u32,
    /// The first backoff; each retry doubles it.
    pub base_delay_ms: u64,
    /// The longest single wait (also the longest `Retry-After` honoured).
    pub max_delay_ms: u64,
    /// No retry starts after this much time has passed since the first attempt.
    pub max_elapsed_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay_ms: 250,
            max_delay_ms: 30_000,
            max_elapsed_ms: 120_000,
        }
    }
}

/// What went wrong with one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The registry answered with this status (and maybe `Retry-After` seconds).
    Status(u16, Option<u64>),
    /// No answer came.
    Transport(TransportErrorKind),
}

impl Failure {
    /// Whether this failure is worth another attempt of a request with this method. Requests that
    /// change state are retried only when the registry clearly did not act (429, 503); requests
    /// that can safely repeat also after 500, 502, 504 and lost connections.
    pub fn is_retryable(self, method: Method) -> bool {
        match self {
            Self::Status(429 | 503, _) => true,
            // 500 too: a registry's storage backend fails now and then (the Azure SDKs and
            // Go's retryablehttp retry it); a repeat of an idempotent request is harmless.
            Self::Status(500 | 502 | 504, _) => method.is_idempotent(),
            Self::Status(..) => false,
            Self::Transport(kind) => {
                method.is_idempotent()
                    && matches!(
                        kind,
                        TransportErrorKind::Network | TransportErrorKind::Timeout
                    )
            }
        }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt, or `None` to give up. `attempts` is how many were made,
    /// `elapsed_ms` the time since the first, `seed` any changing number (for jitter).
    pub fn next_delay(
        &self,
        failure: Failure,
        method: Method,
        attempts: u32,
        elapsed_ms: u64,
        seed: u64,
    ) -> Option<u64> {
        if attempts >= self.max_attempts || !failure.is_retryable(method) {
            return None;
        }
        let jittered = self.backoff_ms(attempts, seed);
        let delay = match failure {
            Failure::Status(_, Some(after_s)) => {
                let after_ms = after_s.saturating_mul(1000);
                if after_ms > self.max_delay_ms {
                    return None;
                }
                after_ms.max(jittered)
            }
            _ => jittered,
        };
        (elapsed_ms + delay <= self.max_elapsed_ms).then_some(delay)
    }
}

impl RetryPolicy {
    /// The wait after the `failures`-th failure in a row (1-based), without `Retry-After`:
    /// `base_delay_ms` doubled each time up to `max_delay_ms`, with "equal jitter" (half fixed,
    /// half random from `seed`) so that clients that failed together spread out. The upload
    /// loop waits this long before asking a session for its status.
    pub fn backoff_ms(&self, failures: u32, seed: u64) -> u64 {
        let backoff = self
            .base_delay_ms
            .saturating_mul(1 << failures.saturating_sub(1).min(20))
            .min(self.max_delay_ms);
        backoff / 2 + mix(seed ^ u64::from(failures)) % (backoff / 2 + 1)
    }
}

/// SplitMix64: a cheap, well-spread mix of a seed (no randomness source is needed in the core).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay_ms: 100,
            max_delay_ms: 1_000,
            max_elapsed_ms: 5_000,
        }
    }

    #[test]
    fn backs_off_exponentially_with_jitter() {
        let p = policy();
        let f = Failure::Status(503, None);
        for (attempts, lo, hi) in [(1, 50, 100), (2, 100, 200), (3, 200, 400)] {
            for seed in 0..50 {
                let d = p.next_delay(f, Method::Get, attempts, 0, seed).unwrap();
                assert!((lo..=hi).contains(&d), "attempt {attempts}: {d}");
            }
        }
        let spread: std::collections::BTreeSet<u64> = (0..50)
            .map(|s| p.next_delay(f, Method::Get, 3, 0, s).unwrap())
            .collect();
        assert!(spread.len() > 10, "jitter spreads the waits");
        assert_eq!(
            p.next_delay(f, Method::Get, 4, 0, 1),
            None,
            "attempts are bounded"
        );
    }

    #[test]
    fn honours_retry_after_and_gives_up_on_long_ones() {
        let p = policy();
        assert_eq!(
            p.next_delay(Failure::Status(429, Some(1)), Method::Post, 1, 0, 7),
            Some(1_000)
        );
        assert_eq!(
            p.next_delay(Failure::Status(429, Some(2)), Method::Get, 1, 0, 7),
            None,
            "longer than max_delay"
        );
    }

    #[test]
    fn backoff_grows_is_capped_and_matches_next_delay() {
        let p = policy();
        for seed in 0..20 {
            assert!((50..=100).contains(&p.backoff_ms(1, seed)));
            assert!((400..=800).contains(&p.backoff_ms(4, seed)));
            assert!((500..=1_000).contains(&p.backoff_ms(30, seed)), "capped");
            let f = Failure::Status(503, None);
            assert_eq!(
                p.next_delay(f, Method::Get, 2, 0, seed),
                Some(p.backoff_ms(2, seed))
            );
        }
        let fast = RetryPolicy {
            base_delay_ms: 10,
            ..RetryPolicy::default()
        };
        assert!(fast.backoff_ms(1, 9) <= 10, "tests can keep waits short");
    }

    #[test]
    fn total_time_is_bounded() {
        let p = policy();
        let f = Failure::Transport(TransportErrorKind::Network);
        assert!(p
            .next_delay(f, Method::Get, 1, 4_900, 3)
            .is_some_and(|d| d <= 100));
        assert_eq!(p.next_delay(f, Method::Get, 3, 4_900, 3), None);
    }

    #[test]
    fn only_safe_requests_retry_ambiguous_failures() {
        let lost = Failure::Transport(TransportErrorKind::Network);
        assert!(lost.is_retryable(Method::Get));
        assert!(lost.is_retryable(Method::Put));
        assert!(!lost.is_retryable(Method::Post));
        assert!(!lost.is_retryable(Method::Patch));
        assert!(!Failure::Transport(TransportErrorKind::Aborted).is_retryable(Method::Get));
        assert!(!Failure::Transport(TransportErrorKind::Deadline).is_retryable(Method::Get));
        assert!(!Failure::Status(502, None).is_retryable(Method::Post));
        assert!(Failure::Status(503, None).is_retryable(Method::Post));
        assert!(Failure::Status(500, None).is_retryable(Method::Get));
        assert!(!Failure::Status(500, None).is_retryable(Method::Post));
        assert!(!Failure::Status(501, None).is_retryable(Method::Get));
        assert!(!Failure::Status(404, None).is_retryable(Method::Get));
    }
}
