//! The client's config file (`~/.config/chatroom/config.toml`): its keys, each validated
//! as its flag is, with `[theme]` and `[keys]`; a mistake is one line naming the file, the
//! line and the column. Merging it with the flags is the binary's job (`src/cli/config.rs`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ratatui::style::Color;
use serde::{Deserialize, Deserializer, de};
use toml::Spanned;

use super::app::{Bell, Timestamps};
use super::keymap::{Key, KeyAction, Keymap};
use super::theme::{Palette, Theme, parse_colour};
use crate::rpc::tls::Fingerprint;

/// Lines `--scrollback` (and `scrollback =`) may keep.
pub const SCROLLBACK_RANGE: std::ops::RangeInclusive<u64> = 1000..=1_000_000;

/// The file as written: every key may be left out, and then the flag's default holds.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `host[:port]` or a URL, or several comma-separated, as `connect SERVER` takes them.
    #[serde(default, deserialize_with = "server")]
    pub server: Option<String>,
    #[serde(default, deserialize_with = "name")]
    pub name: Option<String>,
    #[serde(default, rename = "rooms")]
    rooms_written: Option<Vec<Spanned<String>>>,
    /// Checked as `--room` is, `#` added.
    #[serde(skip)]
    pub rooms: Option<Vec<String>>,
    pub identity: Option<PathBuf>,
    pub guest: Option<bool>,
    pub log_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "value_enum")]
    pub timestamps: Option<Timestamps>,
    #[serde(default, deserialize_with = "value_enum")]
    pub bell: Option<Bell>,
    pub mouse: Option<bool>,
    #[serde(default, deserialize_with = "scrollback")]
    pub scrollback: Option<u64>,
    #[serde(default, deserialize_with = "duration")]
    pub connect_timeout: Option<Duration>,
    pub ca_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "fingerprint")]
    pub fingerprint: Option<Fingerprint>,
    /// Where the chat log goes (`--chat-log`).
    pub chat_log: Option<PathBuf>,
    /// How notifications are raised (`--notify-with`).
    #[serde(default, deserialize_with = "value_enum")]
    pub notify_with: Option<super::notify::NotifyWith>,
    #[serde(default)]
    pub theme: ThemeSection,
    #[serde(default, rename = "keys")]
    keys_written: BTreeMap<Spanned<String>, Spanned<KeyList>>,
    /// The keys `[keys]` binds, each action there with its keys.
    #[serde(skip)]
    pub keys: HashMap<KeyAction, Vec<Key>>,
    /// `[keys]` over the default keys.
    #[serde(skip)]
    pub keymap: Keymap,
}

/// `[theme]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThemeSection {
    #[serde(default, deserialize_with = "palette")]
    pub palette: Option<Palette>,
    #[serde(default, rename = "nick_colours")]
    nick_colours_written: Option<Vec<Spanned<toml::Value>>>,
    #[serde(skip)]
    pub nick_colours: Option<Vec<Colour>>,
}

/// A colour in `nick_colours = [...]`, with the text it was written as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Colour(pub Color, pub String);

/// One key or a list of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyList(pub Vec<Key>);

/// Why the file cannot be used: one line, with where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} line {line}, column {column}: {message}", path.display())]
    At {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl ConfigFile {
    /// The file at `path`; none when it does not exist and was not asked for by name
    /// (`explicit`), since every key has a default.
    pub fn load(path: &Path, explicit: bool) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if !explicit && err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Self::parse(&text).map_err(|(at, message)| {
            let before = &text[..at.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            ConfigError::At {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        })
    }

    /// The file's text, checked whole; a mistake comes with the byte offset it is at.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut file: Self = toml::from_str(text).map_err(|err| {
            let at = err.span().map_or(0, |span| span.start);
            (at, err.message().trim().replace('\n', " "))
        })?;
        if file.identity.is_some() && file.guest == Some(true) {
            return Err((0, "identity and guest = true contradict each other".into()));
        }
        if file.ca_file.is_some() && file.fingerprint.is_some() {
            return Err((0, "ca_file and fingerprint contradict each other".into()));
        }
        // An element's mistake is found here, where its own line is known.
        if let Some(rooms) = &file.rooms_written {
            let rooms = rooms
                .iter()
                .map(|room| typed_room(room.get_ref()).map_err(|err| (room.span().start, err)))
                .collect::<Result<_, _>>()?;
            file.rooms = Some(rooms);
        }
        if let Some(colours) = &file.theme.nick_colours_written {
            let colours = colours
                .iter()
                .map(|colour| {
                    let text = match colour.get_ref() {
                        toml::Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    parse_colour(&text)
                        .map(|parsed| Colour(parsed, text))
                        .map_err(|err| (colour.span().start, err))
                })
                .collect::<Result<_, _>>()?;
            file.theme.nick_colours = Some(colours);
        }
        let mut spans = HashMap::new();
        for (name, keys) in &file.keys_written {
            let action = KeyAction::all()
                .find(|action| action.name() == *name.get_ref())
                .ok_or_else(|| {
                    let names: Vec<String> = KeyAction::all().map(KeyAction::name).collect();
                    (
                        name.span().start,
                        format!(
                            "unknown key action {:?}, expected one of {}",
                            name.get_ref(),
                            names.join(", ")
                        ),
                    )
                })?;
            file.keys.insert(action, keys.get_ref().0.clone());
            spans.insert(action.name(), keys.span().start);
        }
        file.keymap = Keymap::new(&file.keys).map_err(|clash| {
            // The line of one written here (the other may be a default key).
            let at = spans
                .get(&clash.second)
                .or_else(|| spans.get(&clash.first))
                .copied()
                .unwrap_or(0);
            (at, clash.to_string())
        })?;
        Ok(file)
    }

    /// The colours `[theme]` asks for.
    pub fn theme(&self) -> Theme {
        Theme::new(self.theme.palette.unwrap_or_default(), self.nick_colours())
    }

    /// `[theme]`'s nick colours, if it lists them.
    pub fn nick_colours(&self) -> Option<Vec<Color>> {
        let colours = self.theme.nick_colours.as_ref()?;
        Some(colours.iter().map(|colour| colour.0).collect())
    }
}

/// `10s`, `2m`, `500ms`, or a plain number of seconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let (number, unit) = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((value, "s"), |at| value.split_at(at));
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{value:?} is not a duration"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(format!("{value:?}: use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|err| err.to_string())
}

/// [`parse_duration`], and more than nothing.
pub fn positive_duration(value: &str) -> Result<Duration, String> {
    match parse_duration(value)? {
        Duration::ZERO => Err(format!("{value:?} is no time at all")),
        duration => Ok(duration),
    }
}

/// A room to join as typed, where the `#` may be left out (`--room ops`).
pub fn typed_room(value: &str) -> Result<String, String> {
    crate::domain::parse_room_name(&super::command::room_name(value)).map_err(|e| e.to_string())
}

/// A string, checked by `check`: its error is the file's error at this value.
fn checked<'de, D, T>(
    deserializer: D,
    check: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
{
    let text = String::deserialize(deserializer)?;
    check(&text).map(Some).map_err(de::Error::custom)
}

fn server<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, |text| {
        if text.split(',').any(|s| s.trim().is_empty()) {
            Err(format!(
                "{text:?} is not a server address (host[:port], comma-separated)"
            ))
        } else {
            Ok(text.to_owned())
        }
    })
}

fn name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, |text| {
        if text.trim().is_empty() {
            Err("the name is empty".into())
        } else {
            Ok(text.to_owned())
        }
    })
}

fn value_enum<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: clap::ValueEnum,
{
    checked(d, |text| {
        T::from_str(text, true).map_err(|_| {
            let names: Vec<String> = T::value_variants()
                .iter()
                .filter_map(|v| v.to_possible_value())
                .map(|v| v.get_name().to_owned())
                .collect();
            format!("{text:?} is not one of {}", names.join(", "))
        })
    })
}

fn scrollback<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let lines = u64::deserialize(d)?;
    if SCROLLBACK_RANGE.contains(&lines) {
        Ok(Some(lines))
    } else {
        Err(de::Error::custom(format!(
            "scrollback {lines} is not in {}..={}",
            SCROLLBACK_RANGE.start(),
            SCROLLBACK_RANGE.end()
        )))
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    checked(d, positive_duration)
}

fn fingerprint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Fingerprint>, D::Error> {
    checked(d, |text| {
        text.parse()
            .map_err(|e: crate::rpc::tls::TlsError| e.to_string())
    })
}

fn palette<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Palette>, D::Error> {
    checked(d, str::parse)
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> de::Visitor<'de> for Visit {
            type Value = KeyList;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key such as \"ctrl-n\", or a list of them")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<KeyList, E> {
                text.parse()
                    .map(|key| KeyList(vec![key]))
                    .map_err(E::custom)
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<KeyList, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = seq.next_element()? {
                    keys.push(key);
                }
                Ok(KeyList(keys))
            }
        }
        d.deserialize_any(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line and the message of a mistake in `text`.
    fn mistake(text: &str) -> (usize, String) {
        static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!("chatroom-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("{n}.toml"));
        std::fs::write(&path, text).unwrap();
        let err = ConfigFile::load(&path, true).unwrap_err();
        let _ = std::fs::remove_file(&path);
        let line = err.to_string();
        assert!(line.starts_with(&path.display().to_string()), "{line}");
        assert!(!line.contains('\n'), "{line}");
        match err {
            ConfigError::At { line, message, .. } => (line, message),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn the_example_file_parses_and_says_something() {
        let text = include_str!("../../docs/config.example.toml");
        let file = ConfigFile::parse(text).unwrap();
        assert!(file.server.is_some());
        assert_eq!(file.theme.palette, Some(Palette::Dark));
        assert!(!file.keys.is_empty());
    }

    #[test]
    fn the_readme_shows_the_example_file_as_it_is() {
        let readme = include_str!("../../README.md");
        assert!(readme.contains(include_str!("../../docs/config.example.toml")));
    }

    #[test]
    fn an_empty_file_and_a_missing_default_file_are_all_defaults() {
        let file = ConfigFile::parse("").unwrap();
        assert!(file.server.is_none() && file.keys.is_empty());
        assert_eq!(file.keymap, Keymap::default());
        let missing = std::env::temp_dir().join("chatroom-no-such-config.toml");
        assert!(ConfigFile::load(&missing, false).is_ok());
        assert!(matches!(
            ConfigFile::load(&missing, true),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn an_unknown_key_names_its_line() {
        let (line, message) = mistake("name = \"al\"\n\nscrollbak = 5000\n");
        assert_eq!(line, 3);
        assert!(
            message.contains("scrollbak") && message.contains("scrollback"),
            "{message}"
        );
    }

    #[test]
    fn a_wrong_type_names_its_line() {
        let (line, message) = mistake("name = \"al\"\nmouse = \"yes\"\n");
        assert_eq!(line, 2);
        assert!(message.contains("bool"), "{message}");
    }

    #[test]
    fn values_are_checked_like_the_flags() {
        assert_eq!(mistake("scrollback = 10\n").0, 1);
        assert_eq!(mistake("\nconnect_timeout = \"0s\"\n").0, 2);
        assert_eq!(mistake("rooms = [\"#ok\",\n  \"#no way\"]\n").0, 2);
        assert_eq!(mistake("timestamps = \"sometimes\"\n").0, 1);
        assert_eq!(mistake("notify_with = \"smoke\"\n").0, 1);
        assert_eq!(mistake("name = \"al\"\nrooms = [\"#a\" \"#b\"]\n").0, 2);
    }

    #[test]
    fn a_bad_colour_names_its_line() {
        let text =
            "[theme]\npalette = \"light\"\nnick_colours = [\n  \"203\",\n  \"blurple\",\n]\n";
        let (line, message) = mistake(text);
        assert_eq!(line, 5);
        assert!(message.contains("blurple"), "{message}");
        let file = ConfigFile::parse("[theme]\nnick_colours = [203, \"#ff8800\"]\n").unwrap();
        assert_eq!(
            file.theme().nick_colours,
            vec![Color::Indexed(203), Color::Rgb(255, 136, 0)]
        );
    }

    #[test]
    fn a_bad_key_name_names_its_line() {
        let (line, message) = mistake("[keys]\nnext_room = \"alt-right\"\npage_up = \"pagup\"\n");
        assert_eq!(line, 3);
        assert!(message.contains("pagup"), "{message}");
        assert_eq!(mistake("[keys]\n\nnext_rooom = \"alt-right\"\n").0, 3);
    }

    #[test]
    fn a_key_bound_twice_names_its_line() {
        let text =
            "[keys]\nnext_room = \"alt-right\"\nprevious_room = [\"alt-left\", \"alt-right\"]\n";
        let (line, message) = mistake(text);
        assert_eq!(line, 3);
        assert!(
            message.contains("alt-right") && message.contains("next_room"),
            "{message}"
        );
        // A default key taken by another action counts too.
        let (line, _) = mistake("[keys]\n\nnext_room = \"ctrl-p\"\n");
        assert_eq!(line, 3);
    }
}
