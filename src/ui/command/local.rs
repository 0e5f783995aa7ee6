//! The commands that read the pane in view and ask nothing of the server, as typed:
//! `/urls`, `/open N` and `/lastlog [-n N] TEXT`.

/// A request about the lines the pane holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Local {
    /// `/urls`: the links seen in the pane, numbered, newest last.
    Urls,
    /// `/open N`: link N of that list, with the system's opener.
    Open(usize),
    /// `/lastlog [-n N] TEXT`: the lines holding TEXT (any case), the last N of them.
    Lastlog { text: String, last: Option<usize> },
    /// The words do not make the command: how it is used.
    Usage(&'static str),
}

/// The commands Tab completes, besides the others.
pub const NAMES: [&str; 3] = ["/urls", "/open", "/lastlog"];

/// For `/help`.
pub const HELP: &str = "the pane in view: /urls lists its links, numbered  /open N opens link N \
with the system's opener  /lastlog [-n N] TEXT its lines holding TEXT (the last N)";

const OPEN_USAGE: &str = "usage: /open N (a number /urls gives)";
const LASTLOG_USAGE: &str = "usage: /lastlog [-n N] TEXT";

/// Reads the command `name` (lowercase, without its `/`) and the words after it, when it
/// is one of these.
pub fn parse(name: &str, rest: &str) -> Option<Local> {
    Some(match name {
        "urls" => Local::Urls,
        "open" => match rest.parse::<usize>() {
            Ok(n) if n > 0 => Local::Open(n),
            _ => Local::Usage(OPEN_USAGE),
        },
        "lastlog" => lastlog(rest),
        _ => return None,
    })
}

fn lastlog(rest: &str) -> Local {
    let (last, text) = match rest.strip_prefix("-n") {
        Some(after) if after.starts_with(char::is_whitespace) => {
            let after = after.trim_start();
            let (count, text) = after.split_once(char::is_whitespace).unwrap_or((after, ""));
            match count.parse::<usize>() {
                Ok(n) if n > 0 => (Some(n), text.trim()),
                _ => return Local::Usage(LASTLOG_USAGE),
            }
        }
        _ => (None, rest),
    };
    if text.is_empty() {
        return Local::Usage(LASTLOG_USAGE);
    }
    Local::Lastlog {
        text: text.to_owned(),
        last,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_takes_a_number_from_one() {
        assert_eq!(parse("open", "3"), Some(Local::Open(3)));
        for wrong in ["", "0", "-1", "x", "1 2"] {
            assert_eq!(
                parse("open", wrong),
                Some(Local::Usage(OPEN_USAGE)),
                "{wrong:?}"
            );
        }
        assert_eq!(parse("urls", ""), Some(Local::Urls));
        assert_eq!(parse("opened", "1"), None);
    }

    #[test]
    fn lastlog_takes_text_and_perhaps_a_count() {
        let lastlog = |text: &str, last| {
            Some(Local::Lastlog {
                text: text.into(),
                last,
            })
        };
        assert_eq!(parse("lastlog", "deploy"), lastlog("deploy", None));
        assert_eq!(parse("lastlog", "the deploy"), lastlog("the deploy", None));
        assert_eq!(
            parse("lastlog", "-n 3 deploy done"),
            lastlog("deploy done", Some(3))
        );
        assert_eq!(parse("lastlog", "-n  2   x"), lastlog("x", Some(2)));
        // `-nothing` is text, not a count.
        assert_eq!(parse("lastlog", "-nothing"), lastlog("-nothing", None));
        for wrong in ["", "-n 3", "-n x text", "-n 0 text"] {
            assert_eq!(
                parse("lastlog", wrong),
                Some(Local::Usage(LASTLOG_USAGE)),
                "{wrong:?}"
            );
        }
    }
}
