//! Expressions by precedence, lowest first: `OR`, `AND`, `NOT`, comparisons (`=`, `<>`/`!=`,
//! `<`, `<=`, `>`, `>=`), `+ -`, `* / %`, unary `-`, then the JSON extensions `.name` and
//! `[index]` after any primary. AWS does not document precedence; this is ANSI SQL's, which
//! AWS's examples agree with (`temperature > 50 AND color <> 'red'`). Every function returns
//! the tree depth of what it built so deep statements are refused before they are evaluated.

use super::{MAX_DEPTH, Parser, is_reserved};
use crate::ast::{BinaryOp, Case, CastType, Expr, Literal, UnaryOp};
use crate::catalog::{self, Function};
use crate::error::{ParseError, ParseErrorKind};
use crate::lexer::{Tok, Token};

/// An expression and the depth of its tree.
type Parsed = (Expr, usize);

/// The binding strength of comparisons; `NOT` takes an operand at least this tight.
const COMPARISON: u8 = 4;

/// An infix operator and its binding strength (higher binds tighter).
fn infix(token: &Tok) -> Option<(BinaryOp, u8)> {
    Some(match token {
        Tok::Ident(word) if word.eq_ignore_ascii_case("OR") => (BinaryOp::Or, 1),
        Tok::Ident(word) if word.eq_ignore_ascii_case("AND") => (BinaryOp::And, 2),
        Tok::Eq => (BinaryOp::Eq, COMPARISON),
        Tok::NotEq => (BinaryOp::NotEq, COMPARISON),
        Tok::Lt => (BinaryOp::Lt, COMPARISON),
        Tok::LtEq => (BinaryOp::LtEq, COMPARISON),
        Tok::Gt => (BinaryOp::Gt, COMPARISON),
        Tok::GtEq => (BinaryOp::GtEq, COMPARISON),
        Tok::Plus => (BinaryOp::Add, 5),
        Tok::Minus => (BinaryOp::Sub, 5),
        Tok::Star => (BinaryOp::Mul, 6),
        Tok::Slash => (BinaryOp::Div, 6),
        Tok::Percent => (BinaryOp::Mod, 6),
        _ => return None,
    })
}

impl Parser<'_> {
    fn node(&self, expr: Expr, depth: usize, at: usize) -> Result<Parsed, ParseError> {
        if depth > MAX_DEPTH {
            Err(self.too_deep(at))
        } else {
            Ok((expr, depth))
        }
    }

    /// One whole expression.
    pub fn expr(&mut self) -> Result<Parsed, ParseError> {
        let at = self.peek()?.start;
        self.enter(at)?;
        let parsed = self.climb(1);
        self.leave();
        parsed
    }

    /// Precedence climbing: an operand, then every infix operator binding at least `min`.
    fn climb(&mut self, min: u8) -> Result<Parsed, ParseError> {
        let (mut left, mut depth) = self.prefix()?;
        loop {
            let token = self.peek()?;
            let Some((op, precedence)) = infix(&token.kind).filter(|(_, p)| *p >= min) else {
                return Ok((left, depth));
            };
            let at = token.start;
            self.next()?;
            self.enter(at)?;
            let right = self.climb(precedence + 1);
            self.leave();
            let (right, right_depth) = right?;
            (left, depth) = self.node(
                Expr::Binary(op, Box::new(left), Box::new(right)),
                depth.max(right_depth) + 1,
                at,
            )?;
        }
    }

    /// `NOT x` (x a comparison or tighter), `-x`, or a postfix expression.
    fn prefix(&mut self) -> Result<Parsed, ParseError> {
        let token = self.peek()?;
        let op = if token.kind.is_word("NOT") {
            UnaryOp::Not
        } else if token.kind == Tok::Minus {
            UnaryOp::Neg
        } else {
            return self.postfix();
        };
        let at = token.start;
        self.next()?;
        self.enter(at)?;
        let operand = match op {
            UnaryOp::Not => self.climb(COMPARISON),
            UnaryOp::Neg => self.negated(),
        };
        self.leave();
        let (operand, depth) = operand?;
        self.node(Expr::Unary(op, Box::new(operand)), depth + 1, at)
    }

    /// The operand of unary minus: another minus or a postfix expression (`-a * b` is
    /// `(-a) * b`).
    fn negated(&mut self) -> Result<Parsed, ParseError> {
        if self.peek()?.kind == Tok::Minus {
            self.prefix()
        } else {
            self.postfix()
        }
    }

    fn postfix(&mut self) -> Result<Parsed, ParseError> {
        let (mut base, mut depth) = self.primary()?;
        loop {
            let token = self.peek()?.clone();
            match token.kind {
                Tok::Dot => {
                    self.next()?;
                    let name = self.identifier("a field name after `.`")?;
                    (base, depth) =
                        self.node(Expr::Member(Box::new(base), name), depth + 1, token.start)?;
                }
                Tok::LBracket => {
                    self.next()?;
                    let (index, index_depth) = self.expr()?;
                    self.expect(&Tok::RBracket, "`]` after the index")?;
                    (base, depth) = self.node(
                        Expr::Index(Box::new(base), Box::new(index)),
                        depth.max(index_depth) + 1,
                        token.start,
                    )?;
                }
                _ => return Ok((base, depth)),
            }
        }
    }

    fn primary(&mut self) -> Result<Parsed, ParseError> {
        let token = self.next()?;
        let at = token.start;
        match token.kind {
            Tok::Int(i) => Ok((Expr::Literal(Literal::Int(i)), 1)),
            Tok::Decimal(d) => Ok((Expr::Literal(Literal::Decimal(d)), 1)),
            Tok::Str(s) => Ok((Expr::Literal(Literal::String(s)), 1)),
            Tok::Star => Ok((Expr::Payload, 1)),
            Tok::LParen => self.parenthesized(at),
            Tok::LBracket => self.array(at),
            Tok::LBrace => self.object(at),
            Tok::Ident(ref word) => {
                let word = word.clone();
                self.word(word, &token)
            }
            _ => Err(self.expected("an expression", &token)),
        }
    }

    fn word(&mut self, word: String, token: &Token) -> Result<Parsed, ParseError> {
        let at = token.start;
        if word.eq_ignore_ascii_case("TRUE") {
            return Ok((Expr::Literal(Literal::Bool(true)), 1));
        }
        if word.eq_ignore_ascii_case("FALSE") {
            return Ok((Expr::Literal(Literal::Bool(false)), 1));
        }
        if word.eq_ignore_ascii_case("NULL") {
            return Ok((Expr::Literal(Literal::Null), 1));
        }
        if word.eq_ignore_ascii_case("CASE") {
            return self.case(at);
        }
        if self.peek()?.kind == Tok::LParen {
            return self.call(&word, at);
        }
        if is_reserved(&word) {
            return Err(self.expected("an expression", token));
        }
        Ok((Expr::Field(word), 1))
    }

    fn parenthesized(&mut self, at: usize) -> Result<Parsed, ParseError> {
        if self.peek()?.kind.is_word("SELECT") {
            self.enter(at)?;
            let subquery = self.subquery();
            self.leave();
            let (subquery, depth) = subquery?;
            self.expect(&Tok::RParen, "`)` to close the nested SELECT")?;
            return self.node(Expr::Subquery(Box::new(subquery)), depth, at);
        }
        let inner = self.expr()?;
        self.expect(&Tok::RParen, "`)`")?;
        Ok(inner)
    }

    fn array(&mut self, at: usize) -> Result<Parsed, ParseError> {
        self.require_2016(at, "an array literal")?;
        let (items, depth) = self.list(&Tok::RBracket, "`,` or `]`")?;
        self.node(Expr::Array(items), depth + 1, at)
    }

    fn object(&mut self, at: usize) -> Result<Parsed, ParseError> {
        self.require_2016(at, "an object literal")?;
        let mut members = Vec::new();
        let mut depth = 0;
        if self.eat(&Tok::RBrace)? {
            return Ok((Expr::Object(members), 1));
        }
        loop {
            let key = self.next()?;
            let Tok::Str(name) = key.kind else {
                return Err(self.expected("a quoted key ('name') in the object literal", &key));
            };
            self.expect(&Tok::Colon, "`:` after the key")?;
            let (value, d) = self.expr()?;
            depth = depth.max(d);
            members.push((name, value));
            let next = self.next()?;
            match next.kind {
                Tok::Comma => {}
                Tok::RBrace => break,
                _ => return Err(self.expected("`,` or `}`", &next)),
            }
        }
        self.node(Expr::Object(members), depth + 1, at)
    }

    /// Comma-separated expressions up to `close` (consumed); empty lists allowed.
    fn list(&mut self, close: &Tok, what: &str) -> Result<(Vec<Expr>, usize), ParseError> {
        let mut items = Vec::new();
        let mut depth = 0;
        if self.eat(close)? {
            return Ok((items, depth));
        }
        loop {
            let (item, d) = self.expr()?;
            depth = depth.max(d);
            items.push(item);
            let next = self.next()?;
            if next.kind == *close {
                return Ok((items, depth));
            }
            if next.kind != Tok::Comma {
                return Err(self.expected(what, &next));
            }
        }
    }

    fn case(&mut self, at: usize) -> Result<Parsed, ParseError> {
        let (value, mut depth) = self.expr()?;
        let mut when = Vec::new();
        let otherwise = loop {
            let token = self.next()?;
            if token.kind.is_word("WHEN") {
                let (test, d1) = self.expr()?;
                let then = self.next()?;
                if !then.kind.is_word("THEN") {
                    return Err(self.expected("THEN", &then));
                }
                let (result, d2) = self.expr()?;
                depth = depth.max(d1).max(d2);
                when.push((test, result));
            } else if when.is_empty() {
                return Err(self.expected("WHEN (a CASE needs at least one WHEN)", &token));
            } else if token.kind.is_word("END") {
                break None;
            } else if token.kind.is_word("ELSE") {
                let (result, d) = self.expr()?;
                depth = depth.max(d);
                let end = self.next()?;
                if !end.kind.is_word("END") {
                    return Err(self.expected("END after the ELSE result", &end));
                }
                break Some(result);
            } else {
                return Err(self.expected("WHEN, ELSE or END", &token));
            }
        };
        let case = Case {
            value,
            when,
            otherwise,
        };
        self.node(Expr::Case(Box::new(case)), depth + 1, at)
    }

    fn call(&mut self, name: &str, at: usize) -> Result<Parsed, ParseError> {
        self.next()?; // `(`
        if name.eq_ignore_ascii_case("cast") {
            return self.cast(at);
        }
        let function = self.resolve(name, at)?;
        let (args, depth) = self.list(&Tok::RParen, "`,` or `)` in the argument list")?;
        if matches!(function, Function::Encode | Function::Decode) {
            self.check_scheme(function, &args, at)?;
        }
        self.node(Expr::Call(function, args), depth + 1, at)
    }

    fn resolve(&self, name: &str, at: usize) -> Result<Function, ParseError> {
        if let Some(function) = Function::lookup(name) {
            if function.since().is_2016() {
                self.require_2016(at, &format!("the function {}()", function.name()))?;
            }
            return Ok(function);
        }
        if let Some((aws_name, reason)) = catalog::unsupported_reason(name) {
            return Err(self.error(
                ParseErrorKind::UnsupportedFunction,
                at,
                format!(
                    "{aws_name}() is an AWS IoT SQL function that tether does not support: \
                     {reason}"
                ),
            ));
        }
        let mut message = format!("{name}() is not an AWS IoT SQL function");
        if let Some(close) = catalog::suggestion(name) {
            message.push_str(&format!("; did you mean {close}()?"));
        } else {
            message.push_str(" (see AWS IoT SQL's function reference)");
        }
        Err(self.error(ParseErrorKind::UnknownFunction, at, message))
    }

    /// encode/decode take "a literal string representing the scheme"; only `'base64'` is
    /// evaluated by tether, so another literal is refused here rather than at every message.
    fn check_scheme(&self, function: Function, args: &[Expr], at: usize) -> Result<(), ParseError> {
        if let Some(Expr::Literal(Literal::String(scheme))) = args.get(1)
            && scheme != "base64"
        {
            return Err(self.error(
                ParseErrorKind::UnsupportedFunction,
                at,
                format!(
                    "{}(value, '{scheme}'): tether supports only the 'base64' scheme",
                    function.name()
                ),
            ));
        }
        Ok(())
    }

    fn cast(&mut self, at: usize) -> Result<Parsed, ParseError> {
        let (value, depth) = self.expr()?;
        let as_token = self.next()?;
        if !as_token.kind.is_word("AS") {
            return Err(self.expected("AS and a type in cast(value AS type)", &as_token));
        }
        let type_token = self.next()?;
        let Tok::Ident(type_name) = &type_token.kind else {
            return Err(self.expected(
                "a type name (String, Int, Double, Decimal, Bool)",
                &type_token,
            ));
        };
        let cast_type = match type_name.to_ascii_lowercase().as_str() {
            "string" | "nvarchar" | "text" | "ntext" | "varchar" => CastType::String,
            "int" | "integer" => CastType::Int,
            "double" => CastType::Double,
            "decimal" => CastType::Decimal,
            "bool" | "boolean" => CastType::Boolean,
            _ => {
                return Err(self.expected(
                    "a cast type: String, Nvarchar, Text, Ntext, varchar, Int, Integer, Double, \
                     Decimal, Bool or Boolean",
                    &type_token,
                ));
            }
        };
        if matches!(cast_type, CastType::Decimal | CastType::Boolean) {
            self.require_2016(type_token.start, &format!("cast(... AS {type_name})"))?;
        }
        self.expect(&Tok::RParen, "`)` to close cast(")?;
        self.node(Expr::Cast(Box::new(value), cast_type), depth + 1, at)
    }
}
