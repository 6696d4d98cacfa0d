//! Things in static thing groups: add and remove (alone or several at once, as
//! UpdateThingGroupsForThing does), the things of a group (recursively through its child groups:
//! what AWS IoT Jobs targets), the groups of a thing, and the membership rules. It does not know
//! ARNs: the control plane turns a `thingGroupArn` or `thingArn` into a name first.
//!
//! Rules, from the developer guide ("Static thing groups"): a thing belongs to at most
//! [`MAX_GROUPS_PER_THING`] groups, and "you can't add a thing to more than one group in the same
//! hierarchy", which tether reads as: no two groups of one thing share a root group (so a thing
//! is never in a group and in that group's ancestor or descendant either).

use rusqlite::{OptionalExtension, params};

use crate::error::{ResourceKind, SqlContext, StoreError};
use crate::page::{Page, PageRequest};
use crate::thing_groups::{read_thing_group, root_of};
use crate::things::{read_thing, thing_id_from_bytes};
use crate::transaction::Tx;
use crate::{ServiceTx, Store};

/// AWS: "You can add a thing to a maximum of 10 groups."
pub const MAX_GROUPS_PER_THING: usize = 10;

/// One thing in one group, with the ids registry events carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub group: String,
    pub group_id: String,
    pub thing: String,
    pub thing_id: String,
    /// Generated when the thing was added (`membershipId` of the membership events).
    pub membership_id: String,
}

/// What UpdateThingGroupsForThing did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipChanges {
    pub added: Vec<Membership>,
    pub removed: Vec<Membership>,
}

impl Store {
    /// AddThingToThingGroup. `None` when the thing already was in the group (nothing changes,
    /// as AWS answers success). `membership_seed` is random material for the membership id.
    pub fn add_thing_to_thing_group(
        &mut self,
        group: &str,
        thing: &str,
        membership_seed: [u8; 16],
        now_unix_ms: i64,
    ) -> Result<Option<Membership>, StoreError> {
        self.write("add thing to thing group", |tx| {
            add(tx, group, thing, membership_seed, now_unix_ms)
        })
    }

    /// RemoveThingFromThingGroup. `None` when the thing was not in the group (success, as in
    /// AWS). The thing and the group must exist.
    pub fn remove_thing_from_thing_group(
        &mut self,
        group: &str,
        thing: &str,
    ) -> Result<Option<Membership>, StoreError> {
        self.write("remove thing from thing group", |tx| {
            remove(tx, group, thing)
        })
    }

    /// UpdateThingGroupsForThing, in one transaction: every removal first, then every addition
    /// (so a thing can move between two groups of one hierarchy in one call; AWS does not say
    /// in which order it applies them). Any failure changes nothing. `seed` gives random
    /// material for each new membership id.
    pub fn update_thing_groups_for_thing(
        &mut self,
        thing: &str,
        add_to: &[String],
        remove_from: &[String],
        mut seed: impl FnMut() -> [u8; 16],
        now_unix_ms: i64,
    ) -> Result<MembershipChanges, StoreError> {
        self.write("update thing groups for thing", |tx| {
            existing_thing(tx, thing)?;
            let mut changes = MembershipChanges::default();
            for group in remove_from {
                changes.removed.extend(remove(tx, group, thing)?);
            }
            for group in add_to {
                changes
                    .added
                    .extend(add(tx, group, thing, seed(), now_unix_ms)?);
            }
            Ok(changes)
        })
    }

    /// ListThingsInThingGroup: thing names sorted by name, each once; with `recursive`, also
    /// the things of every descendant group. The group must exist.
    pub fn list_things_in_thing_group(
        &self,
        group: &str,
        recursive: bool,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError> {
        if read_thing_group(&self.conn, &self.label, group)?.is_none() {
            return Err(StoreError::not_found(ResourceKind::ThingGroup, group));
        }
        let (dir, cmp) = page.sql_order();
        let sql = format!(
            "{SUBGROUPS} SELECT DISTINCT thing_name FROM thing_group_members
             WHERE group_name IN (SELECT name FROM sub) AND (?3 IS NULL OR thing_name {cmp} ?3)
             ORDER BY thing_name {dir} LIMIT ?4"
        );
        let names = self
            .conn
            .prepare(&sql)
            .and_then(|mut stmt| {
                stmt.query_map(
                    params![group, recursive, page.token, page.probe_limit()],
                    |r| r.get(0),
                )
                .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            })
            .ctx(&self.label, "list things in thing group")?;
        Ok(Page::from_probe(names, page, Clone::clone))
    }

    /// ListThingGroupsForThing: the groups the thing is in and their ancestors ("the groups a
    /// thing belongs to, including any parent groups", developer guide), sorted by name. The
    /// thing must exist.
    pub fn list_thing_groups_for_thing(
        &self,
        thing: &str,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError> {
        if read_thing(&self.conn, &self.label, thing)?.is_none() {
            return Err(StoreError::not_found(ResourceKind::Thing, thing));
        }
        let (dir, cmp) = page.sql_order();
        let sql = format!(
            "WITH RECURSIVE up(name) AS (
                SELECT group_name FROM thing_group_members WHERE thing_name = ?1
                UNION SELECT g.parent FROM thing_groups g JOIN up ON g.name = up.name
                      WHERE g.parent IS NOT NULL)
             SELECT name FROM up WHERE (?2 IS NULL OR name {cmp} ?2)
             ORDER BY name {dir} LIMIT ?3"
        );
        let names = self
            .conn
            .prepare(&sql)
            .and_then(|mut stmt| {
                stmt.query_map(params![thing, page.token, page.probe_limit()], |r| r.get(0))
                    .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            })
            .ctx(&self.label, "list thing groups for thing")?;
        Ok(Page::from_probe(names, page, Clone::clone))
    }

    /// The groups a thing is directly in, with their membership ids, sorted by group name
    /// (for the events of a deleted thing). Empty for a thing that does not exist.
    pub fn thing_group_memberships(&self, thing: &str) -> Result<Vec<Membership>, StoreError> {
        memberships(&self.conn, &self.label, "thing_name", thing)
    }
}

impl ServiceTx<'_> {
    /// Every thing in `group` and, with `recursive`, in its descendant groups, sorted by name,
    /// each once: the things a job that targets the group reaches (AWS IoT Jobs: "Create jobs
    /// that are sent to and executed on every thing in a group and its child groups"). The
    /// group must exist.
    pub fn things_in_thing_group(
        &self,
        group: &str,
        recursive: bool,
    ) -> Result<Vec<String>, StoreError> {
        let tx = self.tx;
        if read_thing_group(tx, tx.label(), group)?.is_none() {
            return Err(StoreError::not_found(ResourceKind::ThingGroup, group));
        }
        tx.prepare_cached(&format!(
            "{SUBGROUPS} SELECT DISTINCT thing_name FROM thing_group_members
             WHERE group_name IN (SELECT name FROM sub) ORDER BY thing_name"
        ))
        .and_then(|mut stmt| {
            stmt.query_map(params![group, recursive], |r| r.get(0))
                .and_then(|rows| rows.collect())
        })
        .ctx(tx.label(), "list things in thing group")
    }

    /// The name of the thing group whose `thingGroupId` is `group_id`, if there is one.
    pub fn thing_group_named_by_id(&self, group_id: &str) -> Result<Option<String>, StoreError> {
        let tx = self.tx;
        tx.prepare_cached("SELECT name FROM thing_groups WHERE group_id = ?1")
            .and_then(|mut stmt| stmt.query_row(params![group_id], |r| r.get(0)).optional())
            .ctx(tx.label(), "find a thing group by id")
    }

    /// The groups `thing` is in and all their ancestors, sorted by name: the thing-group
    /// targets that reach it. Empty for a thing in no group or one that does not exist.
    pub fn thing_groups_reaching(&self, thing: &str) -> Result<Vec<String>, StoreError> {
        let tx = self.tx;
        tx.prepare_cached(
            "WITH RECURSIVE up(name) AS (
                SELECT group_name FROM thing_group_members WHERE thing_name = ?1
                UNION SELECT g.parent FROM thing_groups g JOIN up ON g.name = up.name
                      WHERE g.parent IS NOT NULL)
             SELECT name FROM up ORDER BY name",
        )
        .and_then(|mut stmt| {
            stmt.query_map(params![thing], |r| r.get(0))
                .and_then(|rows| rows.collect())
        })
        .ctx(tx.label(), "list the thing groups of a thing")
    }
}

/// `sub(name)`: group `?1` and, when `?2` is true, all its descendants.
const SUBGROUPS: &str = "WITH RECURSIVE sub(name) AS (
    SELECT ?1 UNION ALL
    SELECT g.name FROM thing_groups g JOIN sub ON g.parent = sub.name WHERE ?2)";

pub(crate) fn add(
    tx: &Tx<'_>,
    group: &str,
    thing: &str,
    membership_seed: [u8; 16],
    now_unix_ms: i64,
) -> Result<Option<Membership>, StoreError> {
    let label = tx.label();
    let thing_record = existing_thing(tx, thing)?;
    let group_record = read_thing_group(tx, label, group)?
        .ok_or_else(|| StoreError::not_found(ResourceKind::ThingGroup, group))?;
    let current = memberships(tx, label, "thing_name", thing)?;
    if current.iter().any(|m| m.group == group) {
        return Ok(None);
    }
    if current.len() >= MAX_GROUPS_PER_THING {
        return Err(StoreError::InvalidRequest(format!(
            "thing {thing} is already in {} thing groups, the most AWS IoT allows \
             ({MAX_GROUPS_PER_THING}); remove it from one first",
            current.len()
        )));
    }
    let root = root_of(tx, label, group)?;
    for other in &current {
        if root_of(tx, label, &other.group)? == root {
            return Err(StoreError::InvalidRequest(format!(
                "thing {thing} is already in thing group {} of the hierarchy under {root}, and \
                 AWS IoT does not add a thing to two groups of the same hierarchy; remove it \
                 from {} first",
                other.group, other.group
            )));
        }
    }
    let membership = Membership {
        group: group.to_owned(),
        group_id: group_record.group_id,
        thing: thing.to_owned(),
        thing_id: thing_record.thing_id,
        membership_id: thing_id_from_bytes(membership_seed),
    };
    tx.execute(
        "INSERT INTO thing_group_members (group_name, thing_name, membership_id, added_ms) \
         VALUES (?1, ?2, ?3, ?4)",
        params![group, thing, membership.membership_id, now_unix_ms],
    )
    .ctx(label, "add thing to thing group")?;
    Ok(Some(membership))
}

pub(crate) fn remove(
    tx: &Tx<'_>,
    group: &str,
    thing: &str,
) -> Result<Option<Membership>, StoreError> {
    let label = tx.label();
    let thing_record = existing_thing(tx, thing)?;
    let group_record = read_thing_group(tx, label, group)?
        .ok_or_else(|| StoreError::not_found(ResourceKind::ThingGroup, group))?;
    let membership_id: Option<String> = tx
        .query_row(
            "DELETE FROM thing_group_members WHERE group_name = ?1 AND thing_name = ?2 \
             RETURNING membership_id",
            params![group, thing],
            |r| r.get(0),
        )
        .optional()
        .ctx(label, "remove thing from thing group")?;
    Ok(membership_id.map(|membership_id| Membership {
        group: group.to_owned(),
        group_id: group_record.group_id,
        thing: thing.to_owned(),
        thing_id: thing_record.thing_id,
        membership_id,
    }))
}

fn existing_thing(tx: &Tx<'_>, thing: &str) -> Result<crate::Thing, StoreError> {
    read_thing(tx, tx.label(), thing)?
        .ok_or_else(|| StoreError::not_found(ResourceKind::Thing, thing))
}

/// The members of a group (for its deletion's events), sorted by thing name.
pub(crate) fn members_of(tx: &Tx<'_>, group: &str) -> Result<Vec<Membership>, StoreError> {
    memberships(tx, tx.label(), "group_name", group)
}

/// Memberships where `column` (`thing_name` or `group_name`) is `key`.
pub(crate) fn memberships(
    conn: &rusqlite::Connection,
    label: &str,
    column: &str,
    key: &str,
) -> Result<Vec<Membership>, StoreError> {
    let order = if column == "thing_name" {
        "m.group_name"
    } else {
        "m.thing_name"
    };
    conn.prepare_cached(&format!(
        "SELECT m.group_name, g.group_id, m.thing_name, t.thing_id, m.membership_id
         FROM thing_group_members m
         JOIN thing_groups g ON g.name = m.group_name
         JOIN things t ON t.name = m.thing_name
         WHERE m.{column} = ?1 ORDER BY {order}"
    ))
    .and_then(|mut stmt| {
        stmt.query_map([key], |r| {
            Ok(Membership {
                group: r.get(0)?,
                group_id: r.get(1)?,
                thing: r.get(2)?,
                thing_id: r.get(3)?,
                membership_id: r.get(4)?,
            })
        })
        .and_then(|rows| rows.collect())
    })
    .ctx(label, "read thing group memberships")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewThing, NewThingGroup};

    const NOW: i64 = 1_700_000_000_000;

    /// Groups `root ─ a ─ a1` and `b ─ b1`, each leaf with things.
    fn fleet() -> Store {
        let mut s = Store::open_in_memory().unwrap();
        for (i, (name, parent)) in [
            ("root", None),
            ("a", Some("root")),
            ("a1", Some("a")),
            ("b", None),
            ("b1", Some("b")),
        ]
        .into_iter()
        .enumerate()
        {
            let new = NewThingGroup {
                name: name.into(),
                parent: parent.map(str::to_owned),
                ..Default::default()
            };
            s.create_thing_group(&new, [u8::try_from(i).unwrap(); 16], NOW)
                .unwrap();
        }
        for (i, name) in ["t1", "t2", "t3", "t4"].into_iter().enumerate() {
            let new = NewThing {
                name: name.into(),
                ..Default::default()
            };
            s.create_thing(&new, [u8::try_from(i + 100).unwrap(); 16], NOW)
                .unwrap();
        }
        s
    }

    fn things(s: &Store, group: &str, recursive: bool) -> Vec<String> {
        s.list_things_in_thing_group(group, recursive, &PageRequest::first(100))
            .unwrap()
            .items
    }

    #[test]
    fn things_of_a_group_and_of_its_descendants() {
        let mut s = fleet();
        s.add_thing_to_thing_group("a1", "t1", [1; 16], NOW)
            .unwrap();
        s.add_thing_to_thing_group("a", "t2", [2; 16], NOW).unwrap();
        s.add_thing_to_thing_group("root", "t3", [3; 16], NOW)
            .unwrap();
        s.add_thing_to_thing_group("b1", "t3", [4; 16], NOW)
            .unwrap();
        assert_eq!(things(&s, "root", false), ["t3"]);
        assert_eq!(things(&s, "root", true), ["t1", "t2", "t3"]);
        assert_eq!(things(&s, "a", true), ["t1", "t2"]);
        assert_eq!(things(&s, "b", true), ["t3"]);
        assert_eq!(things(&s, "b", false), Vec::<String>::new());
        let first = s
            .list_things_in_thing_group("root", true, &PageRequest::first(2))
            .unwrap();
        assert_eq!(first.items, ["t1", "t2"]);
        let rest = s
            .list_things_in_thing_group("root", true, &PageRequest::first(2).after(&first).unwrap())
            .unwrap();
        assert_eq!((rest.items, rest.next_token), (vec!["t3".to_owned()], None));
        let via_service = s
            .services("jobs", |tx| tx.things_in_thing_group("root", true))
            .unwrap();
        assert_eq!(via_service, ["t1", "t2", "t3"]);
        let mut reaching = |thing: &str| {
            s.services("jobs", |tx| tx.thing_groups_reaching(thing))
                .unwrap()
        };
        assert_eq!(reaching("t1"), ["a", "a1", "root"]);
        assert_eq!(reaching("t3"), ["b", "b1", "root"]);
        assert_eq!(reaching("t4"), Vec::<String>::new());
        assert_eq!(reaching("ghost"), Vec::<String>::new());
        assert!(matches!(
            s.services("jobs", |tx| tx.things_in_thing_group("ghost", true)),
            Err(StoreError::NotFound {
                kind: ResourceKind::ThingGroup,
                ..
            })
        ));
        // The groups of a thing include the ancestors of its groups.
        let groups = s
            .list_thing_groups_for_thing("t1", &PageRequest::first(10))
            .unwrap()
            .items;
        assert_eq!(groups, ["a", "a1", "root"]);
    }

    #[test]
    fn adding_twice_or_removing_a_non_member_changes_nothing() {
        let mut s = fleet();
        let added = s
            .add_thing_to_thing_group("a1", "t1", [7; 16], NOW)
            .unwrap()
            .unwrap();
        assert_eq!(added.membership_id, thing_id_from_bytes([7; 16]));
        assert_eq!(
            s.add_thing_to_thing_group("a1", "t1", [8; 16], NOW)
                .unwrap(),
            None
        );
        let removed = s
            .remove_thing_from_thing_group("a1", "t1")
            .unwrap()
            .unwrap();
        assert_eq!(removed, added);
        assert_eq!(s.remove_thing_from_thing_group("a1", "t1").unwrap(), None);
        for (group, thing) in [("ghost", "t1"), ("a1", "ghost")] {
            assert!(matches!(
                s.add_thing_to_thing_group(group, thing, [9; 16], NOW),
                Err(StoreError::NotFound { .. })
            ));
            assert!(matches!(
                s.remove_thing_from_thing_group(group, thing),
                Err(StoreError::NotFound { .. })
            ));
        }
    }

    #[test]
    fn one_group_per_hierarchy() {
        let mut s = fleet();
        s.add_thing_to_thing_group("a", "t1", [1; 16], NOW).unwrap();
        for other in ["root", "a1"] {
            let err = s
                .add_thing_to_thing_group(other, "t1", [2; 16], NOW)
                .unwrap_err();
            assert!(err.to_string().contains("same hierarchy"), "{other}: {err}");
        }
        s.add_thing_to_thing_group("b1", "t1", [3; 16], NOW)
            .unwrap();
        // Moving within a hierarchy in one call: removals come first.
        let moved = s
            .update_thing_groups_for_thing("t1", &["a1".into()], &["a".into()], || [4; 16], NOW)
            .unwrap();
        assert_eq!(moved.removed.len(), 1);
        assert_eq!(moved.added[0].group, "a1");
        // A failing addition leaves everything as it was.
        let err = s
            .update_thing_groups_for_thing("t1", &["ghost".into()], &["b1".into()], || [5; 16], NOW)
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }));
        let groups: Vec<_> = s
            .thing_group_memberships("t1")
            .unwrap()
            .into_iter()
            .map(|m| m.group)
            .collect();
        assert_eq!(groups, ["a1", "b1"]);
    }

    #[test]
    fn a_thing_is_in_at_most_ten_groups() {
        let mut s = fleet();
        for i in 0..MAX_GROUPS_PER_THING {
            let new = NewThingGroup {
                name: format!("g{i}"),
                ..Default::default()
            };
            s.create_thing_group(&new, [u8::try_from(i + 50).unwrap(); 16], NOW)
                .unwrap();
            s.add_thing_to_thing_group(&new.name, "t4", [u8::try_from(i).unwrap(); 16], NOW)
                .unwrap();
        }
        let err = s
            .add_thing_to_thing_group("b", "t4", [99; 16], NOW)
            .unwrap_err();
        assert!(
            err.to_string().contains("already in 10 thing groups"),
            "{err}"
        );
    }

    #[test]
    fn deleting_a_thing_or_a_group_ends_its_memberships() {
        let mut s = fleet();
        s.add_thing_to_thing_group("a1", "t1", [1; 16], NOW)
            .unwrap();
        s.add_thing_to_thing_group("a1", "t2", [2; 16], NOW)
            .unwrap();
        s.add_thing_to_thing_group("b", "t2", [3; 16], NOW).unwrap();
        assert!(s.delete_thing("t1", None).unwrap());
        assert_eq!(things(&s, "a1", false), ["t2"]);
        let deleted = s.delete_thing_group("a1", None).unwrap().unwrap();
        let members: Vec<_> = deleted.members.iter().map(|m| m.thing.as_str()).collect();
        assert_eq!(members, ["t2"]);
        let left: Vec<_> = s
            .thing_group_memberships("t2")
            .unwrap()
            .into_iter()
            .map(|m| m.group)
            .collect();
        assert_eq!(left, ["b"]);
    }
}
