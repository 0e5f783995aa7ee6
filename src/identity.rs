//! Key identity: a member's Ed25519 key pair, the proof of holding it that a join carries,
//! and the key file it lives in on disk.
//!
//! The server never sees a secret. It sends a nonce; the client signs
//! [`join_message`] — a fixed context, the server's name, the nonce and the key itself —
//! and the server checks it with [`verify_join`]. Naming the server and the nonce in the
//! signed bytes is what stops a signature made for one server or one connection being
//! replayed to another.
//!
//! The key file is PKCS#8 PEM, as `openssl genpkey -algorithm ed25519` writes it, so
//! `openssl pkey` can read it. It is created with mode 0600 from the first byte, refused if
//! anyone else may read it, and never replaced: a file that cannot be used is reported,
//! left as it is, and a new identity is only ever made where no file exists.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ed25519_dalek::pkcs8::{
    DecodePrivateKey, EncodePrivateKey, KeypairBytes, spki::der::pem::LineEnding,
};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::Rng;
use sha2::{Digest, Sha256};

pub mod known;
#[cfg(test)]
mod tests;

/// What a join signature is for, first in the signed bytes, so a signature made for a
/// join can never be taken for one made for anything else.
pub const JOIN_CONTEXT: &str = "chatroom-join-v1";

/// The domain of [`PublicKey::member_id`]'s hash, so the id is not just the key's hash.
const MEMBER_ID_CONTEXT: &[u8] = b"chatroom-member-id\0";

/// A key file is a few hundred bytes; anything much larger is not one, and is not read whole.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// The bytes a client signs to join: UTF-8 of `"{JOIN_CONTEXT}\n{server}\n{nonce}\n{key}"`,
/// where `key` is the base64 public key.
pub fn join_message(server: &str, nonce: &str, key: &str) -> Vec<u8> {
    format!("{JOIN_CONTEXT}\n{server}\n{nonce}\n{key}").into_bytes()
}

/// An Ed25519 public key: 32 bytes that decode to a point of the curve.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// The key from its standard base64 (with padding). Bad base64, a length other than 32
    /// bytes, or bytes that are not the canonical encoding of a point of the curve are
    /// [`ProofError::MalformedKey`].
    ///
    /// Only the canonical encoding is taken so that one point has one fingerprint and one
    /// member id. A small-order key (such as all zeros) is a point, so it parses; no
    /// signature by it ever passes [`verify_join`].
    pub fn from_base64(s: &str) -> Result<Self, ProofError> {
        let bytes = STANDARD.decode(s).map_err(|_| ProofError::MalformedKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| ProofError::MalformedKey)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| ProofError::MalformedKey)?;
        // `from_bytes` keeps the bytes it was given; compressing the point again gives
        // the canonical ones.
        if VerifyingKey::from(key.to_edwards()).as_bytes() != &bytes {
            return Err(ProofError::MalformedKey);
        }
        Ok(Self(bytes))
    }

    /// Standard base64, with padding: the form the key takes on the wire and in
    /// [`join_message`].
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// `"SHA256:"` and the standard base64 (no padding) of the SHA-256 of the key's 32
    /// bytes: the form `ssh-keygen -l` prints. (ssh hashes its own encoding of the key, so
    /// the two fingerprints of one key differ; only the form is shared.)
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(self.0)))
    }

    /// A stable member id for this key: a version 8 uuid made from the first 16 bytes of
    /// SHA-256 of `"chatroom-member-id\0"` and the key. Guests get version 4 ids, so the
    /// version alone tells a keyed member from a guest ([`is_keyed_id`]).
    pub fn member_id(&self) -> uuid::Uuid {
        let digest = Sha256::new()
            .chain_update(MEMBER_ID_CONTEXT)
            .chain_update(self.0)
            .finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        uuid::Uuid::new_v8(first)
    }

    fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::from_bytes(&self.0).expect("a PublicKey is only made from a valid point")
    }
}

/// Why a join proof was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ProofError {
    #[error("malformed public key")]
    MalformedKey,
    #[error("malformed signature")]
    MalformedSignature,
    #[error("the signature does not match")]
    BadSignature,
}

/// Checks a join proof: `signature` (base64 of 64 bytes) by `key` (base64) over
/// [`join_message`]`(server, nonce, key)`. Strict verification: small-order keys and
/// non-canonical signatures are refused, so no signature can be made that passes for
/// every message.
pub fn verify_join(
    key: &str,
    signature: &str,
    server: &str,
    nonce: &str,
) -> Result<PublicKey, ProofError> {
    let public = PublicKey::from_base64(key)?;
    let bytes = STANDARD
        .decode(signature)
        .map_err(|_| ProofError::MalformedSignature)?;
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|_| ProofError::MalformedSignature)?;
    public
        .verifying_key()
        .verify_strict(
            &join_message(server, nonce, key),
            &Signature::from_bytes(&bytes),
        )
        .map_err(|_| ProofError::BadSignature)?;
    Ok(public)
}

/// True when the uuid is one [`PublicKey::member_id`] could make (version 8).
pub fn is_keyed_id(id: uuid::Uuid) -> bool {
    id.get_version() == Some(uuid::Version::Custom)
}

/// This user's key pair. Its `Debug` shows the public key's fingerprint only.
pub struct Identity {
    key: SigningKey,
    /// The servers this identity has signed in to, kept beside its key file; `None` for a
    /// key made in memory.
    known: Option<known::KnownServers>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("fingerprint", &self.public_key().fingerprint())
            .finish_non_exhaustive()
    }
}

/// Why a key file cannot be used. Each reads as one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "identity file {} is readable by others (mode {mode:o}); run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    LoosePermissions { path: PathBuf, mode: u32 },
    #[error("identity file {} does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error(
        "identity file {} is not a chatroom identity ({reason}); it was left as it is",
        path.display()
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("cannot use identity file {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "identity file {} already exists; it was left as it is",
        path.display()
    )]
    Exists { path: PathBuf },
}

impl Identity {
    /// A new key pair from the operating system's randomness.
    pub fn generate() -> Self {
        let seed: [u8; 32] = rand::rng().random();
        Self {
            key: SigningKey::from_bytes(&seed),
            known: None,
        }
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key().to_bytes())
    }

    /// Checks, before signing a challenge from the server at `address`, that no other
    /// address gave the same server id before, bar its `siblings` (see [`known`]), and
    /// remembers this one.
    pub fn vouch(
        &self,
        address: &str,
        siblings: &[String],
        server: &str,
    ) -> Result<(), known::KnownServerError> {
        match &self.known {
            Some(known) => known.vouch(address, siblings, server),
            None => Ok(()),
        }
    }

    /// The base64 signature over [`join_message`]`(server, nonce, public key)`.
    pub fn sign_join(&self, server: &str, nonce: &str) -> String {
        let message = join_message(server, nonce, &self.public_key().to_base64());
        STANDARD.encode(self.key.sign(&message).to_bytes())
    }

    /// Reads a key file. On unix a file that its group or others may read or write
    /// (`mode & 0o077 != 0`) is refused; a missing file is [`IdentityError::NotFound`], one
    /// that is not a PKCS#8 Ed25519 key is [`IdentityError::Corrupt`]. Never writes.
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        let io_error = |source: io::Error| IdentityError::Io {
            path: path.to_owned(),
            source,
        };
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(IdentityError::NotFound {
                    path: path.to_owned(),
                });
            }
            Err(e) => return Err(io_error(e)),
        };
        // The mode of the file opened, not of whatever the path names a moment later.
        let metadata = file.metadata().map_err(io_error)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = metadata.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(IdentityError::LoosePermissions {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        let corrupt = |reason: &str| IdentityError::Corrupt {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        if !metadata.is_file() {
            return Err(corrupt("not a regular file"));
        }
        let mut bytes = Vec::new();
        file.take(MAX_KEY_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
        if bytes.len() as u64 > MAX_KEY_FILE {
            return Err(corrupt("far too large for a key file"));
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| corrupt("not text"))?;
        let key = SigningKey::from_pkcs8_pem(text)
            .map_err(|e| corrupt(&format!("not a PKCS#8 Ed25519 private key: {e}")))?;
        Ok(Self {
            key,
            known: Some(known::KnownServers::beside(path)),
        })
    }

    /// Writes a new key file, mode 0600 from the start (missing parent directories are
    /// made with mode 0700). An existing file is never overwritten:
    /// [`IdentityError::Exists`].
    pub fn create(path: &Path) -> Result<Self, IdentityError> {
        let io_error = |source: io::Error| IdentityError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(io_error)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = match options.open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(IdentityError::Exists {
                    path: path.to_owned(),
                });
            }
            Err(e) => return Err(io_error(e)),
        };
        let identity = Self {
            known: Some(known::KnownServers::beside(path)),
            ..Self::generate()
        };
        // The secret alone (PKCS#8 v1), as `openssl genpkey` writes it: OpenSSL 3.0 cannot
        // read the v2 form that carries the public key too.
        let pem = KeypairBytes {
            secret_key: identity.key.to_bytes(),
            public_key: None,
        }
        .to_pkcs8_pem(LineEnding::LF)
        .expect("an Ed25519 key always encodes as PKCS#8");
        if let Err(e) = file
            .write_all(pem.as_bytes())
            .and_then(|()| file.sync_all())
        {
            // The file is ours, made a moment ago; half a key left behind would only be
            // refused as corrupt on the next start.
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(io_error(e));
        }
        Ok(identity)
    }

    /// The default identity: if `path` does not exist, a new identity is made there
    /// (`true`); if it does, it is loaded, and any error is returned. A file that is
    /// corrupt or readable by others is never replaced.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), IdentityError> {
        match Self::load(path) {
            Ok(identity) => Ok((identity, false)),
            Err(IdentityError::NotFound { .. }) => match Self::create(path) {
                Ok(identity) => Ok((identity, true)),
                // Made by another process since we looked: use theirs.
                Err(IdentityError::Exists { .. }) => Ok((Self::load(path)?, false)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}
