use super::*;

/// A backup `name` with a manifest that says it was taken at `created_at`.
fn backup_at(dir: &Path, name: &str, created_at: &str) {
    fs::write(dir.join(name), b"x").unwrap();
    let m = Manifest {
        file: name.into(),
        created_at: created_at.into(),
        database: "shop".into(),
        target: "app@db:5432/shop".into(),
        server_version: "15".into(),
        pg_dump: "15".into(),
        size: 1,
        uncompressed_size: 1,
        sha256: String::new(),
        run_id: String::new(),
        applied: Vec::new(),
        tool_version: String::new(),
        outside: None,
    };
    fs::write(
        manifest_path(&dir.join(name)),
        serde_json::to_string(&m).unwrap(),
    )
    .unwrap();
}

/// A backup whose manifest's time is the one its name says.
fn touch(dir: &Path, name: &str) {
    let stamp: String = name
        .trim_end_matches(".sql.gz")
        .rsplit('_')
        .take(2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("");
    let t = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[8..10],
        &stamp[10..12],
        &stamp[12..14]
    );
    backup_at(dir, name, &t);
}

#[test]
fn retention_reads_manifests_not_names_and_never_removes_the_backup_just_taken() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    backup_at(
        d,
        "backup_before_migration_20260101_000000.sql.gz",
        "2026-01-01T00:00:00Z",
    );
    // A stray file and a link named far in the future, and a manifest copied from another
    // backup: none is a backup of this folder's to count or to remove.
    fs::write(
        d.join("backup_before_migration_29991231_235959.sql.gz"),
        b"stray",
    )
    .unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    fs::write(elsewhere.path().join("x"), b"not ours").unwrap();
    std::os::unix::fs::symlink(
        elsewhere.path().join("x"),
        d.join("backup_29990101_000000.sql.gz"),
    )
    .unwrap();
    fs::write(d.join("backup_28880101_000000.sql.gz"), b"copied").unwrap();
    fs::copy(
        manifest_path(&d.join("backup_before_migration_20260101_000000.sql.gz")),
        manifest_path(&d.join("backup_28880101_000000.sql.gz")),
    )
    .unwrap();
    // The one just taken, whose manifest a skewed clock dated before the others.
    let just = d.join("backup_before_migration_20260102_000000.sql.gz");
    backup_at(
        d,
        "backup_before_migration_20260102_000000.sql.gz",
        "2025-06-01T00:00:00Z",
    );
    let removed = prune(d, 1, Some(&just)).unwrap();
    assert_eq!(
        removed,
        vec![d.join("backup_before_migration_20260101_000000.sql.gz")]
    );
    assert!(just.exists());
    assert!(d
        .join("backup_before_migration_29991231_235959.sql.gz")
        .exists());
    assert!(d.join("backup_28880101_000000.sql.gz").exists());
    assert_eq!(fs::read(elsewhere.path().join("x")).unwrap(), b"not ours");
    // The newest is the one with a manifest; the link is not listed at all.
    let listed = list(d).unwrap();
    assert_eq!(listed[0].path, just);
    assert!(listed
        .iter()
        .all(|l| !l.path.ends_with("backup_29990101_000000.sql.gz")));
    assert!(listed[1..].iter().all(|l| l.manifest.is_none()));
}

#[test]
fn retention_keeps_the_newest_whatever_their_kind() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..12 {
        touch(
            dir.path(),
            &format!("backup_before_migration_20260101_0000{i:02}.sql.gz"),
        );
    }
    touch(dir.path(), "backup_20260101_000099.sql.gz");
    fs::write(dir.path().join("unrelated.sql.gz"), b"x").unwrap();
    let removed = prune(dir.path(), 10, None).unwrap();
    assert_eq!(removed.len(), 3);
    let left: Vec<String> = list(dir.path())
        .unwrap()
        .iter()
        .map(|l| l.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 10);
    assert_eq!(left[0], "backup_20260101_000099.sql.gz");
    assert_eq!(left[9], "backup_before_migration_20260101_000003.sql.gz");
    assert!(dir.path().join("unrelated.sql.gz").exists());
    assert!(!manifest_path(
        &dir.path()
            .join("backup_before_migration_20260101_000000.sql.gz")
    )
    .exists());
    // Never the newest, even with keep = 0.
    assert_eq!(prune(dir.path(), 0, None).unwrap().len(), 9);
    // The newest, and the file without a manifest, left alone.
    assert_eq!(list(dir.path()).unwrap().len(), 1);
}

#[test]
fn names_never_collide_and_the_folder_is_private_and_ignored_by_git() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("backups/migrations");
    private_dir(&dir).unwrap();
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(fs::read_to_string(dir.join(".gitignore"))
        .unwrap()
        .contains('*'));
    let a = fresh_name(&dir, "before_migration");
    fs::write(&a, b"").unwrap();
    let b = fresh_name(&dir, "before_migration");
    assert_ne!(a, b);
    assert!(a
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("backup_before_migration_"));
    assert!(fresh_name(&dir, "manual")
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("backup_2"));
}
