//! The tokenizer of AWS IoT SQL: identifiers (keywords are identifiers the parser recognises,
//! case-insensitively), numbers, single- and double-quoted strings, and punctuation. It is lazy
//! so that a substitution template can stop at the `}` that closes `${...}`. It does not know
//! the grammar.
//!
//! String quoting is not documented by AWS beyond the examples: `'...'` and `"..."` both
//! delimit strings (`parse_time("yyyy.MM.dd G 'at' HH:mm:ss z", ...)`, `{'latitude': ...}`).
//! tether's choice: a backslash escapes the next character (`\'`, `\"`, `\\`), with `\n`, `\t`
//! and `\r` meaning newline, tab and carriage return; every other character stands for itself.
//! Comments do not exist ("Comments are not currently supported in AWS IoT SQL syntax").

use crate::error::{ParseError, ParseErrorKind};

/// One token and the byte range it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

/// Token kinds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Int(i64),
    Decimal(f64),
    Str(String),
    Comma,
    Dot,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Colon,
    Star,
    Plus,
    Minus,
    Slash,
    Percent,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Int(i) => format!("number {i}"),
            Tok::Decimal(d) => format!("number {d}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Eof => "the end of the text".to_owned(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::Comma => ",",
            Tok::Dot => ".",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Colon => ":",
            Tok::Star => "*",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Eq => "=",
            Tok::NotEq => "<>",
            Tok::Lt => "<",
            Tok::LtEq => "<=",
            Tok::Gt => ">",
            Tok::GtEq => ">=",
            _ => "",
        }
    }

    /// Whether this is the identifier `word`, compared case-insensitively (keywords).
    pub fn is_word(&self, word: &str) -> bool {
        matches!(self, Tok::Ident(s) if s.eq_ignore_ascii_case(word))
    }
}

/// A lazy tokenizer over `text`, starting at a byte offset.
#[derive(Debug)]
pub(crate) struct Lexer<'t> {
    text: &'t str,
    pos: usize,
}

impl<'t> Lexer<'t> {
    pub fn new(text: &'t str, start: usize) -> Lexer<'t> {
        Lexer { text, pos: start }
    }

    pub fn text(&self) -> &'t str {
        self.text
    }

    fn peek_char(&self) -> Option<char> {
        self.text.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn peek_second(&self) -> Option<char> {
        let mut chars = self.text.get(self.pos..)?.chars();
        chars.next();
        chars.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(ParseErrorKind::Syntax, self.text, offset, message)
    }

    /// The next token, or `Eof` at the end of the text.
    pub fn next_token(&mut self) -> Result<Token, ParseError> {
        while self.peek_char().is_some_and(char::is_whitespace) {
            self.bump();
        }
        let start = self.pos;
        let Some(c) = self.bump() else {
            return Ok(Token {
                kind: Tok::Eof,
                start,
                end: start,
            });
        };
        let kind = match c {
            ',' => Tok::Comma,
            '.' => Tok::Dot,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            ':' => Tok::Colon,
            '*' => Tok::Star,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '/' => Tok::Slash,
            '%' => Tok::Percent,
            '=' => Tok::Eq,
            '!' if self.peek_char() == Some('=') => {
                self.bump();
                Tok::NotEq
            }
            '<' => match self.peek_char() {
                Some('>') => {
                    self.bump();
                    Tok::NotEq
                }
                Some('=') => {
                    self.bump();
                    Tok::LtEq
                }
                _ => Tok::Lt,
            },
            '>' if self.peek_char() == Some('=') => {
                self.bump();
                Tok::GtEq
            }
            '>' => Tok::Gt,
            '\'' | '"' => Tok::Str(self.string(c, start)?),
            c if c.is_ascii_digit() => self.number(start)?,
            c if c.is_ascii_alphabetic() || c == '_' => {
                while self
                    .peek_char()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.bump();
                }
                Tok::Ident(
                    self.text
                        .get(start..self.pos)
                        .unwrap_or_default()
                        .to_owned(),
                )
            }
            other => return Err(self.error(start, unexpected_char(other))),
        };
        Ok(Token {
            kind,
            start,
            end: self.pos,
        })
    }

    fn string(&mut self, quote: char, start: usize) -> Result<String, ParseError> {
        let mut out = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(self.error(
                        start,
                        format!("string starting here is never closed with {quote}"),
                    ));
                }
                Some(c) if c == quote => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(c) => out.push(c),
                    None => {
                        return Err(self.error(
                            start,
                            format!("string starting here is never closed with {quote}"),
                        ));
                    }
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn digits(&mut self) {
        while self.peek_char().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
    }

    fn number(&mut self, start: usize) -> Result<Tok, ParseError> {
        self.digits();
        let mut decimal = false;
        if self.peek_char() == Some('.') && self.peek_second().is_some_and(|c| c.is_ascii_digit()) {
            decimal = true;
            self.bump();
            self.digits();
        }
        if matches!(self.peek_char(), Some('e' | 'E')) {
            let mark = self.pos;
            self.bump();
            if matches!(self.peek_char(), Some('+' | '-')) {
                self.bump();
            }
            if self.peek_char().is_some_and(|c| c.is_ascii_digit()) {
                decimal = true;
                self.digits();
            } else {
                self.pos = mark;
            }
        }
        let text = self.text.get(start..self.pos).unwrap_or_default();
        if !decimal && let Ok(i) = text.parse::<i64>() {
            return Ok(Tok::Int(i));
        }
        match text.parse::<f64>() {
            Ok(d) if d.is_finite() => Ok(Tok::Decimal(d)),
            _ => Err(self.error(
                start,
                format!(
                    "number {text} is out of range: tether evaluates decimals as 64-bit \
                     floating point (magnitude below 1.8E308)"
                ),
            )),
        }
    }
}

fn unexpected_char(c: char) -> String {
    let hint = match c {
        '\u{2013}' | '\u{2014}' | '\u{2212}' => " (a dash copied from a document? use `-`)",
        '\u{2018}' | '\u{2019}' => " (a typographic quote? use `'`)",
        '\u{201c}' | '\u{201d}' => " (a typographic quote? use `\"`)",
        ';' => " (a statement has no terminator)",
        '#' => " (comments are not supported in AWS IoT SQL; a topic filter goes in quotes)",
        '`' => " (AWS IoT SQL has no quoted identifiers; use get(*, 'name'))",
        _ => "",
    };
    format!("unexpected character {c:?} (U+{:04X}){hint}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Tok> {
        let mut lexer = Lexer::new(text, 0);
        let mut out = Vec::new();
        loop {
            let token = lexer.next_token().unwrap();
            if token.kind == Tok::Eof {
                return out;
            }
            out.push(token.kind);
        }
    }

    #[test]
    fn numbers_strings_and_operators() {
        assert_eq!(
            kinds("a.b[0] <> 1.5e3 != 'x\\'y' \"q\" 5E-12 7 1e"),
            vec![
                Tok::Ident("a".into()),
                Tok::Dot,
                Tok::Ident("b".into()),
                Tok::LBracket,
                Tok::Int(0),
                Tok::RBracket,
                Tok::NotEq,
                Tok::Decimal(1500.0),
                Tok::NotEq,
                Tok::Str("x'y".into()),
                Tok::Str("q".into()),
                Tok::Decimal(5e-12),
                Tok::Int(7),
                Tok::Int(1),
                Tok::Ident("e".into()),
            ]
        );
        assert_eq!(kinds("99999999999999999999"), vec![Tok::Decimal(1e20)]);
        assert_eq!(
            kinds("5.x"),
            vec![Tok::Int(5), Tok::Dot, Tok::Ident("x".into())]
        );
    }

    #[test]
    fn faults_have_positions() {
        let err = Lexer::new("SELECT 'abc", 0).next_token();
        assert!(err.is_ok());
        let mut lexer = Lexer::new("SELECT 'abc", 0);
        lexer.next_token().unwrap();
        let err = lexer.next_token().unwrap_err();
        assert_eq!(err.position().column, 8);
        let err = Lexer::new("1e999", 0).next_token().unwrap_err();
        assert!(err.message().contains("out of range"), "{err}");
        let err = Lexer::new("\u{2013}", 0).next_token().unwrap_err();
        assert!(err.message().contains("use `-`"), "{err}");
    }
}
