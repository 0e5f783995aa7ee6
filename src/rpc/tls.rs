//! TLS for both sides, with rustls (ring) and no OpenSSL: the server's certificate from PEM
//! files or made up on the spot, and the client's ways to trust one — the system's roots,
//! a CA file, or a pinned SHA-256 fingerprint.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("{0} holds no certificate")]
    NoCertificate(PathBuf),
    #[error("TLS setup failed: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("cannot trust the certificates in {path}: {source}")]
    Trust {
        path: PathBuf,
        source: rustls::client::VerifierBuilderError,
    },
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("not a SHA-256 fingerprint (64 hex digits, colons allowed): {0:?}")]
    BadFingerprint(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate's SHA-256 fingerprint, written `AB:CD:…` as `openssl x509 -fingerprint
/// -sha256` does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn of(cert: &CertificateDer<'_>) -> Self {
        Self(Sha256::digest(cert.as_ref()).into())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = TlsError;

    /// Hex digits, any case, with or without colons or spaces, after an optional `SHA256:`.
    fn from_str(s: &str) -> Result<Self, TlsError> {
        let bad = || TlsError::BadFingerprint(s.to_owned());
        let trimmed = s.trim();
        let hex = match trimmed.get(..7) {
            Some(prefix) if prefix.eq_ignore_ascii_case("sha256:") => &trimmed[7..],
            _ => trimmed,
        };
        let digits: Vec<u8> = hex
            .chars()
            .filter(|c| !matches!(c, ':' | ' '))
            .map(|c| c.to_digit(16).map(|d| d as u8).ok_or_else(bad))
            .collect::<Result<_, _>>()?;
        if digits.len() != 64 {
            return Err(bad());
        }
        let mut bytes = [0; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks(2)) {
            *byte = pair[0] << 4 | pair[1];
        }
        Ok(Self(bytes))
    }
}

/// A server's TLS setup and its certificate's fingerprint.
pub struct ServerTls {
    pub config: Arc<rustls::ServerConfig>,
    pub fingerprint: Fingerprint,
}

/// The server's side: its certificate chain and key from PEM files.
pub fn server_config(cert: &Path, key: &Path) -> Result<ServerTls, TlsError> {
    let read = |path: &Path, source| TlsError::Read {
        path: path.to_owned(),
        source,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| read(cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read(cert, e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| read(key, e))?;
    Ok(ServerTls {
        fingerprint: Fingerprint::of(&chain[0]),
        config: build_server_config(chain, key)?,
    })
}

fn build_server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// A throwaway certificate, made for this run: `chatroom serve --tls-self-signed`.
pub struct SelfSigned {
    pub config: Arc<rustls::ServerConfig>,
    pub fingerprint: Fingerprint,
    /// The certificate in PEM, for a client to trust with `--ca-file`.
    pub cert_pem: String,
}

/// Makes a self-signed certificate for `names` (host names or IP addresses).
pub fn self_signed(names: Vec<String>) -> Result<SelfSigned, TlsError> {
    let made = rcgen::generate_simple_self_signed(names)?;
    let cert = made.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
    Ok(SelfSigned {
        fingerprint: Fingerprint::of(&cert),
        cert_pem: made.cert.pem(),
        config: build_server_config(vec![cert], key.into())?,
    })
}

/// How a client decides to trust a `wss://` server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// Trust certificates issued by the CA (or the self-signed certificate) in this PEM file
    /// instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Trust exactly the certificate with this fingerprint, whoever issued it.
    pub fingerprint: Option<Fingerprint>,
}

impl ClientTls {
    /// The rustls setup for these choices; `None` leaves it to the system's roots.
    pub fn client_config(&self) -> Result<Option<rustls::ClientConfig>, TlsError> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?;
        if let Some(pin) = self.fingerprint {
            let verifier = PinnedCertificate {
                pin,
                algorithms: provider().signature_verification_algorithms,
            };
            return Ok(Some(
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(verifier))
                    .with_no_client_auth(),
            ));
        }
        let Some(path) = &self.ca_file else {
            return Ok(None);
        };
        let verifier = TrustedFile::read(path)?;
        Ok(Some(
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth(),
        ))
    }
}

impl TrustedFile {
    fn read(path: &Path) -> Result<Self, TlsError> {
        let read = |source| TlsError::Read {
            path: path.to_owned(),
            source,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(read)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(read)?;
        if certs.is_empty() {
            return Err(TlsError::NoCertificate(path.to_owned()));
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in &certs {
            roots.add(cert.clone())?;
        }
        let chains = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|source| TlsError::Trust {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self { certs, chains })
    }
}

/// Trusts what a `--ca-file` holds, as curl's `--cacert` does: a server whose certificate
/// is one of the file's exactly, or whose chain leads to one of them as a CA. The first
/// covers a self-signed certificate made with `openssl req -x509`, which marks itself a
/// CA and so is refused as a server's own certificate by the chain check (webpki's
/// `CaUsedAsEndEntity`). Like a pinned fingerprint, an exact match is trusted whatever
/// names it carries; the handshake must still be signed by its key.
#[derive(Debug)]
struct TrustedFile {
    certs: Vec<CertificateDer<'static>>,
    chains: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for TrustedFile {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.certs.iter().any(|cert| cert == end_entity) {
            return Ok(ServerCertVerified::assertion());
        }
        self.chains
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chains.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chains.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chains.supported_verify_schemes()
    }
}

/// A pinned certificate that is not the one the server showed.
#[derive(Debug, thiserror::Error)]
#[error("the server's certificate has fingerprint {seen}, not the pinned {pinned}")]
pub struct PinMismatch {
    pub seen: Fingerprint,
    pub pinned: Fingerprint,
}

/// Accepts the one certificate whose SHA-256 fingerprint was given, as ssh accepts a known
/// host key: names and issuers do not matter, and the handshake must still be signed by
/// that certificate's key.
#[derive(Debug)]
struct PinnedCertificate {
    pin: Fingerprint,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = Fingerprint::of(end_entity);
        if seen == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            let mismatch = PinMismatch {
                seen,
                pinned: self.pin,
            };
            Err(rustls::CertificateError::Other(rustls::OtherError(Arc::new(mismatch))).into())
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_back_in_any_usual_spelling() {
        let made = self_signed(vec!["localhost".into()]).unwrap();
        let shown = made.fingerprint.to_string();
        assert_eq!(shown.len(), 32 * 3 - 1);
        for spelling in [
            shown.clone(),
            shown.to_lowercase(),
            shown.replace(':', ""),
            format!("SHA256:{shown}"),
            format!("sha256:{}", shown.replace(':', " ")),
        ] {
            assert_eq!(spelling.parse::<Fingerprint>().unwrap(), made.fingerprint);
        }
        // Not a hex digit, whatever the digits are (a fingerprint may hold no 'A' at all).
        let not_hex = format!("G{}", &shown[1..]);
        for bad in ["", "AB:CD", &shown[..shown.len() - 1], &not_hex] {
            assert!(bad.parse::<Fingerprint>().is_err(), "{bad:?}");
        }
    }

    /// A self-signed certificate marked as a CA, as `openssl req -x509` makes one.
    fn ca_flagged_self_signed() -> (rcgen::CertificateParams, rcgen::KeyPair, rcgen::Certificate) {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (params, key, cert)
    }

    /// What a client trusting the PEM `file` says of a server showing `server`.
    fn verdict(file: &str, server: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        let path = std::env::temp_dir().join(format!("chatroom-ca-{}.pem", uuid::Uuid::new_v4()));
        std::fs::write(&path, file).unwrap();
        let trusted = TrustedFile::read(&path);
        std::fs::remove_file(&path).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        trusted
            .unwrap()
            .verify_server_cert(server, &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    #[test]
    fn a_ca_file_trusts_a_self_signed_ca_certificate_as_itself() {
        let (_, _, cert) = ca_flagged_self_signed();
        // The chain check alone refuses it as a server's own certificate.
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.der().clone()).unwrap();
        let chains = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let refused = chains.verify_server_cert(cert.der(), &[], &name, &[], UnixTime::now());
        assert!(refused.is_err(), "the chain check alone accepts it");

        verdict(&cert.pem(), cert.der()).unwrap();
        let (_, _, other) = ca_flagged_self_signed();
        assert!(
            verdict(&cert.pem(), other.der()).is_err(),
            "another is refused"
        );
    }

    #[test]
    fn a_ca_file_still_trusts_what_its_ca_signed() {
        let (params, key, ca) = ca_flagged_self_signed();
        let issuer = rcgen::Issuer::from_params(&params, &key);
        let leaf_params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        verdict(&ca.pem(), leaf.der()).unwrap();
        let (_, _, stranger) = ca_flagged_self_signed();
        assert!(verdict(&stranger.pem(), leaf.der()).is_err());
    }

    #[test]
    fn a_missing_or_empty_pem_file_is_a_clear_error() {
        let missing = ClientTls {
            ca_file: Some("/nonexistent/ca.pem".into()),
            fingerprint: None,
        };
        let err = missing.client_config().unwrap_err().to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
        assert!(ClientTls::default().client_config().unwrap().is_none());
    }
}
