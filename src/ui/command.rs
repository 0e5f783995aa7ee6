//! What a typed line asks for: slash commands parsed once, for the TUI and plain mode alike.

/// A line, read as a command or as text to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// Text to send as it is; `//text` says `/text`.
    Say(std::borrow::Cow<'a, str>),
    /// `/me ACTION`, the action trimmed (empty when none was given).
    Me(&'a str),
    /// `/nick NEW`, the name trimmed (empty when none was given).
    Nick(&'a str),
    Who,
    Help,
    Members,
    Clear,
    Quit,
    /// A `/word` that is no command, never sent.
    Unknown(&'a str),
}

/// Reads a line. Command names are matched whatever their case (`/ME`, `/Quit`).
pub fn parse(line: &str) -> Command<'_> {
    if let Some(escaped) = line.strip_prefix("//") {
        return Command::Say(format!("/{escaped}").into());
    }
    let Some(command) = line.strip_prefix('/') else {
        return Command::Say(line.into());
    };
    // The name is the first word, after any blanks.
    let command = command.trim_start();
    let (name, rest) = match command.find(char::is_whitespace) {
        Some(at) => (&command[..at], command[at..].trim()),
        None => (command, ""),
    };
    match name.to_ascii_lowercase().as_str() {
        "quit" | "exit" => Command::Quit,
        "help" => Command::Help,
        "me" => Command::Me(rest),
        "nick" => Command::Nick(rest),
        "who" => Command::Who,
        "members" => Command::Members,
        "clear" => Command::Clear,
        _ => Command::Unknown(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_commands_or_text() {
        assert_eq!(parse("hello"), Command::Say("hello".into()));
        assert_eq!(parse("//etc/hosts"), Command::Say("/etc/hosts".into()));
        assert_eq!(parse("/me  waves "), Command::Me("waves"));
        assert_eq!(parse("/me"), Command::Me(""));
        assert_eq!(parse("/me waves\nand more"), Command::Me("waves\nand more"));
        assert_eq!(parse("/nick bob"), Command::Nick("bob"));
        assert_eq!(parse("/who"), Command::Who);
        assert_eq!(parse("/WHO"), Command::Who);
        assert_eq!(parse("/Quit"), Command::Quit);
        assert_eq!(parse("/exit"), Command::Quit);
        assert_eq!(parse("/meow"), Command::Unknown("meow"));
        assert_eq!(parse("/"), Command::Unknown(""));
        assert_eq!(parse("/ me waves"), Command::Me("waves"));
        assert_eq!(parse("/\u{3000}me x"), Command::Me("x"));
    }
}
