//! The typed syntax tree of an AWS IoT SQL statement. It holds what was written, resolved
//! (function names to [`Function`], cast keywords to [`CastType`]) but not evaluated; positions
//! are not kept, so two spellings of one statement compare equal. Printing is in `display.rs`,
//! building in `parser/`, evaluation in `eval.rs`.

use crate::catalog::Function;

/// `SELECT ... [FROM 'filter'] [WHERE ...]`, the body of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The SELECT clause.
    pub select: Select,
    /// The quoted topic filter of FROM; `None` when FROM is absent (Basic Ingest rules only).
    pub from: Option<String>,
    /// The WHERE condition.
    pub condition: Option<Expr>,
}

/// What a SELECT clause produces.
#[derive(Debug, Clone, PartialEq)]
pub enum Select {
    /// `SELECT item, item, ...`: a JSON object.
    Items(Vec<SelectItem>),
    /// `SELECT VALUE expr`: the value itself (any JSON value; an array only in 2016-03-23).
    Value(Expr),
}

impl Select {
    /// Calls `visit` on every expression of the SELECT clause (see [`Expr::walk`]).
    pub fn walk(&self, visit: &mut dyn FnMut(&Expr)) {
        match self {
            Select::Value(expr) => expr.walk(visit),
            Select::Items(items) => {
                for item in items {
                    if let SelectItem::Expr { expr, .. } = item {
                        expr.walk(visit);
                    }
                }
            }
        }
    }
}

impl Query {
    /// Calls `visit` on every expression of the statement (see [`Expr::walk`]).
    pub fn walk(&self, visit: &mut dyn FnMut(&Expr)) {
        self.select.walk(visit);
        if let Some(condition) = &self.condition {
            condition.walk(visit);
        }
    }
}

/// One item of a SELECT list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*` without an alias: every key of the payload object.
    Wildcard,
    /// An expression, with its `AS` alias if any (`* AS name` is [`Expr::Payload`] with an
    /// alias: the whole payload under one key).
    Expr {
        /// The value.
        expr: Expr,
        /// The output key; `AS a.b` nests the value as `{"a":{"b":...}}`.
        alias: Option<Vec<String>>,
    },
}

/// `(SELECT ... FROM expr [WHERE ...])`, a nested object query (2016-03-23).
#[derive(Debug, Clone, PartialEq)]
pub struct Subquery {
    /// The SELECT clause, evaluated against each element of `from`.
    pub select: Select,
    /// The array (or object) queried.
    pub from: Expr,
    /// The condition an element must meet.
    pub condition: Option<Expr>,
}

/// A literal value written in the statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `NULL`.
    Null,
    /// `TRUE` or `FALSE`.
    Bool(bool),
    /// A whole number that fits 64 bits.
    Int(i64),
    /// A number with a fraction or exponent (or too large for 64-bit integers).
    Decimal(f64),
    /// `'text'` or `"text"`.
    String(String),
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-x`.
    Neg,
    /// `NOT x`.
    Not,
}

/// Infix operators, by AWS's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `OR`.
    Or,
    /// `AND`.
    And,
    /// `=`.
    Eq,
    /// `<>` (also written `!=`).
    NotEq,
    /// `<`.
    Lt,
    /// `<=`.
    LtEq,
    /// `>`.
    Gt,
    /// `>=`.
    GtEq,
    /// `+`: addition or string concatenation.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Mod,
}

/// The type keyword of `cast(x AS type)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastType {
    /// `String`, `Nvarchar`, `Text`, `Ntext`, `varchar`.
    String,
    /// `Int`, `Integer`.
    Int,
    /// `Double`: a decimal of double precision.
    Double,
    /// `Decimal` (2016-03-23).
    Decimal,
    /// `Bool`, `Boolean` (2016-03-23).
    Boolean,
}

/// `CASE v WHEN t THEN r ... [ELSE e] END`.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The value matched.
    pub value: Expr,
    /// `(t, r)` pairs, at least one.
    pub when: Vec<(Expr, Expr)>,
    /// The ELSE result.
    pub otherwise: Option<Expr>,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal.
    Literal(Literal),
    /// `*`: the whole payload (in a nested query, the element).
    Payload,
    /// A top-level field of the payload: `temperature`.
    Field(String),
    /// `base.name`.
    Member(Box<Expr>, String),
    /// `base[index]`.
    Index(Box<Expr>, Box<Expr>),
    /// A prefix operator.
    Unary(UnaryOp, Box<Expr>),
    /// An infix operator.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// A function call.
    Call(Function, Vec<Expr>),
    /// `cast(value AS type)`.
    Cast(Box<Expr>, CastType),
    /// A CASE expression.
    Case(Box<Case>),
    /// `[a, b, ...]` (2016-03-23).
    Array(Vec<Expr>),
    /// `{'key': value, ...}` (2016-03-23).
    Object(Vec<(String, Expr)>),
    /// A nested object query (2016-03-23).
    Subquery(Box<Subquery>),
}

impl Expr {
    /// Calls `visit` on this expression and every expression inside it (nested queries
    /// included), parents first.
    pub fn walk(&self, visit: &mut dyn FnMut(&Expr)) {
        visit(self);
        match self {
            Expr::Literal(_) | Expr::Payload | Expr::Field(_) => {}
            Expr::Member(base, _) | Expr::Unary(_, base) | Expr::Cast(base, _) => base.walk(visit),
            Expr::Index(base, index) | Expr::Binary(_, base, index) => {
                base.walk(visit);
                index.walk(visit);
            }
            Expr::Call(_, items) | Expr::Array(items) => items.iter().for_each(|e| e.walk(visit)),
            Expr::Object(members) => members.iter().for_each(|(_, e)| e.walk(visit)),
            Expr::Case(case) => {
                case.value.walk(visit);
                for (test, result) in &case.when {
                    test.walk(visit);
                    result.walk(visit);
                }
                if let Some(otherwise) = &case.otherwise {
                    otherwise.walk(visit);
                }
            }
            Expr::Subquery(query) => {
                query.select.walk(visit);
                query.from.walk(visit);
                if let Some(condition) = &query.condition {
                    condition.walk(visit);
                }
            }
        }
    }

    /// The output key of this expression when its SELECT item has no alias: the field name
    /// for a field (AWS's `SELECT color` gives `{"color": ...}`), the last field name of a
    /// path, or the function's name. AWS documents no rule beyond the plain field; the rest is
    /// tether's choice, and other expressions are named by position (`_1`, `_2`, ...).
    pub fn implicit_name(&self) -> Option<&str> {
        match self {
            Expr::Field(name) | Expr::Member(_, name) => Some(name),
            Expr::Index(base, _) => base.implicit_name(),
            Expr::Call(function, _) => Some(function.name()),
            Expr::Cast(..) => Some("cast"),
            _ => None,
        }
    }

    /// The first part of this expression that reads the payload's fields (anything but `*`
    /// and functions of it), which a payload that is not a JSON object cannot answer.
    pub(crate) fn field_read(&self) -> Option<&Expr> {
        match self {
            Expr::Field(_) | Expr::Member(..) | Expr::Index(..) | Expr::Subquery(_) => Some(self),
            Expr::Literal(_) | Expr::Payload => None,
            Expr::Unary(_, e) | Expr::Cast(e, _) => e.field_read(),
            Expr::Binary(_, l, r) => l.field_read().or_else(|| r.field_read()),
            Expr::Call(_, args) | Expr::Array(args) => args.iter().find_map(Expr::field_read),
            Expr::Object(members) => members.iter().find_map(|(_, e)| e.field_read()),
            Expr::Case(case) => case
                .value
                .field_read()
                .or_else(|| {
                    case.when
                        .iter()
                        .find_map(|(t, r)| t.field_read().or_else(|| r.field_read()))
                })
                .or_else(|| case.otherwise.as_ref().and_then(Expr::field_read)),
        }
    }
}
