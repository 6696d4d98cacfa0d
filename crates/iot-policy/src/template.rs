//! Policy text with `${...}` variables and `*`/`?` wildcards: parsing it once, substituting a
//! request's values, and wildcard matching. It does not know which JSON field a text came from
//! or what the variables mean (that is `variable.rs`).
//!
//! AWS IoT resources use IAM wildcards only: `*` is any run of characters, crossing `/` and
//! `:`; `?` is exactly one character. MQTT `+` and `#` are ordinary characters here. `${*}`,
//! `${?}` and `${$}` write a literal `*`, `?` and `$`. A substituted value is always literal:
//! a client id of `*` matches only `*`.

use std::borrow::Cow;

use crate::context::RequestContext;
use crate::variable::Variable;

/// One element of a wildcard pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Glob {
    Char(char),
    /// `*`: any run of characters, possibly empty.
    AnyRun,
    /// `?`: exactly one character.
    AnyOne,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// A character as written; `*` and `?` are wildcards when the text is used as a pattern.
    Char(char),
    /// A character written as `${*}`, `${?}` or `${$}`: always literal.
    Escaped(char),
    Var(Variable),
}

/// Why a text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateError {
    /// `${` without a closing `}`; `at` is the 1-based character position of the `$`.
    Unclosed { at: usize },
    /// `${}`.
    Empty { at: usize },
}

impl TemplateError {
    pub(crate) fn describe(&self) -> String {
        match self {
            TemplateError::Unclosed { at } => format!(
                "\"${{\" at character {at} is not closed by \"}}\"; write \"${{$}}\" for a literal \"$\""
            ),
            TemplateError::Empty { at } => format!(
                "empty policy variable \"${{}}\" at character {at}; name a variable such as \"${{iot:ClientId}}\""
            ),
        }
    }
}

/// A parsed text from a policy (a resource or a condition value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    text: String,
    pieces: Vec<Piece>,
    /// The literal rendering and the glob form, computed once when there are no variables.
    fixed: Option<(String, Vec<Glob>)>,
}

impl Template {
    /// Parses `text`. With `variables` false (policy version 2008-10-17) `${...}` is plain text.
    pub(crate) fn parse(text: &str, variables: bool) -> Result<Template, TemplateError> {
        let mut pieces = Vec::with_capacity(text.len());
        let mut rest = text;
        let mut position = 0usize;
        while let Some(c) = rest.chars().next() {
            position = position.saturating_add(1);
            let after = rest.get(c.len_utf8()..).unwrap_or("");
            if variables && c == '$' && after.starts_with('{') {
                let inner_start = after.get(1..).unwrap_or("");
                let Some(close) = inner_start.find('}') else {
                    return Err(TemplateError::Unclosed { at: position });
                };
                let name = inner_start.get(..close).unwrap_or("");
                let piece = match name {
                    "" => return Err(TemplateError::Empty { at: position }),
                    "*" => Piece::Escaped('*'),
                    "?" => Piece::Escaped('?'),
                    "$" => Piece::Escaped('$'),
                    _ => Piece::Var(Variable::parse(name)),
                };
                pieces.push(piece);
                // `${` + name + `}`, counted in characters for later error positions.
                position = position.saturating_add(name.chars().count().saturating_add(2));
                rest = inner_start.get(close.saturating_add(1)..).unwrap_or("");
            } else {
                pieces.push(Piece::Char(c));
                rest = after;
            }
        }
        let has_variables = pieces.iter().any(|p| matches!(p, Piece::Var(_)));
        let mut template = Template {
            text: text.to_owned(),
            pieces,
            fixed: None,
        };
        if !has_variables {
            let empty = RequestContext::default();
            let literal = template.render_pieces(&empty).unwrap_or_default();
            let globs = template.glob_pieces(&empty).unwrap_or_default();
            template.fixed = Some((literal, globs));
        }
        Ok(template)
    }

    /// The text as written in the policy.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the text contains policy variables.
    pub(crate) fn has_variables(&self) -> bool {
        self.fixed.is_none()
    }

    /// The variables the text refers to.
    pub(crate) fn variables(&self) -> impl Iterator<Item = &Variable> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var(v) => Some(v),
            _ => None,
        })
    }

    /// The text with variables substituted, every character literal (for `StringEquals` and
    /// friends). `None` when a variable does not resolve.
    pub(crate) fn render<'t>(&'t self, ctx: &RequestContext) -> Option<Cow<'t, str>> {
        match &self.fixed {
            Some((literal, _)) => Some(Cow::Borrowed(literal.as_str())),
            None => self.render_pieces(ctx).map(Cow::Owned),
        }
    }

    /// The text as a wildcard pattern with variables substituted (for resources, actions,
    /// `StringLike`). `None` when a variable does not resolve.
    pub(crate) fn globs<'t>(&'t self, ctx: &RequestContext) -> Option<Cow<'t, [Glob]>> {
        match &self.fixed {
            Some((_, globs)) => Some(Cow::Borrowed(globs.as_slice())),
            None => self.glob_pieces(ctx).map(Cow::Owned),
        }
    }

    /// Wildcard-matches `text` (case-sensitive). `None` when a variable does not resolve.
    pub(crate) fn matches(&self, ctx: &RequestContext, text: &str) -> Option<bool> {
        self.globs(ctx).map(|globs| glob_match(&globs, text, false))
    }

    fn render_pieces(&self, ctx: &RequestContext) -> Option<String> {
        let mut out = String::with_capacity(self.text.len());
        for piece in &self.pieces {
            match piece {
                Piece::Char(c) | Piece::Escaped(c) => out.push(*c),
                Piece::Var(v) => out.push_str(&v.resolve(ctx)?),
            }
        }
        Some(out)
    }

    fn glob_pieces(&self, ctx: &RequestContext) -> Option<Vec<Glob>> {
        let mut out = Vec::with_capacity(self.pieces.len());
        for piece in &self.pieces {
            match piece {
                Piece::Char('*') => out.push(Glob::AnyRun),
                Piece::Char('?') => out.push(Glob::AnyOne),
                Piece::Char(c) | Piece::Escaped(c) => out.push(Glob::Char(*c)),
                Piece::Var(v) => out.extend(v.resolve(ctx)?.chars().map(Glob::Char)),
            }
        }
        Some(out)
    }
}

/// Wildcard matching over Unicode scalar values, iterative with single-star backtracking:
/// O(pattern × text) time, no recursion, no allocation.
pub(crate) fn glob_match(pattern: &[Glob], text: &str, fold_case: bool) -> bool {
    let same = |a: char, b: char| a == b || (fold_case && a.to_lowercase().eq(b.to_lowercase()));
    let next_char = |at: usize| text.get(at..).and_then(|s| s.chars().next());
    let mut p = 0usize;
    let mut t = 0usize;
    // After the most recent `*`: the pattern index following it and the text offset the star
    // currently stops at.
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        let step = match (pattern.get(p), next_char(t)) {
            // A trailing `*` matches whatever is left (`topic/*`, `*`): no need to walk it.
            (Some(Glob::AnyRun), _) if p.saturating_add(1) == pattern.len() => return true,
            (Some(Glob::AnyRun), _) => {
                backtrack = Some((p.saturating_add(1), t));
                p = p.saturating_add(1);
                continue;
            }
            (Some(Glob::AnyOne), Some(c)) => Some(c),
            (Some(Glob::Char(want)), Some(c)) if same(*want, c) => Some(c),
            (None, None) => return true,
            _ => None,
        };
        if let Some(c) = step {
            p = p.saturating_add(1);
            t = t.saturating_add(c.len_utf8());
            continue;
        }
        // Mismatch: let the last star swallow one more character, or fail.
        let Some((after_star, star_end)) = backtrack else {
            return false;
        };
        let Some(c) = next_char(star_end) else {
            return false;
        };
        let star_end = star_end.saturating_add(c.len_utf8());
        backtrack = Some((after_star, star_end));
        p = after_star;
        t = star_end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pattern_matches(pattern: &str, text: &str) -> bool {
        Template::parse(pattern, true)
            .unwrap()
            .matches(&RequestContext::default(), text)
            .unwrap()
    }

    #[test]
    fn star_crosses_slashes_and_question_is_one_char() {
        assert!(pattern_matches("topic/a/*", "topic/a/b/c/d"));
        assert!(pattern_matches("topic/a/*", "topic/a/"));
        assert!(!pattern_matches("topic/a/*", "topic/a"));
        assert!(pattern_matches("topic/?/x", "topic/b/x"));
        assert!(!pattern_matches("topic/?/x", "topic/bb/x"));
        assert!(!pattern_matches("topic/?/x", "topic//x"));
        assert!(pattern_matches("t/?", "t/é"));
        assert!(pattern_matches("*a*b*", "xxaxxbxx"));
        assert!(!pattern_matches("*a*b", "xxaxxbxx"));
    }

    #[test]
    fn mqtt_wildcards_are_literal() {
        assert!(pattern_matches("topicfilter/a/+/b", "topicfilter/a/+/b"));
        assert!(!pattern_matches("topicfilter/a/+/b", "topicfilter/a/x/b"));
        assert!(!pattern_matches("topic/a/#", "topic/a/b"));
    }

    #[test]
    fn escapes_are_literal() {
        assert!(pattern_matches("topic/${*}", "topic/*"));
        assert!(!pattern_matches("topic/${*}", "topic/x"));
        assert!(pattern_matches("topic/${?}/${$}", "topic/?/$"));
        assert!(pattern_matches("topic/$aws/x", "topic/$aws/x"));
        assert!(pattern_matches("topic/a$", "topic/a$"));
    }

    #[test]
    fn parse_errors_give_positions() {
        assert_eq!(
            Template::parse("topic/${iot:ClientId", true),
            Err(TemplateError::Unclosed { at: 7 })
        );
        assert_eq!(
            Template::parse("é${*}${}", true),
            Err(TemplateError::Empty { at: 6 })
        );
        assert!(Template::parse("topic/${iot:ClientId", false).is_ok());
    }

    #[test]
    fn substituted_values_are_literal() {
        let template = Template::parse("topic/${iot:ClientId}/*", true).unwrap();
        let ctx = RequestContext {
            client_id: Some("*".into()),
            ..RequestContext::default()
        };
        assert_eq!(template.matches(&ctx, "topic/*/x"), Some(true));
        assert_eq!(template.matches(&ctx, "topic/other/x"), Some(false));
        assert_eq!(
            template.matches(&RequestContext::default(), "topic/*/x"),
            None
        );
        assert_eq!(template.render(&ctx).as_deref(), Some("topic/*/*"));
    }

    #[test]
    fn case_folding_is_opt_in() {
        let globs: Vec<Glob> = "iot:pub*"
            .chars()
            .map(|c| match c {
                '*' => Glob::AnyRun,
                c => Glob::Char(c),
            })
            .collect();
        assert!(glob_match(&globs, "iot:Publish", true));
        assert!(!glob_match(&globs, "iot:Publish", false));
    }

    proptest! {
        #[test]
        fn never_panics(pattern in "\\PC{0,24}", text in "\\PC{0,24}") {
            if let Ok(template) = Template::parse(&pattern, true) {
                let _ = template.matches(&RequestContext::default(), &text);
                let _ = template.render(&RequestContext::default());
            }
        }

        #[test]
        fn star_matches_everything(text in "\\PC{0,64}") {
            prop_assert!(pattern_matches("*", &text));
            prop_assert!(pattern_matches("**", &text));
        }

        #[test]
        fn literal_text_matches_itself(text in "[a-z0-9/+#:.$-]{0,32}") {
            let escaped = text.replace('$', "${$}");
            prop_assert!(pattern_matches(&escaped, &text));
        }

        #[test]
        fn question_marks_count_characters(text in "\\PC{0,16}") {
            let n = text.chars().count();
            prop_assert!(pattern_matches(&"?".repeat(n), &text));
            prop_assert!(!pattern_matches(&"?".repeat(n + 1), &text));
        }
    }
}
