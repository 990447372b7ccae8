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
            reason: e.to_string(),
        })
}
