//! The subscription index: which sessions a topic reaches. Filters without wildcards live in a
//! hash map keyed by the topic they equal; wildcard filters live in a level trie, so routing a
//! publish costs one hash lookup plus a walk over the levels of its topic, independent of the
//! number of unrelated subscriptions. Shared subscription groups hang off the same slots and
//! pick one member per publish by deterministic round robin. Per-subscriber deduplication,
//! authorization and delivery are the router's job (`routing.rs`), not this file's.

use std::collections::{BTreeMap, HashMap};

use mqtt_proto::{SubscriptionOptions, TopicFilter};

/// A session, numbered by the broker. A clean start gets a new key, so a stale key never
/// reaches a newer session with the same client id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SessionKey(pub(crate) u64);

/// What one subscription asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubEntry {
    /// Options as granted.
    pub(crate) options: SubscriptionOptions,
    /// MQTT 5 subscription identifier.
    pub(crate) id: Option<u32>,
}

/// One matching subscription found for a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) session: SessionKey,
    pub(crate) entry: SubEntry,
}

/// Whether a shared-group member can take a message now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Connected: deliver now.
    Online,
    /// Offline with a persistent session: can queue.
    Queueable,
    /// Neither.
    Unreachable,
}

/// Where the matches of one topic go: non-shared ones (deduplicated later, per session) and
/// the chosen member of each shared group (never merged: every group gets its own copy).
#[derive(Debug, Default)]
pub(crate) struct Matches {
    pub(crate) plain: Vec<Candidate>,
    pub(crate) shared: Vec<Candidate>,
}

impl Matches {
    pub(crate) fn clear(&mut self) {
        self.plain.clear();
        self.shared.clear();
    }
}

#[derive(Debug, Default)]
struct SharedGroup {
    /// Members sorted by session key.
    members: Vec<(SessionKey, SubEntry)>,
    /// Index of the member to try first next time.
    cursor: usize,
}

impl SharedGroup {
    /// Picks the next online member after the cursor; failing that, the next member that can
    /// queue (MQTT 5 §4.8.2 lets the server pick any member; AWS queues for an offline group).
    fn pick(&mut self, reach: &mut impl FnMut(SessionKey) -> Reach) -> Option<Candidate> {
        let n = self.members.len();
        for wanted in [Reach::Online, Reach::Queueable] {
            for step in 0..n {
                let idx = (self.cursor + step) % n;
                if let Some(&(session, entry)) = self.members.get(idx)
                    && reach(session) == wanted
                {
                    self.cursor = (idx + 1) % n;
                    return Some(Candidate { session, entry });
                }
            }
        }
        None
    }
}

/// All subscriptions with one pattern.
#[derive(Debug, Default)]
struct FilterSubs {
    plain: BTreeMap<SessionKey, SubEntry>,
    shared: BTreeMap<Box<str>, SharedGroup>,
}

impl FilterSubs {
    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.shared.is_empty()
    }

    /// Adds or replaces; true when it replaced.
    fn insert(&mut self, share: Option<&str>, session: SessionKey, entry: SubEntry) -> bool {
        match share {
            None => self.plain.insert(session, entry).is_some(),
            Some(name) => {
                let group = self.shared.entry(name.into()).or_default();
                match group.members.binary_search_by_key(&session, |m| m.0) {
                    Ok(idx) => {
                        if let Some(member) = group.members.get_mut(idx) {
                            member.1 = entry;
                        }
                        true
                    }
                    Err(idx) => {
                        group.members.insert(idx, (session, entry));
                        false
                    }
                }
            }
        }
    }

    fn remove(&mut self, share: Option<&str>, session: SessionKey) -> bool {
        match share {
            None => self.plain.remove(&session).is_some(),
            Some(name) => {
                let Some(group) = self.shared.get_mut(name) else {
                    return false;
                };
                let Ok(idx) = group.members.binary_search_by_key(&session, |m| m.0) else {
                    return false;
                };
                group.members.remove(idx);
                if idx < group.cursor {
                    group.cursor -= 1;
                }
                if group.cursor >= group.members.len() {
                    group.cursor = 0;
                }
                if group.members.is_empty() {
                    self.shared.remove(name);
                }
                true
            }
        }
    }

    fn collect(&mut self, out: &mut Matches, reach: &mut impl FnMut(SessionKey) -> Reach) {
        out.plain.extend(
            self.plain
                .iter()
                .map(|(&session, &entry)| Candidate { session, entry }),
        );
        for group in self.shared.values_mut() {
            if let Some(chosen) = group.pick(reach) {
                out.shared.push(chosen);
            }
        }
    }
}

#[derive(Debug, Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    plus: Option<Box<Node>>,
    /// Filters ending at this node.
    here: Option<Box<FilterSubs>>,
    /// Filters ending in `#` below this node.
    hash: Option<Box<FilterSubs>>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.here.is_none()
            && self.hash.is_none()
    }
}

/// The index of every subscription of every session.
#[derive(Debug)]
pub(crate) struct SubscriptionIndex {
    exact: HashMap<Box<str>, FilterSubs>,
    root: Node,
    hash_matches_parent: bool,
    len: usize,
}

impl SubscriptionIndex {
    /// An empty index. `hash_matches_parent`: whether `a/#` matches `a` (MQTT yes, AWS no).
    pub(crate) fn new(hash_matches_parent: bool) -> Self {
        SubscriptionIndex {
            exact: HashMap::new(),
            root: Node::default(),
            hash_matches_parent,
            len: 0,
        }
    }

    /// Number of subscriptions held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds or replaces `session`'s subscription to `filter`; true when it replaced one.
    pub(crate) fn insert(
        &mut self,
        filter: &TopicFilter,
        session: SessionKey,
        entry: SubEntry,
    ) -> bool {
        let pattern = filter.pattern();
        let subs = if filter.has_wildcards() {
            slot_mut(&mut self.root, pattern).get_or_insert_with(Default::default)
        } else {
            self.exact.entry(pattern.into()).or_default()
        };
        let replaced = subs.insert(filter.share_name(), session, entry);
        if !replaced {
            self.len += 1;
        }
        replaced
    }

    /// Removes `session`'s subscription to `filter`; true when there was one.
    pub(crate) fn remove(&mut self, filter: &TopicFilter, session: SessionKey) -> bool {
        let pattern = filter.pattern();
        let share = filter.share_name();
        let removed = if filter.has_wildcards() {
            remove_rec(&mut self.root, pattern.split('/'), &mut |subs| {
                subs.remove(share, session)
            })
        } else {
            match self.exact.get_mut(pattern) {
                Some(subs) => {
                    let removed = subs.remove(share, session);
                    if subs.is_empty() {
                        self.exact.remove(pattern);
                    }
                    removed
                }
                None => false,
            }
        };
        if removed {
            self.len = self.len.saturating_sub(1);
        }
        removed
    }

    /// Appends every subscription matching `topic` to `out`, choosing one member per shared
    /// group with `reach`. `topic` is a valid, non-empty topic name.
    pub(crate) fn collect(
        &mut self,
        topic: &str,
        out: &mut Matches,
        mut reach: impl FnMut(SessionKey) -> Reach,
    ) {
        if let Some(subs) = self.exact.get_mut(topic) {
            subs.collect(out, &mut reach);
        }
        let walk = Walk {
            dollar: topic.starts_with('$'),
            parent: self.hash_matches_parent,
        };
        walk.node(&mut self.root, Some(topic), true, out, &mut reach);
    }
}

struct Walk {
    /// The topic starts with `$`: wildcards in the first level do not match it ([MQTT-4.7.2-1]).
    dollar: bool,
    /// `a/#` matches `a`.
    parent: bool,
}

impl Walk {
    /// Visits `node` with the topic levels not yet consumed (`None`: all consumed).
    fn node(
        &self,
        node: &mut Node,
        rest: Option<&str>,
        at_root: bool,
        out: &mut Matches,
        reach: &mut impl FnMut(SessionKey) -> Reach,
    ) {
        let Some(rest) = rest else {
            if let Some(subs) = node.here.as_deref_mut() {
                subs.collect(out, reach);
            }
            if self.parent
                && !at_root
                && let Some(subs) = node.hash.as_deref_mut()
            {
                subs.collect(out, reach);
            }
            return;
        };
        let (level, tail) = match rest.split_once('/') {
            Some((level, tail)) => (level, Some(tail)),
            None => (rest, None),
        };
        if !(at_root && self.dollar) {
            if let Some(subs) = node.hash.as_deref_mut() {
                subs.collect(out, reach);
            }
            if let Some(plus) = node.plus.as_deref_mut() {
                self.node(plus, tail, false, out, reach);
            }
        }
        if let Some(child) = node.children.get_mut(level) {
            self.node(child, tail, false, out, reach);
        }
    }
}

/// Whether filter `pattern` (no `$share/` prefix) matches `topic`, with `a/#` matching `a`
/// only when `hash_matches_parent` (MQTT §4.7.1.2; AWS deviates). The reference matcher the
/// index must agree with.
pub fn filter_matches(pattern: &str, topic: &str, hash_matches_parent: bool) -> bool {
    if !hash_matches_parent
        && let Some(parent) = pattern.strip_suffix("/#")
        && mqtt_proto::topic::matches(parent, topic)
    {
        return false;
    }
    mqtt_proto::topic::matches(pattern, topic)
}

/// The slot holding the subscriptions of a wildcard `pattern`, creating nodes on the way.
fn slot_mut<'a>(root: &'a mut Node, pattern: &str) -> &'a mut Option<Box<FilterSubs>> {
    let mut node = root;
    for level in pattern.split('/') {
        if level == "#" {
            // Validation guarantees '#' is the last level.
            return &mut node.hash;
        }
        node = if level == "+" {
            node.plus.get_or_insert_with(Default::default)
        } else {
            node.children.entry(level.into()).or_default()
        };
    }
    &mut node.here
}

/// Removes along `levels`, pruning nodes that become empty.
fn remove_rec<'p>(
    node: &mut Node,
    mut levels: impl Iterator<Item = &'p str>,
    remove: &mut impl FnMut(&mut FilterSubs) -> bool,
) -> bool {
    match levels.next() {
        None => remove_from_slot(&mut node.here, remove),
        Some("#") => remove_from_slot(&mut node.hash, remove),
        Some("+") => {
            let Some(child) = node.plus.as_deref_mut() else {
                return false;
            };
            let removed = remove_rec(child, levels, remove);
            if child.is_empty() {
                node.plus = None;
            }
            removed
        }
        Some(level) => {
            let Some(child) = node.children.get_mut(level) else {
                return false;
            };
            let removed = remove_rec(child, levels, remove);
            if child.is_empty() {
                node.children.remove(level);
            }
            removed
        }
    }
}

fn remove_from_slot(
    slot: &mut Option<Box<FilterSubs>>,
    remove: &mut impl FnMut(&mut FilterSubs) -> bool,
) -> bool {
    let Some(subs) = slot.as_deref_mut() else {
        return false;
    };
    let removed = remove(subs);
    if subs.is_empty() {
        *slot = None;
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_proto::QoS;

    fn entry(qos: QoS) -> SubEntry {
        SubEntry {
            options: SubscriptionOptions::with_qos(qos),
            id: None,
        }
    }

    fn sessions(index: &mut SubscriptionIndex, topic: &str) -> Vec<u64> {
        let mut out = Matches::default();
        index.collect(topic, &mut out, |_| Reach::Online);
        let mut keys: Vec<u64> = out
            .plain
            .iter()
            .chain(&out.shared)
            .map(|c| c.session.0)
            .collect();
        keys.sort_unstable();
        keys
    }

    fn add(index: &mut SubscriptionIndex, filter: &str, session: u64) -> bool {
        index.insert(
            &TopicFilter::new(filter).unwrap(),
            SessionKey(session),
            entry(QoS::AtMostOnce),
        )
    }

    #[test]
    fn exact_and_wildcard_filters_match() {
        let mut index = SubscriptionIndex::new(true);
        add(&mut index, "a/b", 1);
        add(&mut index, "a/+", 2);
        add(&mut index, "a/#", 3);
        add(&mut index, "#", 4);
        add(&mut index, "+/b/#", 5);
        assert_eq!(sessions(&mut index, "a/b"), vec![1, 2, 3, 4, 5]);
        assert_eq!(sessions(&mut index, "a"), vec![3, 4]);
        assert_eq!(sessions(&mut index, "x/b"), vec![4, 5]);
        assert_eq!(sessions(&mut index, "$SYS/b"), Vec::<u64>::new());
        assert_eq!(index.len(), 5);
    }

    #[test]
    fn aws_hash_does_not_match_parent() {
        let mut index = SubscriptionIndex::new(false);
        add(&mut index, "sensor/#", 1);
        assert_eq!(sessions(&mut index, "sensor"), Vec::<u64>::new());
        assert_eq!(sessions(&mut index, "sensor/"), vec![1]);
        assert_eq!(sessions(&mut index, "sensor/x/y"), vec![1]);
    }

    #[test]
    fn removal_prunes_and_replacement_does_not_count_twice() {
        let mut index = SubscriptionIndex::new(true);
        assert!(!add(&mut index, "a/+/c", 1));
        assert!(add(&mut index, "a/+/c", 1));
        assert_eq!(index.len(), 1);
        let f = TopicFilter::new("a/+/c").unwrap();
        assert!(index.remove(&f, SessionKey(1)));
        assert!(!index.remove(&f, SessionKey(1)));
        assert_eq!(index.len(), 0);
        assert!(index.root.is_empty());
        assert!(index.exact.is_empty());
    }

    #[test]
    fn shared_group_round_robins_and_prefers_online_members() {
        let mut index = SubscriptionIndex::new(true);
        for s in 1..=3 {
            add(&mut index, "$share/g/t/+", s);
        }
        let mut picks = Vec::new();
        for _ in 0..6 {
            let mut out = Matches::default();
            index.collect("t/x", &mut out, |_| Reach::Online);
            picks.push(out.shared.first().unwrap().session.0);
        }
        assert_eq!(picks, vec![1, 2, 3, 1, 2, 3]);
        let mut out = Matches::default();
        index.collect("t/x", &mut out, |s| {
            if s.0 == 3 {
                Reach::Online
            } else {
                Reach::Queueable
            }
        });
        assert_eq!(out.shared.first().unwrap().session.0, 3);
        let mut out = Matches::default();
        index.collect("t/x", &mut out, |_| Reach::Unreachable);
        assert!(out.shared.is_empty());
    }
}
