//! Policy variables and condition keys (`iot:ClientId`, `iot:Connection.Thing.*`,
//! `iot:Certificate.*`, `aws:SourceIp`, `iot:ConnectAttributes`): their names and how each
//! resolves against a [`RequestContext`]. It does not parse `${...}` out of text (that is
//! `template.rs`) and never fails: a name it does not know simply never resolves.

use std::borrow::Cow;

use crate::context::{CertificateInfo, RequestContext};

/// A parsed variable / condition-key name. Names compare without regard to ASCII case, except
/// the thing-attribute name inside `Attributes[...]`, which is exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Variable {
    ClientId,
    ThingName,
    ThingTypeName,
    ThingIsAttached,
    ThingAttribute(String),
    Certificate(CertField),
    CertificateSerialNumber,
    SourceIp,
    ConnectAttributes,
    /// A name tether does not know (or a malformed one); it never resolves.
    Unknown(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameSource {
    Subject,
    Issuer,
    SubjectAltName,
    IssuerAltName,
}

/// Which values of a possibly repeated certificate attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Select {
    /// No suffix: the first value.
    First,
    /// `.List`: every value (only meaningful in conditions).
    List,
    /// `.N`: the N-th value, 1-based.
    Nth(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertField {
    pub(crate) source: NameSource,
    pub(crate) attribute: String,
    pub(crate) select: Select,
}

/// Strips an ASCII-case-insensitive prefix.
fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

impl Variable {
    /// Parses a variable name as written between `${` and `}`, or a condition key.
    pub(crate) fn parse(name: &str) -> Variable {
        Self::parse_known(name).unwrap_or_else(|| Variable::Unknown(name.to_owned()))
    }

    fn parse_known(name: &str) -> Option<Variable> {
        let simple = [
            ("iot:ClientId", Variable::ClientId),
            ("aws:SourceIp", Variable::SourceIp),
            ("iot:ConnectAttributes", Variable::ConnectAttributes),
            ("iot:Connection.Thing.ThingName", Variable::ThingName),
            (
                "iot:Connection.Thing.ThingTypeName",
                Variable::ThingTypeName,
            ),
            ("iot:Connection.Thing.IsAttached", Variable::ThingIsAttached),
            (
                "iot:Certificate.SerialNumber",
                Variable::CertificateSerialNumber,
            ),
        ];
        for (spelling, variable) in simple {
            if name.eq_ignore_ascii_case(spelling) {
                return Some(variable);
            }
        }
        if let Some(rest) = strip_prefix_ci(name, "iot:Connection.Thing.Attributes[") {
            let attribute = rest.strip_suffix(']')?;
            if attribute.is_empty() || attribute.contains(['[', ']']) {
                return None;
            }
            return Some(Variable::ThingAttribute(attribute.to_owned()));
        }
        let rest = strip_prefix_ci(name, "iot:Certificate.")?;
        let (source, rest) = if let Some(rest) = strip_prefix_ci(rest, "Subject.AlternativeName.") {
            (NameSource::SubjectAltName, rest)
        } else if let Some(rest) = strip_prefix_ci(rest, "Issuer.AlternativeName.") {
            (NameSource::IssuerAltName, rest)
        } else if let Some(rest) = strip_prefix_ci(rest, "Subject.") {
            (NameSource::Subject, rest)
        } else {
            (NameSource::Issuer, strip_prefix_ci(rest, "Issuer.")?)
        };
        let (attribute, select) = match rest.rsplit_once('.') {
            Some((attribute, suffix)) if suffix.eq_ignore_ascii_case("List") => {
                (attribute, Select::List)
            }
            Some((attribute, index)) => {
                let n: usize = index.parse().ok().filter(|n| *n >= 1)?;
                (attribute, Select::Nth(n))
            }
            None => (rest, Select::First),
        };
        let valid = !attribute.is_empty() && attribute.chars().all(|c| c.is_ascii_alphanumeric());
        valid.then(|| {
            Variable::Certificate(CertField {
                source,
                attribute: attribute.to_owned(),
                select,
            })
        })
    }

    /// Whether the variable can stand for several values (usable with `ForAnyValue:` /
    /// `ForAllValues:` conditions but never inside a resource).
    fn is_multi_valued(&self) -> bool {
        matches!(
            self,
            Variable::ConnectAttributes
                | Variable::Certificate(CertField {
                    select: Select::List,
                    ..
                })
        )
    }

    /// The single value substituted for `${...}` in a resource or condition value; `None` when
    /// the context lacks it or the variable is multi-valued.
    pub(crate) fn resolve<'c>(&self, ctx: &'c RequestContext) -> Option<Cow<'c, str>> {
        if self.is_multi_valued() {
            return None;
        }
        self.values(ctx)?.into_iter().next()
    }

    /// Every value of the key in this context, for conditions; `None` when the key is absent
    /// (an empty multi-valued key counts as absent).
    pub(crate) fn values<'c>(&self, ctx: &'c RequestContext) -> Option<Vec<Cow<'c, str>>> {
        let one = |value: Option<&'c str>| value.map(|v| vec![Cow::Borrowed(v)]);
        match self {
            Variable::ClientId => one(ctx.client_id.as_deref()),
            Variable::ThingName => one(ctx.thing.as_ref().map(|t| t.name.as_str())),
            Variable::ThingTypeName => one(ctx.thing.as_ref().and_then(|t| t.type_name.as_deref())),
            Variable::ThingIsAttached => {
                let attached = ctx.thing.as_ref().is_some_and(|t| t.is_attached);
                one(Some(if attached { "true" } else { "false" }))
            }
            Variable::ThingAttribute(name) => one(ctx
                .thing
                .as_ref()
                .and_then(|t| t.attributes.get(name))
                .map(String::as_str)),
            Variable::Certificate(field) => certificate_values(ctx.certificate.as_ref()?, field),
            Variable::CertificateSerialNumber => one(ctx
                .certificate
                .as_ref()
                .and_then(|c| c.serial_number.as_deref())),
            Variable::SourceIp => ctx.source_ip.map(|ip| vec![Cow::Owned(ip.to_string())]),
            Variable::ConnectAttributes => {
                let values: Vec<Cow<'c, str>> =
                    ctx.connect_attributes.values().map(Cow::Borrowed).collect();
                (!values.is_empty()).then_some(values)
            }
            Variable::Unknown(_) => None,
        }
    }
}

fn certificate_values<'c>(
    cert: &'c CertificateInfo,
    field: &CertField,
) -> Option<Vec<Cow<'c, str>>> {
    let names = match field.source {
        NameSource::Subject => &cert.subject,
        NameSource::Issuer => &cert.issuer,
        NameSource::SubjectAltName => &cert.subject_alternative_names,
        NameSource::IssuerAltName => &cert.issuer_alternative_names,
    };
    let mut matching = names
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(&field.attribute))
        .map(|(_, value)| Cow::Borrowed(value.as_str()));
    let values: Vec<Cow<'c, str>> = match field.select {
        Select::First => matching.next().into_iter().collect(),
        Select::Nth(n) => matching.nth(n.checked_sub(1)?).into_iter().collect(),
        Select::List => matching.collect(),
    };
    (!values.is_empty()).then_some(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ThingInfo;

    fn ctx() -> RequestContext {
        RequestContext {
            client_id: Some("dev-1".into()),
            thing: Some(ThingInfo {
                name: "dev-1".into(),
                type_name: None,
                attributes: [("floor".to_owned(), "3".to_owned())].into(),
                is_attached: true,
            }),
            certificate: Some(CertificateInfo {
                subject: vec![
                    ("CommonName".into(), "dev-1".into()),
                    ("OrganizationalUnit".into(), "east".into()),
                    ("OrganizationalUnit".into(), "west".into()),
                ],
                subject_alternative_names: vec![("DNSName".into(), "d1.example".into())],
                serial_number: Some("4660".into()),
                ..CertificateInfo::default()
            }),
            ..RequestContext::default()
        }
    }

    fn single(name: &str) -> Option<String> {
        Variable::parse(name).resolve(&ctx()).map(Cow::into_owned)
    }

    #[test]
    fn names_are_case_insensitive_except_attribute_names() {
        assert_eq!(Variable::parse("IOT:clientid"), Variable::ClientId);
        assert_eq!(
            single("iot:Connection.Thing.Attributes[floor]").as_deref(),
            Some("3")
        );
        assert_eq!(single("iot:Connection.Thing.Attributes[Floor]"), None);
    }

    #[test]
    fn certificate_selectors() {
        assert_eq!(
            single("iot:Certificate.Subject.CommonName").as_deref(),
            Some("dev-1")
        );
        assert_eq!(
            single("iot:Certificate.Subject.OrganizationalUnit").as_deref(),
            Some("east")
        );
        assert_eq!(
            single("iot:Certificate.Subject.OrganizationalUnit.2").as_deref(),
            Some("west")
        );
        assert_eq!(single("iot:Certificate.Subject.OrganizationalUnit.3"), None);
        assert_eq!(
            single("iot:Certificate.Subject.OrganizationalUnit.List"),
            None
        );
        let ctx = ctx();
        let list = Variable::parse("iot:Certificate.Subject.OrganizationalUnit.List")
            .values(&ctx)
            .unwrap();
        assert_eq!(list, ["east", "west"]);
        assert_eq!(
            single("iot:Certificate.Subject.AlternativeName.DNSName").as_deref(),
            Some("d1.example")
        );
        assert_eq!(
            single("iot:Certificate.SerialNumber").as_deref(),
            Some("4660")
        );
        assert_eq!(single("iot:Certificate.Issuer.CommonName"), None);
    }

    #[test]
    fn malformed_names_are_unknown() {
        for name in [
            "iot:Certificate.Subject.CommonName.0",
            "iot:Certificate.Subject.",
            "iot:Connection.Thing.Attributes[]",
            "iot:Connection.Thing.Attributes[a",
            "iot:DomainName",
            "",
        ] {
            assert!(
                matches!(Variable::parse(name), Variable::Unknown(_)),
                "{name}"
            );
        }
    }

    #[test]
    fn is_attached_is_false_without_a_thing() {
        let empty = RequestContext::default();
        assert_eq!(
            Variable::ThingIsAttached.resolve(&empty).as_deref(),
            Some("false")
        );
        assert_eq!(Variable::ThingName.resolve(&empty), None);
        assert_eq!(Variable::ConnectAttributes.values(&empty), None);
    }
}
