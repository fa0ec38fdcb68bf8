use super::*;

fn touch(dir: &Path, name: &str) {
    fs::write(dir.join(name), b"x").unwrap();
    fs::write(manifest_path(&dir.join(name)), b"{}").unwrap();
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
    touch(dir.path(), "unrelated.sql.gz");
    let removed = prune(dir.path(), 10).unwrap();
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
    assert_eq!(prune(dir.path(), 0).unwrap().len(), 9);
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
