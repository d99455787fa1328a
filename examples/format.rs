//! The formats a job's result is stored in, with their file extension and content type.

use std::fmt;
use std::str::FromStr;

/// The format of a job's result, which decides its key's extension and its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultFormat {
    /// `.md`, `text/markdown; charset=utf-8`.
    Markdown,
    /// `.html`, `text/html; charset=utf-8`.
    Html,
    /// `.json`, `application/json`.
    Json,
    /// `.txt`, `text/plain; charset=utf-8`.
    Text,
}

impl ResultFormat {
    /// Every format.
    pub const ALL: [ResultFormat; 4] = [
        ResultFormat::Markdown,
        ResultFormat::Html,
        ResultFormat::Json,
        ResultFormat::Text,
    ];

    /// The file extension, without the dot: `"md"`, `"html"`, `"json"`, `"txt"`.
    pub fn extension(self) -> &'static str {
        match self {
            ResultFormat::Markdown => "md",
            ResultFormat::Html => "html",
            ResultFormat::Json => "json",
            ResultFormat::Text => "txt",
        }
    }

    /// The `Content-Type` the result is stored with. Text formats name their charset so that
    /// browsers opening the result URL do not guess it.
    pub fn content_type(self) -> &'static str {
        match self {
            ResultFormat::Markdown => "text/markdown; charset=utf-8",
            ResultFormat::Html => "text/html; charset=utf-8",
            // JSON is UTF-8 by definition (RFC 8259); a charset parameter is not defined for it.
            ResultFormat::Json => "application/json",
            ResultFormat::Text => "text/plain; charset=utf-8",
        }
    }
}

impl fmt::Display for ResultFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// A format name that is not one of [`ResultFormat`]'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown result format {:?}: use `md`, `html`, `json` or `txt`",
            self.0
        )
    }
}

impl std::error::Error for UnknownFormat {}

/// The original recipe's format strings: the extension (`"md"`, `"html"`, `"json"`, `"txt"`) or the
/// long name (`"markdown"`, `"text"`), in any case.
impl FromStr for ResultFormat {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "md" | "markdown" => Ok(ResultFormat::Markdown),
            "html" | "htm" => Ok(ResultFormat::Html),
            "json" => Ok(ResultFormat::Json),
            "txt" | "text" => Ok(ResultFormat::Text),
            _ => Err(UnknownFormat(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_and_extensions() {
        let table: Vec<_> = ResultFormat::ALL
            .iter()
            .map(|f| (f.extension(), f.content_type()))
            .collect();
        assert_eq!(
            table,
            [
                ("md", "text/markdown; charset=utf-8"),
                ("html", "text/html; charset=utf-8"),
                ("json", "application/json"),
                ("txt", "text/plain; charset=utf-8"),
            ]
        );
    }

    #[test]
    fn parses_the_seed_names_and_round_trips() {
        assert_eq!("MD".parse(), Ok(ResultFormat::Markdown));
        assert_eq!("markdown".parse(), Ok(ResultFormat::Markdown));
        assert_eq!("text".parse(), Ok(ResultFormat::Text));
        for format in ResultFormat::ALL {
            assert_eq!(format.to_string().parse(), Ok(format));
        }
        assert_eq!(
            "pdf".parse::<ResultFormat>(),
            Err(UnknownFormat("pdf".into()))
        );
    }
}
