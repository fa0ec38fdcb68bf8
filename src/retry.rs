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

/// Whether a failure is a race with another session on the same server over a shared catalog
/// (roles, role memberships and settings, databases, tablespaces, their comments): an update of
/// the same row ("tuple concurrently updated"), or the same name created twice at once (a
/// unique index of a shared catalog), which an `IF NOT EXISTS` guard cannot see coming.
pub fn catalog_race(message: &str) -> bool {
    const SHARED: [&str; 8] = [
        "\"pg_authid_",
        "\"pg_auth_members_",
        "\"pg_database_",
        "\"pg_tablespace_",
        "\"pg_shdescription_",
        "\"pg_shseclabel_",
        "\"pg_db_role_setting_",
        "\"pg_shdepend_",
    ];
    message.contains("tuple concurrently updated")
        || (message.contains("duplicate key value violates unique constraint")
            && SHARED.iter().any(|s| message.contains(s)))
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

    #[test]
    fn races_over_shared_catalogs_are_told_from_other_failures() {
        assert!(catalog_race("tuple concurrently updated"));
        assert!(catalog_race(
            "duplicate key value violates unique constraint \"pg_authid_rolname_index\""
        ));
        assert!(!catalog_race(
            "duplicate key value violates unique constraint \"users_pkey\""
        ));
        assert!(!catalog_race("relation \"posts\" already exists"));
    }
}
