//! A configured sink, ready to deliver: dispatches a delivery to the file, HTTP or SMTP code in
//! the shape its channel expects.

use super::email::{send, Smtp};
use super::http::{post, Post};
use super::{cards, AlertError, Delivery, DeliveryError, FileSink};
use crate::config::{AlertSinkConfig, AlertSinkKind};

/// Delivers to one configured sink.
pub struct Sink<'a> {
    pub config: &'a AlertSinkConfig,
}

impl Sink<'_> {
    pub fn deliver(&self, delivery: &Delivery) -> Result<(), AlertError> {
        let config = self.config;
        let timeout = config.delivery.timeout;
        let fail = |source: DeliveryError| AlertError::Delivery {
            sink: config.name.clone(),
            source,
        };
        let http = |url, body: serde_json::Value, headers, secret| {
            let body = serde_json::to_vec(&body).map_err(|e| fail(e.into()))?;
            post(&Post {
                url,
                body,
                idempotency_key: &delivery.idempotency_key,
                headers,
                secret,
                timeout,
            })
            .map_err(fail)
        };
        match &config.kind {
            AlertSinkKind::File {
                path,
                max_bytes,
                keep,
            } => {
                let file = FileSink {
                    name: config.name.clone(),
                    path: path.clone(),
                    max_bytes: *max_bytes,
                    keep: *keep,
                };
                let line = serde_json::to_string(&delivery.json()).map_err(|e| fail(e.into()))?;
                file.deliver(&line)
            }
            AlertSinkKind::Webhook {
                url,
                headers,
                secret,
            } => http(url, delivery.json(), headers, secret.as_ref()),
            AlertSinkKind::Teams { url } => http(url, cards::teams_card(delivery), &[], None),
            AlertSinkKind::Slack { url } => http(url, cards::slack_message(delivery), &[], None),
            AlertSinkKind::Email {
                host,
                port,
                security,
                username,
                password,
                from,
                to,
            } => send(
                &Smtp {
                    host,
                    port: *port,
                    security: *security,
                    username: username.as_ref(),
                    password: password.as_ref(),
                    from,
                    to,
                    timeout,
                },
                delivery,
            )
            .map_err(fail),
        }
    }
}
