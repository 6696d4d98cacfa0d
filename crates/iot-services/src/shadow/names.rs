//! Thing and shadow name rules of the Device Shadow API (UpdateThingShadow's request
//! parameters: thingName 1–128 of `[a-zA-Z0-9:_-]`, shadowName 1–64 of `[$a-zA-Z0-9:_-]`).
//! It checks names only; it does not decide whether a thing or shadow exists, and it does not
//! reserve any `$`-prefixed shadow names (AWS documents none).

use super::error::ShadowError;

/// Checks a thing name: 1 to 128 characters from `a-z A-Z 0-9 : _ -`.
///
/// A refusal is a 400 whose message names the value and the rule. AWS's message for this case
/// is not documented, so the words are tether's.
pub fn check_thing_name(name: &str) -> Result<(), ShadowError> {
    check("thing name", name, 128, |c| {
        c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-')
    })
    .map_err(|problem| {
        ShadowError::invalid_name(format!(
            "Invalid thing name '{}': it {problem}; a thing name is 1 to 128 characters from \
             a-z, A-Z, 0-9, ':', '_' and '-'",
            shown(name)
        ))
    })
}

/// Checks a shadow name: 1 to 64 characters from `$ a-z A-Z 0-9 : _ -`.
///
/// The classic (unnamed) shadow has no name and is not checked here. A refusal is a 400 whose
/// message names the value and the rule; the words are tether's.
pub fn check_shadow_name(name: &str) -> Result<(), ShadowError> {
    check("shadow name", name, 64, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '$' | ':' | '_' | '-')
    })
    .map_err(|problem| {
        ShadowError::invalid_name(format!(
            "Invalid shadow name '{}': it {problem}; a shadow name is 1 to 64 characters from \
             '$', a-z, A-Z, 0-9, ':', '_' and '-'",
            shown(name)
        ))
    })
}

/// Returns what is wrong with `name`, as a phrase that follows "it".
fn check(what: &str, name: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("is empty (a {what} needs at least one character)"));
    }
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Err(format!("contains {bad:?}"));
    }
    let length = name.chars().count();
    if length > max {
        return Err(format!("is {length} characters long"));
    }
    Ok(())
}

/// The name as quoted in a message: at most 128 characters, so an oversized value cannot make
/// the error document large.
fn shown(name: &str) -> String {
    const SHOWN: usize = 128;
    if name.chars().count() <= SHOWN {
        name.to_owned()
    } else {
        let mut cut: String = name.chars().take(SHOWN).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thing_names() {
        assert!(check_thing_name("my-Thing_01:a").is_ok());
        assert!(check_thing_name(&"a".repeat(128)).is_ok());
        let long = check_thing_name(&"a".repeat(129)).unwrap_err();
        assert_eq!(long.code, 400);
        assert!(long.message.contains("is 129 characters long"), "{long}");
        let empty = check_thing_name("").unwrap_err();
        assert!(
            empty
                .message
                .starts_with("Invalid thing name '': it is empty")
        );
        let slash = check_thing_name("a/b").unwrap_err();
        assert_eq!(
            slash.message,
            "Invalid thing name 'a/b': it contains '/'; a thing name is 1 to 128 characters \
             from a-z, A-Z, 0-9, ':', '_' and '-'"
        );
        assert!(check_thing_name("$dollar").is_err());
        assert!(check_thing_name("naïve").is_err());
    }

    #[test]
    fn shadow_names() {
        assert!(check_shadow_name("$config:v1_a-b").is_ok());
        assert!(check_shadow_name(&"s".repeat(64)).is_ok());
        assert!(check_shadow_name(&"s".repeat(65)).is_err());
        assert!(check_shadow_name("").is_err());
        let space = check_shadow_name("a b").unwrap_err();
        assert!(space.message.contains("contains ' '"), "{space}");
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let err = check_thing_name(&"x".repeat(5000)).unwrap_err();
        assert!(err.message.len() < 400, "{}", err.message.len());
    }
}
