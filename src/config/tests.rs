use super::*;

fn vars(pairs: &[(&str, &str)], dir: &Path) -> VarSource {
    let process = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    VarSource::new(process, dir).unwrap()
}

fn resolve(flags: &Flags, pairs: &[(&str, &str)], dir: &Path) -> Result<Settings, ConfigError> {
    Settings::resolve(flags, &vars(pairs, dir), dir)
}

#[test]
fn defaults_without_any_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let s = resolve(&Flags::default(), &[], dir.path()).unwrap();
    assert_eq!(s.environment, Environment::Development);
    assert_eq!(s.migrations.dir, dir.path().join("migrations"));
    assert_eq!(s.deploy.timeout, Duration::from_secs(300));
    assert_eq!(s.backup.keep, 10);
    assert_eq!(s.run.dry_run, DryRun::Off);
    assert!(!s.run.force && !s.deploy.skip_backup && !s.run.debug);
    assert!(s.deploy.parallel_jobs >= 1);
    assert_eq!(s.deploy.exposed_schemas, ["public"]);
    assert_eq!(s.tracking.table, "schema_migrations");
    assert!(s.database_url.is_none());
}

#[test]
fn invalid_values_say_what_is_accepted_without_echoing_them() {
    let dir = tempfile::tempdir().unwrap();
    for (name, value, expected) in [
        ("FORCE_RUN", "maybe", "FORCE_RUN (environment variable) is not a boolean; accepted: true, false, 1, 0, yes, no"),
        ("TIMEOUT", "abc", "TIMEOUT (environment variable) is not a number of seconds; accepted: a whole number from 1 to 2147483, e.g. 300"),
        ("ENVIRONMENT", "prd", "ENVIRONMENT (environment variable) is not a known environment; accepted: development (or dev), staging, production (or prod)"),
        ("PARALLEL_JOBS", "0", "PARALLEL_JOBS (environment variable) is not a number of jobs; accepted: a whole number from 1 to 1024"),
        ("DRY_RUN", "perhaps", "DRY_RUN (environment variable) is not a boolean; accepted: true, false, 1, 0, yes, no, rehearse"),
        ("SKIP_BACKUP", "y", "SKIP_BACKUP (environment variable) is not a boolean"),
        ("DEBUG", "on", "DEBUG (environment variable) is not a boolean"),
    ] {
        let err = resolve(&Flags::default(), &[(name, value)], dir.path()).unwrap_err().to_string();
        assert!(err.starts_with(expected), "{name}: {err}");
        assert!(!err.contains(&format!("'{value}'")) && !err.contains(&format!("`{value}`")), "{err}");
    }
}

#[test]
fn booleans_accept_the_guide_spellings() {
    let dir = tempfile::tempdir().unwrap();
    for v in ["true", "1", "yes", "TRUE", "Yes"] {
        assert!(
            resolve(&Flags::default(), &[("FORCE_RUN", v)], dir.path())
                .unwrap()
                .run
                .force,
            "{v}"
        );
    }
    for v in ["false", "0", "no"] {
        assert!(
            !resolve(&Flags::default(), &[("FORCE_RUN", v)], dir.path())
                .unwrap()
                .run
                .force,
            "{v}"
        );
    }
    let s = resolve(&Flags::default(), &[("DRY_RUN", "rehearse")], dir.path()).unwrap();
    assert_eq!(s.run.dry_run, DryRun::Rehearse);
}

#[test]
fn precedence_flags_then_environment_then_dotenv_then_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pgshift.toml"),
        "[deploy]\ntimeout = 100\n[environments.staging]\ntimeout = 150\n",
    )
    .unwrap();
    let none = Flags::default();
    assert_eq!(
        resolve(&none, &[], dir.path())
            .unwrap()
            .deploy
            .timeout
            .as_secs(),
        100
    );
    let staging = Flags {
        env: Some("staging".into()),
        ..Flags::default()
    };
    assert_eq!(
        resolve(&staging, &[], dir.path())
            .unwrap()
            .deploy
            .timeout
            .as_secs(),
        150
    );
    std::fs::write(
        dir.path().join(".env"),
        "TIMEOUT=200\nENVIRONMENT=staging\n",
    )
    .unwrap();
    let s = resolve(&none, &[], dir.path()).unwrap();
    assert_eq!(
        (s.deploy.timeout.as_secs(), s.environment),
        (200, Environment::Staging)
    );
    let s = resolve(
        &none,
        &[("TIMEOUT", "250"), ("ENVIRONMENT", "prod")],
        dir.path(),
    )
    .unwrap();
    assert_eq!(
        (s.deploy.timeout.as_secs(), s.environment),
        (250, Environment::Production)
    );
    let flags = Flags {
        timeout: Some(300),
        env: Some("dev".into()),
        ..Flags::default()
    };
    let s = resolve(
        &flags,
        &[("TIMEOUT", "250"), ("ENVIRONMENT", "prod")],
        dir.path(),
    )
    .unwrap();
    assert_eq!(
        (s.deploy.timeout.as_secs(), s.environment),
        (300, Environment::Development)
    );
}

#[test]
fn invalid_value_in_dotenv_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "FORCE_RUN=maybe\n").unwrap();
    let err = resolve(&Flags::default(), &[], dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("FORCE_RUN (in "), "{err}");
    assert!(err.contains(".env) is not a boolean"), "{err}");
}

#[test]
fn config_typos_and_unknown_environments_are_errors() {
    let p = Path::new("pgshift.toml");
    let err = ConfigFile::parse(p, "[deploy]\ntimout = 5\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown setting `timout`"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    let err = ConfigFile::parse(p, "[environments.prd]\ntimeout = 5\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[environments.prd] is not a known environment"),
        "{err}"
    );
    let err = ConfigFile::parse(p, "[rules]\n\"x/y\" = \"loud\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2: the value of \"x/y\" is not accepted"),
        "{err}"
    );
    assert!(err.contains("expected one of `off`"), "{err}");
    assert!(!err.contains("loud"), "{err}");
    let err = ConfigFile::parse(p, "[deploy]\ntimeout = \"abc\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the value of timeout is not accepted"),
        "{err}"
    );
    assert!(!err.contains("abc"), "{err}");
}

#[test]
fn config_errors_never_quote_the_file() {
    let p = Path::new("pgshift.toml");
    let secret = "Sup3rS3cret";
    for text in [
        // A value not in quotes, a URL where no URL belongs, a wrong type, a wrong variant,
        // a broken string, a key with no value, a duplicate.
        format!("[variables]\napp_password = {secret}\n"),
        format!("[deploy]\ndatabase_url = \"postgres://u:{secret}@h/db\"\n"),
        format!("[deploy]\ntimeout = \"{secret}\"\n"),
        format!("[migrations]\nout_of_order = \"{secret}\"\n"),
        format!("[variables]\nkey = \"{secret}\n"),
        format!("[variables]\n{secret}\n"),
        format!("[variables]\na = \"x\"\na = \"{secret}\"\n"),
        format!("[deploy]\nexposed_schemas = \"{secret}\"\n"),
        format!("[variables]\napp_password = '{secret}' trailing\n"),
    ] {
        let err = ConfigFile::parse(p, &text).unwrap_err().to_string();
        assert!(!err.contains(secret), "{text:?} gave: {err}");
        assert!(!err.contains("S3cret"), "{text:?} gave: {err}");
        assert!(err.contains("line "), "{text:?} gave: {err}");
    }
}

#[test]
fn every_timeout_and_count_is_checked_the_same_whatever_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let write = |toml: &str| std::fs::write(dir.path().join("pgshift.toml"), toml).unwrap();
    let flags = Flags::default();
    let err = |flags: &Flags, env: &[(&str, &str)]| {
        resolve(flags, env, dir.path()).unwrap_err().to_string()
    };
    write("[deploy]\ntimeout = 0\n");
    assert!(
        err(&flags, &[]).starts_with("timeout ([deploy] in "),
        "{}",
        err(&flags, &[])
    );
    write("[environments.staging]\ntimeout = 2147484\n");
    let e = err(&flags, &[("ENVIRONMENT", "staging")]);
    assert!(e.starts_with("timeout ([environments.staging] in "), "{e}");
    assert!(e.contains("from 1 to 2147483"), "{e}");
    write("");
    let e = err(&flags, &[("TIMEOUT", "2147484")]);
    assert!(
        e.starts_with("TIMEOUT (environment variable) must be"),
        "{e}"
    );
    let e = err(
        &Flags {
            timeout: Some(0),
            ..Flags::default()
        },
        &[],
    );
    assert!(e.starts_with("--timeout (flag) must be"), "{e}");
    let e = err(
        &Flags {
            lock_timeout: Some(3_000_000),
            ..Flags::default()
        },
        &[],
    );
    assert!(e.starts_with("--lock-timeout (flag)"), "{e}");
    write("[deploy]\nstatement_lock_timeout = 9999999\n");
    assert!(err(&flags, &[]).starts_with("statement_lock_timeout ([deploy]"));
    write("[deploy]\nparallel_jobs = 0\n");
    assert!(err(&flags, &[]).starts_with("parallel_jobs ([deploy]"));
    write("[deploy]\nparallel_jobs = 5000\n");
    assert!(err(&flags, &[]).starts_with("parallel_jobs ([deploy]"));
    write("[backup]\nkeep = 0\n");
    assert!(err(&flags, &[]).starts_with("keep ([backup]"));
    write("[tracking]\ntable = \"a_table_name_that_is_far_too_long_for_postgres_names\"\n");
    assert!(err(&flags, &[]).starts_with("table ([tracking]"));
    write("[deploy]\nexposed_schemas = [\"\"]\n");
    assert!(err(&flags, &[]).starts_with("exposed_schemas ([deploy]"));
    write("[deploy]\ntimeout = 2147483\nstatement_lock_timeout = 0\n");
    let ok = resolve(&flags, &[], dir.path()).unwrap();
    assert_eq!(ok.deploy.timeout.as_secs(), 2147483);
    assert_eq!(
        ok.deploy.statement_lock_timeout,
        Some(std::time::Duration::ZERO)
    );
}

#[test]
fn database_url_comes_from_the_variable_the_environment_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pgshift.toml"),
        "[environments.production]\ndatabase_url_env = \"PROD_DATABASE_URL\"\n",
    )
    .unwrap();
    let env = [
        ("DATABASE_URL", "postgres://local/dev"),
        ("PROD_DATABASE_URL", "postgres://u:pw@prod/db"),
    ];
    let s = resolve(&Flags::default(), &env, dir.path()).unwrap();
    assert_eq!(
        s.database_url.as_ref().unwrap().url.expose(),
        "postgres://local/dev"
    );
    let prod = Flags {
        env: Some("production".into()),
        ..Flags::default()
    };
    let s = resolve(&prod, &env, dir.path()).unwrap();
    let url = s.database_url.unwrap();
    assert_eq!(url.url.expose(), "postgres://u:pw@prod/db");
    assert_eq!(url.source, "PROD_DATABASE_URL (environment variable)");
    assert!(!format!("{url:?}").contains("pw"));
}

#[test]
fn config_paths_are_relative_to_the_config_file_and_rules_merge() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("db");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(
        sub.join("custom.toml"),
        "[migrations]\ndir = \"sql\"\nout_of_order = \"deny\"\n[rules]\n\"a/b\" = \"off\"\n\"c/d\" = \"info\"\n\
         [environments.prod.rules]\n\"c/d\" = \"error\"\n",
    )
    .unwrap();
    let flags = Flags {
        config: Some(sub.join("custom.toml")),
        env: Some("prod".into()),
        ..Flags::default()
    };
    let s = resolve(&flags, &[], dir.path()).unwrap();
    assert_eq!(s.migrations.dir, sub.join("sql"));
    assert_eq!(s.migrations.out_of_order, OutOfOrder::Deny);
    assert_eq!(s.rules.get("a/b"), Some(&RuleLevel::Off));
    assert_eq!(s.rules.get("c/d"), Some(&RuleLevel::Error));
    let missing = Flags {
        config: Some(dir.path().join("nope.toml")),
        ..Flags::default()
    };
    let err = resolve(&missing, &[], dir.path()).unwrap_err().to_string();
    assert!(
        err.starts_with("cannot read ") && err.contains("nope.toml"),
        "{err}"
    );
}

#[test]
fn durations_take_seconds_or_a_unit() {
    use super::DurationSetting as D;
    let ms = |d: D| d.duration().map(|t| t.as_millis());
    assert_eq!(ms(D::Seconds(5)), Ok(5000));
    assert_eq!(ms(D::Text("500ms".into())), Ok(500));
    assert_eq!(ms(D::Text(" 5s ".into())), Ok(5000));
    assert_eq!(ms(D::Text("2min".into())), Ok(120_000));
    assert_eq!(ms(D::Text("7".into())), Ok(7000));
    assert!(ms(D::Text("5 parsecs".into()))
        .unwrap_err()
        .contains("unknown unit"));
    assert!(ms(D::Text("soon".into()))
        .unwrap_err()
        .contains("not a duration"));
}
