//! Calling AWS IoT SQL functions: argument evaluation, the "wrong number of arguments gives
//! Undefined" rule, and the functions about the message and its environment (`topic`,
//! `clientid`, `timestamp`, `newuuid`, `get_thing_shadow`, ...) and about values in general
//! (`get`, `concat`, `isNull`, `nanvl`, `encode`, `decode`, `transform`, hashes). String,
//! numeric, cast and time functions live in the sibling files. Each follows its section of AWS's
//! "Functions" page (`iot-sql-functions.md`).

mod cast;
mod math;
mod strings;
mod time;

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value as Json};

use crate::ast::Expr;
use crate::catalog::Function;
use crate::context::ShadowRequest;
use crate::error::EvalError;
use crate::eval::{Doc, Evaluator};
use crate::value::{Value, parse_decimal};

pub(crate) use cast::cast;
pub(crate) use strings::Regexes;

/// Evaluates `function(args)`.
pub(crate) fn call<'b>(
    ev: &'b Evaluator<'_>,
    function: Function,
    args: &'b [Expr],
    doc: Doc<'b>,
) -> Result<Value<'b>, EvalError> {
    let (min, max) = function.arity();
    if args.len() < min || args.len() > max {
        return Ok(Value::Undefined);
    }
    // encode(*, ...) encodes the payload's bytes, JSON or not (Functions page, encode).
    if function == Function::Encode && matches!(args.first(), Some(Expr::Payload)) {
        let scheme = match args.get(1) {
            Some(arg) => ev.eval(arg, doc)?,
            None => Value::Undefined,
        };
        // In a nested query `*` is the element, which has no bytes of its own: its JSON text.
        let bytes: Cow<'_, [u8]> = match doc {
            Doc::Json(json)
                if !ev
                    .payload
                    .json()
                    .is_some_and(|root| std::ptr::eq(root, json)) =>
            {
                Cow::Owned(json.to_string().into_bytes())
            }
            _ => Cow::Borrowed(ev.payload.bytes()),
        };
        return Ok(encode(&bytes, &scheme));
    }
    let mut values = Vec::with_capacity(args.len());
    for arg in args {
        values.push(ev.eval(arg, doc)?);
    }
    Ok(match function {
        Function::AccountId => Value::string(ev.ctx.account_id),
        Function::ClientId => Value::string(ev.ctx.client_id.unwrap_or("n/a")),
        Function::Principal => optional(ev.ctx.principal),
        Function::SourceIp => optional(ev.ctx.source_ip),
        Function::TraceId => optional(ev.ctx.trace_id),
        Function::Timestamp => Value::Int(ev.ctx.timestamp_ms),
        Function::NewUuid => Value::String(Cow::Owned(ev.ctx.environment.new_uuid())),
        Function::Rand => Value::Decimal(ev.ctx.environment.random()),
        Function::SqlVersionName => Value::string(ev.version.as_str()),
        Function::Topic => topic(ev.ctx.topic, values.first()),
        Function::GetThingShadow => thing_shadow(ev, &values)?,
        Function::Get => get(&values, ev.version),
        Function::Concat => concat(values),
        Function::IsNull => Value::Bool(matches!(values.first(), Some(Value::Null))),
        Function::IsUndefined => Value::Bool(matches!(values.first(), Some(Value::Undefined))),
        Function::Nanvl => nanvl(values),
        Function::Encode => match (values.first(), values.get(1)) {
            (Some(value), Some(scheme)) => match value.to_text() {
                Some(text) => encode(text.as_bytes(), scheme),
                None => Value::Undefined,
            },
            _ => Value::Undefined,
        },
        Function::Decode => decode(&values, ev),
        Function::Transform => transform(&values),
        Function::Md5 | Function::Sha1 | Function::Sha224 | Function::Sha256 => {
            hash(function, values.first())
        }
        Function::Sha384 | Function::Sha512 => hash(function, values.first()),
        Function::ParseTime => time::parse_time(&values),
        other => match strings::call(other, &values, ev.regexes) {
            Some(value) => value,
            None => math::call(other, &values, ev.version),
        },
    })
}

fn optional(value: Option<&str>) -> Value<'_> {
    value.map_or(Value::Undefined, Value::string)
}

/// `topic()` is the whole topic; `topic(n)` its n-th level, 1-based; out of range is
/// Undefined.
fn topic<'b>(topic: &'b str, n: Option<&Value<'_>>) -> Value<'b> {
    let Some(n) = n else {
        return Value::string(topic);
    };
    let Some(n) = n.to_int_nearest().and_then(|n| usize::try_from(n).ok()) else {
        return Value::Undefined;
    };
    match n.checked_sub(1).and_then(|i| topic.split('/').nth(i)) {
        Some(level) => Value::string(level),
        None => Value::Undefined,
    }
}

/// `get_thing_shadow(thingName[, shadowName], roleArn)` through the caller's environment.
fn thing_shadow<'b>(ev: &Evaluator<'_>, values: &[Value<'_>]) -> Result<Value<'b>, EvalError> {
    let texts: Vec<Option<Cow<'_, str>>> = values
        .iter()
        .map(|v| match v {
            Value::String(s) => Some(Cow::Borrowed(&**s)),
            _ => None,
        })
        .collect();
    let (thing, shadow, role) = match texts.as_slice() {
        [Some(thing), Some(role)] => (thing, None, role),
        [Some(thing), Some(shadow), Some(role)] => (thing, Some(&**shadow), role),
        _ => return Ok(Value::Undefined),
    };
    let request = ShadowRequest {
        thing,
        shadow,
        role_arn: role,
    };
    match ev.ctx.environment.thing_shadow(&request) {
        Ok(Some(document)) => Ok(Value::from_owned_json(document, ev.version)),
        Ok(None) => Ok(Value::Undefined),
        Err(message) => Err(EvalError::Shadow {
            thing: thing.to_string(),
            message,
        }),
    }
}

/// `get(collection, key)`: an array element or string character by 0-based index (the key
/// converted to Int), an object member by String key (no conversion).
fn get(values: &[Value<'_>], version: crate::SqlVersion) -> Value<'static> {
    let (Some(collection), Some(key)) = (values.first(), values.get(1)) else {
        return Value::Undefined;
    };
    let index = || key.to_int_nearest().and_then(|i| usize::try_from(i).ok());
    match collection {
        Value::Array(items) => match index().and_then(|i| items.get(i)) {
            Some(item) => Value::from_owned_json(item.clone(), version),
            None => Value::Undefined,
        },
        Value::String(s) => match index().and_then(|i| s.chars().nth(i)) {
            Some(c) => Value::String(Cow::Owned(c.to_string())),
            None => Value::Undefined,
        },
        Value::Object(map) => match key {
            Value::String(k) => map.get(&**k).map_or(Value::Undefined, |v| {
                Value::from_owned_json(v.clone(), version)
            }),
            _ => Value::Undefined,
        },
        _ => Value::Undefined,
    }
}

/// `concat(...)`: no arguments is Undefined; with any Array argument, one array of all the
/// arguments (arrays spliced in); otherwise the arguments' text concatenated (AWS's example
/// `concat(1)` = "1"). An argument without text (Null, Undefined) makes it Undefined.
fn concat(values: Vec<Value<'_>>) -> Value<'static> {
    if values.is_empty() {
        return Value::Undefined;
    }
    if values.iter().any(|v| matches!(v, Value::Array(_))) {
        let mut out = Vec::new();
        for value in values {
            match value {
                Value::Array(items) => out.extend(items.into_owned()),
                other => match other.into_json() {
                    Some(json) => out.push(json),
                    None => return Value::Undefined,
                },
            }
        }
        return Value::Array(Cow::Owned(out));
    }
    let mut out = String::new();
    for value in &values {
        match value.to_text() {
            Some(text) => out.push_str(&text),
            None => return Value::Undefined,
        }
    }
    Value::String(Cow::Owned(out))
}

/// `nanvl(a, b)`: `b` when `a` is Undefined, Null or NaN (tether has no NaN values), else `a`.
fn nanvl(values: Vec<Value<'_>>) -> Value<'_> {
    let mut values = values.into_iter();
    let (Some(first), Some(second)) = (values.next(), values.next()) else {
        return Value::Undefined;
    };
    match first {
        Value::Undefined | Value::Null => second,
        first => first,
    }
}

fn is_base64(scheme: &Value<'_>) -> bool {
    matches!(scheme, Value::String(s) if s == "base64")
}

fn encode(bytes: &[u8], scheme: &Value<'_>) -> Value<'static> {
    if is_base64(scheme) {
        Value::String(Cow::Owned(BASE64.encode(bytes)))
    } else {
        Value::Undefined
    }
}

/// `decode(value, 'base64')`: the decoded bytes as JSON when they are a JSON document (any
/// JSON value: AWS's example decodes "80" and compares it with 50), else as a string, else
/// Null ("returns NULL if the string cannot be decoded").
fn decode<'b>(values: &[Value<'_>], ev: &Evaluator<'_>) -> Value<'b> {
    let (Some(value), Some(scheme)) = (values.first(), values.get(1)) else {
        return Value::Undefined;
    };
    if !is_base64(scheme) {
        return Value::Undefined;
    }
    let Some(text) = value.to_text() else {
        return Value::Undefined;
    };
    let Ok(bytes) = BASE64.decode(text.trim().as_bytes()) else {
        return Value::Null;
    };
    if let Ok(json) = serde_json::from_slice::<Json>(&bytes) {
        return Value::from_owned_json(json, ev.version);
    }
    match String::from_utf8(bytes) {
        Ok(s) => Value::String(Cow::Owned(s)),
        Err(_) => Value::Null,
    }
}

/// `transform('enrichArray', object, array)`: each object of the array with the object's
/// members added; any other mode or argument type is Undefined.
fn transform(values: &[Value<'_>]) -> Value<'static> {
    let (Some(Value::String(mode)), Some(Value::Object(extra)), Some(Value::Array(items))) =
        (values.first(), values.get(1), values.get(2))
    else {
        return Value::Undefined;
    };
    if mode != "enrichArray" {
        return Value::Undefined;
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items.iter() {
        let Json::Object(map) = item else {
            return Value::Undefined;
        };
        let mut merged: Map<String, Json> = map.clone();
        merged.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        out.push(Json::Object(merged));
    }
    Value::Array(Cow::Owned(out))
}

/// md5, sha1, sha224, sha256, sha384, sha512: the lower-case hex digest of the argument's
/// text (standard string conversion); Undefined without text.
fn hash(function: Function, value: Option<&Value<'_>>) -> Value<'static> {
    use sha2::Digest as _;
    let Some(text) = value.and_then(Value::to_text) else {
        return Value::Undefined;
    };
    let bytes = text.as_bytes();
    let digest: Vec<u8> = match function {
        Function::Md5 => md5::Md5::digest(bytes).to_vec(),
        Function::Sha1 => sha1::Sha1::digest(bytes).to_vec(),
        Function::Sha224 => sha2::Sha224::digest(bytes).to_vec(),
        Function::Sha256 => sha2::Sha256::digest(bytes).to_vec(),
        Function::Sha384 => sha2::Sha384::digest(bytes).to_vec(),
        _ => sha2::Sha512::digest(bytes).to_vec(),
    };
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    Value::String(Cow::Owned(hex))
}

/// A numeric argument as a double: "Decimal arguments are rounded to double precision".
pub(crate) fn double(value: Option<&Value<'_>>) -> Option<f64> {
    match value? {
        Value::String(s) => parse_decimal(s),
        other => other.to_f64(),
    }
}
