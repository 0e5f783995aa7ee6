//! `chatroom connect` from its flags: the full-screen client, or plain mode for pipes and bots.

use std::io::IsTerminal;

use chatroom::ui;

use super::setup::log_to_file;
use crate::ConnectArgs;

pub async fn connect(args: ConnectArgs) -> anyhow::Result<()> {
    log_to_file(args.client.log_file.as_deref())?;
    let plain = args.plain
        || args.json
        || !std::io::stdin().is_terminal()
        || !std::io::stdout().is_terminal();
    let mut options = args.client.options(
        args.access.url(&args.server)?,
        args.server.clone(),
        args.access.password()?,
        args.access.tls(),
    );
    options.connect_timeout = args.connect_timeout;
    if plain {
        ui::plain::run(options, args.json, !args.no_reconnect).await
    } else {
        ui::run(options).await
    }
}
