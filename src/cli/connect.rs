//! `chatroom connect` from its flags: the full-screen client, or plain mode for pipes and bots.

use std::io::IsTerminal;

use chatroom::ui;
use chatroom::ui::net::ServerAddress;

use super::config;
use super::setup::{client_identity, log_to_file};
use crate::ConnectArgs;

/// `given`: the matches `args` were parsed from, which say what the config file may fill.
pub async fn connect(mut args: ConnectArgs, given: &clap::ArgMatches) -> anyhow::Result<()> {
    let file = config::load(&args.client)?;
    config::merge_connect(&mut args, given, &file);
    log_to_file(args.client.log_file.as_deref())?;
    let (identity, created) = client_identity(args.client.identity.as_deref(), args.client.guest)?;
    let plain = args.plain
        || args.json
        || !std::io::stdin().is_terminal()
        || !std::io::stdout().is_terminal();
    // Each address in the same form as one alone, with the same ways to trust it.
    let servers = args
        .server
        .split(',')
        .map(|server| {
            Ok(ServerAddress {
                url: args.access.url(server)?,
                display: server.to_owned(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut options = args.client.options(
        servers[0].url.clone(),
        servers[0].display.clone(),
        args.access.password()?,
        args.access.tls(),
    );
    config::dress(&mut options, &file);
    options.servers = servers;
    options.connect_timeout = args.connect_timeout;
    options.identity = identity;
    options.notices.extend(created);
    if plain {
        let mode = ui::plain::Mode {
            json: args.json,
            reconnect: !args.no_reconnect,
            mark_read: args.mark_read,
        };
        ui::plain::run(options, mode).await
    } else {
        ui::run(options).await
    }
}
