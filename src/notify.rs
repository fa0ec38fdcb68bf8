//! Chat notifications: a Slack-compatible incoming webhook (`{"text": …}`, which Slack,
//! Mattermost, Rocket.Chat and Microsoft Teams' Slack-compatible connectors accept) posted after
//! a deploy. A notification never changes a deploy's result: it is tried a few times with a short
//! timeout, then given up with a warning. The URL holds a token: it is never printed, only its
//! host.

use std::time::Duration;

use crate::config::Secret;

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all (at least one).
    pub attempts: u32,
    /// Per attempt, connection and answer together.
    pub timeout: Duration,
    /// Before the second attempt; doubled before each next one.
    pub backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 3,
            timeout: Duration::from_secs(5),
            backoff: Duration::from_millis(500),
        }
    }
}

/// The webhook could not be reached or refused the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not notify {host} after {attempts} attempt(s): {reason}")]
pub struct NotifyError {
    /// The webhook's host, the only part of its URL that is shown.
    pub host: String,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last one failed (never the URL).
    pub reason: String,
}

/// The host of a URL, for messages (`hooks.slack.com`); never the path, which holds the token.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // user:password@ never shown either.
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() {
        "the webhook".into()
    } else {
        host.to_string()
    }
}

/// Posts `text` as `{"text": text}` to the webhook at `url`.
pub fn post(url: &Secret, text: &str, retry: Retry) -> Result<u32, NotifyError> {
    let host = host_of(url.expose());
    let body = serde_json::json!({ "text": text }).to_string();
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(retry.timeout))
        .http_status_as_error(false)
        .build();
    let agent: ureq::Agent = config.into();
    let mut wait = retry.backoff;
    let mut reason = String::new();
    for attempt in 1..=retry.attempts.max(1) {
        if attempt > 1 {
            std::thread::sleep(wait);
            wait *= 2;
        }
        match agent
            .post(url.expose())
            .header("Content-Type", "application/json")
            .send(body.as_str())
        {
            Ok(response) => {
                let status = response.status().as_u16();
                if (200..300).contains(&status) {
                    return Ok(attempt);
                }
                reason = format!("the webhook answered HTTP {status}");
                // A client error will not change on a retry (a revoked or mistyped URL); a busy
                // or failing server might.
                if (400..500).contains(&status) && status != 408 && status != 429 {
                    return Err(NotifyError {
                        host,
                        attempts: attempt,
                        reason,
                    });
                }
            }
            // The error's text may quote the URL: only its kind is kept.
            Err(e) => reason = describe(&e),
        }
    }
    Err(NotifyError {
        host,
        attempts: retry.attempts.max(1),
        reason,
    })
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "no answer in time".into(),
        ureq::Error::HostNotFound => "the host was not found".into(),
        ureq::Error::ConnectionFailed => "the connection failed".into(),
        ureq::Error::Io(io) => format!("connection error ({})", io.kind()),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "the TLS handshake failed".into(),
        ureq::Error::BadUri(_) => "the URL is not valid".into(),
        _ => "the request failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_host_of_a_url_is_shown() {
        assert_eq!(
            host_of("https://hooks.slack.com/services/T000/B000/XXXX"),
            "hooks.slack.com"
        );
        assert_eq!(
            host_of("http://user:pw@127.0.0.1:9/x?token=1"),
            "127.0.0.1:9"
        );
        assert_eq!(host_of("nonsense"), "nonsense");
        assert_eq!(host_of(""), "the webhook");
    }
}
