//! What the `chatroom` binary does with its parsed flags, one file per subcommand, plus the
//! set-up they share. `anyhow` lives here and in `main.rs`, never in the library.

pub mod admin;
pub mod bench;
pub mod config;
pub mod connect;
pub mod serve;
pub mod setup;
