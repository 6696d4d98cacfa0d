//! Searching things for people (the web console's things page): a case-insensitive text that a
//! thing's name, type or one of its attribute values contains, paged by name, with the number
//! of matches. ListThings keeps AWS's own filters (`things.rs`); AWS's fleet indexing query
//! language is not this.

use rusqlite::params;

use crate::Store;
use crate::error::{SqlContext, StoreError};
use crate::page::{Page, PageRequest};
use crate::things::{THING_COLUMNS, Thing, raw_thing};

/// One page of a search, with how many things match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingSearch {
    /// The page, sorted by name.
    pub page: Page<Thing>,
    /// Things matching the text.
    pub total: u64,
}

/// The WHERE clause shared by the page and the count: `?1` is the lower-cased text.
const MATCHES: &str = "(?1 = ''
    OR instr(lower(name), ?1) > 0
    OR instr(lower(coalesce(thing_type, '')), ?1) > 0
    OR EXISTS (SELECT 1 FROM json_each(things.attributes) AS a
               WHERE instr(lower(a.value), ?1) > 0))";

impl Store {
    /// Things whose name, type or an attribute value contains `text` (any case; an empty text
    /// matches every thing), one page in name order, and the number of matches.
    pub fn search_things(&self, text: &str, page: &PageRequest) -> Result<ThingSearch, StoreError> {
        let text = text.to_lowercase();
        let (dir, cmp) = page.sql_order();
        let sql = format!(
            "SELECT {THING_COLUMNS} FROM things
             WHERE {MATCHES} AND (?2 IS NULL OR name {cmp} ?2)
             ORDER BY name {dir} LIMIT ?3"
        );
        let mut stmt = self.conn.prepare(&sql).ctx(&self.label, "search things")?;
        let raw = stmt
            .query_map(params![text, page.token, page.probe_limit()], raw_thing)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(&self.label, "search things")?;
        let things = raw
            .into_iter()
            .map(|r| r.finish(&self.label))
            .collect::<Result<Vec<_>, _>>()?;
        let total: i64 = self
            .conn
            .query_row(
                &format!("SELECT count(*) FROM things WHERE {MATCHES}"),
                params![text],
                |r| r.get(0),
            )
            .ctx(&self.label, "count things")?;
        Ok(ThingSearch {
            page: Page::from_probe(things, page, |t| t.name.clone()),
            total: u64::try_from(total).unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::things::NewThing;
    use crate::{PageRequest, Store};

    fn store_with_things() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("t.db")).unwrap();
        for (i, name) in ["boiler-1", "Boiler-2", "fan-1", "pump"].iter().enumerate() {
            let mut attributes = BTreeMap::new();
            if *name == "pump" {
                attributes.insert("room".to_owned(), "Boiler room".to_owned());
            }
            let new = NewThing {
                name: (*name).to_owned(),
                thing_type: None,
                attributes,
            };
            store.create_thing(&new, [i as u8; 16], 0).unwrap();
        }
        (dir, store)
    }

    #[test]
    fn search_matches_names_and_attribute_values_in_any_case() {
        let (_dir, store) = store_with_things();
        let found = store
            .search_things("BOILER", &PageRequest::first(10))
            .unwrap();
        let names: Vec<_> = found.page.items.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["Boiler-2", "boiler-1", "pump"]);
        assert_eq!(found.total, 3);
        assert_eq!(
            store
                .search_things("", &PageRequest::first(10))
                .unwrap()
                .total,
            4
        );
    }

    #[test]
    fn search_pages_by_name() {
        let (_dir, store) = store_with_things();
        let first = PageRequest::first(2);
        let page1 = store.search_things("", &first).unwrap();
        assert_eq!(page1.page.items.len(), 2);
        let next = first.after(&page1.page).unwrap();
        let page2 = store.search_things("", &next).unwrap();
        let names: Vec<_> = page2.page.items.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["fan-1", "pump"]);
        assert_eq!(page2.page.next_token, None);
        assert_eq!(page2.total, 4);
    }
}
