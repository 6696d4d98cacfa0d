//! Static thing groups (developer guide, "Static thing groups"): create (idempotent for identical
//! properties), read with their ancestors, list (by parent, recursively, by name prefix), update
//! with attribute merge and optimistic `expectedVersion`, delete under AWS's rules, and the
//! hierarchy limits. Membership lives in `thing_group_members.rs`. It does not validate name or
//! attribute syntax (the control plane does), builds no ARNs and knows no dynamic groups (they
//! need fleet indexing, which tether does not have).
//!
//! Limits, from AWS's documentation: a group has at most one parent, fixed when it is created;
//! a hierarchy is at most [`MAX_HIERARCHY_DEPTH`] groups deep; a group has at most
//! [`MAX_CHILD_GROUPS`] direct children (AWS IoT Device Management quotas, "Thing groups").

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Row, params};

use crate::error::{ResourceKind, SqlContext, StoreError};
use crate::page::{Page, PageRequest};
use crate::things::{AttributeUpdate, thing_id_from_bytes};
use crate::transaction::Tx;
use crate::{Store, attributes_from_json, attributes_to_json};

/// AWS: the maximum depth of a thing group hierarchy (a root group is at depth 1).
pub const MAX_HIERARCHY_DEPTH: usize = 7;
/// AWS: the maximum number of direct child groups of a thing group.
pub const MAX_CHILD_GROUPS: usize = 100;

/// A static thing group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingGroup {
    pub name: String,
    /// UUID-formatted id.
    pub group_id: String,
    /// The parent group, fixed at creation.
    pub parent: Option<String>,
    pub description: Option<String>,
    pub attributes: BTreeMap<String, String>,
    /// Starts at 1 and grows by one per update.
    pub version: i64,
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// What CreateThingGroup asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewThingGroup {
    pub name: String,
    pub parent: Option<String>,
    pub description: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

/// What UpdateThingGroup changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThingGroupUpdate {
    /// `Some` sets the description; `Some("")` removes it; `None` keeps it.
    pub description: Option<String>,
    pub attributes: AttributeUpdate,
    pub expected_version: Option<i64>,
}

/// ListThingGroups filters.
///
/// `recursive` follows what AWS does rather than the developer guide's prose, which disagree:
/// with a parent, AWS lists every descendant unless `recursive` is `false` (a boto3 call without
/// `recursive`, recorded in moto issue 2961, returned grandchildren), and `false` lists the
/// direct children; without a parent, every group is listed unless `recursive` is `false`,
/// which lists the root groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThingGroupFilter {
    pub parent: Option<String>,
    pub name_prefix: Option<String>,
    pub recursive: Option<bool>,
}

/// A deleted group with the memberships that went with it (for the events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedThingGroup {
    pub group: ThingGroup,
    pub members: Vec<crate::Membership>,
}

const GROUP_COLUMNS: &str =
    "name, group_id, parent, description, attributes, version, created_ms, modified_ms";

impl Store {
    /// CreateThingGroup. An existing group with the same parent, description and attributes
    /// is returned with `false` (AWS: "If the ThingGroup that you create has the exact same
    /// attributes as an existing ThingGroup, you will get a 200 success response"); anything
    /// else is `AlreadyExists`. A parent that does not exist is an invalid request (the
    /// operation has no ResourceNotFoundException in AWS's model).
    pub fn create_thing_group(
        &mut self,
        new: &NewThingGroup,
        id_seed: [u8; 16],
        now_unix_ms: i64,
    ) -> Result<(ThingGroup, bool), StoreError> {
        self.write("create thing group", |tx| {
            let label = tx.label();
            if let Some(existing) = read_thing_group(tx, label, &new.name)? {
                let same = existing.parent == new.parent
                    && existing.description == new.description
                    && existing.attributes == new.attributes;
                if same {
                    return Ok((existing, false));
                }
                return Err(StoreError::AlreadyExists {
                    kind: ResourceKind::ThingGroup,
                    id: new.name.clone(),
                });
            }
            if let Some(parent) = &new.parent {
                check_new_child(tx, &new.name, parent)?;
            }
            let group = ThingGroup {
                name: new.name.clone(),
                group_id: thing_id_from_bytes(id_seed),
                parent: new.parent.clone(),
                description: new.description.clone(),
                attributes: new.attributes.clone(),
                version: 1,
                created_ms: now_unix_ms,
                modified_ms: now_unix_ms,
            };
            tx.execute(
                "INSERT INTO thing_groups (name, group_id, parent, description, attributes, \
                 version, created_ms, modified_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    group.name,
                    group.group_id,
                    group.parent,
                    group.description,
                    attributes_to_json(&group.attributes),
                    group.version,
                    group.created_ms,
                    group.modified_ms
                ],
            )
            .ctx(label, "insert thing group")?;
            Ok((group, true))
        })
    }

    /// DescribeThingGroup: the group, or `None`.
    pub fn thing_group(&self, name: &str) -> Result<Option<ThingGroup>, StoreError> {
        read_thing_group(&self.conn, &self.label, name)
    }

    /// The ancestors of a group, root first, parent last (`rootToParentThingGroups`); empty for
    /// a root group or one that does not exist.
    pub fn thing_group_ancestors(&self, name: &str) -> Result<Vec<ThingGroup>, StoreError> {
        ancestors(&self.conn, &self.label, name)
    }

    /// ListThingGroups: group names sorted by name (see [`ThingGroupFilter`]). A parent that
    /// does not exist is `NotFound`.
    pub fn list_thing_groups(
        &self,
        filter: &ThingGroupFilter,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError> {
        if let Some(parent) = &filter.parent
            && read_thing_group(&self.conn, &self.label, parent)?.is_none()
        {
            return Err(StoreError::not_found(ResourceKind::ThingGroup, parent));
        }
        let recursive = filter.recursive != Some(false);
        let source = match (&filter.parent, recursive) {
            (Some(_), true) => "SELECT name FROM sub",
            (Some(_), false) => "SELECT name FROM thing_groups WHERE parent = ?4",
            (None, true) => "SELECT name FROM thing_groups",
            (None, false) => "SELECT name FROM thing_groups WHERE parent IS NULL",
        };
        let (dir, cmp) = page.sql_order();
        let sql = format!(
            "WITH RECURSIVE sub(name) AS (
                SELECT name FROM thing_groups WHERE parent = ?4
                UNION ALL SELECT g.name FROM thing_groups g JOIN sub ON g.parent = sub.name)
             SELECT name FROM ({source})
             WHERE (?1 IS NULL OR name {cmp} ?1)
               AND (?2 IS NULL OR substr(name, 1, length(?2)) = ?2)
             ORDER BY name {dir} LIMIT ?3"
        );
        let names = self
            .conn
            .prepare(&sql)
            .and_then(|mut stmt| {
                stmt.query_map(
                    params![
                        page.token,
                        filter.name_prefix,
                        page.probe_limit(),
                        filter.parent
                    ],
                    |r| r.get(0),
                )
                .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            })
            .ctx(&self.label, "list thing groups")?;
        Ok(Page::from_probe(names, page, Clone::clone))
    }

    /// UpdateThingGroup. Returns the group as stored afterwards (version incremented).
    pub fn update_thing_group(
        &mut self,
        name: &str,
        update: &ThingGroupUpdate,
        now_unix_ms: i64,
    ) -> Result<ThingGroup, StoreError> {
        self.write("update thing group", |tx| {
            let label = tx.label();
            let mut group = read_thing_group(tx, label, name)?
                .ok_or_else(|| StoreError::not_found(ResourceKind::ThingGroup, name))?;
            check_version(&group, update.expected_version)?;
            if let Some(description) = &update.description {
                group.description = Some(description.clone()).filter(|d| !d.is_empty());
            }
            match &update.attributes {
                AttributeUpdate::Keep => {}
                AttributeUpdate::Replace(map) => group.attributes = map.clone(),
                AttributeUpdate::Merge(map) => {
                    for (k, v) in map {
                        if v.is_empty() {
                            group.attributes.remove(k);
                        } else {
                            group.attributes.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            group.version = group.version.saturating_add(1);
            group.modified_ms = now_unix_ms;
            tx.execute(
                "UPDATE thing_groups SET description = ?2, attributes = ?3, version = ?4, \
                 modified_ms = ?5 WHERE name = ?1",
                params![
                    name,
                    group.description,
                    attributes_to_json(&group.attributes),
                    group.version,
                    group.modified_ms
                ],
            )
            .ctx(label, "update thing group")?;
            Ok(group)
        })
    }

    /// DeleteThingGroup. `None` when there was no such group (AWS answers success). Refused
    /// while the group has child groups, with AWS's words; its memberships and the policy
    /// attachments to it go with it (AWS: "any permissions granted to the things by
    /// membership in the group no longer apply").
    pub fn delete_thing_group(
        &mut self,
        name: &str,
        expected_version: Option<i64>,
    ) -> Result<Option<DeletedThingGroup>, StoreError> {
        self.write("delete thing group", |tx| {
            let label = tx.label();
            let Some(group) = read_thing_group(tx, label, name)? else {
                return Ok(None);
            };
            check_version(&group, expected_version)?;
            let children: i64 = tx
                .query_row(
                    "SELECT count(*) FROM thing_groups WHERE parent = ?1",
                    [name],
                    |r| r.get(0),
                )
                .ctx(label, "count child thing groups")?;
            if children > 0 {
                return Err(StoreError::InvalidRequest(format!(
                    "Cannot delete thing group : {name} when there are still child groups \
                     attached to it; delete its {children} child group(s) first"
                )));
            }
            let members = crate::thing_group_members::members_of(tx, name)?;
            tx.execute("DELETE FROM thing_groups WHERE name = ?1", [name])
                .ctx(label, "delete thing group")?;
            Ok(Some(DeletedThingGroup { group, members }))
        })
    }
}

/// Checks that `parent` can take a new child group `name`: it exists, the new group would be at
/// most [`MAX_HIERARCHY_DEPTH`] deep, and the parent has room for another child.
fn check_new_child(tx: &Tx<'_>, name: &str, parent: &str) -> Result<(), StoreError> {
    let label = tx.label();
    if read_thing_group(tx, label, parent)?.is_none() {
        return Err(StoreError::InvalidRequest(format!(
            "parent thing group {parent} of {name} does not exist; create it first (a group's \
             parent is given when the group is created)"
        )));
    }
    let depth = ancestors(tx, label, parent)?.len().saturating_add(2);
    if depth > MAX_HIERARCHY_DEPTH {
        return Err(StoreError::InvalidRequest(format!(
            "thing group {name} would be at depth {depth} under {parent}; AWS IoT allows \
             hierarchies at most {MAX_HIERARCHY_DEPTH} groups deep"
        )));
    }
    let children: i64 = tx
        .query_row(
            "SELECT count(*) FROM thing_groups WHERE parent = ?1",
            [parent],
            |r| r.get(0),
        )
        .ctx(label, "count child thing groups")?;
    if usize::try_from(children).unwrap_or(usize::MAX) >= MAX_CHILD_GROUPS {
        return Err(StoreError::InvalidRequest(format!(
            "thing group {parent} already has {children} child groups, the most AWS IoT allows \
             ({MAX_CHILD_GROUPS}); put {name} under another group"
        )));
    }
    Ok(())
}

fn check_version(group: &ThingGroup, expected: Option<i64>) -> Result<(), StoreError> {
    match expected {
        Some(expected) if expected != group.version => Err(StoreError::VersionConflict {
            kind: ResourceKind::ThingGroup,
            id: group.name.clone(),
            expected,
            actual: group.version,
        }),
        _ => Ok(()),
    }
}

/// The ancestors of `name`, root first. A chain longer than any valid hierarchy means the
/// parent links were edited into a loop: that is reported, not followed forever.
pub(crate) fn ancestors(
    conn: &rusqlite::Connection,
    label: &str,
    name: &str,
) -> Result<Vec<ThingGroup>, StoreError> {
    let mut chain = Vec::new();
    let mut next = read_thing_group(conn, label, name)?.and_then(|g| g.parent);
    while let Some(parent) = next {
        if chain.len() >= MAX_HIERARCHY_DEPTH {
            return Err(StoreError::corrupt(
                label,
                format!("thing group {name} parents"),
                "the parent links form a loop or a hierarchy deeper than AWS allows",
            ));
        }
        let Some(group) = read_thing_group(conn, label, &parent)? else {
            break;
        };
        next = group.parent.clone();
        chain.push(group);
    }
    chain.reverse();
    Ok(chain)
}

/// The root of the hierarchy `name` belongs to (itself for a root group).
pub(crate) fn root_of(
    conn: &rusqlite::Connection,
    label: &str,
    name: &str,
) -> Result<String, StoreError> {
    Ok(ancestors(conn, label, name)?
        .into_iter()
        .next()
        .map_or_else(|| name.to_owned(), |root| root.name))
}

/// A row whose attribute JSON is not parsed yet.
struct RawGroup {
    group: ThingGroup,
    attributes: String,
}

impl RawGroup {
    fn finish(mut self, label: &str) -> Result<ThingGroup, StoreError> {
        let record = format!("thing group {} attributes", self.group.name);
        self.group.attributes = attributes_from_json(label, &record, &self.attributes)?;
        Ok(self.group)
    }
}

fn raw_group(r: &Row<'_>) -> rusqlite::Result<RawGroup> {
    Ok(RawGroup {
        group: ThingGroup {
            name: r.get(0)?,
            group_id: r.get(1)?,
            parent: r.get(2)?,
            description: r.get(3)?,
            attributes: BTreeMap::new(),
            version: r.get(5)?,
            created_ms: r.get(6)?,
            modified_ms: r.get(7)?,
        },
        attributes: r.get(4)?,
    })
}

pub(crate) fn read_thing_group(
    conn: &rusqlite::Connection,
    label: &str,
    name: &str,
) -> Result<Option<ThingGroup>, StoreError> {
    conn.query_row(
        &format!("SELECT {GROUP_COLUMNS} FROM thing_groups WHERE name = ?1"),
        [name],
        raw_group,
    )
    .optional()
    .ctx(label, "read thing group")?
    .map(|r| r.finish(label))
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn group(name: &str, parent: Option<&str>) -> NewThingGroup {
        NewThingGroup {
            name: name.into(),
            parent: parent.map(str::to_owned),
            ..Default::default()
        }
    }

    fn names(page: Page<String>) -> Vec<String> {
        page.items
    }

    /// root ─┬─ a ── a1 ── a11
    ///       └─ b
    /// other
    fn tree() -> Store {
        let mut s = Store::open_in_memory().unwrap();
        for (i, (name, parent)) in [
            ("root", None),
            ("a", Some("root")),
            ("b", Some("root")),
            ("a1", Some("a")),
            ("a11", Some("a1")),
            ("other", None),
        ]
        .into_iter()
        .enumerate()
        {
            let seed = [u8::try_from(i).unwrap(); 16];
            s.create_thing_group(&group(name, parent), seed, NOW)
                .unwrap();
        }
        s
    }

    #[test]
    fn ancestors_run_from_the_root_to_the_parent() {
        let s = tree();
        let chain: Vec<_> = s
            .thing_group_ancestors("a11")
            .unwrap()
            .into_iter()
            .map(|g| g.name)
            .collect();
        assert_eq!(chain, ["root", "a", "a1"]);
        assert!(s.thing_group_ancestors("root").unwrap().is_empty());
        assert_eq!(root_of(&s.conn, &s.label, "a11").unwrap(), "root");
        assert_eq!(root_of(&s.conn, &s.label, "other").unwrap(), "other");
    }

    #[test]
    fn listing_follows_parent_recursion_and_prefix() {
        let s = tree();
        let list = |parent: Option<&str>, prefix: Option<&str>, recursive: Option<bool>| {
            let filter = ThingGroupFilter {
                parent: parent.map(str::to_owned),
                name_prefix: prefix.map(str::to_owned),
                recursive,
            };
            names(
                s.list_thing_groups(&filter, &PageRequest::first(100))
                    .unwrap(),
            )
        };
        assert_eq!(
            list(None, None, None),
            ["a", "a1", "a11", "b", "other", "root"]
        );
        assert_eq!(list(None, None, Some(false)), ["other", "root"]);
        assert_eq!(list(Some("root"), None, None), ["a", "a1", "a11", "b"]);
        assert_eq!(
            list(Some("root"), None, Some(true)),
            ["a", "a1", "a11", "b"]
        );
        assert_eq!(list(Some("root"), None, Some(false)), ["a", "b"]);
        assert_eq!(list(Some("root"), Some("a1"), None), ["a1", "a11"]);
        assert_eq!(list(Some("a11"), None, None), Vec::<String>::new());
        assert!(matches!(
            s.list_thing_groups(
                &ThingGroupFilter {
                    parent: Some("ghost".into()),
                    ..Default::default()
                },
                &PageRequest::first(10)
            ),
            Err(StoreError::NotFound {
                kind: ResourceKind::ThingGroup,
                ..
            })
        ));
        // Pages follow the name order.
        let first = s
            .list_thing_groups(&ThingGroupFilter::default(), &PageRequest::first(4))
            .unwrap();
        assert_eq!(first.items, ["a", "a1", "a11", "b"]);
        let next = PageRequest::first(4).after(&first).unwrap();
        let second = s
            .list_thing_groups(&ThingGroupFilter::default(), &next)
            .unwrap();
        assert_eq!(
            (second.items, second.next_token),
            (vec!["other".to_owned(), "root".to_owned()], None)
        );
    }

    #[test]
    fn hierarchies_are_at_most_seven_deep() {
        let mut s = Store::open_in_memory().unwrap();
        let mut parent: Option<String> = None;
        for depth in 1..=MAX_HIERARCHY_DEPTH {
            let name = format!("g{depth}");
            let seed = [u8::try_from(depth).unwrap(); 16];
            s.create_thing_group(&group(&name, parent.as_deref()), seed, NOW)
                .unwrap();
            parent = Some(name);
        }
        let err = s
            .create_thing_group(&group("g8", Some("g7")), [99; 16], NOW)
            .unwrap_err();
        assert!(err.to_string().contains("depth 8"), "{err}");
        let err = s
            .create_thing_group(&group("orphan", Some("ghost")), [98; 16], NOW)
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidRequest(ref m) if m.contains("ghost")),
            "{err}"
        );
    }

    #[test]
    fn a_group_has_at_most_a_hundred_children() {
        let mut s = Store::open_in_memory().unwrap();
        s.create_thing_group(&group("p", None), [0; 16], NOW)
            .unwrap();
        for i in 0..MAX_CHILD_GROUPS {
            let mut seed = [1; 16];
            seed[..8].copy_from_slice(&u64::try_from(i).unwrap().to_le_bytes());
            s.create_thing_group(&group(&format!("c{i}"), Some("p")), seed, NOW)
                .unwrap();
        }
        let err = s
            .create_thing_group(&group("one-more", Some("p")), [2; 16], NOW)
            .unwrap_err();
        assert!(err.to_string().contains("100 child groups"), "{err}");
    }

    #[test]
    fn create_is_idempotent_for_identical_properties_only() {
        let mut s = tree();
        let (again, created) = s
            .create_thing_group(&group("a", Some("root")), [50; 16], NOW + 5)
            .unwrap();
        assert!(!created);
        assert_eq!(again.created_ms, NOW);
        assert!(matches!(
            s.create_thing_group(&group("a", None), [51; 16], NOW),
            Err(StoreError::AlreadyExists {
                kind: ResourceKind::ThingGroup,
                ..
            })
        ));
    }

    #[test]
    fn update_merges_attributes_and_checks_the_version() {
        let mut s = tree();
        let update = ThingGroupUpdate {
            description: Some("lights".into()),
            attributes: AttributeUpdate::Replace(
                [
                    ("a".to_owned(), "1".to_owned()),
                    ("b".to_owned(), "2".to_owned()),
                ]
                .into(),
            ),
            expected_version: Some(1),
        };
        let updated = s.update_thing_group("b", &update, NOW + 1).unwrap();
        assert_eq!(
            (updated.version, updated.description.as_deref()),
            (2, Some("lights"))
        );
        let stale = s.update_thing_group("b", &update, NOW + 2).unwrap_err();
        assert!(matches!(
            stale,
            StoreError::VersionConflict {
                expected: 1,
                actual: 2,
                ..
            }
        ));
        let merge = ThingGroupUpdate {
            attributes: AttributeUpdate::Merge(
                [
                    ("a".to_owned(), String::new()),
                    ("c".to_owned(), "3".to_owned()),
                ]
                .into(),
            ),
            ..Default::default()
        };
        let merged = s.update_thing_group("b", &merge, NOW + 3).unwrap();
        assert_eq!(
            merged.attributes,
            [
                ("b".to_owned(), "2".to_owned()),
                ("c".to_owned(), "3".to_owned())
            ]
            .into()
        );
        assert_eq!(merged.description.as_deref(), Some("lights"), "kept");
        assert!(matches!(
            s.update_thing_group("ghost", &merge, NOW),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[test]
    fn delete_is_refused_while_children_remain() {
        let mut s = tree();
        let err = s.delete_thing_group("a1", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid request: Cannot delete thing group : a1 when there are still child groups \
             attached to it; delete its 1 child group(s) first"
        );
        assert!(matches!(
            s.delete_thing_group("a11", Some(9)),
            Err(StoreError::VersionConflict { .. })
        ));
        let deleted = s.delete_thing_group("a11", Some(1)).unwrap().unwrap();
        assert_eq!(deleted.group.name, "a11");
        assert!(
            s.delete_thing_group("a11", None).unwrap().is_none(),
            "gone: success"
        );
        s.delete_thing_group("a1", None).unwrap().unwrap();
    }
}
