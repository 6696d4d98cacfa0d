//! Pagination shared by every list operation: a page request (continuation token, size,
//! direction) and a page of results with the token for the next one. It does not know AWS's
//! parameter names (`marker`, `nextToken`, `pageSize`, `maxResults`); the control plane maps them.

/// The largest page the store returns, whatever the caller asks for.
pub const MAX_PAGE_SIZE: usize = 1000;

/// Which way a list runs over its sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Ascending,
    Descending,
}

/// One page request. `token` is `None` for the first page, otherwise exactly the
/// [`Page::next_token`] of the previous page (opaque to callers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub token: Option<String>,
    pub size: usize,
    pub order: Order,
}

impl PageRequest {
    /// The first page of `size` items in ascending order.
    pub fn first(size: usize) -> Self {
        PageRequest {
            token: None,
            size,
            order: Order::Ascending,
        }
    }

    /// The page after `page`, same size and order (for loops over every page).
    pub fn after<T>(&self, page: &Page<T>) -> Option<Self> {
        page.next_token.as_ref().map(|t| PageRequest {
            token: Some(t.clone()),
            size: self.size,
            order: self.order,
        })
    }

    /// The size clamped to `1..=MAX_PAGE_SIZE`, as an SQL `LIMIT` one larger so that the store
    /// can tell whether another page follows.
    pub(crate) fn probe_limit(&self) -> i64 {
        i64::try_from(self.size.clamp(1, MAX_PAGE_SIZE))
            .unwrap_or(1)
            .saturating_add(1)
    }

    pub(crate) fn sql_order(&self) -> (&'static str, &'static str) {
        match self.order {
            Order::Ascending => ("ASC", ">"),
            Order::Descending => ("DESC", "<"),
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// `Some` when more items follow; pass it back in [`PageRequest::token`].
    pub next_token: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `size + 1` fetched rows: the extra row only signals that another
    /// page exists, and the token is the sort key of the last item kept.
    pub(crate) fn from_probe(
        mut rows: Vec<T>,
        request: &PageRequest,
        key: impl Fn(&T) -> String,
    ) -> Self {
        let size = request.size.clamp(1, MAX_PAGE_SIZE);
        if rows.len() > size {
            rows.truncate(size);
            let next_token = rows.last().map(key);
            Page {
                items: rows,
                next_token,
            }
        } else {
            Page {
                items: rows,
                next_token: None,
            }
        }
    }
}

/// Token for lists sorted by `(creation time, id)`: `"<ms>:<id>"`.
pub(crate) fn time_id_token(created_ms: i64, id: &str) -> String {
    format!("{created_ms}:{id}")
}

/// Parses a [`time_id_token`].
pub(crate) fn parse_time_id_token(token: &str) -> Option<(i64, &str)> {
    let (ms, id) = token.split_once(':')?;
    Some((ms.parse().ok()?, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_row_becomes_the_next_token() {
        let req = PageRequest::first(2);
        let page = Page::from_probe(vec![1, 2, 3], &req, |n| n.to_string());
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_token.as_deref(), Some("2"));
        let last = Page::from_probe(vec![3], &req, |n| n.to_string());
        assert_eq!(last.next_token, None);
    }

    #[test]
    fn size_is_clamped() {
        assert_eq!(PageRequest::first(0).probe_limit(), 2);
        assert_eq!(PageRequest::first(usize::MAX).probe_limit(), 1001);
    }

    #[test]
    fn time_id_tokens_round_trip() {
        let t = time_id_token(17, "ab:cd");
        assert_eq!(parse_time_id_token(&t), Some((17, "ab:cd")));
        assert_eq!(parse_time_id_token("x:y"), None);
        assert_eq!(parse_time_id_token("nocolon"), None);
    }
}
