//! The rules engine's records, reached through [`ServiceTx`]: topic rules (the payload as the
//! services layer accepted it, as opaque JSON text, with its FROM filter and enabled state kept
//! apart for listing) and topic rule destinations (an HTTP confirmation URL, its status and
//! confirmation token). It does not parse SQL or payloads, and does not decide AWS's rules
//! (names, state transitions, errors): the services layer does.

use rusqlite::{OptionalExtension, Row, params};

use crate::ServiceTx;
use crate::error::{SqlContext, StoreError};
use crate::page::{Page, PageRequest};

/// One topic rule as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRule {
    /// The rule name (unique).
    pub name: String,
    /// The TopicRulePayload as accepted, JSON text.
    pub payload: String,
    /// The FROM filter, `None` for a rule that only Basic Ingest triggers.
    pub topic_pattern: Option<String>,
    /// Whether the rule is disabled.
    pub disabled: bool,
    /// When it was created, milliseconds since the epoch.
    pub created_ms: i64,
}

/// One topic rule destination as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDestination {
    /// Its ARN (unique).
    pub arn: String,
    /// The confirmation URL (unique).
    pub confirmation_url: String,
    /// `ENABLED`, `IN_PROGRESS`, `DISABLED` or `ERROR`.
    pub status: String,
    /// Why it has its status, when there is something to say.
    pub status_reason: Option<String>,
    /// The confirmation token sent to the URL.
    pub token: String,
    /// Created, milliseconds since the epoch.
    pub created_ms: i64,
    /// Last changed, milliseconds since the epoch.
    pub updated_ms: i64,
}

const RULE_COLUMNS: &str = "name, payload, topic_pattern, disabled, created_ms";
const DESTINATION_COLUMNS: &str =
    "arn, confirmation_url, status, status_reason, token, created_ms, updated_ms";

fn rule_row(row: &Row<'_>) -> rusqlite::Result<StoredRule> {
    Ok(StoredRule {
        name: row.get(0)?,
        payload: row.get(1)?,
        topic_pattern: row.get(2)?,
        disabled: row.get(3)?,
        created_ms: row.get(4)?,
    })
}

fn destination_row(row: &Row<'_>) -> rusqlite::Result<StoredDestination> {
    Ok(StoredDestination {
        arn: row.get(0)?,
        confirmation_url: row.get(1)?,
        status: row.get(2)?,
        status_reason: row.get(3)?,
        token: row.get(4)?,
        created_ms: row.get(5)?,
        updated_ms: row.get(6)?,
    })
}

impl ServiceTx<'_> {
    /// The rule `name`, if it exists.
    pub fn topic_rule(&self, name: &str) -> Result<Option<StoredRule>, StoreError> {
        self.tx
            .prepare_cached(&format!(
                "SELECT {RULE_COLUMNS} FROM topic_rules WHERE name = ?1"
            ))
            .and_then(|mut stmt| stmt.query_row(params![name], rule_row).optional())
            .ctx(self.tx.label(), "read topic rule")
    }

    /// Writes a rule, replacing one of the same name.
    pub fn put_topic_rule(&self, rule: &StoredRule) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO topic_rules (name, payload, topic_pattern, disabled, created_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (name) DO UPDATE SET payload = excluded.payload, \
                 topic_pattern = excluded.topic_pattern, disabled = excluded.disabled",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    rule.name,
                    rule.payload,
                    rule.topic_pattern,
                    rule.disabled,
                    rule.created_ms
                ])
            })
            .ctx(self.tx.label(), "write topic rule")?;
        Ok(())
    }

    /// Deletes the rule `name`; false when there was none.
    pub fn delete_topic_rule(&self, name: &str) -> Result<bool, StoreError> {
        let n = self
            .tx
            .prepare_cached("DELETE FROM topic_rules WHERE name = ?1")
            .and_then(|mut stmt| stmt.execute(params![name]))
            .ctx(self.tx.label(), "delete topic rule")?;
        Ok(n > 0)
    }

    /// One page of rules sorted by name, optionally only those whose FROM filter is `topic`
    /// and whose disabled state is `disabled`; the token is the last name of the page.
    pub fn topic_rules(
        &self,
        topic: Option<&str>,
        disabled: Option<bool>,
        page: &PageRequest,
    ) -> Result<Page<StoredRule>, StoreError> {
        let after = page.token.as_deref().unwrap_or("");
        let rows = self
            .tx
            .prepare_cached(&format!(
                "SELECT {RULE_COLUMNS} FROM topic_rules WHERE name > ?1 \
                 AND (?2 IS NULL OR topic_pattern = ?2) AND (?3 IS NULL OR disabled = ?3) \
                 ORDER BY name LIMIT ?4"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(
                    params![after, topic, disabled, page.probe_limit()],
                    rule_row,
                )
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
            .ctx(self.tx.label(), "list topic rules")?;
        Ok(Page::from_probe(rows, page, |r| r.name.clone()))
    }

    /// Every rule, sorted by name (the rules engine loads them at start).
    pub fn all_topic_rules(&self) -> Result<Vec<StoredRule>, StoreError> {
        self.tx
            .prepare_cached(&format!(
                "SELECT {RULE_COLUMNS} FROM topic_rules ORDER BY name"
            ))
            .and_then(|mut stmt| {
                stmt.query_map([], rule_row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
            .ctx(self.tx.label(), "load topic rules")
    }

    /// The destination with this ARN.
    pub fn rule_destination(&self, arn: &str) -> Result<Option<StoredDestination>, StoreError> {
        self.destination_where("arn", arn)
    }

    /// The destination whose confirmation URL is `url`.
    pub fn rule_destination_by_url(
        &self,
        url: &str,
    ) -> Result<Option<StoredDestination>, StoreError> {
        self.destination_where("confirmation_url", url)
    }

    /// The destination whose confirmation token is `token`.
    pub fn rule_destination_by_token(
        &self,
        token: &str,
    ) -> Result<Option<StoredDestination>, StoreError> {
        self.destination_where("token", token)
    }

    fn destination_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<StoredDestination>, StoreError> {
        self.tx
            .prepare_cached(&format!(
                "SELECT {DESTINATION_COLUMNS} FROM topic_rule_destinations WHERE {column} = ?1"
            ))
            .and_then(|mut stmt| stmt.query_row(params![value], destination_row).optional())
            .ctx(self.tx.label(), "read topic rule destination")
    }

    /// Writes a destination, replacing the one with the same ARN.
    pub fn put_rule_destination(&self, d: &StoredDestination) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO topic_rule_destinations ({DESTINATION_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))
            .and_then(|mut stmt| {
                stmt.execute(params![
                    d.arn,
                    d.confirmation_url,
                    d.status,
                    d.status_reason,
                    d.token,
                    d.created_ms,
                    d.updated_ms
                ])
            })
            .ctx(self.tx.label(), "write topic rule destination")?;
        Ok(())
    }

    /// Deletes a destination; false when there was none.
    pub fn delete_rule_destination(&self, arn: &str) -> Result<bool, StoreError> {
        let n = self
            .tx
            .prepare_cached("DELETE FROM topic_rule_destinations WHERE arn = ?1")
            .and_then(|mut stmt| stmt.execute(params![arn]))
            .ctx(self.tx.label(), "delete topic rule destination")?;
        Ok(n > 0)
    }

    /// One page of destinations sorted by ARN; the token is the last ARN of the page.
    pub fn rule_destinations(
        &self,
        page: &PageRequest,
    ) -> Result<Page<StoredDestination>, StoreError> {
        let after = page.token.as_deref().unwrap_or("");
        let rows = self
            .tx
            .prepare_cached(&format!(
                "SELECT {DESTINATION_COLUMNS} FROM topic_rule_destinations WHERE arn > ?1 \
                 ORDER BY arn LIMIT ?2"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(params![after, page.probe_limit()], destination_row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
            .ctx(self.tx.label(), "list topic rule destinations")?;
        Ok(Page::from_probe(rows, page, |d| d.arn.clone()))
    }

    /// Every destination (the rules engine checks HTTP actions against them).
    pub fn all_rule_destinations(&self) -> Result<Vec<StoredDestination>, StoreError> {
        self.tx
            .prepare_cached(&format!(
                "SELECT {DESTINATION_COLUMNS} FROM topic_rule_destinations ORDER BY arn"
            ))
            .and_then(|mut stmt| {
                stmt.query_map([], destination_row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
            .ctx(self.tx.label(), "load topic rule destinations")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn rule(name: &str, topic: Option<&str>, disabled: bool) -> StoredRule {
        StoredRule {
            name: name.to_owned(),
            payload: "{}".to_owned(),
            topic_pattern: topic.map(str::to_owned),
            disabled,
            created_ms: 5,
        }
    }

    #[test]
    fn rules_are_written_replaced_listed_and_deleted() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .services("test", |tx| {
                tx.put_topic_rule(&rule("b", Some("a/+"), false))?;
                tx.put_topic_rule(&rule("a", Some("x"), true))?;
                tx.put_topic_rule(&rule("c", None, false))?;
                let mut changed = rule("b", Some("a/#"), true);
                changed.created_ms = 99;
                tx.put_topic_rule(&changed)?;
                let b = tx.topic_rule("b")?.unwrap();
                assert_eq!(b.topic_pattern.as_deref(), Some("a/#"));
                assert_eq!(b.created_ms, 5, "replacing keeps the creation time");
                let first = tx.topic_rules(None, None, &PageRequest::first(2))?;
                let names: Vec<_> = first.items.iter().map(|r| r.name.as_str()).collect();
                assert_eq!(names, ["a", "b"]);
                let next = PageRequest::first(2).after(&first).unwrap();
                assert_eq!(tx.topic_rules(None, None, &next)?.items.len(), 1);
                let by_topic = tx.topic_rules(Some("x"), None, &PageRequest::first(10))?;
                assert_eq!(by_topic.items.len(), 1);
                let enabled = tx.topic_rules(None, Some(false), &PageRequest::first(10))?;
                assert_eq!(enabled.items.len(), 1);
                assert!(tx.delete_topic_rule("a")?);
                assert!(!tx.delete_topic_rule("a")?);
                assert_eq!(tx.all_topic_rules()?.len(), 2);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn destinations_are_found_by_arn_url_and_token() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .services("test", |tx| {
                let d = StoredDestination {
                    arn: "arn:d1".into(),
                    confirmation_url: "https://h/".into(),
                    status: "IN_PROGRESS".into(),
                    status_reason: None,
                    token: "tok".into(),
                    created_ms: 1,
                    updated_ms: 1,
                };
                tx.put_rule_destination(&d)?;
                assert_eq!(tx.rule_destination("arn:d1")?, Some(d.clone()));
                assert_eq!(tx.rule_destination_by_url("https://h/")?, Some(d.clone()));
                assert_eq!(tx.rule_destination_by_token("tok")?, Some(d.clone()));
                let page = tx.rule_destinations(&PageRequest::first(5))?;
                assert_eq!(page.items, [d]);
                assert!(tx.delete_rule_destination("arn:d1")?);
                assert!(tx.all_rule_destinations()?.is_empty());
                Ok(())
            })
            .unwrap();
    }
}
