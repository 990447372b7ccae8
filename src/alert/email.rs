//! The email sink: one message per delivery with a plain-text and an HTML part, sent over SMTP
//! with STARTTLS, TLS or (for a local relay) no encryption, with optional login.

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};

use super::{cards::email_body, Delivery, DeliveryError};
use crate::config::{Secret, SmtpSecurity};

pub struct Smtp<'a> {
    pub host: &'a str,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<&'a Secret>,
    pub password: Option<&'a Secret>,
    pub from: &'a str,
    pub to: &'a [String],
    pub timeout: Duration,
}

fn mailbox(address: &str) -> Result<Mailbox, DeliveryError> {
    address.parse().map_err(|e| DeliveryError::Address {
        address: address.to_owned(),
        reason: format!("{e}"),
    })
}

/// `reply` with the login's user name and password, and their base64 forms as AUTH PLAIN
/// and AUTH LOGIN send them, replaced: a server may echo them in its error.
fn without_credentials(reply: &str, smtp: &Smtp<'_>) -> String {
    use base64::Engine;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let user = smtp.username.map(|u| u.expose()).unwrap_or_default();
    let password = smtp.password.map(|p| p.expose()).unwrap_or_default();
    let mut secrets = vec![
        encode(format!("\0{user}\0{password}").as_bytes()),
        encode(password.as_bytes()),
        encode(user.as_bytes()),
        password.to_owned(),
        user.to_owned(),
    ];
    secrets.retain(|s| s.len() >= 3);
    let mut text = reply.to_owned();
    for secret in secrets {
        text = text.replace(&secret, "<redacted>");
    }
    text
}

/// Sends `delivery` as one email; `Err` says why not (never the password).
pub fn send(smtp: &Smtp<'_>, delivery: &Delivery) -> Result<(), DeliveryError> {
    let (subject, text, html) = email_body(delivery);
    let mut message = Message::builder()
        .from(mailbox(smtp.from)?)
        .subject(subject)
        .message_id(Some(format!("<{}@solguard>", delivery.idempotency_key)));
    for to in smtp.to {
        message = message.to(mailbox(to)?);
    }
    let message = message
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .map_err(|e| DeliveryError::Message(e.to_string()))?;
    let builder = match smtp.security {
        SmtpSecurity::StartTls => SmtpTransport::starttls_relay(smtp.host),
        SmtpSecurity::Tls => SmtpTransport::relay(smtp.host),
        SmtpSecurity::Plain => Ok(SmtpTransport::builder_dangerous(smtp.host)),
    }
    .map_err(|e| DeliveryError::Smtp {
        host: smtp.host.to_owned(),
        reason: e.to_string(),
    })?;
    let mut builder = builder.port(smtp.port).timeout(Some(smtp.timeout));
    if let (Some(user), Some(password)) = (smtp.username, smtp.password) {
        builder = builder.credentials(Credentials::new(
            user.expose().to_owned(),
            password.expose().to_owned(),
        ));
    }
    builder
        .build()
        .send(&message)
        .map(|_| ())
        .map_err(|e| DeliveryError::Smtp {
            host: format!("{}:{}", smtp.host, smtp.port),
            reason: without_credentials(&e.to_string(), smtp),
        })
}
