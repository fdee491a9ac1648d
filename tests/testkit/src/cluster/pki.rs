//! The certificates and keys one test cluster needs, made fresh for every run: a CA, a
//! serving certificate for 127.0.0.1 signed by it, and the service-account signing key.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// Files written by [`Pki::write`].
#[derive(Debug, Clone)]
pub(crate) struct Pki {
    /// The CA certificate (PEM): `--client-ca-file` and the clients' trust root.
    pub ca_cert: PathBuf,
    /// The serving certificate and its key (PEM).
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    /// The service-account token signing key (PKCS#8 PEM) and its public half, which
    /// verifies the tokens.
    pub service_account_key: PathBuf,
    pub service_account_pub: PathBuf,
}

impl Pki {
    /// Generates everything into `dir`.
    pub(crate) fn write(dir: &Path) -> anyhow::Result<Self> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "eni-testkit CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let mut serving = CertificateParams::new(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
            "kubernetes.default.svc".to_string(),
        ])?;
        serving
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serving_key = KeyPair::generate()?;
        let serving_cert = serving.signed_by(&serving_key, &ca)?;

        let pki = Self {
            ca_cert: dir.join("ca.crt"),
            serving_cert: dir.join("apiserver.crt"),
            serving_key: dir.join("apiserver.key"),
            service_account_key: dir.join("service-account.key"),
            service_account_pub: dir.join("service-account.pub"),
        };
        let write = |path: &Path, text: String| {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
        };
        write(&pki.ca_cert, ca.pem())?;
        write(&pki.serving_cert, serving_cert.pem())?;
        write(&pki.serving_key, serving_key.serialize_pem())?;
        let service_account = KeyPair::generate()?;
        write(&pki.service_account_key, service_account.serialize_pem())?;
        write(&pki.service_account_pub, service_account.public_key_pem())?;
        Ok(pki)
    }
}
