//! How long to wait before trying again: doubling from a first pause up to a cap, each pause
//! jittered by ±50%, so that the parties that collided (deployers, fleet targets, the traffic)
//! do not collide again in step.

use std::time::Duration;

/// The pause before retry `n` (1 for the first): `first`, doubled for each retry after the
/// first, at most `cap`, then jittered by ±50%.
pub fn backoff(n: u32, first: Duration, cap: Duration) -> Duration {
    let base = first
        .saturating_mul(2u32.saturating_pow(n.saturating_sub(1).min(31)))
        .min(cap);
    // The clock's nanoseconds are random enough to spread pauses out; nothing secret here.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    base.mul_f64(0.5 + f64::from(nanos % 1000) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_within_the_jitter() {
        let (first, cap) = (Duration::from_millis(100), Duration::from_secs(1));
        for (n, base) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            let p = backoff(n, first, cap).as_millis();
            assert!(
                (base / 2..=base * 3 / 2).contains(&p),
                "retry {n}: {p} ms, expected about {base}"
            );
        }
    }
}
