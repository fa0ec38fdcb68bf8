//! Where a command's result goes besides the terminal: the GitHub Actions job summary
//! (GITHUB_STEP_SUMMARY, Markdown appended) and, after a deploy, the chat webhook.

use std::io::Write;

use crate::config::Settings;
use crate::notify;
use crate::report::deploy::DeployReport;

use super::output::{safe, Kind};
use super::Output;

/// Where GitHub Actions asks for a job summary, if it does.
pub fn wanted() -> Option<std::ffi::OsString> {
    std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty())
}

/// Appends `markdown()` to the job summary when GitHub Actions asks for one (made only then:
/// the summary of 20,000 files' findings cost a tenth of their validation). A summary that
/// cannot be written is a warning: it never changes the command's result.
pub fn step_summary(markdown: impl FnOnce() -> String, out: &Output) {
    let Some(path) = wanted() else {
        return;
    };
    let markdown = markdown();
    let md = safe(&markdown, Kind::Text, false);
    let written = crate::files::append(std::path::Path::new(&path), 0o644)
        .and_then(|mut f| f.write_all(md.as_bytes()).and_then(|_| f.write_all(b"\n")));
    if let Err(e) = written {
        out.warning(&format!(
            "cannot write the job summary to GITHUB_STEP_SUMMARY: {e}"
        ));
    }
}

/// After a deploy: its job summary, then its notification (a real deploy only: a dry run posts
/// nothing). Neither changes the deploy's exit code.
pub fn after_deploy(settings: &Settings, report: &DeployReport, out: &Output) {
    step_summary(|| report.markdown(), out);
    let Some(url) = &settings.notify_webhook else {
        return;
    };
    if report.dry_run || settings.run.dry_run != crate::config::DryRun::Off {
        return;
    }
    post(url, &report.message(), out);
}

/// Posts `text` to the webhook `url`: one line saying so, or a warning; never an error.
pub fn post(url: &crate::config::Secret, text: &str, out: &Output) {
    match notify::post(url, text, notify::Retry::default()) {
        Ok(_) => {
            if out.json {
                out.line(
                    &serde_json::json!({ "event": "notified", "channel": notify::host_of(url.expose()) })
                        .to_string(),
                );
            } else if !out.quiet {
                out.line(&format!("Notified {}.", notify::host_of(url.expose())));
            }
        }
        Err(e) => out.warning(&format!(
            "{e}; the deploy's result is unchanged (check the webhook URL in the CI secret)"
        )),
    }
}
