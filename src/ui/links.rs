//! Links in what people say: finding them in a line's text (`http://`, `https://`,
//! `www.`), and opening one, when asked, with the system's opener: its own process, the
//! link one argument to it (never through a shell), its output discarded.

use std::ffi::OsString;
use std::process::{Child, Command, Stdio};

/// The longest link kept; anything longer is no link anyone means to open.
const MAX_LINK_BYTES: usize = 2048;

/// Names the program that opens links instead of the system's (`xdg-open`, `open`); it is
/// given the link as its one argument.
pub const OPENER_VAR: &str = "CHATROOM_OPENER";

/// Whether `c` ends a link: blanks, every control and formatting character (none may
/// reach the opener), and the characters that commonly bracket a link in text.
fn ends_link(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(c, '<' | '>' | '"' | '`' | '\u{ad}')
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}')
        || c == '\u{feff}'
}

/// The links in `text`, in order: each starts at `http://`, `https://` or `www.` (any
/// case) after something that is not a letter or digit, and runs to a blank, a control
/// character or a bracketing `<>"`; punctuation that ends a sentence is left off, and so
/// is a closing bracket it did not open (`(see http://a.example/x)`).
pub fn find_links(text: &str) -> Vec<&str> {
    // Byte for byte the text's length: ASCII letters alone change.
    let lower = text.to_ascii_lowercase();
    let mut links = Vec::new();
    let mut end = 0;
    let mut before: Option<char> = None;
    for (start, c) in text.char_indices() {
        let after_word = before.is_some_and(char::is_alphanumeric);
        before = Some(c);
        if start < end || after_word {
            continue;
        }
        let rest = &lower[start..];
        if !["http://", "https://", "www."]
            .iter()
            .any(|prefix| rest.starts_with(prefix))
        {
            continue;
        }
        end = text[start..]
            .find(ends_link)
            .map_or(text.len(), |len| start + len);
        let link = trim_end(&text[start..end]);
        if has_host(link) && link.len() <= MAX_LINK_BYTES {
            links.push(link);
        }
    }
    links
}

/// A link less the punctuation after it that belongs to the sentence.
fn trim_end(mut link: &str) -> &str {
    loop {
        let Some(last) = link.chars().next_back() else {
            return link;
        };
        let unopened = |open: char, close: char| {
            last == close && link.matches(close).count() > link.matches(open).count()
        };
        if matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '*')
            || unopened('(', ')')
            || unopened('[', ']')
            || unopened('{', '}')
        {
            link = &link[..link.len() - last.len_utf8()];
        } else {
            return link;
        }
    }
}

/// Whether there is something after the link's scheme or `www.`.
fn has_host(link: &str) -> bool {
    let lower = link.to_ascii_lowercase();
    let rest = ["https://", "http://", "www."]
        .iter()
        .find_map(|prefix| lower.strip_prefix(prefix));
    rest.is_some_and(|rest| rest.chars().next().is_some_and(char::is_alphanumeric))
}

/// What a link is opened as: a `www.` link over https.
pub fn target(link: &str) -> String {
    if link
        .get(..4)
        .is_some_and(|www| www.eq_ignore_ascii_case("www."))
    {
        format!("https://{link}")
    } else {
        link.to_owned()
    }
}

/// The program links are opened with: [`OPENER_VAR`] when set, otherwise the system's.
pub fn opener() -> OsString {
    match std::env::var_os(OPENER_VAR) {
        Some(program) if !program.is_empty() => program,
        _ if cfg!(target_os = "macos") => "open".into(),
        _ => "xdg-open".into(),
    }
}

/// Starts `program` with `url` as its one argument, in a process group of its own (the
/// terminal's keys are not its business), reading nothing and its output discarded.
pub fn spawn(program: &OsString, url: &str) -> std::io::Result<Child> {
    let mut command = Command::new(program);
    command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command.spawn()
}

/// Opens `url` with the system's opener and does not wait for it: a thread of its own
/// reaps it when it ends.
pub fn open(url: &str) -> std::io::Result<()> {
    let program = opener();
    let mut child = spawn(&program, url)?;
    std::thread::spawn(move || match child.wait() {
        Ok(status) if !status.success() => {
            tracing::warn!(?program, %status, "the link opener failed");
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(?program, %err, "cannot wait for the link opener"),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_where_they_start_and_end() {
        assert_eq!(
            find_links("see https://example.com/a?b=c&d=e#f and http://x.example"),
            ["https://example.com/a?b=c&d=e#f", "http://x.example"]
        );
        assert_eq!(find_links("www.example.org/path"), ["www.example.org/path"]);
        assert_eq!(find_links("HTTPS://EXAMPLE.COM"), ["HTTPS://EXAMPLE.COM"]);
        assert_eq!(find_links("<https://a.example/x>"), ["https://a.example/x"]);
        assert_eq!(
            find_links("\"https://a.example/x\""),
            ["https://a.example/x"]
        );
        assert_eq!(
            find_links("no links here, nor in www. or http://"),
            Vec::<&str>::new()
        );
        // Inside a word is no link's start.
        assert_eq!(
            find_links("xhttp://a.example notwww.b.example"),
            Vec::<&str>::new()
        );
        assert_eq!(find_links("ftp://a.example"), Vec::<&str>::new());
        assert_eq!(find_links("日本https://a.example"), Vec::<&str>::new());
        assert_eq!(
            find_links("日本 https://a.example/日本"),
            ["https://a.example/日本"]
        );
    }

    #[test]
    fn trailing_punctuation_belongs_to_the_sentence() {
        assert_eq!(
            find_links("go to https://a.example/x."),
            ["https://a.example/x"]
        );
        assert_eq!(
            find_links("https://a.example/x, then"),
            ["https://a.example/x"]
        );
        assert_eq!(
            find_links("is it https://a.example?!"),
            ["https://a.example"]
        );
        assert_eq!(find_links("'https://a.example/x'"), ["https://a.example/x"]);
        assert_eq!(
            find_links("https://a.example/x...:"),
            ["https://a.example/x"]
        );
        // Inside, punctuation stays.
        assert_eq!(
            find_links("https://a.example/a.b,c;d?e=f!"),
            ["https://a.example/a.b,c;d?e=f"]
        );
    }

    #[test]
    fn a_closing_bracket_is_kept_only_when_the_link_opened_it() {
        assert_eq!(
            find_links("(see https://a.example/x)"),
            ["https://a.example/x"]
        );
        assert_eq!(
            find_links("https://en.wikipedia.org/wiki/Rust_(programming_language)"),
            ["https://en.wikipedia.org/wiki/Rust_(programming_language)"]
        );
        assert_eq!(
            find_links("(https://en.wikipedia.org/wiki/Rust_(language))."),
            ["https://en.wikipedia.org/wiki/Rust_(language)"]
        );
        assert_eq!(find_links("[https://a.example/x]"), ["https://a.example/x"]);
        assert_eq!(find_links("{https://a.example/x}"), ["https://a.example/x"]);
    }

    #[test]
    fn control_and_formatting_characters_never_reach_a_link() {
        let hostile = "https://a.example/x\x1b]0;pwned\x07 http://b.example/\u{202e}gpj.exe \
                       https://c.example/\u{0}\nwww.d.example\r\u{9b}31m https://e.example\u{200b}z";
        let links = find_links(hostile);
        assert_eq!(
            links,
            [
                "https://a.example/x",
                "http://b.example/",
                "https://c.example/",
                "www.d.example",
                "https://e.example"
            ]
        );
        for link in links {
            assert!(
                link.chars().all(|c| !c.is_control() && !ends_link(c)),
                "{link:?}"
            );
        }
        // Nothing but a link's start, over and over, and a very long one: no panic, and
        // nothing longer than the cap.
        let many = "http://".repeat(10_000);
        assert!(find_links(&many).is_empty());
        let long = format!("https://a.example/{}", "x".repeat(10_000));
        assert!(find_links(&long).is_empty());
        let multibyte = "éhttp://aé ☃https://☃ www.-x";
        assert!(
            find_links(multibyte).is_empty(),
            "{:?}",
            find_links(multibyte)
        );
    }

    #[test]
    fn a_www_link_opens_over_https() {
        assert_eq!(target("www.example.org/x"), "https://www.example.org/x");
        assert_eq!(target("WWW.example.org"), "https://WWW.example.org");
        assert_eq!(target("http://example.org"), "http://example.org");
    }

    /// The opener is its own program, given the link as one argument, untouched by any
    /// shell: a script stands in for it and writes down what it was given.
    #[cfg(unix)]
    #[test]
    fn the_opener_gets_the_link_as_one_argument_unchanged() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("chatroom-opener-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("args");
        let script = dir.join("opener");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$#\" > '{0}'\nprintf '%s' \"$1\" >> '{0}'\n",
                out.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
        let url = "https://a.example/x?a=1&b=$(id);c=`id`|d>/dev/null 'f' \"g\"";
        let mut child = spawn(&script.clone().into_os_string(), url).unwrap();
        let (done, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(child.wait());
        });
        let status = wait
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the opener ended")
            .unwrap();
        assert!(status.success());
        let written = std::fs::read_to_string(&out).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(written, format!("1\n{url}"));
    }
}
