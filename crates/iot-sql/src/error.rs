//! The crate's errors: a statement or template that does not parse (with the position of the
//! fault, which the control plane returns from CreateTopicRule), and an evaluation that cannot
//! produce a result (which the rules engine reports to the rule's `errorAction`). Values that
//! AWS turns into `Undefined` (wrong types, wrong argument counts) are not errors.

use std::fmt;

/// Where in the statement (or template) text a fault is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Byte offset from the start of the text.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text` (clamped to the end of the text).
    pub fn at(text: &str, offset: usize) -> Position {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Position {
            offset,
            line,
            column,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// What kind of fault a [`ParseError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The text is not AWS IoT SQL (an unexpected token, an unterminated string, a missing
    /// clause).
    Syntax,
    /// A function AWS IoT SQL does not have.
    UnknownFunction,
    /// A function AWS IoT SQL has but tether does not evaluate (it calls another AWS service,
    /// or is not implemented yet).
    UnsupportedFunction,
    /// A feature the rule's `awsIotSqlVersion` does not have (it needs 2016-03-23).
    Version,
    /// A statement or template nested deeper than tether evaluates.
    TooDeep,
}

/// A statement or substitution template that does not parse.
///
/// `Display` gives `line L, column C: message`; the message names what was found and what
/// was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{position}: {message}")]
pub struct ParseError {
    kind: ParseErrorKind,
    message: String,
    position: Position,
}

impl ParseError {
    pub(crate) fn new(
        kind: ParseErrorKind,
        text: &str,
        offset: usize,
        message: impl Into<String>,
    ) -> ParseError {
        ParseError {
            kind,
            message: message.into(),
            position: Position::at(text, offset),
        }
    }

    /// What kind of fault this is.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// The message without the position.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where the fault is.
    pub fn position(&self) -> Position {
        self.position
    }
}

/// An evaluation that fails as a whole: AWS runs the rule's `errorAction` instead of its
/// actions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The payload is not a JSON object but the statement or template reads a field of it.
    /// AWS's binary-payload rules: only `*` and functions may be used on such payloads.
    #[error(
        "the payload is not a JSON object, so `{field}` cannot be read from it: AWS IoT SQL \
         handles non-JSON payloads only through `*` and functions such as encode(*, 'base64')"
    )]
    NotJson {
        /// The expression that read a field.
        field: String,
    },
    /// `SELECT *` mixed with other items over a payload that is not a JSON object.
    #[error(
        "the payload is not a JSON object, so `SELECT *` cannot be combined with other items: \
         select `*` alone, or only functions such as encode(*, 'base64')"
    )]
    BinaryWildcard,
    /// `SELECT VALUE` produced an array under 2015-10-08, which cannot output one.
    #[error(
        "SELECT VALUE produced an array, which awsIotSqlVersion 2015-10-08 cannot output: use \
         awsIotSqlVersion 2016-03-23"
    )]
    ArrayOutput,
    /// The caller's `get_thing_shadow` lookup failed.
    #[error("get_thing_shadow({thing:?}) failed: {message}")]
    Shadow {
        /// The thing whose shadow was asked for.
        thing: String,
        /// What the caller's lookup reported.
        message: String,
    },
}
