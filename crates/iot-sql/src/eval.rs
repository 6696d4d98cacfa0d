//! Walking the syntax tree against one message: field lookups with AWS's Undefined for
//! anything missing, operators (`operators.rs`), function calls (`functions/`), CASE, literals,
//! nested object queries, and the assembly of a SELECT list into an output object. It does not
//! decide whether a rule fires on a topic; the caller matches FROM.

use std::borrow::Cow;

use serde_json::{Map, Value as Json};

use crate::ast::{Case, Expr, Literal, Select, SelectItem, Subquery};
use crate::context::{Context, Payload};
use crate::error::EvalError;
use crate::functions::{self, Regexes};
use crate::operators;
use crate::value::Value;
use crate::version::SqlVersion;

/// The document field names are looked up in: the payload object, or in a nested query the
/// element being queried.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Doc<'b> {
    Json(&'b Json),
    /// A payload that is not a JSON object.
    Binary,
}

/// Evaluates expressions for one message.
pub(crate) struct Evaluator<'a> {
    pub ctx: &'a Context<'a>,
    pub payload: &'a Payload<'a>,
    pub version: SqlVersion,
    pub regexes: &'a Regexes,
}

impl<'a> Evaluator<'a> {
    pub fn new(
        ctx: &'a Context<'a>,
        payload: &'a Payload<'a>,
        version: SqlVersion,
        regexes: &'a Regexes,
    ) -> Self {
        Evaluator {
            ctx,
            payload,
            version,
            regexes,
        }
    }

    /// The top-level document.
    pub fn root(&self) -> Doc<'a> {
        self.payload.json().map_or(Doc::Binary, Doc::Json)
    }

    pub fn eval<'b>(&'b self, expr: &'b Expr, doc: Doc<'b>) -> Result<Value<'b>, EvalError> {
        Ok(match expr {
            Expr::Literal(literal) => self.literal(literal),
            Expr::Payload => match doc {
                Doc::Json(json) => Value::from_json(json, self.version),
                Doc::Binary => self.payload.text().map_or(Value::Undefined, Value::String),
            },
            Expr::Field(name) => match doc {
                Doc::Json(Json::Object(map)) => map
                    .get(name)
                    .map_or(Value::Undefined, |v| Value::from_json(v, self.version)),
                Doc::Json(_) => Value::Undefined,
                Doc::Binary => {
                    return Err(EvalError::NotJson {
                        field: name.clone(),
                    });
                }
            },
            Expr::Member(base, name) => member(self.eval(base, doc)?, name, self.version),
            Expr::Index(base, index) => {
                let base = self.eval(base, doc)?;
                let index = self.eval(index, doc)?;
                element(base, &index, self.version)
            }
            Expr::Unary(op, operand) => {
                operators::unary(*op, self.eval(operand, doc)?, self.version)
            }
            Expr::Binary(op, left, right) => {
                let left = self.eval(left, doc)?;
                let right = self.eval(right, doc)?;
                operators::binary(*op, left, right, self.version)
            }
            Expr::Call(function, args) => functions::call(self, *function, args, doc)?,
            Expr::Cast(value, cast_type) => {
                functions::cast(&self.eval(value, doc)?, *cast_type, self.version)
            }
            Expr::Case(case) => self.case(case, doc)?,
            Expr::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    // tether's choice: an Undefined element is left out, as an Undefined
                    // SELECT item is.
                    if let Some(json) = self.eval(item, doc)?.into_json() {
                        out.push(json);
                    }
                }
                Value::Array(Cow::Owned(out))
            }
            Expr::Object(members) => {
                let mut out = Map::new();
                for (key, value) in members {
                    if let Some(json) = self.eval(value, doc)?.into_json() {
                        out.insert(key.clone(), json);
                    }
                }
                Value::Object(Cow::Owned(out))
            }
            Expr::Subquery(subquery) => self.subquery(subquery, doc)?,
        })
    }

    fn literal<'b>(&self, literal: &'b Literal) -> Value<'b> {
        match literal {
            Literal::Null => Value::Null,
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Int(i) => Value::Int(*i),
            Literal::Decimal(d) => Value::decimal(*d, self.version),
            Literal::String(s) => Value::String(Cow::Borrowed(s)),
        }
    }

    /// CASE: the first WHEN whose value `=` the matched value gives true; ELSE otherwise;
    /// Undefined when nothing matches or the matched value is Undefined (Case statements page).
    fn case<'b>(&'b self, case: &'b Case, doc: Doc<'b>) -> Result<Value<'b>, EvalError> {
        let value = self.eval(&case.value, doc)?;
        if value.is_undefined() {
            return Ok(Value::Undefined);
        }
        for (test, result) in &case.when {
            let test = self.eval(test, doc)?;
            if operators::equals(&value, &test) == Some(true) {
                return self.eval(result, doc);
            }
        }
        match &case.otherwise {
            Some(otherwise) => self.eval(otherwise, doc),
            None => Ok(Value::Undefined),
        }
    }

    /// A nested object query: over an array, the results for the elements that pass WHERE,
    /// as an array; over an object, the result for that object alone (AWS's transform()
    /// example 3 queries an object this way); over anything else, Undefined.
    fn subquery<'b>(&'b self, query: &'b Subquery, doc: Doc<'b>) -> Result<Value<'b>, EvalError> {
        let from = self.eval(&query.from, doc)?;
        match &from {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items.iter() {
                    if let Some(json) = self.query_one(query, item)? {
                        out.push(json);
                    }
                }
                Ok(Value::Array(Cow::Owned(out)))
            }
            Value::Object(map) => {
                let json = Json::Object(map.clone().into_owned());
                Ok(self.query_one(query, &json)?.map_or(Value::Undefined, |j| {
                    Value::from_owned_json(j, self.version)
                }))
            }
            _ => Ok(Value::Undefined),
        }
    }

    /// One element of a nested query: its SELECT result if it passes WHERE.
    fn query_one(&self, query: &Subquery, element: &Json) -> Result<Option<Json>, EvalError> {
        let doc = Doc::Json(element);
        if let Some(condition) = &query.condition
            && self.eval(condition, doc)? != Value::Bool(true)
        {
            return Ok(None);
        }
        match &query.select {
            Select::Value(expr) => Ok(self.eval(expr, doc)?.into_json()),
            Select::Items(items) => Ok(Some(Json::Object(self.select_items(items, doc)?))),
        }
    }

    /// A SELECT list as an object: `*` copies the document's keys, every other item adds its
    /// key (the alias, the implicit name, or `_N` for the N-th item), Undefined items add none.
    pub fn select_items<'b>(
        &'b self,
        items: &'b [SelectItem],
        doc: Doc<'b>,
    ) -> Result<Map<String, Json>, EvalError> {
        let mut out = Map::new();
        for (position, item) in items.iter().enumerate() {
            match item {
                SelectItem::Wildcard => {
                    if let Doc::Json(Json::Object(map)) = doc {
                        out.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                }
                SelectItem::Expr { expr, alias } => {
                    let Some(json) = self.eval(expr, doc)?.into_json() else {
                        continue;
                    };
                    match alias {
                        Some(path) => insert_path(&mut out, path, json),
                        None => {
                            let key = expr
                                .implicit_name()
                                .map_or_else(|| format!("_{}", position + 1), str::to_owned);
                            out.insert(key, json);
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// `base.name`: a member of an object, Undefined for anything else.
fn member<'b>(base: Value<'b>, name: &str, version: SqlVersion) -> Value<'b> {
    match base {
        Value::Object(Cow::Borrowed(map)) => map
            .get(name)
            .map_or(Value::Undefined, |v| Value::from_json(v, version)),
        Value::Object(Cow::Owned(mut map)) => map
            .remove(name)
            .map_or(Value::Undefined, |v| Value::from_owned_json(v, version)),
        _ => Value::Undefined,
    }
}

/// `base[index]`: an array element by 0-based index (converted to Int), Undefined out of
/// bounds or for anything but an array.
fn element<'b>(base: Value<'b>, index: &Value<'_>, version: SqlVersion) -> Value<'b> {
    let Some(i) = index.to_int_nearest().and_then(|i| usize::try_from(i).ok()) else {
        return Value::Undefined;
    };
    match base {
        Value::Array(Cow::Borrowed(items)) => items
            .get(i)
            .map_or(Value::Undefined, |v| Value::from_json(v, version)),
        Value::Array(Cow::Owned(mut items)) if i < items.len() => {
            Value::from_owned_json(items.swap_remove(i), version)
        }
        _ => Value::Undefined,
    }
}

/// Inserts `json` under a dotted alias path, creating (or replacing non-object) parents.
fn insert_path(out: &mut Map<String, Json>, path: &[String], json: Json) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut target = out;
    for parent in parents {
        let slot = target
            .entry(parent.clone())
            .or_insert_with(|| Json::Object(Map::new()));
        if !slot.is_object() {
            *slot = Json::Object(Map::new());
        }
        let Json::Object(map) = slot else {
            return;
        };
        target = map;
    }
    target.insert(last.clone(), json);
}
