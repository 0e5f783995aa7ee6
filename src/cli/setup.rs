//! What the subcommands share: where files (history, log) go by default, how the binary
//! logs, and reading a password file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chatroom::identity::Identity;
use tracing_subscriber::EnvFilter;

fn project_dirs() -> anyhow::Result<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "chatroom")
        .context("no home directory to keep files in; pass a path explicitly")
}

/// `$XDG_DATA_HOME/chatroom/chatroom.db` on Linux.
pub(super) fn default_db_file() -> anyhow::Result<PathBuf> {
    Ok(project_dirs()?.data_dir().join("chatroom.db"))
}

/// `$XDG_DATA_HOME/chatroom/identity.pem` on Linux: one identity for every server.
pub(super) fn default_identity_file() -> anyhow::Result<PathBuf> {
    Ok(project_dirs()?.data_dir().join("identity.pem"))
}

/// The identity the client joins with: none for a guest; else the key in `file` (or the
/// default file), made there if there is none yet, with a note saying so. A file that
/// cannot be used stops the client with the reason, in one line.
pub(super) fn client_identity(
    file: Option<&Path>,
    guest: bool,
) -> anyhow::Result<(Option<Arc<Identity>>, Option<String>)> {
    if guest {
        return Ok((None, None));
    }
    let path = match file {
        Some(file) => file.to_owned(),
        None => default_identity_file()?,
    };
    let (identity, created) = Identity::load_or_create(&path)?;
    let note = created.then(|| {
        format!(
            "new identity {} saved in {}: it makes your name yours; copy the file (mode 0600) \
             to use your name on another machine",
            identity.public_key().fingerprint(),
            path.display()
        )
    });
    Ok((Some(Arc::new(identity)), note))
}

pub(super) fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The TUI owns the terminal, so its log goes to a file.
pub(super) fn log_to_file(path: Option<&Path>) -> anyhow::Result<()> {
    let path = match path {
        Some(path) => path.to_owned(),
        None => default_log_file()?,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create log directory {}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open log file {}", path.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(env_filter())
        .with_ansi(false)
        .with_writer(file)
        .init();
    Ok(())
}

fn default_log_file() -> anyhow::Result<PathBuf> {
    let dirs = project_dirs()?;
    let dir = dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir());
    Ok(dir.join("chatroom.log"))
}

/// The password from `file` (its last line break dropped) or else from CHATROOM_PASSWORD.
pub fn read_password(file: Option<&Path>) -> anyhow::Result<Option<String>> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the password file {}", file.display()))?;
        let password = text.strip_suffix('\n').unwrap_or(&text);
        return Ok(Some(
            password.strip_suffix('\r').unwrap_or(password).to_owned(),
        ));
    }
    Ok(std::env::var("CHATROOM_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty()))
}
