//! Printing the syntax tree back as AWS IoT SQL. The printed text parses to the same tree
//! (a property test holds it to that): parentheses are added exactly where precedence needs
//! them, keywords are upper case, functions are spelt as AWS documents them, strings use single
//! quotes with the lexer's backslash escapes. It does not reproduce the original spelling.

use std::fmt::{self, Display, Formatter};

use crate::ast::{
    BinaryOp, Case, CastType, Expr, Literal, Query, Select, SelectItem, Subquery, UnaryOp,
};

/// Binding strength, higher binds tighter.
fn precedence(expr: &Expr) -> u8 {
    match expr {
        Expr::Binary(op, ..) => match op {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::NotEq
            | BinaryOp::Lt
            | BinaryOp::LtEq
            | BinaryOp::Gt
            | BinaryOp::GtEq => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 6,
        },
        Expr::Unary(UnaryOp::Not, _) => 3,
        Expr::Unary(UnaryOp::Neg, _) => 7,
        _ => 8,
    }
}

/// Writes `expr`, in parentheses when it binds less tightly than `min`.
fn child(f: &mut Formatter<'_>, expr: &Expr, min: u8) -> fmt::Result {
    if precedence(expr) < min {
        write!(f, "({expr})")
    } else {
        write!(f, "{expr}")
    }
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "OR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
        }
    }
}

impl CastType {
    /// The keyword as written after AS.
    pub fn keyword(self) -> &'static str {
        match self {
            CastType::String => "String",
            CastType::Int => "Int",
            CastType::Double => "Double",
            CastType::Decimal => "Decimal",
            CastType::Boolean => "Boolean",
        }
    }
}

/// Writes `text` as a single-quoted literal.
pub(crate) fn quote(f: &mut impl fmt::Write, text: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in text.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('\'')
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("NULL"),
            Literal::Bool(true) => f.write_str("TRUE"),
            Literal::Bool(false) => f.write_str("FALSE"),
            Literal::Int(i) => write!(f, "{i}"),
            // Debug keeps a `.0` or an exponent, so the number reads back as a decimal.
            Literal::Decimal(d) => write!(f, "{d:?}"),
            Literal::String(s) => quote(f, s),
        }
    }
}

fn comma_separated(f: &mut Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal(literal) => write!(f, "{literal}"),
            Expr::Payload => f.write_str("*"),
            Expr::Field(name) => f.write_str(name),
            Expr::Member(base, name) => {
                child(f, base, 8)?;
                write!(f, ".{name}")
            }
            Expr::Index(base, index) => {
                child(f, base, 8)?;
                write!(f, "[{index}]")
            }
            Expr::Unary(UnaryOp::Not, operand) => {
                f.write_str("NOT ")?;
                child(f, operand, 3)
            }
            Expr::Unary(UnaryOp::Neg, operand) => {
                f.write_str("-")?;
                match **operand {
                    // `- -x`: two minus tokens, no parentheses (which would cost nesting).
                    Expr::Unary(UnaryOp::Neg, _) => write!(f, " {operand}"),
                    Expr::Unary(UnaryOp::Not, _) => write!(f, "({operand})"),
                    _ => child(f, operand, 7),
                }
            }
            Expr::Binary(op, left, right) => {
                let p = precedence(self);
                child(f, left, p)?;
                write!(f, " {} ", op.symbol())?;
                child(f, right, p + 1)
            }
            Expr::Call(function, args) => {
                write!(f, "{}(", function.name())?;
                comma_separated(f, args)?;
                f.write_str(")")
            }
            Expr::Cast(value, cast_type) => write!(f, "cast({value} AS {})", cast_type.keyword()),
            Expr::Case(case) => write!(f, "{case}"),
            Expr::Array(items) => {
                f.write_str("[")?;
                comma_separated(f, items)?;
                f.write_str("]")
            }
            Expr::Object(members) => {
                f.write_str("{")?;
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    quote(f, key)?;
                    write!(f, ": {value}")?;
                }
                f.write_str("}")
            }
            Expr::Subquery(subquery) => write!(f, "({subquery})"),
        }
    }
}

impl Display for Case {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "CASE {}", self.value)?;
        for (test, result) in &self.when {
            write!(f, " WHEN {test} THEN {result}")?;
        }
        if let Some(otherwise) = &self.otherwise {
            write!(f, " ELSE {otherwise}")?;
        }
        f.write_str(" END")
    }
}

impl Display for Select {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Select::Value(expr) => {
                // `SELECT VALUE -x` or `SELECT VALUE *.a` would read as a field named VALUE.
                let text = expr.to_string();
                let ambiguous = text.starts_with('-') || (text.starts_with('*') && text != "*");
                if ambiguous {
                    write!(f, "SELECT VALUE ({text})")
                } else {
                    write!(f, "SELECT VALUE {text}")
                }
            }
            Select::Items(items) => {
                f.write_str("SELECT ")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match item {
                        // `SELECT value[0]` would read as `SELECT VALUE [0]` in 2016-03-23.
                        SelectItem::Expr { expr, alias }
                            if i == 0 && starts_with_value_index(expr) =>
                        {
                            write!(f, "({expr})")?;
                            if let Some(alias) = alias {
                                write!(f, " AS {}", alias.join("."))?;
                            }
                        }
                        item => write!(f, "{item}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

impl Display for SelectItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SelectItem::Wildcard => f.write_str("*"),
            SelectItem::Expr { expr, alias } => {
                write!(f, "{expr}")?;
                if let Some(alias) = alias {
                    write!(f, " AS {}", alias.join("."))?;
                }
                Ok(())
            }
        }
    }
}

impl Display for Subquery {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} FROM {}", self.select, self.from)?;
        if let Some(condition) = &self.condition {
            write!(f, " WHERE {condition}")?;
        }
        Ok(())
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.select)?;
        if let Some(filter) = &self.from {
            f.write_str(" FROM ")?;
            quote(f, filter)?;
        }
        if let Some(condition) = &self.condition {
            write!(f, " WHERE {condition}")?;
        }
        Ok(())
    }
}

/// Whether `expr` prints as `value[...`, a field named value indexed at the very start.
fn starts_with_value_index(expr: &Expr) -> bool {
    let text = expr.to_string();
    text.get(..6)
        .is_some_and(|head| head.eq_ignore_ascii_case("value["))
}
