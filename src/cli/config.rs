//! The config file merged with the command line: a flag beats its environment variable,
//! which beats the file, which beats the default; and `chatroom config --print` showing
//! each setting in effect with where it came from.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use chatroom::ui::ConnectOptions;
use chatroom::ui::config::ConfigFile;
use chatroom::ui::keymap::KeyAction;
use chatroom::ui::theme::{Palette, Theme};
use clap::ArgMatches;
use clap::parser::ValueSource;
use toml::Value;

use crate::{ClientArgs, ConfigArgs, ConnectArgs};

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    Flag,
    Env,
    File,
    #[default]
    Default,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Self::Flag => "flag",
            Self::Env => "env",
            Self::File => "file",
            Self::Default => "default",
        }
    }
}

/// One setting in effect, for `config --print`.
struct Setting {
    key: String,
    value: Option<Value>,
    source: Source,
}

/// The settings in effect, in the file's order.
#[derive(Default)]
pub struct Report {
    settings: Vec<Setting>,
    /// Where `[theme]`'s palette came from (it has a flag, `--palette`).
    palette: Source,
}

impl Report {
    fn add(&mut self, key: &str, value: Option<Value>, source: Source) {
        self.settings.push(Setting {
            key: key.to_owned(),
            value,
            source,
        });
    }

    /// As TOML a user could paste into the file, each line's source as its comment; a
    /// setting with no value is shown commented out.
    fn to_toml(&self) -> String {
        let mut out = String::new();
        for setting in &self.settings {
            if let Some(section) = setting.key.strip_prefix('[') {
                let _ = writeln!(out, "\n[{section}");
                continue;
            }
            let key = setting.key.rsplit('.').next().unwrap_or(&setting.key);
            let source = setting.source.name();
            match &setting.value {
                Some(value) => {
                    let _ = writeln!(out, "{key} = {value}  # {source}");
                }
                None => {
                    let _ = writeln!(out, "# {key} = (none)  # {source}");
                }
            }
        }
        out
    }
}

/// `$XDG_CONFIG_HOME/chatroom/config.toml` on Linux.
fn default_path() -> anyhow::Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "chatroom")
        .context("no home directory to look for a config file in; pass --config FILE")?;
    Ok(dirs.config_dir().join("config.toml"))
}

/// The config file `--config` (or CHATROOM_CONFIG) names, which must exist, or else the
/// default one, if there is one.
pub fn load(client: &ClientArgs) -> anyhow::Result<ConfigFile> {
    Ok(match &client.config {
        Some(path) => ConfigFile::load(path, true)?,
        None => ConfigFile::load(&default_path()?, false)?,
    })
}

/// Where `id`'s value came from on the command line, or from `file` if neither a flag nor
/// an environment variable gave it (then `slot` takes the file's value).
fn merge<T>(given: &ArgMatches, id: &str, slot: &mut T, file: Option<T>) -> Source {
    match given.value_source(id) {
        Some(ValueSource::CommandLine) => Source::Flag,
        Some(ValueSource::EnvVariable) => Source::Env,
        _ => match file {
            Some(value) => {
                *slot = value;
                Source::File
            }
            None => Source::Default,
        },
    }
}

fn text(value: impl ToString) -> Value {
    Value::String(value.to_string())
}

fn path(value: &Option<PathBuf>) -> Option<Value> {
    value.as_ref().map(|p| text(p.display()))
}

fn enum_name(value: impl clap::ValueEnum) -> Value {
    text(
        value
            .to_possible_value()
            .expect("no variant is skipped")
            .get_name(),
    )
}

/// The file's values for the client's settings, where no flag or variable gave them.
pub fn merge_client(
    args: &mut ClientArgs,
    given: &ArgMatches,
    file: &ConfigFile,
    report: &mut Report,
) {
    let source = merge(given, "name", &mut args.name, file.name.clone().map(Some));
    // What `options` falls back on, shown as the default it is.
    let value = args.name.clone().or_else(crate::default_name).map(text);
    report.add("name", value, source);
    let rooms = file.rooms.as_ref().cloned();
    let source = merge(given, "rooms", &mut args.rooms, rooms);
    let rooms = args.rooms.iter().map(text).collect();
    report.add("rooms", Some(Value::Array(rooms)), source);
    let identity = file.identity.clone().map(Some);
    let identity_source = merge(given, "identity", &mut args.identity, identity);
    let guest_source = merge(given, "guest", &mut args.guest, file.guest);
    // The file cannot hold both (it is refused), so one of them came from the command line:
    // that one stands.
    if args.guest && args.identity.is_some() {
        if guest_source == Source::File {
            args.guest = false;
        } else {
            args.identity = None;
        }
    }
    report.add("identity", path(&args.identity), identity_source);
    report.add("guest", Some(Value::Boolean(args.guest)), guest_source);
    let source = merge(
        given,
        "log_file",
        &mut args.log_file,
        file.log_file.clone().map(Some),
    );
    report.add("log_file", path(&args.log_file), source);
    let source = merge(
        given,
        "chat_log",
        &mut args.chat_log,
        file.chat_log.clone().map(Some),
    );
    report.add("chat_log", path(&args.chat_log), source);
    let source = merge(given, "timestamps", &mut args.timestamps, file.timestamps);
    report.add("timestamps", Some(enum_name(args.timestamps)), source);
    let source = merge(given, "bell", &mut args.bell, file.bell);
    report.add("bell", Some(enum_name(args.bell)), source);
    let source = merge(
        given,
        "no_mouse",
        &mut args.no_mouse,
        file.mouse.map(|m| !m),
    );
    report.add("mouse", Some(Value::Boolean(!args.no_mouse)), source);
    let source = merge(given, "scrollback", &mut args.scrollback, file.scrollback);
    let lines = i64::try_from(args.scrollback).expect("scrollback is at most a million");
    report.add("scrollback", Some(Value::Integer(lines)), source);
    let source = merge(
        given,
        "notify_with",
        &mut args.notify_with,
        file.notify_with,
    );
    report.add("notify_with", Some(enum_name(args.notify_with)), source);
    let palette = file.theme.palette.map(Some);
    report.palette = merge(given, "palette", &mut args.palette, palette);
}

/// The file's values for `connect`'s settings (the client's among them).
pub fn merge_connect(args: &mut ConnectArgs, given: &ArgMatches, file: &ConfigFile) -> Report {
    let mut report = Report::default();
    let source = merge(given, "server", &mut args.server, file.server.clone());
    report.add("server", Some(text(&args.server)), source);
    merge_client(&mut args.client, given, file, &mut report);
    let source = merge(
        given,
        "connect_timeout",
        &mut args.connect_timeout,
        file.connect_timeout,
    );
    report.add(
        "connect_timeout",
        Some(text(duration(args.connect_timeout))),
        source,
    );
    let access = &mut args.access;
    let ca_source = merge(
        given,
        "ca_file",
        &mut access.ca_file,
        file.ca_file.clone().map(Some),
    );
    let fingerprint = file.fingerprint.map(Some);
    let fp_source = merge(given, "fingerprint", &mut access.fingerprint, fingerprint);
    // As with identity and guest: the command line's one stands.
    if access.ca_file.is_some() && access.fingerprint.is_some() {
        if ca_source == Source::File {
            access.ca_file = None;
        } else {
            access.fingerprint = None;
        }
    }
    report.add("ca_file", path(&access.ca_file), ca_source);
    report.add("fingerprint", access.fingerprint.map(text), fp_source);
    let palette = args.client.palette.unwrap_or_default();
    report_theme_and_keys(file, palette, &mut report);
    report
}

/// `10s`, `500ms`: as `--connect-timeout` takes it.
fn duration(value: std::time::Duration) -> String {
    if value.subsec_nanos() == 0 {
        format!("{}s", value.as_secs())
    } else {
        format!("{}ms", value.as_millis())
    }
}

fn report_theme_and_keys(file: &ConfigFile, palette_in_effect: Palette, report: &mut Report) {
    let from_file = |set: bool| if set { Source::File } else { Source::Default };
    let theme = Theme::new(palette_in_effect, None);
    report.add("[theme]", None, Source::Default);
    let palette = report.palette;
    report.add("theme.palette", Some(enum_name(palette_in_effect)), palette);
    let colours = match &file.theme.nick_colours {
        Some(colours) => colours.iter().map(|c| text(&c.1)).collect(),
        None => theme.nick_colours.iter().map(text).collect(),
    };
    report.add(
        "theme.nick_colours",
        Some(Value::Array(colours)),
        from_file(file.theme.nick_colours.is_some()),
    );
    report.add("[keys]", None, Source::Default);
    for action in KeyAction::all() {
        let keys = file.keymap.keys_of(action).iter().map(text).collect();
        let key = format!("keys.{}", action.name());
        report.add(
            &key,
            Some(Value::Array(keys)),
            from_file(file.keys.contains_key(&action)),
        );
    }
}

/// The theme and keys the file gives the client (the palette merged already, as a flag's).
pub fn dress(options: &mut ConnectOptions, file: &ConfigFile) {
    options.theme = Theme::new(options.theme.palette, file.nick_colours());
    options.keymap = file.keymap.clone();
}

/// `chatroom config --print` / `--path`.
pub fn show(mut args: ConfigArgs, given: &ArgMatches) -> anyhow::Result<()> {
    if args.path {
        let path = match &args.connect.client.config {
            Some(path) => path.clone(),
            None => default_path()?,
        };
        println!("{}", path.display());
        return Ok(());
    }
    let file = load(&args.connect.client)?;
    let report = merge_connect(&mut args.connect, given, &file);
    let path = match &args.connect.client.config {
        Some(path) => path.clone(),
        None => default_path()?,
    };
    let read = if path.exists() { "" } else { " (none there)" };
    println!("# config file: {}{read}", path.display());
    print!("{}", report.to_toml());
    Ok(())
}
