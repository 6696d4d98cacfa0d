//! Things in the registry: create (idempotent for identical configuration), read, list with
//! filters, update with attribute merge and optimistic `expectedVersion`, delete (which ends the
//! thing's group memberships). A thing's type must be a thing type record that is not
//! deprecated when it is given (`thing_types.rs` checks). It does not validate name or attribute
//! syntax (the control plane does, with AWS's messages).

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Row, params};

use crate::error::{ResourceKind, SqlContext, StoreError};
use crate::page::{Page, PageRequest};
use crate::thing_types::check_assignable;
use crate::transaction::Tx;
use crate::{Store, attributes_from_json, attributes_to_json};

/// AWS: at most 3 attributes on a thing without a type, 50 with one (§4.1).
const MAX_ATTRIBUTES_UNTYPED: usize = 3;
const MAX_ATTRIBUTES_TYPED: usize = 50;

/// A registry thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thing {
    pub name: String,
    /// UUID-formatted id, see [`thing_id_from_bytes`].
    pub thing_id: String,
    pub thing_type: Option<String>,
    pub attributes: BTreeMap<String, String>,
    /// Starts at 1 and grows by one per update.
    pub version: i64,
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// What CreateThing asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewThing {
    pub name: String,
    pub thing_type: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

/// How UpdateThing changes the attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AttributeUpdate {
    /// No `attributePayload`.
    #[default]
    Keep,
    /// `merge=false`: the map replaces the attributes.
    Replace(BTreeMap<String, String>),
    /// `merge=true`: keys are set, and a key with an empty value is removed.
    Merge(BTreeMap<String, String>),
}

/// What UpdateThing asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThingUpdate {
    pub thing_type: Option<String>,
    pub remove_thing_type: bool,
    pub attributes: AttributeUpdate,
    pub expected_version: Option<i64>,
}

/// ListThings filters; all `None` lists every thing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThingFilter {
    pub thing_type: Option<String>,
    /// `(attributeName, attributeValue)`.
    pub attribute: Option<(String, String)>,
    /// `usePrefixAttributeValue`: the value is a prefix.
    pub attribute_value_is_prefix: bool,
}

/// Formats 16 caller-provided random bytes as a version-4 UUID string (AWS `thingId` shape).
pub fn thing_id_from_bytes(bytes: [u8; 16]) -> String {
    let mut b = bytes;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let part = |from: usize, to: usize| hex.get(from..to).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        part(0, 8),
        part(8, 12),
        part(12, 16),
        part(16, 20),
        part(20, 32)
    )
}

pub(crate) const THING_COLUMNS: &str =
    "name, thing_id, thing_type, attributes, version, created_ms, modified_ms";

impl Store {
    /// CreateThing. An existing thing with the same type and attributes is returned unchanged
    /// (AWS is idempotent here); a different configuration is `AlreadyExists`. A type must
    /// exist (`NotFound`) and not be deprecated (`InvalidRequest`), as in AWS.
    pub fn create_thing(
        &mut self,
        new: &NewThing,
        id_seed: [u8; 16],
        now_unix_ms: i64,
    ) -> Result<Thing, StoreError> {
        self.write("create thing", |tx| {
            create_thing(tx, new, id_seed, now_unix_ms)
        })
    }

    /// DescribeThing: the thing, or `None`.
    pub fn thing(&self, name: &str) -> Result<Option<Thing>, StoreError> {
        read_thing(&self.conn, &self.label, name)
    }

    /// ListThings, sorted by name.
    pub fn list_things(
        &self,
        filter: &ThingFilter,
        page: &PageRequest,
    ) -> Result<Page<Thing>, StoreError> {
        let (dir, cmp) = page.sql_order();
        let sql = format!(
            "SELECT {THING_COLUMNS} FROM things
             WHERE (?1 IS NULL OR name {cmp} ?1)
               AND (?2 IS NULL OR thing_type = ?2)
               AND (?3 IS NULL OR EXISTS (
                     SELECT 1 FROM json_each(things.attributes) AS a
                     WHERE a.key = ?3 AND CASE WHEN ?5
                           THEN substr(a.value, 1, length(?4)) = ?4
                           ELSE a.value = ?4 END))
             ORDER BY name {dir} LIMIT ?6"
        );
        let (attr_name, attr_value) = match &filter.attribute {
            Some((n, v)) => (Some(n.as_str()), Some(v.as_str())),
            None => (None, None),
        };
        let mut stmt = self.conn.prepare(&sql).ctx(&self.label, "list things")?;
        let raw = stmt
            .query_map(
                params![
                    page.token,
                    filter.thing_type,
                    attr_name,
                    attr_value,
                    filter.attribute_value_is_prefix,
                    page.probe_limit()
                ],
                raw_thing,
            )
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(&self.label, "list things")?;
        let things = raw
            .into_iter()
            .map(|r| r.finish(&self.label))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_probe(things, page, |t| t.name.clone()))
    }

    /// UpdateThing. Returns the thing as stored afterwards (version incremented). A new type
    /// must exist and not be deprecated; giving a thing the type it has is not a new
    /// association and is allowed even when that type is deprecated.
    pub fn update_thing(
        &mut self,
        name: &str,
        update: &ThingUpdate,
        now_unix_ms: i64,
    ) -> Result<Thing, StoreError> {
        if update.remove_thing_type && update.thing_type.is_some() {
            return Err(StoreError::InvalidRequest(
                "UpdateThing: give either thingTypeName or removeThingType, not both".into(),
            ));
        }
        self.write("update thing", |tx| {
            update_thing(tx, name, update, now_unix_ms)
        })
    }

    /// DeleteThing. Returns `false` when there was no such thing (AWS answers success).
    /// Refused while principals are attached.
    pub fn delete_thing(
        &mut self,
        name: &str,
        expected_version: Option<i64>,
    ) -> Result<bool, StoreError> {
        self.write("delete thing", |tx| {
            let label = tx.label();
            let Some(thing) = read_thing(tx, label, name)? else {
                return Ok(false);
            };
            check_version(&thing, expected_version)?;
            let attached: i64 = tx
                .query_row(
                    "SELECT count(*) FROM thing_principals WHERE thing_name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .ctx(label, "count thing principals")?;
            if attached > 0 {
                // AWS's wording (InvalidRequestException).
                return Err(StoreError::InvalidRequest(format!(
                    "Cannot delete. Thing {name} is still attached to one or more principals"
                )));
            }
            tx.execute("DELETE FROM things WHERE name = ?1", [name])
                .ctx(label, "delete thing")?;
            Ok(true)
        })
    }
}

/// CreateThing inside an open transaction (the services layer provisions things in its own).
pub(crate) fn create_thing(
    tx: &Tx<'_>,
    new: &NewThing,
    id_seed: [u8; 16],
    now_unix_ms: i64,
) -> Result<Thing, StoreError> {
    check_attribute_count(&new.name, new.thing_type.is_some(), new.attributes.len())?;
    let label = tx.label();
    if let Some(existing) = read_thing(tx, label, &new.name)? {
        if existing.thing_type == new.thing_type && existing.attributes == new.attributes {
            return Ok(existing);
        }
        return Err(StoreError::AlreadyExists {
            kind: ResourceKind::Thing,
            id: new.name.clone(),
        });
    }
    if let Some(thing_type) = &new.thing_type {
        check_assignable(tx, thing_type, None, true)?;
    }
    let thing_id = thing_id_from_bytes(id_seed);
    let holder: Option<String> = tx
        .query_row(
            "SELECT name FROM things WHERE thing_id = ?1",
            [&thing_id],
            |r| r.get(0),
        )
        .optional()
        .ctx(label, "check thing id")?;
    if let Some(holder) = holder {
        return Err(StoreError::InvalidRequest(format!(
            "thing id {thing_id} is already used by thing {holder}; \
                 pass fresh random bytes as the id seed"
        )));
    }
    let thing = Thing {
        name: new.name.clone(),
        thing_id,
        thing_type: new.thing_type.clone(),
        attributes: new.attributes.clone(),
        version: 1,
        created_ms: now_unix_ms,
        modified_ms: now_unix_ms,
    };
    tx.execute(
        "INSERT INTO things (name, thing_id, thing_type, attributes, version, created_ms, \
             modified_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            thing.name,
            thing.thing_id,
            thing.thing_type,
            attributes_to_json(&thing.attributes),
            thing.version,
            thing.created_ms,
            thing.modified_ms
        ],
    )
    .ctx(label, "insert thing")?;
    Ok(thing)
}

/// UpdateThing inside an open transaction.
pub(crate) fn update_thing(
    tx: &Tx<'_>,
    name: &str,
    update: &ThingUpdate,
    now_unix_ms: i64,
) -> Result<Thing, StoreError> {
    let label = tx.label();
    let mut thing = read_thing(tx, label, name)?
        .ok_or_else(|| StoreError::not_found(ResourceKind::Thing, name))?;
    check_version(&thing, update.expected_version)?;
    if update.remove_thing_type {
        thing.thing_type = None;
    } else if let Some(t) = &update.thing_type {
        check_assignable(tx, t, thing.thing_type.as_deref(), false)?;
        thing.thing_type = Some(t.clone());
    }
    match &update.attributes {
        AttributeUpdate::Keep => {}
        AttributeUpdate::Replace(map) => thing.attributes = map.clone(),
        AttributeUpdate::Merge(map) => {
            for (k, v) in map {
                if v.is_empty() {
                    thing.attributes.remove(k);
                } else {
                    thing.attributes.insert(k.clone(), v.clone());
                }
            }
        }
    }
    check_attribute_count(name, thing.thing_type.is_some(), thing.attributes.len())?;
    thing.version = thing.version.saturating_add(1);
    thing.modified_ms = now_unix_ms;
    tx.execute(
        "UPDATE things SET thing_type = ?2, attributes = ?3, version = ?4, \
             modified_ms = ?5 WHERE name = ?1",
        params![
            name,
            thing.thing_type,
            attributes_to_json(&thing.attributes),
            thing.version,
            thing.modified_ms
        ],
    )
    .ctx(label, "update thing")?;
    Ok(thing)
}

fn check_version(thing: &Thing, expected: Option<i64>) -> Result<(), StoreError> {
    match expected {
        Some(expected) if expected != thing.version => Err(StoreError::VersionConflict {
            kind: ResourceKind::Thing,
            id: thing.name.clone(),
            expected,
            actual: thing.version,
        }),
        _ => Ok(()),
    }
}

fn check_attribute_count(name: &str, typed: bool, count: usize) -> Result<(), StoreError> {
    let max = if typed {
        MAX_ATTRIBUTES_TYPED
    } else {
        MAX_ATTRIBUTES_UNTYPED
    };
    if count > max {
        let hint = if typed {
            ""
        } else {
            "; give the thing a type to allow up to 50"
        };
        return Err(StoreError::InvalidRequest(format!(
            "thing {name} would have {count} attributes, the maximum is {max}{hint}"
        )));
    }
    Ok(())
}

/// A row whose attribute JSON is not parsed yet (parsing errors are store errors, not SQL ones).
pub(crate) struct RawThing {
    thing: Thing,
    attributes: String,
}

impl RawThing {
    pub(crate) fn finish(mut self, label: &str) -> Result<Thing, StoreError> {
        let record = format!("thing {} attributes", self.thing.name);
        self.thing.attributes = attributes_from_json(label, &record, &self.attributes)?;
        Ok(self.thing)
    }
}

pub(crate) fn raw_thing(r: &Row<'_>) -> rusqlite::Result<RawThing> {
    Ok(RawThing {
        thing: Thing {
            name: r.get(0)?,
            thing_id: r.get(1)?,
            thing_type: r.get(2)?,
            attributes: BTreeMap::new(),
            version: r.get(4)?,
            created_ms: r.get(5)?,
            modified_ms: r.get(6)?,
        },
        attributes: r.get(3)?,
    })
}

pub(crate) fn read_thing(
    conn: &rusqlite::Connection,
    label: &str,
    name: &str,
) -> Result<Option<Thing>, StoreError> {
    conn.query_row(
        &format!("SELECT {THING_COLUMNS} FROM things WHERE name = ?1"),
        [name],
        raw_thing,
    )
    .optional()
    .ctx(label, "read thing")?
    .map(|r| r.finish(label))
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thing_ids_are_version_4_uuids() {
        let id = thing_id_from_bytes([0xff; 16]);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = thing_id_from_bytes([0; 16]);
        assert_eq!(id, "00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn attribute_limits_depend_on_the_type() {
        assert!(check_attribute_count("t", false, 3).is_ok());
        let err = check_attribute_count("t", false, 4).unwrap_err();
        assert!(err.to_string().contains("give the thing a type"), "{err}");
        assert!(check_attribute_count("t", true, 50).is_ok());
        assert!(check_attribute_count("t", true, 51).is_err());
    }
}
