//! The full-screen client: state ([`App`]), key handling, drawing, and the event loop that
//! joins the terminal and the network into one stream of [`AppEvent`]s.

pub mod app;
pub mod cells;
pub mod chatlog;
mod colours;
pub mod command;
pub mod config;
pub mod days;
pub mod event_text;
pub mod input;
pub mod keymap;
pub mod links;
pub mod net;
pub mod notify;
pub mod plain;
pub mod present;
pub mod render;
mod run;
pub mod theme;

pub use app::{Action, App, AppEvent, NetEvent};
pub use run::{ConnectOptions, run};
