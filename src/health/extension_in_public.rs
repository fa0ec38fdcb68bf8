//! `extension-in-public`: an extension installed in an exposed schema puts its functions and
//! types beside the tables the API serves.

use super::{Check, Probe};

pub const CHECK: Check = Check {
    id: "extension-in-public",
    ok: "no extension lives in an exposed schema",
    problem: "extension(s) in an exposed schema",
    fix: "`CREATE SCHEMA IF NOT EXISTS extensions; ALTER EXTENSION … SET SCHEMA extensions;` (for new ones: `CREATE EXTENSION … WITH SCHEMA extensions`)",
    needs_api: true,
    probe: Probe::Catalog(SQL),
};

const SQL: &str = "
SELECT 'warn', quote_ident(e.extname),
       format('installed in schema %I: its functions and types sit beside the tables the API serves', n.nspname)
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE n.nspname = ANY ({exposed})
ORDER BY 2";

#[cfg(test)]
mod tests {
    #[test]
    fn fires_on_an_extension_in_public() {
        let found = crate::health::tests::run(
            &["CREATE SCHEMA extensions; CREATE EXTENSION pg_trgm; CREATE EXTENSION btree_gin WITH SCHEMA extensions;"],
            "",
            "extension-in-public",
        );
        // plpgsql lives in pg_catalog, btree_gin in extensions: quiet.
        assert_eq!(found, ["warn pg_trgm"]);
    }
}
