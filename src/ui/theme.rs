//! The client's colours: a palette for a dark or a light terminal background, and the list
//! nick colours are picked from, the same name always the same colour.

use std::str::FromStr;

use ratatui::style::Color;

/// Which background the colours are chosen to stand out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Palette {
    #[default]
    Dark,
    Light,
}

impl FromStr for Palette {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_lowercase().as_str() {
            "dark" => Ok(Self::Dark),
            "light" => Ok(Self::Light),
            _ => Err(format!("{value:?} is not a palette: use dark or light")),
        }
    }
}

/// Nick colours for a dark background: 256-colour entries bright enough to read on black,
/// none of them grey (which reads as "dim") and none the mention highlight's.
const DARK_NICKS: [Color; 18] = [
    Color::Indexed(203), // salmon
    Color::Indexed(209), // orange
    Color::Indexed(221), // gold
    Color::Indexed(149), // lime
    Color::Indexed(84),  // green
    Color::Indexed(43),  // teal
    Color::Indexed(51),  // cyan
    Color::Indexed(39),  // sky
    Color::Indexed(75),  // blue
    Color::Indexed(111), // periwinkle
    Color::Indexed(141), // purple
    Color::Indexed(177), // violet
    Color::Indexed(213), // pink
    Color::Indexed(205), // rose
    Color::Indexed(180), // tan
    Color::Indexed(216), // peach
    Color::Indexed(122), // aquamarine
    Color::Indexed(186), // khaki
];

/// Nick colours for a light background: dark enough to read on white.
const LIGHT_NICKS: [Color; 18] = [
    Color::Indexed(124), // dark red
    Color::Indexed(130), // rust
    Color::Indexed(136), // dark gold
    Color::Indexed(64),  // olive
    Color::Indexed(28),  // green
    Color::Indexed(30),  // teal
    Color::Indexed(31),  // sea blue
    Color::Indexed(25),  // blue
    Color::Indexed(19),  // navy
    Color::Indexed(55),  // indigo
    Color::Indexed(91),  // purple
    Color::Indexed(127), // magenta
    Color::Indexed(161), // crimson
    Color::Indexed(94),  // brown
    Color::Indexed(58),  // dark olive
    Color::Indexed(60),  // slate
    Color::Indexed(23),  // dark teal
    Color::Indexed(89),  // plum
];

/// The colours the client draws with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub palette: Palette,
    /// Never empty.
    pub nick_colours: Vec<Color>,
}

impl Default for Theme {
    fn default() -> Self {
        Self::new(Palette::Dark, None)
    }
}

impl Theme {
    /// The palette's colours, with this list of nick colours instead of its own when given
    /// one that is not empty.
    pub fn new(palette: Palette, nick_colours: Option<Vec<Color>>) -> Self {
        let nick_colours = nick_colours
            .filter(|colours| !colours.is_empty())
            .unwrap_or_else(|| match palette {
                Palette::Dark => DARK_NICKS.to_vec(),
                Palette::Light => LIGHT_NICKS.to_vec(),
            });
        Self {
            palette,
            nick_colours,
        }
    }

    /// A stable colour per name, so people are recognisable at a glance: the same on every
    /// machine and every run.
    pub fn nick_colour(&self, name: &str) -> Color {
        // FNV-1a: tiny, and the same everywhere (std's hasher is seeded per process).
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        self.nick_colours[(hash % self.nick_colours.len() as u64) as usize]
    }
}

/// A colour as a user writes one: a name (`red`, `light-blue`), a 256-colour index (`203`)
/// or `#rrggbb`.
pub fn parse_colour(value: &str) -> Result<Color, String> {
    Color::from_str(value.trim()).map_err(|_| {
        format!("{value:?} is not a colour: use a name (red, light-blue), 0-255 or #rrggbb")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_palette_has_at_least_sixteen_distinct_nick_colours() {
        for palette in [Palette::Dark, Palette::Light] {
            let theme = Theme::new(palette, None);
            let mut colours = theme.nick_colours.clone();
            colours.dedup();
            colours.sort_by_key(|c| format!("{c:?}"));
            colours.dedup();
            assert!(colours.len() >= 16, "{palette:?}: {}", colours.len());
        }
    }

    #[test]
    fn a_name_keeps_its_colour_and_names_spread_over_the_list() {
        let theme = Theme::default();
        assert_eq!(theme.nick_colour("alice"), theme.nick_colour("alice"));
        let used: std::collections::HashSet<_> = (0..200)
            .map(|n| format!("{:?}", theme.nick_colour(&format!("user{n}"))))
            .collect();
        assert!(used.len() >= 14, "only {} colours used", used.len());
    }

    #[test]
    fn a_given_list_replaces_the_palettes_and_an_empty_one_does_not() {
        let theme = Theme::new(Palette::Light, Some(vec![Color::Red]));
        assert_eq!(theme.nick_colour("anyone"), Color::Red);
        assert_eq!(
            Theme::new(Palette::Light, Some(Vec::new())).nick_colours,
            LIGHT_NICKS.to_vec()
        );
    }

    #[test]
    fn colours_parse_by_name_index_and_hex_and_nonsense_is_refused() {
        assert_eq!(parse_colour("light-blue"), Ok(Color::LightBlue));
        assert_eq!(parse_colour("203"), Ok(Color::Indexed(203)));
        assert_eq!(parse_colour("#ff8800"), Ok(Color::Rgb(255, 136, 0)));
        assert!(parse_colour("chartreuse-ish").is_err());
        assert!(parse_colour("#ff88").is_err());
        assert_eq!("LIGHT".parse::<Palette>(), Ok(Palette::Light));
        assert!("sepia".parse::<Palette>().is_err());
    }
}
