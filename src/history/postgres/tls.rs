//! TLS for `sslmode=require`, with rustls: the server's certificate is verified against the
//! public web roots and, when `PGSSLROOTCERT` names a PEM file, the certificates in it (a
//! company's own certificate authority). A certificate that does not verify is refused,
//! never accepted silently.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The connector, or why it cannot be built (a root file that cannot be read).
pub(super) fn connector() -> Result<MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(file) = std::env::var_os("PGSSLROOTCERT") {
        let shown = std::path::Path::new(&file).display().to_string();
        let certificates = CertificateDer::pem_file_iter(&file)
            .map_err(|error| format!("PGSSLROOTCERT {shown}: {error}"))?;
        for certificate in certificates {
            let certificate =
                certificate.map_err(|error| format!("PGSSLROOTCERT {shown}: {error}"))?;
            roots
                .add(certificate)
                .map_err(|error| format!("PGSSLROOTCERT {shown}: {error}"))?;
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS: {error}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}
