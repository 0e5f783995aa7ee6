//! The join proof refuses every signature it should, and the key file is never loose,
//! never silently replaced.

use super::*;

/// RFC 8032's first test key, so these tests pin values any Ed25519 tool reproduces.
const RFC_SECRET: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];
const RFC_PUBLIC: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
/// `openssl pkey` writing RFC_SECRET as PKCS#8: a key file made by another tool.
const RFC_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
    MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
    -----END PRIVATE KEY-----\n";

fn rfc_identity() -> Identity {
    Identity {
        key: SigningKey::from_bytes(&RFC_SECRET),
        known: None,
    }
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// A directory of its own under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("chatroom-identity-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).expect("create a temp dir");
        Self(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

// ---- the join proof ----

#[test]
fn join_message_is_context_server_nonce_and_key_on_lines() {
    assert_eq!(
        join_message("chat.example.org", "n-1", "KEY="),
        b"chatroom-join-v1\nchat.example.org\nn-1\nKEY=".to_vec()
    );
}

#[test]
fn a_signed_join_verifies_and_names_the_signer() {
    let identity = Identity::generate();
    let key = identity.public_key().to_base64();
    let signature = identity.sign_join("chat.example.org", "nonce-1");
    assert_eq!(
        verify_join(&key, &signature, "chat.example.org", "nonce-1"),
        Ok(identity.public_key())
    );
}

#[test]
fn join_signature_matches_the_one_openssl_makes_over_the_same_bytes() {
    // `printf 'chatroom-join-v1\nchat.example.org\nnonce-123\n<key>' |
    //  openssl pkeyutl -sign -rawin -inkey rfc.pem` — Ed25519 is deterministic.
    let expected =
        "k7SIokq0Ri0kMOz3+ffQnZZ3Y03V/cSiYRwK3Fjxprlvy6hyk2Hs5smSK4YZyp9Q55hA3Trt8g3ns2bRUNAMAQ==";
    let identity = rfc_identity();
    assert_eq!(identity.public_key().to_base64(), RFC_PUBLIC);
    assert_eq!(
        identity.sign_join("chat.example.org", "nonce-123"),
        expected
    );
    assert!(verify_join(RFC_PUBLIC, expected, "chat.example.org", "nonce-123").is_ok());
}

#[test]
fn a_signature_made_for_another_server_is_refused() {
    let identity = Identity::generate();
    let key = identity.public_key().to_base64();
    let signature = identity.sign_join("evil.example.org", "nonce-1");
    assert_eq!(
        verify_join(&key, &signature, "chat.example.org", "nonce-1"),
        Err(ProofError::BadSignature)
    );
}

#[test]
fn a_signature_replayed_with_another_nonce_is_refused() {
    let identity = Identity::generate();
    let key = identity.public_key().to_base64();
    let signature = identity.sign_join("chat.example.org", "nonce-of-connection-1");
    assert!(
        verify_join(
            &key,
            &signature,
            "chat.example.org",
            "nonce-of-connection-1"
        )
        .is_ok()
    );
    assert_eq!(
        verify_join(
            &key,
            &signature,
            "chat.example.org",
            "nonce-of-connection-2"
        ),
        Err(ProofError::BadSignature)
    );
}

#[test]
fn a_signature_presented_under_another_key_is_refused() {
    let alice = Identity::generate();
    let mallory = Identity::generate();
    let signature = alice.sign_join("chat.example.org", "nonce-1");
    assert_eq!(
        verify_join(
            &mallory.public_key().to_base64(),
            &signature,
            "chat.example.org",
            "nonce-1"
        ),
        Err(ProofError::BadSignature)
    );
}

#[test]
fn a_signature_with_any_bit_flipped_is_refused() {
    let identity = Identity::generate();
    let key = identity.public_key().to_base64();
    let signature = STANDARD
        .decode(identity.sign_join("chat.example.org", "nonce-1"))
        .unwrap();
    for bit in 0..signature.len() * 8 {
        let mut forged = signature.clone();
        forged[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            verify_join(&key, &b64(&forged), "chat.example.org", "nonce-1"),
            Err(ProofError::BadSignature),
            "bit {bit} flipped"
        );
    }
}

#[test]
fn a_small_order_key_is_refused_even_with_a_signature_plain_verification_accepts() {
    use ed25519_dalek::Verifier;
    // All zeros is a point of order 4. With s = 0, a signature whose R is one of that
    // key's multiples passes plain Ed25519 verification for about one message in four:
    // a forgery anyone can make, with no secret at all.
    let zero_key = b64(&[0u8; 32]);
    let weak = PublicKey::from_base64(&zero_key).expect("all zeros is a point");
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut two_a = [0xffu8; 32];
    two_a[0] = 0xec;
    two_a[31] = 0x7f;
    let mut minus_a = [0u8; 32];
    minus_a[31] = 0x80;
    let multiples = [identity, [0u8; 32], two_a, minus_a];
    let forgery = (0..64).find_map(|n| {
        let nonce = format!("nonce-{n}");
        let message = join_message("chat.example.org", &nonce, &zero_key);
        multiples.iter().find_map(|r| {
            let mut bytes = [0u8; 64];
            bytes[..32].copy_from_slice(r);
            let signature = Signature::from_bytes(&bytes);
            weak.verifying_key()
                .verify(&message, &signature)
                .is_ok()
                .then(|| (nonce.clone(), b64(&bytes)))
        })
    });
    let (nonce, signature) = forgery.expect("a forgery that plain verification accepts");
    assert_eq!(
        verify_join(&zero_key, &signature, "chat.example.org", &nonce),
        Err(ProofError::BadSignature)
    );
}

#[test]
fn a_key_that_is_not_base64_is_malformed() {
    let signature = b64(&[0u8; 64]);
    for key in [
        "not base64!",
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "",
    ] {
        assert_eq!(
            PublicKey::from_base64(key),
            Err(ProofError::MalformedKey),
            "{key:?}"
        );
        assert_eq!(
            verify_join(key, &signature, "s", "n"),
            Err(ProofError::MalformedKey)
        );
    }
}

#[test]
fn a_key_of_31_or_33_bytes_is_malformed() {
    let key = STANDARD.decode(RFC_PUBLIC).unwrap();
    assert_eq!(
        PublicKey::from_base64(&b64(&key[..31])),
        Err(ProofError::MalformedKey)
    );
    let mut long = key.clone();
    long.push(0);
    assert_eq!(
        PublicKey::from_base64(&b64(&long)),
        Err(ProofError::MalformedKey)
    );
}

#[test]
fn a_key_that_is_not_a_point_of_the_curve_is_malformed() {
    // y = 2: (y² - 1) / (d·y² + 1) has no square root, so no x.
    let mut off_curve = [0u8; 32];
    off_curve[0] = 2;
    assert_eq!(
        PublicKey::from_base64(&b64(&off_curve)),
        Err(ProofError::MalformedKey)
    );
}

#[test]
fn a_non_canonical_encoding_of_a_point_is_malformed() {
    // y = p + 3 = 2^255 - 16 names the same point as y = 3. The library takes it as given,
    // so without our check one point would have two fingerprints and two member ids.
    let mut non_canonical = [0xffu8; 32];
    non_canonical[0] = 0xf0;
    non_canonical[31] = 0x7f;
    assert!(VerifyingKey::from_bytes(&non_canonical).is_ok());
    assert_eq!(
        PublicKey::from_base64(&b64(&non_canonical)),
        Err(ProofError::MalformedKey)
    );
    let mut canonical = [0u8; 32];
    canonical[0] = 3;
    assert!(PublicKey::from_base64(&b64(&canonical)).is_ok());
}

#[test]
fn a_signature_of_the_wrong_length_or_not_base64_is_malformed() {
    let identity = Identity::generate();
    let key = identity.public_key().to_base64();
    let signature = STANDARD
        .decode(identity.sign_join("chat.example.org", "n"))
        .unwrap();
    for bad in [
        b64(&signature[..63]),
        b64(&[signature.as_slice(), &[0]].concat()),
        "not base64!".to_owned(),
        String::new(),
    ] {
        assert_eq!(
            verify_join(&key, &bad, "chat.example.org", "n"),
            Err(ProofError::MalformedSignature),
            "{bad:?}"
        );
    }
}

// ---- what a key is called ----

#[test]
fn public_key_base64_round_trips() {
    let key = Identity::generate().public_key();
    assert_eq!(PublicKey::from_base64(&key.to_base64()), Ok(key));
}

#[test]
fn fingerprint_of_a_known_key_is_fixed() {
    // `base64 -d <<< $RFC_PUBLIC | openssl dgst -sha256 -binary | base64 | tr -d =`
    let key = PublicKey::from_base64(RFC_PUBLIC).unwrap();
    assert_eq!(
        key.fingerprint(),
        "SHA256:If4x36FUomFia/hUBG/SJxt77UtqvkWqWId+9H+XIbk"
    );
    assert_eq!(rfc_identity().public_key().fingerprint(), key.fingerprint());
}

#[test]
fn member_id_of_a_known_key_is_fixed_and_version_8() {
    // Python: sha256(b"chatroom-member-id\0" + key)[:16], version and variant bits set.
    let key = PublicKey::from_base64(RFC_PUBLIC).unwrap();
    let id = key.member_id();
    assert_eq!(id.to_string(), "ee046769-21eb-8b7f-822f-0c2543e46d17");
    assert_eq!(id.get_version_num(), 8);
    assert_eq!(PublicKey::from_base64(RFC_PUBLIC).unwrap().member_id(), id);
    assert_ne!(Identity::generate().public_key().member_id(), id);
}

#[test]
fn keyed_ids_are_told_from_guest_ids() {
    assert!(is_keyed_id(Identity::generate().public_key().member_id()));
    for _ in 0..16 {
        assert!(!is_keyed_id(uuid::Uuid::new_v4()));
    }
    assert!(!is_keyed_id(uuid::Uuid::nil()));
}

#[test]
fn debug_of_an_identity_shows_no_secret() {
    let identity = rfc_identity();
    let shown = format!("{identity:?}");
    assert!(
        shown.contains(&identity.public_key().fingerprint()),
        "{shown}"
    );
    let hex: String = RFC_SECRET.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!shown.contains(&hex), "{shown}");
    assert!(
        !shown.contains("157, 97"),
        "the secret as a byte array: {shown}"
    );
    assert!(!shown.contains(&b64(&RFC_SECRET)), "{shown}");
}

// ---- the key file ----

#[cfg(unix)]
#[test]
fn create_writes_mode_0600_and_load_reads_the_same_key() {
    let dir = TempDir::new();
    let path = dir.join("identity.pem");
    let created = Identity::create(&path).unwrap();
    assert_eq!(mode_of(&path), 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{text}");
    // PKCS#8 v1, the secret alone, in the 48 bytes `openssl genpkey` writes: OpenSSL 3.0
    // refuses the v2 form.
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body).unwrap();
    assert_eq!(der.len(), 48, "{text}");
    assert_eq!(
        der[..16],
        STANDARD.decode(RFC_PEM.lines().nth(1).unwrap()).unwrap()[..16]
    );
    let loaded = Identity::load(&path).unwrap();
    assert_eq!(loaded.public_key(), created.public_key());
    assert_eq!(
        loaded.sign_join("s", "n"),
        created.sign_join("s", "n"),
        "the same secret, not only the same public key"
    );
}

#[cfg(unix)]
#[test]
fn create_makes_missing_directories_private() {
    let dir = TempDir::new();
    let path = dir.join("data/chatroom/identity.pem");
    Identity::create(&path).unwrap();
    assert_eq!(mode_of(&dir.join("data")), 0o700);
    assert_eq!(mode_of(&dir.join("data/chatroom")), 0o700);
}

#[cfg(unix)]
#[test]
fn a_key_file_written_by_openssl_loads() {
    let dir = TempDir::new();
    let path = dir.join("openssl.pem");
    std::fs::write(&path, RFC_PEM).unwrap();
    set_mode(&path, 0o600);
    let identity = Identity::load(&path).unwrap();
    assert_eq!(identity.public_key().to_base64(), RFC_PUBLIC);
}

#[cfg(unix)]
#[test]
fn a_key_file_others_may_read_is_refused() {
    let dir = TempDir::new();
    let path = dir.join("identity.pem");
    Identity::create(&path).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o620] {
        set_mode(&path, mode);
        let error = Identity::load(&path).unwrap_err();
        assert!(
            matches!(error, IdentityError::LoosePermissions { mode: m, .. } if m == mode),
            "{mode:o}: {error:?}"
        );
        let line = error.to_string();
        assert!(
            line.contains(&path.display().to_string()) && line.contains("chmod 600"),
            "{line}"
        );
    }
    set_mode(&path, 0o400);
    assert!(Identity::load(&path).is_ok(), "owner-only modes are fine");
}

#[test]
fn a_missing_key_file_is_not_found_and_not_made() {
    let dir = TempDir::new();
    let path = dir.join("identity.pem");
    let error = Identity::load(&path).unwrap_err();
    assert!(matches!(error, IdentityError::NotFound { .. }), "{error:?}");
    assert!(error.to_string().contains(&path.display().to_string()));
    assert!(!path.exists());
}

/// Writes `bytes` as a private file: only its content can be what is wrong with it.
fn private_file(dir: &TempDir, bytes: &[u8]) -> PathBuf {
    let path = dir.join("identity.pem");
    std::fs::write(&path, bytes).unwrap();
    #[cfg(unix)]
    set_mode(&path, 0o600);
    path
}

#[test]
fn a_corrupt_key_file_is_refused_and_left_as_it_is() {
    let garbage: &[&[u8]] = &[
        b"not a key at all\n",
        b"\xff\xfe\x00binary",
        b"",
        // A valid PEM of the right label whose key does not parse.
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ];
    for bytes in garbage {
        let dir = TempDir::new();
        let path = private_file(&dir, bytes);
        let error = Identity::load(&path).unwrap_err();
        assert!(
            matches!(error, IdentityError::Corrupt { .. }),
            "{bytes:?}: {error:?}"
        );
        let line = error.to_string();
        assert!(
            line.contains(&path.display().to_string()) && line.contains("left as it is"),
            "{line}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), *bytes);
    }
}

#[test]
fn load_or_create_never_replaces_a_corrupt_key_file() {
    let dir = TempDir::new();
    let bytes = b"-----BEGIN PRIVATE KEY-----\ntruncated";
    let path = private_file(&dir, bytes);
    let error = Identity::load_or_create(&path).unwrap_err();
    assert!(matches!(error, IdentityError::Corrupt { .. }), "{error:?}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[cfg(unix)]
#[test]
fn load_or_create_never_replaces_a_loose_key_file() {
    let dir = TempDir::new();
    let path = dir.join("identity.pem");
    Identity::create(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    set_mode(&path, 0o644);
    let error = Identity::load_or_create(&path).unwrap_err();
    assert!(
        matches!(error, IdentityError::LoosePermissions { .. }),
        "{error:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(mode_of(&path), 0o644);
}

#[test]
fn load_or_create_makes_a_missing_key_file_then_keeps_it() {
    let dir = TempDir::new();
    let path = dir.join("identity.pem");
    let (first, created) = Identity::load_or_create(&path).unwrap();
    assert!(created);
    assert!(path.exists());
    let (second, created) = Identity::load_or_create(&path).unwrap();
    assert!(!created);
    assert_eq!(second.public_key(), first.public_key());
}

#[test]
fn create_over_an_existing_file_is_refused_and_leaves_it() {
    let dir = TempDir::new();
    let path = dir.join("identity.pem");
    let first = Identity::create(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let error = Identity::create(&path).unwrap_err();
    assert!(matches!(error, IdentityError::Exists { .. }), "{error:?}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(
        Identity::load(&path).unwrap().public_key(),
        first.public_key()
    );
}
