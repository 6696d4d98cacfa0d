//! Packet identifier allocation for one side of a session: hands out ids in increasing order,
//! wrapping from 65535 to 1 and skipping ids still held by unacknowledged packets
//! ([MQTT-2.2.1-3]). It does not know which flow holds an id; its owner releases ids.

use alloc::collections::BTreeSet;

use crate::types::PacketId;

/// Ids in use by one sender, and where the next search starts.
#[derive(Debug, Clone)]
pub(crate) struct PacketIds {
    next: PacketId,
    in_use: BTreeSet<PacketId>,
}

impl Default for PacketIds {
    fn default() -> Self {
        PacketIds {
            next: PacketId::MIN,
            in_use: BTreeSet::new(),
        }
    }
}

/// How many packet ids exist (1..=65535).
const ID_COUNT: usize = u16::MAX as usize;

impl PacketIds {
    /// Takes the next free id, or `None` when all 65535 are in use.
    pub(crate) fn allocate(&mut self) -> Option<PacketId> {
        if self.in_use.len() >= ID_COUNT {
            return None;
        }
        let mut candidate = self.next;
        // At least one id is free, so this finds one within 65535 steps.
        for _ in 0..ID_COUNT {
            if self.in_use.insert(candidate) {
                self.next = candidate.next();
                return Some(candidate);
            }
            candidate = candidate.next();
        }
        None
    }

    /// Marks `id` as used. False if it already was.
    #[cfg(test)]
    pub(crate) fn reserve(&mut self, id: PacketId) -> bool {
        self.in_use.insert(id)
    }

    /// Frees `id` for reuse.
    pub(crate) fn release(&mut self, id: PacketId) {
        self.in_use.remove(&id);
    }

    /// Whether `id` is held.
    #[cfg(test)]
    pub(crate) fn contains(&self, id: PacketId) -> bool {
        self.in_use.contains(&id)
    }

    /// Number of ids held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.in_use.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(v: u16) -> PacketId {
        PacketId::new(v).unwrap()
    }

    #[test]
    fn allocates_in_order_and_skips_ids_in_use() {
        let mut ids = PacketIds::default();
        assert_eq!(ids.allocate(), Some(id(1)));
        assert!(ids.reserve(id(2)));
        assert_eq!(ids.allocate(), Some(id(3)));
        ids.release(id(1));
        assert_eq!(
            ids.allocate(),
            Some(id(4)),
            "freed ids are reused only after wrapping"
        );
        assert!(ids.contains(id(2)));
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn wraps_from_65535_to_1_skipping_held_ids() {
        let mut ids = PacketIds::default();
        assert!(ids.reserve(id(1)));
        ids.next = id(65535);
        assert_eq!(ids.allocate(), Some(id(65535)));
        assert_eq!(ids.allocate(), Some(id(2)));
    }

    #[test]
    fn reports_exhaustion_and_recovers_after_release() {
        let mut ids = PacketIds::default();
        for expected in 1..=u16::MAX {
            assert_eq!(ids.allocate(), Some(id(expected)));
        }
        assert_eq!(ids.allocate(), None);
        ids.release(id(777));
        assert_eq!(ids.allocate(), Some(id(777)));
        assert!(!ids.reserve(id(777)));
    }
}
