//! The `awsIotSqlVersion` of a rule and what each version allows. It does not parse SQL; the
//! parser asks it whether a feature exists in the rule's version.
//!
//! Source: AWS IoT developer guide, "SQL versions" (`iot-rule-sql-version.md`): `2015-10-08` is
//! the original version and the default when a rule omits `awsIotSqlVersion`; `2016-03-23`
//! adds nested object queries, array and object literals, arrays as top-level `SELECT VALUE`
//! output, `encode`/`decode` and the other functions marked "2016-03-23 and later"; `beta` is
//! "the most recent beta SQL version". tether evaluates `beta` exactly as `2016-03-23` (AWS
//! documents no beta feature), and `sql_version()` still answers `"beta"` for it.

use std::fmt;
use std::str::FromStr;

/// An `awsIotSqlVersion` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SqlVersion {
    /// `2015-10-08`, the original version and AWS's default when a rule omits
    /// `awsIotSqlVersion` (as the AWS CLI and CloudFormation do).
    #[default]
    V2015_10_08,
    /// `2016-03-23`, the version AWS recommends and the console's default.
    V2016_03_23,
    /// `beta`: evaluated as `2016-03-23` by tether.
    Beta,
}

impl SqlVersion {
    /// The version a rule gets when its payload has no `awsIotSqlVersion`.
    pub const DEFAULT: SqlVersion = SqlVersion::V2015_10_08;

    /// The value as AWS spells it in `awsIotSqlVersion`.
    pub fn as_str(self) -> &'static str {
        match self {
            SqlVersion::V2015_10_08 => "2015-10-08",
            SqlVersion::V2016_03_23 => "2016-03-23",
            SqlVersion::Beta => "beta",
        }
    }

    /// The version named by an optional `awsIotSqlVersion` field: absent means the default.
    ///
    /// ```
    /// use iot_sql::SqlVersion;
    /// assert_eq!(SqlVersion::from_field(None), Ok(SqlVersion::V2015_10_08));
    /// assert_eq!(SqlVersion::from_field(Some("2016-03-23")), Ok(SqlVersion::V2016_03_23));
    /// assert!(SqlVersion::from_field(Some("2017-01-01")).is_err());
    /// ```
    pub fn from_field(field: Option<&str>) -> Result<SqlVersion, UnknownSqlVersion> {
        field.map_or(Ok(SqlVersion::DEFAULT), str::parse)
    }

    /// Whether this version has the 2016-03-23 features (nested object queries, literals,
    /// arrays as output, the later functions).
    pub fn is_2016(self) -> bool {
        !matches!(self, SqlVersion::V2015_10_08)
    }
}

impl fmt::Display for SqlVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SqlVersion {
    type Err = UnknownSqlVersion;

    fn from_str(s: &str) -> Result<SqlVersion, UnknownSqlVersion> {
        match s {
            "2015-10-08" => Ok(SqlVersion::V2015_10_08),
            "2016-03-23" => Ok(SqlVersion::V2016_03_23),
            "beta" => Ok(SqlVersion::Beta),
            other => Err(UnknownSqlVersion(other.to_owned())),
        }
    }
}

/// An `awsIotSqlVersion` that AWS does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "awsIotSqlVersion {0:?} is not a version of AWS IoT SQL: use \"2016-03-23\" (recommended), \
     \"2015-10-08\" (the default when omitted) or \"beta\""
)]
pub struct UnknownSqlVersion(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for v in [
            SqlVersion::V2015_10_08,
            SqlVersion::V2016_03_23,
            SqlVersion::Beta,
        ] {
            assert_eq!(v.as_str().parse::<SqlVersion>(), Ok(v));
        }
        assert_eq!(SqlVersion::default(), SqlVersion::V2015_10_08);
        assert!(SqlVersion::Beta.is_2016());
        assert!(!SqlVersion::V2015_10_08.is_2016());
    }
}
