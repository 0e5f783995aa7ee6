//! The config file as `chatroom` reads it: a flag beats its environment variable, which
//! beats the file, which beats the default, as `chatroom config --print` shows; and a bad
//! file stops the client with one line.

mod common;

use std::process::{Command, Output};

use common::TempDir;

/// `chatroom ARGS` with the user's config directory in `dir` holding `file` (if any), and
/// `env` set; no other CHATROOM_ variable of the caller's leaks in.
fn chatroom(dir: &TempDir, file: Option<&str>, env: &[(&str, &str)], args: &[&str]) -> Output {
    let config = dir.0.join("config");
    if let Some(text) = file {
        std::fs::create_dir_all(config.join("chatroom")).unwrap();
        std::fs::write(config.join("chatroom/config.toml"), text).unwrap();
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_chatroom"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("CHATROOM_")) {
        command.env_remove(name);
    }
    command
        .env("HOME", &dir.0)
        .env("XDG_CONFIG_HOME", &config)
        .env("XDG_DATA_HOME", dir.0.join("data"))
        .env("XDG_STATE_HOME", dir.0.join("state"))
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

/// The line `config --print` shows for `key`.
fn printed(
    dir: &TempDir,
    file: Option<&str>,
    env: &[(&str, &str)],
    args: &[&str],
    key: &str,
) -> String {
    let mut all = vec!["config", "--print"];
    all.extend_from_slice(args);
    let out = chatroom(dir, file, env, &all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .find(|line| line.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in\n{text}"))
        .to_owned()
}

const FILE: &str = "scrollback = 5000\nname = \"from-file\"\n\n[keys]\nnext_room = \"alt-right\"\n";

#[test]
fn with_no_file_every_setting_is_the_default() {
    let dir = TempDir::new();
    assert_eq!(
        printed(&dir, None, &[], &[], "scrollback"),
        "scrollback = 10000  # default"
    );
    assert_eq!(
        printed(&dir, None, &[], &[], "next_room"),
        "next_room = [\"ctrl-n\"]  # default"
    );
}

#[test]
fn the_file_beats_the_default() {
    let dir = TempDir::new();
    assert_eq!(
        printed(&dir, Some(FILE), &[], &[], "scrollback"),
        "scrollback = 5000  # file"
    );
    assert_eq!(
        printed(&dir, Some(FILE), &[], &[], "name"),
        "name = \"from-file\"  # file"
    );
    assert_eq!(
        printed(&dir, Some(FILE), &[], &[], "next_room"),
        "next_room = [\"alt-right\"]  # file"
    );
}

#[test]
fn an_environment_variable_beats_the_file() {
    let dir = TempDir::new();
    let env = [
        ("CHATROOM_SCROLLBACK", "2000"),
        ("CHATROOM_NAME", "from-env"),
    ];
    assert_eq!(
        printed(&dir, Some(FILE), &env, &[], "scrollback"),
        "scrollback = 2000  # env"
    );
    assert_eq!(
        printed(&dir, Some(FILE), &env, &[], "name"),
        "name = \"from-env\"  # env"
    );
}

#[test]
fn a_flag_beats_the_environment_and_the_file() {
    let dir = TempDir::new();
    let env = [("CHATROOM_SCROLLBACK", "2000")];
    let args = ["--scrollback", "3000", "--no-mouse"];
    assert_eq!(
        printed(&dir, Some(FILE), &env, &args, "scrollback"),
        "scrollback = 3000  # flag"
    );
    let file = "mouse = true\n";
    assert_eq!(
        printed(&dir, Some(file), &[], &args, "mouse"),
        "mouse = false  # flag"
    );
    assert_eq!(
        printed(&dir, Some(file), &[], &[], "mouse"),
        "mouse = true  # file"
    );
}

#[test]
fn a_file_named_with_config_is_read_instead_and_must_exist() {
    let dir = TempDir::new();
    let other = dir.0.join("other.toml");
    std::fs::write(&other, "bell = \"all\"\n").unwrap();
    let other = other.to_str().unwrap();
    let args = ["--config", other];
    assert_eq!(
        printed(&dir, Some(FILE), &[], &args, "bell"),
        "bell = \"all\"  # file"
    );
    assert_eq!(
        printed(&dir, Some(FILE), &[], &args, "scrollback"),
        "scrollback = 10000  # default"
    );
    let env = [("CHATROOM_CONFIG", other)];
    assert_eq!(
        printed(&dir, None, &env, &[], "bell"),
        "bell = \"all\"  # file"
    );
    let missing = dir.0.join("missing.toml");
    let out = chatroom(
        &dir,
        None,
        &[],
        &["config", "--print", "--config", missing.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: cannot read ") && err.contains("missing.toml"),
        "{err}"
    );
}

#[test]
fn a_malformed_file_stops_connect_with_one_line_naming_the_line() {
    let dir = TempDir::new();
    let file = "name = \"al\"\n\n\n\n\n\nscrollbak = 5000\n";
    let out = chatroom(
        &dir,
        Some(file),
        &[],
        &["connect", "--plain", "127.0.0.1:1"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains("config.toml line 7, column 1: unknown field `scrollbak`"),
        "{err}"
    );
}

#[test]
fn config_path_says_where_the_file_is_looked_for() {
    let dir = TempDir::new();
    let out = chatroom(&dir, None, &[], &["config", "--path"]);
    let path = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        path.trim(),
        dir.0
            .join("config/chatroom/config.toml")
            .display()
            .to_string()
    );
}

#[test]
fn the_palette_and_notify_with_take_flag_env_and_file_in_that_order() {
    let dir = TempDir::new();
    let file = "notify_with = \"osc9\"\n[theme]\npalette = \"light\"\n";
    let shown =
        |env: &[(&str, &str)], args: &[&str], key: &str| printed(&dir, Some(file), env, args, key);
    assert_eq!(
        shown(&[], &[], "notify_with"),
        "notify_with = \"osc9\"  # file"
    );
    assert_eq!(shown(&[], &[], "palette"), "palette = \"light\"  # file");
    let env = [
        ("CHATROOM_NOTIFY_WITH", "bell"),
        ("CHATROOM_PALETTE", "dark"),
    ];
    assert_eq!(
        shown(&env, &[], "notify_with"),
        "notify_with = \"bell\"  # env"
    );
    assert_eq!(shown(&env, &[], "palette"), "palette = \"dark\"  # env");
    let args = ["--notify-with", "off", "--palette", "light"];
    assert_eq!(
        shown(&env, &args, "notify_with"),
        "notify_with = \"off\"  # flag"
    );
    assert_eq!(shown(&env, &args, "palette"), "palette = \"light\"  # flag");
}

#[test]
fn what_config_print_shows_can_be_pasted_into_the_file() {
    let dir = TempDir::new();
    let out = chatroom(
        &dir,
        Some(FILE),
        &[],
        &["config", "--print", "--bell", "all"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pasted = dir.0.join("pasted.toml");
    std::fs::write(&pasted, &out.stdout).unwrap();
    let args = ["--config", pasted.to_str().unwrap()];
    assert_eq!(
        printed(&dir, None, &[], &args, "bell"),
        "bell = \"all\"  # file"
    );
    assert_eq!(
        printed(&dir, None, &[], &args, "scrollback"),
        "scrollback = 5000  # file"
    );
    assert_eq!(
        printed(&dir, None, &[], &args, "next_room"),
        "next_room = [\"alt-right\"]  # file"
    );
}
