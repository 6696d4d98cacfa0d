//! The parser of AWS IoT SQL: statements (`SELECT ... FROM 'filter' WHERE ...`), nested
//! queries and the expressions of substitution templates, into the typed tree of `ast.rs`. It
//! checks what AWS checks when a rule is created (syntax, function names, the features of the
//! rule's `awsIotSqlVersion`) and reports the position of the fault; it does not evaluate.
//! Expressions are in `expr.rs`.
//!
//! Keywords are case-insensitive (AWS's examples use both `SELECT` and `select`). Reserved
//! words cannot name fields; read such a field with `get(*, 'from')`. `VALUE` is a keyword
//! only right after SELECT, so a field named `value` stays usable.

mod expr;

use std::collections::VecDeque;

use crate::ast::{Query, Select, SelectItem, Subquery};
use crate::error::{ParseError, ParseErrorKind};
use crate::lexer::{Lexer, Tok, Token};
use crate::version::SqlVersion;

/// How deep a statement's tree may be (operators, calls, members, nested queries). Deeper
/// statements are refused rather than risking the evaluator's stack; no real rule comes near.
pub const MAX_DEPTH: usize = 64;

/// How deeply the parser may recurse. Parentheses recurse without deepening the tree, and the
/// printed form of a tree may spend one pair of parentheses per level, so this is twice
/// [`MAX_DEPTH`] (and a little): whatever parses, prints to text that parses again.
const MAX_NESTING: usize = 2 * MAX_DEPTH + 8;

/// Words that cannot be field names.
const RESERVED: &[&str] = &[
    "SELECT", "FROM", "WHERE", "AS", "AND", "OR", "NOT", "CASE", "WHEN", "THEN", "ELSE", "END",
    "TRUE", "FALSE", "NULL",
];

pub(crate) struct Parser<'t> {
    lexer: Lexer<'t>,
    ahead: VecDeque<Token>,
    version: SqlVersion,
    nesting: usize,
}

impl<'t> Parser<'t> {
    pub fn new(text: &'t str, start: usize, version: SqlVersion) -> Parser<'t> {
        Parser {
            lexer: Lexer::new(text, start),
            ahead: VecDeque::new(),
            version,
            nesting: 0,
        }
    }

    fn fill(&mut self, n: usize) -> Result<(), ParseError> {
        while self.ahead.len() <= n {
            let token = self.lexer.next_token()?;
            self.ahead.push_back(token);
        }
        Ok(())
    }

    /// The token `n` places ahead (0 is the next one).
    pub fn peek_nth(&mut self, n: usize) -> Result<&Token, ParseError> {
        self.fill(n)?;
        self.ahead.get(n).ok_or_else(|| {
            ParseError::new(
                ParseErrorKind::Syntax,
                self.lexer.text(),
                0,
                "lexer lost a token",
            )
        })
    }

    pub fn peek(&mut self) -> Result<&Token, ParseError> {
        self.peek_nth(0)
    }

    pub fn next(&mut self) -> Result<Token, ParseError> {
        self.fill(0)?;
        self.ahead.pop_front().ok_or_else(|| {
            ParseError::new(
                ParseErrorKind::Syntax,
                self.lexer.text(),
                0,
                "lexer lost a token",
            )
        })
    }

    pub fn error(&self, kind: ParseErrorKind, at: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(kind, self.lexer.text(), at, message)
    }

    /// A syntax error at `token`: "expected X, found Y".
    pub fn expected(&self, what: &str, token: &Token) -> ParseError {
        let mut message = format!("expected {what}, found {}", token.kind.describe());
        if let Tok::Ident(word) = &token.kind
            && let Some(hint) = operator_hint(word)
        {
            message.push_str(": ");
            message.push_str(hint);
        }
        self.error(ParseErrorKind::Syntax, token.start, message)
    }

    /// Consumes the keyword `word` if it is next.
    pub fn eat_word(&mut self, word: &str) -> Result<bool, ParseError> {
        if self.peek()?.kind.is_word(word) {
            self.next()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Consumes `kind` if it is next.
    pub fn eat(&mut self, kind: &Tok) -> Result<bool, ParseError> {
        if &self.peek()?.kind == kind {
            self.next()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Consumes `kind` or fails naming `what` was expected.
    pub fn expect(&mut self, kind: &Tok, what: &str) -> Result<Token, ParseError> {
        let token = self.next()?;
        if &token.kind == kind {
            Ok(token)
        } else {
            Err(self.expected(what, &token))
        }
    }

    /// Enters one level of nesting, failing past [`MAX_DEPTH`].
    pub fn enter(&mut self, at: usize) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            Err(self.too_deep(at))
        } else {
            Ok(())
        }
    }

    pub fn leave(&mut self) {
        self.nesting = self.nesting.saturating_sub(1);
    }

    pub fn too_deep(&self, at: usize) -> ParseError {
        self.error(
            ParseErrorKind::TooDeep,
            at,
            format!("the statement nests deeper than {MAX_DEPTH} levels here; simplify it"),
        )
    }

    /// Fails unless the rule's version has a 2016-03-23 feature.
    pub fn require_2016(&self, at: usize, feature: &str) -> Result<(), ParseError> {
        if self.version.is_2016() {
            Ok(())
        } else {
            Err(self.error(
                ParseErrorKind::Version,
                at,
                format!(
                    "{feature} needs awsIotSqlVersion 2016-03-23; this rule uses {} (the \
                     default when awsIotSqlVersion is omitted)",
                    self.version
                ),
            ))
        }
    }

    /// A whole statement: `SELECT ... [FROM 'filter'] [WHERE ...]` and the end of the text.
    pub fn statement(&mut self) -> Result<Query, ParseError> {
        let first = self.next()?;
        if !first.kind.is_word("SELECT") {
            return Err(self.expected("SELECT", &first));
        }
        let (select, _) = self.select_clause()?;
        let from = if self.eat_word("FROM")? {
            Some(self.topic_filter()?)
        } else {
            None
        };
        let condition = if self.eat_word("WHERE")? {
            Some(self.expr()?.0)
        } else {
            None
        };
        let end = self.next()?;
        if end.kind != Tok::Eof {
            let what = match (&from, &condition) {
                (None, None) => "`,`, FROM, WHERE or the end of the statement",
                (Some(_), None) => "WHERE or the end of the statement",
                _ => "an operator or the end of the statement",
            };
            return Err(self.expected(what, &end));
        }
        Ok(Query {
            select,
            from,
            condition,
        })
    }

    /// A nested query after its `(`: `SELECT ... FROM expr [WHERE ...]`, up to (not
    /// including) the `)`.
    pub fn subquery(&mut self) -> Result<(Subquery, usize), ParseError> {
        let select_token = self.next()?;
        self.require_2016(
            select_token.start,
            "a nested object query (SELECT inside SELECT)",
        )?;
        let (select, select_depth) = self.select_clause()?;
        let from_token = self.next()?;
        if !from_token.kind.is_word("FROM") {
            return Err(self.expected(
                "FROM and the array to query (a nested SELECT needs FROM)",
                &from_token,
            ));
        }
        let (from, mut depth) = self.expr()?;
        let condition = if self.eat_word("WHERE")? {
            let (condition, d) = self.expr()?;
            depth = depth.max(d);
            Some(condition)
        } else {
            None
        };
        depth = depth.max(select_depth);
        Ok((
            Subquery {
                select,
                from,
                condition,
            },
            depth + 1,
        ))
    }

    fn select_clause(&mut self) -> Result<(Select, usize), ParseError> {
        if self.value_keyword_next()? {
            self.next()?;
            let (expr, depth) = self.expr()?;
            let after = self.peek()?.clone();
            if after.kind.is_word("AS") {
                return Err(self.error(
                    ParseErrorKind::Syntax,
                    after.start,
                    "SELECT VALUE takes one expression without an alias",
                ));
            }
            if after.kind == Tok::Comma {
                return Err(self.error(
                    ParseErrorKind::Syntax,
                    after.start,
                    "SELECT VALUE takes exactly one expression",
                ));
            }
            return Ok((Select::Value(expr), depth));
        }
        let mut items = Vec::new();
        let mut wildcard_at = None;
        let mut depth = 0;
        loop {
            let start = self.peek()?.start;
            let (item, d) = self.select_item()?;
            depth = depth.max(d);
            if item == SelectItem::Wildcard {
                if wildcard_at.is_some() {
                    return Err(self.error(
                        ParseErrorKind::Syntax,
                        start,
                        "`*` appears twice in the SELECT list",
                    ));
                }
                wildcard_at = Some(start);
            }
            items.push(item);
            if !self.eat(&Tok::Comma)? {
                break;
            }
        }
        Ok((Select::Items(items), depth))
    }

    /// Whether the next word is the VALUE keyword rather than a field named `value`.
    fn value_keyword_next(&mut self) -> Result<bool, ParseError> {
        if !self.peek()?.kind.is_word("VALUE") {
            return Ok(false);
        }
        let after = self.peek_nth(1)?.kind.clone();
        Ok(match after {
            Tok::Ident(word) => !["FROM", "WHERE", "AS", "AND", "OR"]
                .iter()
                .any(|k| word.eq_ignore_ascii_case(k)),
            Tok::Int(_) | Tok::Decimal(_) | Tok::Str(_) => true,
            Tok::LParen | Tok::LBrace => true,
            // `value[0]` indexes a field named value; `VALUE [a, b]` selects an array
            // literal, which exists only in 2016-03-23.
            Tok::LBracket => self.version.is_2016(),
            Tok::Star => {
                let next = self.peek_nth(2)?.kind.clone();
                matches!(next, Tok::Eof | Tok::RParen)
                    || next.is_word("FROM")
                    || next.is_word("WHERE")
            }
            _ => false,
        })
    }

    fn select_item(&mut self) -> Result<(SelectItem, usize), ParseError> {
        let (expr, depth) = self.expr()?;
        let alias = if self.eat_word("AS")? {
            Some(self.alias()?)
        } else {
            None
        };
        let item = match (expr, alias) {
            (crate::ast::Expr::Payload, None) => SelectItem::Wildcard,
            (expr, alias) => SelectItem::Expr { expr, alias },
        };
        Ok((item, depth))
    }

    /// `name` or `name.name...` after AS.
    fn alias(&mut self) -> Result<Vec<String>, ParseError> {
        let mut path = vec![self.identifier("a name after AS")?];
        while self.peek()?.kind == Tok::Dot {
            self.next()?;
            path.push(self.identifier("a name after `.`")?);
        }
        Ok(path)
    }

    /// A non-reserved identifier.
    pub fn identifier(&mut self, what: &str) -> Result<String, ParseError> {
        let token = self.next()?;
        match token.kind {
            Tok::Ident(name) if !is_reserved(&name) => Ok(name),
            _ => Err(self.expected(what, &token)),
        }
    }

    fn topic_filter(&mut self) -> Result<String, ParseError> {
        let token = self.next()?;
        let Tok::Str(filter) = token.kind else {
            return Err(self.expected(
                "a topic filter in single quotes after FROM (FROM 'sensors/+/data')",
                &token,
            ));
        };
        if let Err(problem) = check_topic_filter(&filter) {
            return Err(self.error(
                ParseErrorKind::Syntax,
                token.start,
                format!("FROM '{filter}' is not a valid topic filter: {problem}"),
            ));
        }
        Ok(filter)
    }
}

pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

/// Words that look like SQL operators AWS IoT SQL does not have, with what to use instead.
fn operator_hint(word: &str) -> Option<&'static str> {
    let upper = word.to_ascii_uppercase();
    Some(match upper.as_str() {
        "IS" => "AWS IoT SQL has no IS operator; use isNull(x) or isUndefined(x)",
        "LIKE" => "AWS IoT SQL has no LIKE operator; use regexp_matches(x, 'pattern')",
        "BETWEEN" => "AWS IoT SQL has no BETWEEN operator; use x >= a AND x <= b",
        "IN" => "tether does not support the IN operator yet; use x = a OR x = b",
        "SET" => "tether does not support the SET clause (variables) yet; repeat the expression",
        "LIMIT" | "ORDER" | "GROUP" | "HAVING" | "JOIN" => {
            "AWS IoT SQL has no such clause: a rule is SELECT, FROM and WHERE"
        }
        _ => return None,
    })
}

/// MQTT topic filter rules ([MQTT-4.7.1-2], [MQTT-4.7.1-3]) for the FROM clause.
fn check_topic_filter(filter: &str) -> Result<(), &'static str> {
    if filter.is_empty() {
        return Err("it is empty");
    }
    let levels: Vec<&str> = filter.split('/').collect();
    let last = levels.len().saturating_sub(1);
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i != last) {
            return Err("`#` must be a whole level and the last one");
        }
        if level.contains('+') && *level != "+" {
            return Err("`+` must be a whole level");
        }
    }
    if filter.contains('\u{0}') {
        return Err("it contains a NUL character");
    }
    Ok(())
}
