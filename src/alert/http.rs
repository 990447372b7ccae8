//! HTTP delivery for the webhook, Teams and Slack sinks: a JSON POST with a timeout, the
//! idempotency key as a header, custom headers, and for webhooks with a secret an HMAC-SHA256
//! signature of the body (`X-Solguard-Signature: sha256=<hex>`). Error messages never include
//! the URL, since chat webhook URLs carry their token.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::DeliveryError;
use crate::config::Secret;

/// Header carrying the delivery's idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// Header carrying the body's HMAC-SHA256 (`sha256=<hex>`) when a secret is configured.
pub const SIGNATURE_HEADER: &str = "X-Solguard-Signature";

/// `sha256=<hex>` of `body` keyed with `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm is never reached.
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub struct Post<'a> {
    pub url: &'a Secret,
    pub body: Vec<u8>,
    pub idempotency_key: &'a str,
    pub headers: &'a [(String, Secret)],
    pub secret: Option<&'a Secret>,
    pub timeout: Duration,
}

/// Sends the POST; `Err` says what went wrong (status or transport), without the URL.
pub fn post(request: &Post<'_>) -> Result<(), DeliveryError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(request.timeout))
        .http_status_as_error(false)
        // A redirect would carry the body, the signature and the custom headers elsewhere.
        .max_redirects(0)
        .user_agent(concat!("solguard/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut builder = agent
        .post(request.url.expose())
        .header("Content-Type", "application/json")
        .header(IDEMPOTENCY_HEADER, request.idempotency_key);
    for (name, value) in request.headers {
        builder = builder.header(name.as_str(), value.expose());
    }
    if let Some(secret) = request.secret {
        builder = builder.header(SIGNATURE_HEADER, signature(secret.expose(), &request.body));
    }
    match builder.send(&request.body[..]) {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(DeliveryError::Status(response.status().as_u16())),
        Err(error) => Err(DeliveryError::Transport(
            error.to_string().replace(request.url.expose(), "<url>"),
        )),
    }
}
