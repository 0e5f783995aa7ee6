//! The servers an identity has signed in to: which server id each address gave. A server
//! that hands on another server's challenge, to sign in there as us while we think we talk
//! to it, gives an id already seen at another address, and is refused before we sign. As
//! ssh's `known_hosts`, this guards every server used before from this machine; the first
//! contact with a server is taken on trust.

use std::io;
use std::path::{Path, PathBuf};

/// The file `known_servers` beside a key file: one `address server-id` per line.
#[derive(Debug, Clone)]
pub struct KnownServers {
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum KnownServerError {
    #[error(
        "the server at {address} gave the id of the server at {first_seen} ({server}): it may be \
         passing your sign-in on to that server, so it was not signed. If both addresses are \
         the same server, remove the line for {first_seen} from {}",
        file.display()
    )]
    Relayed {
        address: String,
        first_seen: String,
        server: String,
        file: PathBuf,
    },
    #[error("cannot use {}: {source}", file.display())]
    Io { file: PathBuf, source: io::Error },
}

impl KnownServers {
    /// The list kept in the directory of the key file `key`.
    pub fn beside(key: &Path) -> Self {
        let dir = key.parent().unwrap_or(Path::new(""));
        Self {
            path: dir.join("known_servers"),
        }
    }

    /// Refuses a server id already seen at another address; otherwise remembers `server`
    /// for `address` (replacing the id it had: a server whose history was reset has a new
    /// one). The `siblings` of `address` (the other nodes given with it, as one service,
    /// to `connect A,B,C`) may share its id: each address still has a line of its own.
    pub fn vouch(
        &self,
        address: &str,
        siblings: &[String],
        server: &str,
    ) -> Result<(), KnownServerError> {
        let io_error = |source| KnownServerError::Io {
            file: self.path.clone(),
            source,
        };
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_error(e)),
        };
        let mut lines: Vec<(String, String)> = text
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(a, s)| (a.to_owned(), s.trim().to_owned()))
            .collect();
        let elsewhere = |a: &String| a != address && !siblings.contains(a);
        if let Some((first_seen, _)) = lines.iter().find(|(a, s)| s == server && elsewhere(a)) {
            return Err(KnownServerError::Relayed {
                address: address.to_owned(),
                first_seen: first_seen.clone(),
                server: server.to_owned(),
                file: self.path.clone(),
            });
        }
        if lines.iter().any(|(a, s)| a == address && s == server) {
            return Ok(());
        }
        lines.retain(|(a, _)| a != address);
        lines.push((address.to_owned(), server.to_owned()));
        let mut out = String::new();
        for (a, s) in &lines {
            out.push_str(&format!("{a} {s}\n"));
        }
        // Written whole and renamed into place, so a crash leaves the old list or the new.
        let temp = self.path.with_extension("new");
        std::fs::write(&temp, out).map_err(io_error)?;
        std::fs::rename(&temp, &self.path).map_err(io_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> (PathBuf, KnownServers) {
        let dir = std::env::temp_dir().join(format!("chatroom-known-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let known = KnownServers::beside(&dir.join("identity.pem"));
        (dir, known)
    }

    #[test]
    fn a_server_id_seen_at_another_address_is_refused_and_nothing_is_written() {
        let (dir, known) = scratch();
        known
            .vouch("wss://chat.example:7777/", &[], "aaaa")
            .unwrap();
        known
            .vouch("wss://chat.example:7777/", &[], "aaaa")
            .unwrap();
        let before = std::fs::read_to_string(dir.join("known_servers")).unwrap();
        let err = known
            .vouch("ws://evil.example:7777/", &[], "aaaa")
            .unwrap_err();
        assert!(
            matches!(&err, KnownServerError::Relayed { first_seen, .. } if first_seen == "wss://chat.example:7777/")
        );
        assert!(err.to_string().contains("passing your sign-in on"), "{err}");
        let after = std::fs::read_to_string(dir.join("known_servers")).unwrap();
        assert_eq!(before, after);
        // The evil server's own id, at its own address, is fine.
        known.vouch("ws://evil.example:7777/", &[], "bbbb").unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_server_that_was_reset_gets_its_new_id_remembered() {
        let (dir, known) = scratch();
        known.vouch("ws://a:1/", &[], "old").unwrap();
        known.vouch("ws://a:1/", &[], "new").unwrap();
        let text = std::fs::read_to_string(dir.join("known_servers")).unwrap();
        assert_eq!(text, "ws://a:1/ new\n");
        // The old id is forgotten, so it no longer counts against another address.
        known.vouch("ws://b:1/", &[], "old").unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn nodes_given_together_may_share_an_id_and_each_keeps_its_own_line() {
        let (dir, known) = scratch();
        let nodes = ["ws://a:1/".to_owned(), "ws://b:1/".to_owned()];
        known.vouch("ws://a:1/", &nodes, "cluster").unwrap();
        known.vouch("ws://b:1/", &nodes, "cluster").unwrap();
        let text = std::fs::read_to_string(dir.join("known_servers")).unwrap();
        assert_eq!(text, "ws://a:1/ cluster\nws://b:1/ cluster\n");
        // Another address, not given with them, that speaks with their id is still refused.
        let err = known.vouch("ws://evil:1/", &[], "cluster").unwrap_err();
        assert!(matches!(err, KnownServerError::Relayed { .. }), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
