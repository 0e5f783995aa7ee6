//! The server operators file (`chatroom serve --operators FILE`): one key fingerprint
//! (`SHA256:…`) per line, with `#` comments and blank lines, read at start and again on
//! SIGHUP.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

/// Why an operators file was refused: the whole file is, so a typo never half-applies.
#[derive(Debug, thiserror::Error)]
pub enum OperatorsError {
    #[error("cannot read the operators file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} line {line}: {text:?} is not a key fingerprint (SHA256: and 43 base64 characters, as /whois shows it)",
        path.display()
    )]
    Malformed {
        path: PathBuf,
        line: usize,
        text: String,
    },
}

/// Reads the operators file at `path`.
pub fn read(path: &Path) -> Result<BTreeSet<String>, OperatorsError> {
    let text = std::fs::read_to_string(path).map_err(|source| OperatorsError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text).map_err(|(line, text)| OperatorsError::Malformed {
        path: path.to_owned(),
        line,
        text,
    })
}

/// The fingerprints in an operators file's text; a malformed line is refused with its
/// number (from 1) and its text. Text after a `#` is a comment.
pub fn parse(text: &str) -> Result<BTreeSet<String>, (usize, String)> {
    let mut fingerprints = BTreeSet::new();
    for (number, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        if !is_fingerprint(entry) {
            return Err((number + 1, entry.to_owned()));
        }
        fingerprints.insert(entry.to_owned());
    }
    Ok(fingerprints)
}

/// `SHA256:` and the unpadded base64 of 32 bytes, as `PublicKey::fingerprint` makes it.
fn is_fingerprint(text: &str) -> bool {
    text.strip_prefix("SHA256:")
        .and_then(|digest| STANDARD_NO_PAD.decode(digest).ok())
        .is_some_and(|bytes| bytes.len() == 32)
}

/// What changed from `old` to `new`, for the log: (added, removed).
pub fn changes<'a>(
    old: &'a BTreeSet<String>,
    new: &'a BTreeSet<String>,
) -> (Vec<&'a str>, Vec<&'a str>) {
    (
        new.difference(old).map(String::as_str).collect(),
        old.difference(new).map(String::as_str).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    #[test]
    fn fingerprints_comments_and_blank_lines_are_read() {
        let key = Identity::generate().public_key().fingerprint();
        let text = format!("# operators\n\n  {key}  # alice\n{key}\n");
        assert_eq!(parse(&text).unwrap(), BTreeSet::from([key]));
    }

    #[test]
    fn a_malformed_line_is_refused_with_its_number() {
        let key = Identity::generate().public_key().fingerprint();
        for bad in [
            "alice",
            "SHA256:",
            "SHA256:short",
            "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let text = format!("{key}\n# fine\n{bad}\n");
            assert_eq!(parse(&text), Err((3, bad.to_owned())), "{bad}");
        }
        // Padded base64 is not the form fingerprints are shown in.
        assert!(parse(&format!("{key}=")).is_err());
    }

    #[test]
    fn changes_name_who_came_and_went() {
        let old = BTreeSet::from(["a".to_owned(), "b".to_owned()]);
        let new = BTreeSet::from(["b".to_owned(), "c".to_owned()]);
        assert_eq!(changes(&old, &new), (vec!["c"], vec!["a"]));
    }
}
