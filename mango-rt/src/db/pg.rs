//! Connecting to PostgreSQL, with TLS when the URL asks for it: libpq's `sslmode`
//! (`disable`, `prefer`, the default, `require`, `verify-ca`, `verify-full`) and
//! `sslrootcert` (a PEM file of the certificate authorities to trust, or `system`),
//! over rustls, so no OpenSSL is needed.
//!
//! tokio-postgres knows `disable`, `prefer` and `require` only, and no `sslrootcert`:
//! both are taken out of the URL here, and the verification they ask for is the
//! rustls verifier handed to tokio-postgres.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

use super::Db;

/// libpq's `sslmode`, as mango reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(value: &str) -> Result<Mode, UrlProblem> {
        Ok(match value {
            "disable" => Mode::Disable,
            "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            "allow" => return Err(UrlProblem::Allow),
            other => return Err(UrlProblem::UnknownMode(other.to_owned())),
        })
    }

    /// Whether the connection is encrypted for sure (`prefer` falls back to none).
    pub(crate) fn encrypts(self) -> bool {
        matches!(self, Mode::Require | Mode::VerifyCa | Mode::VerifyFull)
    }
}

/// How connections to one PostgreSQL URL are opened: what tokio-postgres is given, and
/// the TLS it uses.
#[derive(Clone)]
pub(crate) struct Connector {
    config: tokio_postgres::Config,
    tls: Tls,
    pub(crate) mode: Mode,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// What is wrong with a URL's TLS parameters (the caller adds the URL).
#[derive(Debug, thiserror::Error)]
pub(crate) enum UrlProblem {
    #[error(
        "sslmode=allow (TLS only if the server insists) is not supported: use prefer (TLS if the server offers it) or disable"
    )]
    Allow,
    #[error("sslmode={0} is not one of disable, prefer, require, verify-ca, verify-full")]
    UnknownMode(String),
    #[error(
        "{0}: client certificates are not supported; authenticate with a password (SCRAM) over sslmode=verify-full"
    )]
    ClientCertificates(String),
    #[error("{0}: revocation lists are not supported")]
    RevocationLists(String),
    #[error("`{0}` has a `%` not followed by two hex digits")]
    BadEscape(String),
    #[error("`{0}` is not UTF-8 once decoded")]
    NotUtf8(String),
    #[error(
        "sslrootcert {} cannot be read ({why}); point it at the PEM file of the certificate authority that signed the server's certificate",
        .file.display()
    )]
    RootCertUnreadable { file: PathBuf, why: String },
    #[error(
        "the machine's certificate store has no certificate authority (install Debian's ca-certificates, or point sslrootcert at the CA's PEM file)"
    )]
    NoSystemRoots,
    #[error("TLS cannot be set up: {0}")]
    Tls(String),
    #[error("PostgreSQL's driver cannot read it: {0}")]
    Driver(#[from] tokio_postgres::Error),
}

impl Connector {
    /// Reads the URL's `sslmode` and `sslrootcert`, and the CA file it names, now: a
    /// missing or unreadable file stops start-up rather than the first call.
    pub(crate) fn new(url: &str) -> Result<Connector, UrlProblem> {
        let parts = split(url)?;
        let mut config = tokio_postgres::Config::from_str(&parts.rest)?;
        let mode = match &parts.sslmode {
            Some(value) => Mode::parse(value)?,
            None => Mode::Prefer,
        };
        config.ssl_mode(match mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        });
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match (mode, &parts.sslrootcert) {
            (Mode::Disable, _) => Arc::new(Unverified(provider.clone())),
            // libpq: with a root certificate at hand, `prefer` and `require` check the
            // chain as `verify-ca` does.
            (Mode::Prefer | Mode::Require, None) => Arc::new(Unverified(provider.clone())),
            (Mode::Prefer | Mode::Require | Mode::VerifyCa, Some(roots)) => {
                Arc::new(ChainOnly(webpki(roots_from(roots)?, &provider)?))
            }
            (Mode::VerifyCa, None) => Arc::new(ChainOnly(webpki(default_roots()?, &provider)?)),
            (Mode::VerifyFull, Some(roots)) => webpki(roots_from(roots)?, &provider)?,
            (Mode::VerifyFull, None) => webpki(default_roots()?, &provider)?,
        };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| UrlProblem::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Connector {
            config,
            tls: Tls(Arc::new(tls)),
            mode,
        })
    }

    /// The first host beyond this machine that connections to it are not sure to be
    /// encrypted to (`check --deploy`).
    pub(crate) fn clear_beyond_loopback(&self) -> Option<String> {
        if self.mode.encrypts() {
            return None;
        }
        self.config.get_hosts().iter().find_map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) if !crate::util::is_loopback(name) => {
                Some(name.clone())
            }
            _ => None,
        })
    }

    /// Opens a connection.
    pub(crate) async fn connect(&self) -> diesel::ConnectionResult<Db> {
        let (client, connection) = self.config.connect(self.tls.clone()).await.map_err(|e| {
            diesel::ConnectionError::BadConnection(explain(self.mode, &e.to_string(), &e))
        })?;
        Db::try_from_client_and_connection(client, connection).await
    }
}

/// One connection to `url`, with its TLS: for mango's own work outside a pool (the test
/// server's databases).
#[cfg(feature = "testing")]
pub(crate) async fn connect_url(url: &str) -> Result<Db, ConnectProblem> {
    let connector = Connector::new(url)?;
    Ok(connector.connect().await?)
}

/// Why [`connect_url`] did not connect.
#[cfg(feature = "testing")]
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectProblem {
    #[error(transparent)]
    Url(#[from] UrlProblem),
    #[error(transparent)]
    Connection(#[from] diesel::ConnectionError),
}

/// `url` naming the database `name` on the same server, its parameters kept.
#[cfg(feature = "testing")]
pub(crate) fn with_database(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    // The server is what comes before the path: the first `/` after `scheme://`.
    let after_scheme = head.find("://").map_or(0, |i| i + 3);
    let server = match head[after_scheme..].find('/') {
        Some(i) => &head[..after_scheme + i],
        None => head,
    };
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

/// The driver's error, with what to do where it is about TLS.
fn explain(mode: Mode, said: &str, e: &tokio_postgres::Error) -> String {
    use std::error::Error as _;
    let mut why = said.to_owned();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !why.contains(&text) {
            why.push_str(": ");
            why.push_str(&text);
        }
        source = s.source();
    }
    if why.contains("server does not support TLS") {
        why.push_str(&format!(
            " (sslmode={}: turn TLS on in the server, `ssl = on` in postgresql.conf, or say sslmode=prefer to connect without it)",
            mode_name(mode)
        ));
    } else if why.contains("NotValidForName") || why.contains("not valid for name") {
        why.push_str(" (sslmode=verify-full: the server's certificate does not name the host of the URL; connect by a name the certificate lists, or say sslmode=verify-ca to check the chain only)");
    } else if why.contains("UnknownIssuer")
        || why.contains("unknown issuer")
        || why.contains("invalid peer certificate")
    {
        why.push_str(" (the server's certificate is not signed by a certificate authority that sslrootcert names; point sslrootcert at the CA's PEM file, or say sslmode=require to encrypt without checking)");
    }
    why
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Disable => "disable",
        Mode::Prefer => "prefer",
        Mode::Require => "require",
        Mode::VerifyCa => "verify-ca",
        Mode::VerifyFull => "verify-full",
    }
}

/// A URL taken apart: the TLS parameters mango reads, and the rest for tokio-postgres.
#[derive(Debug, PartialEq, Eq)]
struct Parts {
    rest: String,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

fn split(url: &str) -> Result<Parts, UrlProblem> {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, query),
        None => (url, ""),
    };
    let mut kept = Vec::new();
    let (mut sslmode, mut sslrootcert) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => sslmode = Some(decode(value)?),
            "sslrootcert" => sslrootcert = Some(decode(value)?),
            "sslcert" | "sslkey" | "sslpassword" => {
                return Err(UrlProblem::ClientCertificates(key.to_owned()));
            }
            "sslcrl" | "sslcrldir" => return Err(UrlProblem::RevocationLists(key.to_owned())),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        head.to_owned()
    } else {
        format!("{head}?{}", kept.join("&"))
    };
    Ok(Parts {
        rest,
        sslmode,
        sslrootcert,
    })
}

/// A URL's percent-encoded value, decoded.
fn decode(value: &str) -> Result<String, UrlProblem> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = value
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| UrlProblem::BadEscape(value.to_owned()))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| UrlProblem::NotUtf8(value.to_owned()))
}

/// The certificate authorities of `sslrootcert`: a PEM file, or `system` (the
/// machine's own store).
fn roots_from(sslrootcert: &str) -> Result<RootCertStore, UrlProblem> {
    if sslrootcert == "system" {
        return system_roots();
    }
    pem_roots(Path::new(sslrootcert))
}

/// Where no `sslrootcert` is given: libpq's `~/.postgresql/root.crt` if there is one,
/// else the machine's store (libpq would refuse to connect instead).
fn default_roots() -> Result<RootCertStore, UrlProblem> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match home.map(|h| h.join(".postgresql/root.crt")) {
        Some(file) if file.exists() => pem_roots(&file),
        _ => system_roots(),
    }
}

fn pem_roots(file: &Path) -> Result<RootCertStore, UrlProblem> {
    let unreadable = |e: &dyn fmt::Display| UrlProblem::RootCertUnreadable {
        file: file.to_owned(),
        why: e.to_string(),
    };
    let text = std::fs::read(file).map_err(|e| unreadable(&e))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&text) {
        let cert = cert.map_err(|e| unreadable(&e))?;
        roots.add(cert).map_err(|e| unreadable(&e))?;
    }
    if roots.is_empty() {
        return Err(unreadable(&"it holds no certificate"));
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, UrlProblem> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(UrlProblem::NoSystemRoots);
    }
    Ok(roots)
}

fn webpki(
    roots: RootCertStore,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, UrlProblem> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| UrlProblem::Tls(e.to_string()))
}

/// `sslmode=prefer` or `require` without a root certificate: encrypted, the server's
/// certificate not checked (libpq's meaning: safe from listeners, not from a server
/// that pretends), its handshake signatures still checked.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain is checked against the roots, the host name is not.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// tokio-postgres' TLS, by rustls.
#[derive(Clone)]
struct Tls(Arc<rustls::ClientConfig>);

impl<S> MakeTlsConnect<S> for Tls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type TlsConnect = Connect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> io::Result<Connect> {
        let name = ServerName::try_from(host.to_owned()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{host}` cannot be checked against a certificate: {e}"),
            )
        })?;
        Ok(Connect {
            config: self.0.clone(),
            name,
        })
    }
}

struct Connect {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let tls = tokio_rustls::TlsConnector::from(self.config)
                .connect(self.name, stream)
                .await?;
            Ok(Stream(tls))
        })
    }
}

/// A TLS connection to the server. No channel binding (SCRAM-SHA-256 without `-PLUS`).
struct Stream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for Stream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_the_url() {
        let parts = split(
            "postgres://app:pw@db.example.com:5432/site?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        )
        .expect("a good URL");
        assert_eq!(
            parts,
            Parts {
                rest: "postgres://app:pw@db.example.com:5432/site?application_name=x".into(),
                sslmode: Some("verify-full".into()),
                sslrootcert: Some("/etc/ca.pem".into()),
            }
        );
        assert_eq!(
            split("postgres://h/db").expect("a good URL").rest,
            "postgres://h/db"
        );
        assert_eq!(
            split("postgres://h/db?sslmode=require")
                .expect("a good URL")
                .rest,
            "postgres://h/db"
        );
    }

    #[test]
    fn bad_tls_parameters_say_what_to_use() {
        let err = |url: &str| Connector::new(url).expect_err(url).to_string();
        assert!(err("postgres://h/db?sslmode=allow").contains("use prefer"));
        assert!(err("postgres://h/db?sslmode=on").contains("not one of disable"));
        assert!(err("postgres://h/db?sslcert=c.pem").contains("client certificates"));
        assert!(
            err("postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
                .contains("sslrootcert /nonexistent/ca.pem cannot be read")
        );
        assert!(err("postgres://h/db?sslrootcert=%zz").contains("two hex digits"));
    }

    #[cfg(feature = "testing")]
    #[test]
    fn another_database_keeps_the_parameters() {
        assert_eq!(
            with_database("postgres://u@h:5/postgres?sslmode=require", "t1"),
            "postgres://u@h:5/t1?sslmode=require"
        );
        assert_eq!(
            with_database("postgres://u@h:5/postgres", "t1"),
            "postgres://u@h:5/t1"
        );
        assert_eq!(
            with_database("postgres://u@h:5", "t1"),
            "postgres://u@h:5/t1"
        );
    }

    #[test]
    fn modes_are_libpqs() {
        for (url, mode) in [
            ("postgres://h/db", Mode::Prefer),
            ("postgres://h/db?sslmode=disable", Mode::Disable),
            ("postgres://h/db?sslmode=require", Mode::Require),
            (
                "postgres://h/db?sslmode=verify-ca&sslrootcert=system",
                Mode::VerifyCa,
            ),
            (
                "postgres://h/db?sslmode=verify-full&sslrootcert=system",
                Mode::VerifyFull,
            ),
        ] {
            assert_eq!(Connector::new(url).expect(url).mode, mode, "{url}");
        }
        assert!(!Mode::Prefer.encrypts() && Mode::Require.encrypts());
    }

    #[test]
    fn check_deploy_names_a_host_reached_in_clear() {
        let clear = |url: &str| Connector::new(url).expect(url).clear_beyond_loopback();
        assert_eq!(
            clear("postgres://u@db.example.com/x").as_deref(),
            Some("db.example.com")
        );
        assert_eq!(
            clear("postgres://u@10.0.0.5/x?sslmode=disable").as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(clear("postgres://u@db.example.com/x?sslmode=require"), None);
        assert_eq!(clear("postgres://u@127.0.0.1/x"), None);
        assert_eq!(clear("postgres://u@localhost/x"), None);
    }
}
