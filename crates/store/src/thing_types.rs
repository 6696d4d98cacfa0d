//! Thing types (developer guide, "Thing types"): create (idempotent for identical properties),
//! read, list, update, deprecate and undo it, delete under AWS's rules, and the check CreateThing
//! and UpdateThing make before giving a thing a type. It does not validate name or attribute
//! syntax (the control plane does, with AWS's messages), does not interpret the MQTT 5
//! configuration (stored as the caller's JSON text) and keeps no count of things per type: the
//! `things` table is asked.

use rusqlite::{OptionalExtension, Row, params};

use crate::error::{ResourceKind, SqlContext, StoreError};
use crate::page::{Page, PageRequest};
use crate::things::thing_id_from_bytes;
use crate::{Store, transaction::Tx};

/// AWS: a thing type names at most three searchable attributes (CreateThingType).
pub const MAX_SEARCHABLE_ATTRIBUTES: usize = 3;

/// AWS: "You must wait five minutes after you deprecate a thing type before you can delete it"
/// (developer guide, "Thing types"). The server passes its own delay to
/// [`Store::delete_thing_type`]; this is AWS's.
pub const AWS_DELETE_DELAY_MS: i64 = 5 * 60 * 1000;

/// A thing type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingType {
    pub name: String,
    /// UUID-formatted id.
    pub type_id: String,
    pub description: Option<String>,
    pub searchable_attributes: Vec<String>,
    /// `mqtt5Configuration` as the caller's JSON text, kept and returned as given.
    pub mqtt5_configuration: Option<String>,
    pub deprecated: bool,
    /// When it was deprecated (`None` while it is not).
    pub deprecated_ms: Option<i64>,
    pub created_ms: i64,
}

/// What CreateThingType asks for (`thingTypeProperties`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewThingType {
    pub name: String,
    pub description: Option<String>,
    pub searchable_attributes: Vec<String>,
    pub mqtt5_configuration: Option<String>,
}

/// What UpdateThingType changes; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThingTypeUpdate {
    pub description: Option<String>,
    pub searchable_attributes: Option<Vec<String>>,
    pub mqtt5_configuration: Option<String>,
}

const TYPE_COLUMNS: &str = "name, type_id, description, searchable_attributes, \
     mqtt5_configuration, deprecated, deprecated_ms, created_ms";

impl Store {
    /// CreateThingType. An existing type with the same properties is returned unchanged with
    /// `false` (tether's choice, like CreateThing and CreateThingGroup, which AWS documents as
    /// idempotent; AWS is silent for types); different properties are `AlreadyExists`.
    pub fn create_thing_type(
        &mut self,
        new: &NewThingType,
        id_seed: [u8; 16],
        now_unix_ms: i64,
    ) -> Result<(ThingType, bool), StoreError> {
        check_searchable(&new.name, &new.searchable_attributes)?;
        self.write("create thing type", |tx| {
            let label = tx.label();
            if let Some(existing) = read_thing_type(tx, label, &new.name)? {
                let same = existing.description == new.description
                    && existing.searchable_attributes == new.searchable_attributes
                    && existing.mqtt5_configuration == new.mqtt5_configuration;
                if same {
                    return Ok((existing, false));
                }
                return Err(StoreError::AlreadyExists {
                    kind: ResourceKind::ThingType,
                    id: new.name.clone(),
                });
            }
            let thing_type = ThingType {
                name: new.name.clone(),
                type_id: thing_id_from_bytes(id_seed),
                description: new.description.clone(),
                searchable_attributes: new.searchable_attributes.clone(),
                mqtt5_configuration: new.mqtt5_configuration.clone(),
                deprecated: false,
                deprecated_ms: None,
                created_ms: now_unix_ms,
            };
            write_type(tx, &thing_type, "insert thing type")?;
            Ok((thing_type, true))
        })
    }

    /// DescribeThingType: the type, or `None`.
    pub fn thing_type(&self, name: &str) -> Result<Option<ThingType>, StoreError> {
        read_thing_type(&self.conn, &self.label, name)
    }

    /// ListThingTypes, sorted by name. `name_prefix` is the `thingTypeName` filter, which AWS
    /// matches as a prefix (observed behaviour, as moto records it; the reference is silent).
    pub fn list_thing_types(
        &self,
        name_prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<ThingType>, StoreError> {
        let (dir, cmp) = page.sql_order();
        let sql = format!(
            "SELECT {TYPE_COLUMNS} FROM thing_types
             WHERE (?1 IS NULL OR name {cmp} ?1)
               AND (?2 IS NULL OR substr(name, 1, length(?2)) = ?2)
             ORDER BY name {dir} LIMIT ?3"
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .ctx(&self.label, "list thing types")?;
        let raw = stmt
            .query_map(
                params![page.token, name_prefix, page.probe_limit()],
                raw_type,
            )
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(&self.label, "list thing types")?;
        let types = raw
            .into_iter()
            .map(|r| r.finish(&self.label))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_probe(types, page, |t| t.name.clone()))
    }

    /// UpdateThingType: the properties given replace the stored ones.
    pub fn update_thing_type(
        &mut self,
        name: &str,
        update: &ThingTypeUpdate,
    ) -> Result<ThingType, StoreError> {
        if let Some(searchable) = &update.searchable_attributes {
            check_searchable(name, searchable)?;
        }
        self.write("update thing type", |tx| {
            let mut thing_type = existing(tx, name)?;
            if let Some(description) = &update.description {
                thing_type.description = Some(description.clone()).filter(|d| !d.is_empty());
            }
            if let Some(searchable) = &update.searchable_attributes {
                thing_type.searchable_attributes = searchable.clone();
            }
            if let Some(configuration) = &update.mqtt5_configuration {
                thing_type.mqtt5_configuration = Some(configuration.clone());
            }
            write_type(tx, &thing_type, "update thing type")?;
            Ok(thing_type)
        })
    }

    /// DeprecateThingType, or with `undo` its undoing. Deprecating a deprecated type keeps its
    /// deprecation date (AWS is silent; the first date is when new things stopped being allowed).
    pub fn deprecate_thing_type(
        &mut self,
        name: &str,
        undo: bool,
        now_unix_ms: i64,
    ) -> Result<ThingType, StoreError> {
        self.write("deprecate thing type", |tx| {
            let mut thing_type = existing(tx, name)?;
            if undo {
                thing_type.deprecated = false;
                thing_type.deprecated_ms = None;
            } else if !thing_type.deprecated {
                thing_type.deprecated = true;
                thing_type.deprecated_ms = Some(now_unix_ms);
            }
            write_type(tx, &thing_type, "deprecate thing type")?;
            Ok(thing_type)
        })
    }

    /// DeleteThingType: only a type deprecated at least `delay_ms` ago (AWS: five minutes,
    /// [`AWS_DELETE_DELAY_MS`]) that no thing uses. Returns the deleted type.
    pub fn delete_thing_type(
        &mut self,
        name: &str,
        delay_ms: i64,
        now_unix_ms: i64,
    ) -> Result<ThingType, StoreError> {
        self.write("delete thing type", |tx| {
            let label = tx.label();
            let thing_type = existing(tx, name)?;
            let Some(deprecated_ms) = thing_type.deprecated_ms.filter(|_| thing_type.deprecated)
            else {
                return Err(StoreError::InvalidRequest(format!(
                    "thing type {name} is not deprecated: deprecate it first \
                     (aws iot deprecate-thing-type --thing-type-name {name})"
                )));
            };
            let wait_ms = deprecated_ms
                .saturating_add(delay_ms)
                .saturating_sub(now_unix_ms);
            if wait_ms > 0 {
                return Err(StoreError::InvalidRequest(format!(
                    "thing type {name} was deprecated less than {} seconds ago; AWS IoT allows \
                     deleting a thing type five minutes after its deprecation: try again in {} \
                     seconds",
                    delay_ms / 1000,
                    (wait_ms + 999) / 1000
                )));
            }
            let users: Vec<String> = tx
                .prepare("SELECT name FROM things WHERE thing_type = ?1 ORDER BY name LIMIT 3")
                .and_then(|mut stmt| {
                    stmt.query_map([name], |r| r.get(0))
                        .and_then(|rows| rows.collect())
                })
                .ctx(label, "find things of a thing type")?;
            if !users.is_empty() {
                return Err(StoreError::InvalidRequest(format!(
                    "thing type {name} is still associated with things ({}); give them another \
                     type or none (aws iot update-thing --remove-thing-type) first",
                    users.join(", ")
                )));
            }
            tx.execute("DELETE FROM thing_types WHERE name = ?1", [name])
                .ctx(label, "delete thing type")?;
            Ok(thing_type)
        })
    }
}

/// Whether a thing may be given `type_name`: the type must exist (ResourceNotFoundException, as
/// AWS answers) and must not be deprecated (InvalidRequestException with AWS's words), unless
/// the thing has that type already (`current`), which is not a new association.
pub(crate) fn check_assignable(
    tx: &Tx<'_>,
    type_name: &str,
    current: Option<&str>,
    creating: bool,
) -> Result<(), StoreError> {
    let thing_type = read_thing_type(tx, tx.label(), type_name)?
        .ok_or_else(|| StoreError::not_found(ResourceKind::ThingType, type_name))?;
    if thing_type.deprecated && current != Some(type_name) {
        // AWS's messages (as moto reproduces them, typo included), then what to do.
        let aws = if creating {
            format!("Can not create new thing with depreated thing type:{type_name}")
        } else {
            format!("Can not update a thing to use deprecated thing type: {type_name}")
        };
        return Err(StoreError::InvalidRequest(format!(
            "{aws}; undo the deprecation (aws iot deprecate-thing-type --undo-deprecate) or use \
             another type"
        )));
    }
    Ok(())
}

fn check_searchable(name: &str, searchable: &[String]) -> Result<(), StoreError> {
    if searchable.len() > MAX_SEARCHABLE_ATTRIBUTES {
        return Err(StoreError::InvalidRequest(format!(
            "thing type {name} names {} searchable attributes, AWS IoT allows at most \
             {MAX_SEARCHABLE_ATTRIBUTES}",
            searchable.len()
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(twice) = searchable.iter().find(|a| !seen.insert(a.as_str())) {
        return Err(StoreError::InvalidRequest(format!(
            "thing type {name} names searchable attribute {twice} twice"
        )));
    }
    Ok(())
}

fn existing(tx: &Tx<'_>, name: &str) -> Result<ThingType, StoreError> {
    read_thing_type(tx, tx.label(), name)?
        .ok_or_else(|| StoreError::not_found(ResourceKind::ThingType, name))
}

fn write_type(tx: &Tx<'_>, t: &ThingType, context: &'static str) -> Result<(), StoreError> {
    let searchable =
        serde_json::to_string(&t.searchable_attributes).unwrap_or_else(|_| "[]".to_owned());
    tx.execute(
        "INSERT INTO thing_types (name, type_id, description, searchable_attributes, \
         mqtt5_configuration, deprecated, deprecated_ms, created_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (name) DO UPDATE SET description = excluded.description, \
         searchable_attributes = excluded.searchable_attributes, \
         mqtt5_configuration = excluded.mqtt5_configuration, \
         deprecated = excluded.deprecated, deprecated_ms = excluded.deprecated_ms",
        params![
            t.name,
            t.type_id,
            t.description,
            searchable,
            t.mqtt5_configuration,
            t.deprecated,
            t.deprecated_ms,
            t.created_ms
        ],
    )
    .ctx(tx.label(), context)?;
    Ok(())
}

/// A row whose searchable-attribute JSON is not parsed yet.
struct RawType {
    thing_type: ThingType,
    searchable: String,
}

impl RawType {
    fn finish(mut self, label: &str) -> Result<ThingType, StoreError> {
        self.thing_type.searchable_attributes =
            serde_json::from_str(&self.searchable).map_err(|e| {
                let record = format!("thing type {} searchable attributes", self.thing_type.name);
                StoreError::corrupt(label, record, e.to_string())
            })?;
        Ok(self.thing_type)
    }
}

fn raw_type(r: &Row<'_>) -> rusqlite::Result<RawType> {
    Ok(RawType {
        thing_type: ThingType {
            name: r.get(0)?,
            type_id: r.get(1)?,
            description: r.get(2)?,
            searchable_attributes: Vec::new(),
            mqtt5_configuration: r.get(4)?,
            deprecated: r.get(5)?,
            deprecated_ms: r.get(6)?,
            created_ms: r.get(7)?,
        },
        searchable: r.get(3)?,
    })
}

pub(crate) fn read_thing_type(
    conn: &rusqlite::Connection,
    label: &str,
    name: &str,
) -> Result<Option<ThingType>, StoreError> {
    conn.query_row(
        &format!("SELECT {TYPE_COLUMNS} FROM thing_types WHERE name = ?1"),
        [name],
        raw_type,
    )
    .optional()
    .ctx(label, "read thing type")?
    .map(|r| r.finish(label))
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn lamp() -> NewThingType {
        NewThingType {
            name: "lamp".into(),
            description: Some("a lamp".into()),
            searchable_attributes: vec!["watts".into(), "model".into()],
            mqtt5_configuration: None,
        }
    }

    #[test]
    fn create_is_idempotent_for_identical_properties_only() {
        let mut s = Store::open_in_memory().unwrap();
        let (first, created) = s.create_thing_type(&lamp(), [1; 16], NOW).unwrap();
        assert!(created);
        let (again, created) = s.create_thing_type(&lamp(), [2; 16], NOW + 1).unwrap();
        assert!(!created);
        assert_eq!(again, first);
        let mut other = lamp();
        other.description = None;
        assert!(matches!(
            s.create_thing_type(&other, [3; 16], NOW),
            Err(StoreError::AlreadyExists {
                kind: ResourceKind::ThingType,
                ..
            })
        ));
    }

    #[test]
    fn at_most_three_distinct_searchable_attributes() {
        let mut s = Store::open_in_memory().unwrap();
        let mut four = lamp();
        four.searchable_attributes = ["a", "b", "c", "d"].map(String::from).to_vec();
        let err = s.create_thing_type(&four, [1; 16], NOW).unwrap_err();
        assert!(err.to_string().contains("at most 3"), "{err}");
        let mut twice = lamp();
        twice.searchable_attributes = ["a", "a"].map(String::from).to_vec();
        assert!(s.create_thing_type(&twice, [1; 16], NOW).is_err());
        s.create_thing_type(&lamp(), [1; 16], NOW).unwrap();
        let update = ThingTypeUpdate {
            searchable_attributes: Some(four.searchable_attributes),
            ..Default::default()
        };
        assert!(s.update_thing_type("lamp", &update).is_err());
    }

    #[test]
    fn delete_needs_deprecation_the_delay_and_no_things() {
        let mut s = Store::open_in_memory().unwrap();
        s.create_thing_type(&lamp(), [1; 16], NOW).unwrap();
        let err = s
            .delete_thing_type("lamp", AWS_DELETE_DELAY_MS, NOW)
            .unwrap_err();
        assert!(err.to_string().contains("not deprecated"), "{err}");
        let deprecated = s.deprecate_thing_type("lamp", false, NOW).unwrap();
        assert_eq!(
            (deprecated.deprecated, deprecated.deprecated_ms),
            (true, Some(NOW))
        );
        // Deprecating again keeps the first date.
        let again = s.deprecate_thing_type("lamp", false, NOW + 9).unwrap();
        assert_eq!(again.deprecated_ms, Some(NOW));
        let err = s
            .delete_thing_type("lamp", AWS_DELETE_DELAY_MS, NOW + 60_000)
            .unwrap_err();
        assert!(
            err.to_string().contains("try again in 240 seconds"),
            "{err}"
        );
        s.conn
            .execute(
                "INSERT INTO things VALUES ('l1', 'id', 'lamp', '{}', 1, 0, 0)",
                [],
            )
            .unwrap();
        let later = NOW + AWS_DELETE_DELAY_MS;
        let err = s
            .delete_thing_type("lamp", AWS_DELETE_DELAY_MS, later)
            .unwrap_err();
        assert!(err.to_string().contains("(l1)"), "{err}");
        s.conn.execute("DELETE FROM things", []).unwrap();
        let deleted = s
            .delete_thing_type("lamp", AWS_DELETE_DELAY_MS, later)
            .unwrap();
        assert_eq!(deleted.name, "lamp");
        assert_eq!(s.thing_type("lamp").unwrap(), None);
        assert!(matches!(
            s.delete_thing_type("lamp", 0, later),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[test]
    fn undo_clears_the_deprecation() {
        let mut s = Store::open_in_memory().unwrap();
        s.create_thing_type(&lamp(), [1; 16], NOW).unwrap();
        s.deprecate_thing_type("lamp", false, NOW).unwrap();
        let undone = s.deprecate_thing_type("lamp", true, NOW + 1).unwrap();
        assert_eq!((undone.deprecated, undone.deprecated_ms), (false, None));
        assert!(matches!(
            s.deprecate_thing_type("ghost", false, NOW),
            Err(StoreError::NotFound {
                kind: ResourceKind::ThingType,
                ..
            })
        ));
    }

    #[test]
    fn update_replaces_what_is_given_and_lists_filter_by_prefix() {
        let mut s = Store::open_in_memory().unwrap();
        s.create_thing_type(&lamp(), [1; 16], NOW).unwrap();
        let mut lamp_pro = lamp();
        lamp_pro.name = "lamp-pro".into();
        s.create_thing_type(&lamp_pro, [2; 16], NOW).unwrap();
        let mut bulb = lamp();
        bulb.name = "bulb".into();
        s.create_thing_type(&bulb, [3; 16], NOW).unwrap();
        let updated = s
            .update_thing_type(
                "lamp",
                &ThingTypeUpdate {
                    description: Some(String::new()),
                    mqtt5_configuration: Some(r#"{"propagatingAttributes":[]}"#.into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(updated.description, None);
        assert_eq!(updated.searchable_attributes, ["watts", "model"]);
        assert_eq!(s.thing_type("lamp").unwrap(), Some(updated));
        let page = s
            .list_thing_types(Some("lamp"), &PageRequest::first(1))
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].name, "lamp");
        let rest = s
            .list_thing_types(Some("lamp"), &PageRequest::first(1).after(&page).unwrap())
            .unwrap();
        assert_eq!(rest.items[0].name, "lamp-pro");
        assert_eq!(rest.next_token, None);
        let all = s.list_thing_types(None, &PageRequest::first(10)).unwrap();
        assert_eq!(all.items.len(), 3);
    }
}
