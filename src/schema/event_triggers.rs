//! Event triggers, with their tags and enabled state.

use super::{not_extension_member, Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError};

pub(super) async fn read(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    let sql = format!(
        "SELECT e.oid::int8, quote_ident(e.evtname), e.evtevent, e.evtfoid::regproc::text, e.evtenabled::text,
                (SELECT string_agg(quote_literal(t), ', ' ORDER BY t) FROM unnest(e.evttags) t), obj_description(e.oid, 'pg_event_trigger')
           FROM pg_event_trigger e WHERE {member} ORDER BY 2",
        member = not_extension_member("pg_event_trigger", "e.oid"),
    );
    for row in r.rows("event triggers", &sql).await? {
        let oid: i64 = row.get(0);
        let name: String = row.get(1);
        let event: String = row.get(2);
        let function: String = row.get(3);
        let enabled: String = row.get(4);
        let tags: Option<String> = row.get(5);
        let when = tags
            .map(|t| format!(" WHEN TAG IN ({t})"))
            .unwrap_or_default();
        let mut create = vec![format!(
            "CREATE EVENT TRIGGER {name} ON {event}{when} EXECUTE FUNCTION {function}();"
        )];
        let state = match enabled.as_str() {
            "D" => Some("DISABLE"),
            "R" => Some("ENABLE REPLICA"),
            "A" => Some("ENABLE ALWAYS"),
            _ => None,
        };
        if let Some(s) = state {
            create.push(format!("ALTER EVENT TRIGGER {name} {s};"));
        }
        let key = Key {
            kind: Kind::EventTrigger,
            name: name.clone(),
        };
        snap.add(Object {
            key: key.clone(),
            schema: String::new(),
            parent: None,
            definition: create.join(" "),
            detail: Detail::None,
            create,
            drop: Some(format!("DROP EVENT TRIGGER {name};")),
            destructive: false,
            refs: vec![format!("pg_event_trigger:{oid}")],
            roles: vec![],
        });
        snap.add_comment(&key, "", &format!("EVENT TRIGGER {name}"), row.get(6));
    }
    Ok(())
}
