//! Substitution templates: action fields such as a republish topic or an HTTP URL with
//! `${expression}` parts, evaluated against the same message as the rule's SQL
//! (`iot-substitution-templates.md`). `$$` is a literal `$` (republish-rule-action: "use `$$`
//! instead" for reserved `$aws/...` topics); a `$` before anything else is itself. An
//! expression sees the original payload, never the SELECT output ("you cannot reference an
//! alias created using the AS clause").

use std::fmt;

use crate::ast::Expr;
use crate::context::{Context, Payload};
use crate::error::{EvalError, ParseError, ParseErrorKind};
use crate::eval::Evaluator;
use crate::functions::Regexes;
use crate::lexer::Tok;
use crate::parser::Parser;
use crate::version::SqlVersion;

/// A parsed substitution template.
///
/// ```
/// use iot_sql::{SqlVersion, Template};
/// let template = Template::parse("$$aws/things/${topic(2)}/shadow/update", SqlVersion::V2016_03_23)?;
/// assert_eq!(template.to_string(), "$$aws/things/${topic(2)}/shadow/update");
/// assert!(!template.is_literal());
/// # Ok::<(), iot_sql::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    version: SqlVersion,
    parts: Vec<Part>,
    regexes: Regexes,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Text copied as is (`$$` already turned into `$`).
    Text(String),
    /// `${expression}`.
    Expr(Expr),
}

impl Template {
    /// Parses `text`; expressions use the rule's `awsIotSqlVersion`. Errors carry the position
    /// in `text`.
    pub fn parse(text: &str, version: SqlVersion) -> Result<Template, ParseError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = 0;
        while let Some(found) = text.get(rest..).and_then(|s| s.find('$')) {
            let dollar = rest + found;
            literal.push_str(text.get(rest..dollar).unwrap_or_default());
            match text.get(dollar + 1..).and_then(|s| s.chars().next()) {
                Some('$') => {
                    literal.push('$');
                    rest = dollar + 2;
                }
                Some('{') => {
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    let (expr, end) = expression(text, dollar, version)?;
                    parts.push(Part::Expr(expr));
                    rest = end;
                }
                _ => {
                    literal.push('$');
                    rest = dollar + 1;
                }
            }
        }
        literal.push_str(text.get(rest..).unwrap_or_default());
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        let regexes = Regexes::collect(|visit| {
            for part in &parts {
                if let Part::Expr(expr) = part {
                    expr.walk(visit);
                }
            }
        });
        Ok(Template {
            version,
            parts,
            regexes,
        })
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Whether the template has no `${...}` part (its text never changes).
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The template's text for one message. An expression's value is written as AWS's "To
    /// String" conversion gives it (strings without quotes, arrays and objects as JSON);
    /// Undefined and Null write nothing (Null has no string conversion, and "Undefined is
    /// converted to an empty string").
    pub fn render(&self, ctx: &Context<'_>, payload: &Payload<'_>) -> Result<String, EvalError> {
        let evaluator = Evaluator::new(ctx, payload, self.version, &self.regexes);
        let root = evaluator.root();
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Expr(expr) => {
                    if let Some(text) = evaluator.eval(expr, root)?.to_text() {
                        out.push_str(&text);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The expression of the `${` at `dollar`, and the offset just past its `}`.
fn expression(text: &str, dollar: usize, version: SqlVersion) -> Result<(Expr, usize), ParseError> {
    let mut parser = Parser::new(text, dollar + 2, version);
    let (expr, _) = parser.expr()?;
    let close = parser.next()?;
    if close.kind == Tok::RBrace {
        return Ok((expr, close.end));
    }
    if close.kind == Tok::Eof {
        return Err(ParseError::new(
            ParseErrorKind::Syntax,
            text,
            dollar,
            "substitution template `${` is never closed with `}`",
        ));
    }
    Err(parser.expected("`}` to close the substitution template", &close))
}

impl fmt::Display for Template {
    /// The template as written, canonically; it parses back to the same template.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(text) => f.write_str(&text.replace('$', "$$"))?,
                Part::Expr(expr) => write!(f, "${{{expr}}}")?,
            }
        }
        Ok(())
    }
}
