//! What an alert looks like in each channel: an Adaptive Card for Microsoft Teams (the message
//! format both incoming webhooks and Workflows accept), a Slack message with blocks, and an
//! email with a plain-text and an HTML body. Pure: JSON and text from the alert.

use maud::html;
use serde_json::{json, Value};

use super::{Alert, Delivery};

/// Findings shown per package before "and N more".
const SHOWN: usize = 10;

fn title(alert: &Alert) -> String {
    match (&alert.unique_name, &alert.version) {
        (Some(name), Some(version)) => format!("{name} {version}"),
        _ => alert.path.clone(),
    }
}

fn headline(delivery: &Delivery) -> String {
    match delivery.alerts.as_slice() {
        [one] if !delivery.is_digest() => format!(
            "solguard: {} {}",
            title(one),
            one.verdict.as_str().to_uppercase()
        ),
        alerts => format!("solguard digest: {} packages need attention", alerts.len()),
    }
}

fn finding_lines(alert: &Alert) -> Vec<String> {
    let mut lines: Vec<String> = alert
        .findings
        .iter()
        .take(SHOWN)
        .map(|f| {
            let location = f
                .location
                .as_ref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            format!(
                "{} {}/{}{location}: {}",
                f.severity, f.rule, f.code, f.message
            )
        })
        .collect();
    if alert.findings.len() > SHOWN {
        lines.push(format!("… and {} more", alert.findings.len() - SHOWN));
    }
    lines
}

/// Slack's three reserved characters in text.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Teams message: `{"type": "message", "attachments": [Adaptive Card]}`.
pub fn teams_card(delivery: &Delivery) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": true,
        "text": headline(delivery),
    })];
    for alert in &delivery.alerts {
        let color = if alert.verdict == crate::diagnostic::Verdict::Fail {
            "Attention"
        } else {
            "Warning"
        };
        body.push(json!({
            "type": "TextBlock", "weight": "Bolder", "wrap": true, "color": color, "separator": true,
            "text": format!("{}: {}", title(alert), alert.verdict.as_str().to_uppercase()),
        }));
        body.push(json!({
            "type": "FactSet",
            "facts": [
                { "title": "File", "value": alert.path },
                { "title": "Folder", "value": alert.source },
                { "title": "Findings", "value": alert.findings.len().to_string() },
            ],
        }));
        for line in finding_lines(alert) {
            body.push(json!({ "type": "TextBlock", "wrap": true, "spacing": "Small", "text": format!("- {line}") }));
        }
        if !alert.reports.is_empty() {
            body.push(json!({
                "type": "TextBlock", "wrap": true, "isSubtle": true, "spacing": "Small",
                "text": format!("Reports: {}", alert.reports.join(", ")),
            }));
        }
    }
    json!({
        "type": "message",
        "summary": headline(delivery),
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": { "width": "Full" },
                "body": body,
            },
        }],
        "idempotency_key": delivery.idempotency_key,
    })
}

/// The Slack message: fallback `text` plus `blocks`.
pub fn slack_message(delivery: &Delivery) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": headline(delivery).chars().take(150).collect::<String>() },
    })];
    for alert in &delivery.alerts {
        let mut text = format!(
            "*{}*: {}\n`{}` ({})",
            slack_escape(&title(alert)),
            alert.verdict.as_str().to_uppercase(),
            slack_escape(&alert.path),
            slack_escape(&alert.source)
        );
        for line in finding_lines(alert) {
            text.push_str(&format!("\n• {}", slack_escape(&line)));
        }
        // Slack limits a section's text to 3,000 characters.
        let text: String = text.chars().take(2900).collect();
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } }));
        if !alert.reports.is_empty() {
            blocks.push(json!({
                "type": "context",
                "elements": [{ "type": "mrkdwn", "text": slack_escape(&format!("Reports: {}", alert.reports.join(", "))) }],
            }));
        }
    }
    json!({
        "text": slack_escape(&headline(delivery)),
        "blocks": blocks,
        "idempotency_key": delivery.idempotency_key,
    })
}

/// Subject, plain-text body and HTML body of the email.
pub fn email_body(delivery: &Delivery) -> (String, String, String) {
    let subject = headline(delivery);
    let mut text = format!("{subject}\n");
    for alert in &delivery.alerts {
        text.push_str(&format!(
            "\n{}: {}\nFile: {} (folder {})\n",
            title(alert),
            alert.verdict.as_str().to_uppercase(),
            alert.path,
            alert.source
        ));
        for line in finding_lines(alert) {
            text.push_str(&format!("  - {line}\n"));
        }
        if !alert.reports.is_empty() {
            text.push_str(&format!("Reports: {}\n", alert.reports.join(", ")));
        }
        text.push_str(&format!("Policy set: {}\n", alert.policy_set));
    }
    text.push_str(&format!(
        "\nIdempotency key: {}\n",
        delivery.idempotency_key
    ));
    let page = html! {
        html {
            body style="font-family: sans-serif" {
                h2 { (subject) }
                @for alert in &delivery.alerts {
                    h3 { (title(alert)) ": " (alert.verdict.as_str().to_uppercase()) }
                    p { "File: " code { (alert.path) } " (folder " (alert.source) ")" }
                    ul { @for line in finding_lines(alert) { li { (line) } } }
                    @if !alert.reports.is_empty() { p { "Reports: " (alert.reports.join(", ")) } }
                    p { small { "Policy set " code { (alert.policy_set) } } }
                }
                p style="color: #667085; font-size: 12px" { "Idempotency key: " (delivery.idempotency_key) }
            }
        }
    };
    (subject, text, page.into_string())
}
