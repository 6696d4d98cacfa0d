//! Packet identifiers in use by one sender, each with what holds it, kept in a ring indexed by
//! packet id: ids are handed out in increasing order, wrapping from 65535 to 1 and skipping ids
//! still held by unacknowledged packets ([MQTT-2.2.1-3]). A peer acknowledges mostly in the
//! order it received, so the oldest id is usually the next one freed: allocation appends at the
//! back, a release at the front pops, and finding an id is one subtraction — no tree, no
//! separate set, no allocation per message once the ring has grown to the window in use. It
//! does not know what a holder means; the session types decide that.

use alloc::collections::VecDeque;

use crate::types::PacketId;

/// How many packet ids exist (1..=65535).
const ID_COUNT: usize = u16::MAX as usize;

/// The ring may span this many slots (held and free) before freed ids inside it are reused:
/// a peer that leaves one id unacknowledged while acknowledging everything after it would
/// otherwise stretch the ring over the whole id space.
const SPAN_FLOOR: usize = 1024;

/// Capacity kept when the ring empties; a larger buffer (from a burst) is given back.
const IDLE_CAPACITY: usize = 8;

#[derive(Debug, Clone)]
enum Slot<T> {
    Free,
    /// Held by the owner without a value (a SUBSCRIBE or UNSUBSCRIBE awaiting its ack).
    Held,
    Value(T),
}

/// Ids in use, each held bare or with a value, in id order starting at `front`.
#[derive(Debug, Clone)]
pub(crate) struct IdRing<T> {
    /// The id of `slots[0]`, or, when the ring is empty, the next id to hand out.
    front: PacketId,
    slots: VecDeque<Slot<T>>,
    /// Slots that are not `Free`.
    held: usize,
    /// Slots holding a value.
    values: usize,
}

impl<T> Default for IdRing<T> {
    fn default() -> Self {
        IdRing {
            front: PacketId::MIN,
            slots: VecDeque::new(),
            held: 0,
            values: 0,
        }
    }
}

impl<T> IdRing<T> {
    /// Takes the next free id for `value`, or `None` when all 65535 are in use.
    pub(crate) fn insert(&mut self, value: T) -> Option<PacketId> {
        self.take(Slot::Value(value))
    }

    /// Takes the next free id without a value, or `None` when all 65535 are in use.
    pub(crate) fn hold(&mut self) -> Option<PacketId> {
        self.take(Slot::Held)
    }

    /// The value held under `id`.
    pub(crate) fn get(&self, id: PacketId) -> Option<&T> {
        match self.slots.get(self.offset(id)?) {
            Some(Slot::Value(value)) => Some(value),
            _ => None,
        }
    }

    /// The value held under `id`, to change.
    pub(crate) fn get_mut(&mut self, id: PacketId) -> Option<&mut T> {
        let at = self.offset(id)?;
        match self.slots.get_mut(at) {
            Some(Slot::Value(value)) => Some(value),
            _ => None,
        }
    }

    /// Frees `id`, returning its value if it held one. Freeing a free id does nothing.
    pub(crate) fn remove(&mut self, id: PacketId) -> Option<T> {
        let at = self.offset(id)?;
        let slot = self.slots.get_mut(at)?;
        let taken = core::mem::replace(slot, Slot::Free);
        if matches!(taken, Slot::Free) {
            return None;
        }
        self.held = self.held.saturating_sub(1);
        self.trim();
        match taken {
            Slot::Value(value) => {
                self.values = self.values.saturating_sub(1);
                Some(value)
            }
            Slot::Free | Slot::Held => None,
        }
    }

    /// Frees `id`, whatever holds it, dropping its value where it lies: unlike
    /// [`IdRing::remove`] nothing is moved out (a slot of the server's ring is a whole
    /// PUBLISH, and moving it on every PUBACK showed in the fan-out profile). False when `id`
    /// was free.
    pub(crate) fn discard(&mut self, id: PacketId) -> bool {
        let Some(slot) = self.offset(id).and_then(|at| self.slots.get_mut(at)) else {
            return false;
        };
        match slot {
            Slot::Free => return false,
            Slot::Value(_) => self.values = self.values.saturating_sub(1),
            Slot::Held => {}
        }
        *slot = Slot::Free;
        self.held = self.held.saturating_sub(1);
        self.trim();
        true
    }

    /// Frees `id`, whatever holds it.
    pub(crate) fn release(&mut self, id: PacketId) {
        self.discard(id);
    }

    /// Every value with its id, in id order from the oldest.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (PacketId, &T)> {
        let front = self.front;
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(at, slot)| match slot {
                Slot::Value(value) => Some((advance(front, at), value)),
                Slot::Free | Slot::Held => None,
            })
    }

    /// Every value with its id, to change, in id order from the oldest.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (PacketId, &mut T)> {
        let front = self.front;
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(move |(at, slot)| match slot {
                Slot::Value(value) => Some((advance(front, at), value)),
                Slot::Free | Slot::Held => None,
            })
    }

    /// Ids held, with or without a value.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.held
    }

    /// Ids held with a value.
    pub(crate) fn values(&self) -> usize {
        self.values
    }

    fn take(&mut self, slot: Slot<T>) -> Option<PacketId> {
        if self.held >= ID_COUNT {
            return None;
        }
        if matches!(slot, Slot::Value(_)) {
            self.values = self.values.saturating_add(1);
        }
        let span = self.slots.len();
        if span < ID_COUNT && span < SPAN_FLOOR.max(self.held.saturating_mul(4)) {
            self.slots.push_back(slot);
            self.held = self.held.saturating_add(1);
            return Some(advance(self.front, span));
        }
        // The ring is stretched by ids held long while later ones were freed: reuse the oldest
        // free id inside it (at least one exists, as fewer than `span` are held or the span is
        // below the whole id space).
        if let Some(at) = self.slots.iter().position(|s| matches!(s, Slot::Free))
            && let Some(free) = self.slots.get_mut(at)
        {
            *free = slot;
            self.held = self.held.saturating_add(1);
            return Some(advance(self.front, at));
        }
        self.slots.push_back(slot);
        self.held = self.held.saturating_add(1);
        Some(advance(self.front, span))
    }

    /// Drops free slots at the front, so the front is the oldest held id.
    fn trim(&mut self) {
        // Counted first and drained in one go: popping each free slot would move it out.
        let free = self
            .slots
            .iter()
            .take_while(|slot| matches!(slot, Slot::Free))
            .count();
        if free > 0 {
            self.slots.drain(..free);
            self.front = advance(self.front, free);
        }
        if self.slots.is_empty() && self.slots.capacity() > IDLE_CAPACITY {
            self.slots.shrink_to(IDLE_CAPACITY);
        }
    }

    /// Where `id` sits in the ring, if inside it.
    fn offset(&self, id: PacketId) -> Option<usize> {
        let distance =
            (usize::from(id.get()) + ID_COUNT - usize::from(self.front.get())) % ID_COUNT;
        (distance < self.slots.len()).then_some(distance)
    }
}

/// The id `by` places after `id`, wrapping from 65535 to 1.
fn advance(id: PacketId, by: usize) -> PacketId {
    let zero_based = (usize::from(id.get()) - 1 + by) % ID_COUNT;
    u16::try_from(zero_based + 1)
        .ok()
        .and_then(PacketId::new)
        .unwrap_or(PacketId::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn id(v: u16) -> PacketId {
        PacketId::new(v).unwrap()
    }

    #[test]
    fn allocates_in_order_and_reuses_freed_ids_only_after_wrapping() {
        let mut ring: IdRing<&str> = IdRing::default();
        assert_eq!(ring.insert("a"), Some(id(1)));
        assert_eq!(ring.hold(), Some(id(2)));
        assert_eq!(ring.insert("c"), Some(id(3)));
        assert_eq!(ring.remove(id(1)), Some("a"));
        assert_eq!(ring.insert("d"), Some(id(4)), "1 is not reused yet");
        assert_eq!(ring.get(id(3)), Some(&"c"));
        assert_eq!(ring.get(id(2)), None, "held without a value");
        assert_eq!(ring.get(id(1)), None);
        assert_eq!(ring.len(), 3);
        ring.release(id(2));
        ring.release(id(3));
        ring.release(id(4));
        assert_eq!(ring.len(), 0);
        assert_eq!(
            ring.insert("e"),
            Some(id(5)),
            "ids keep increasing after emptying"
        );
    }

    #[test]
    fn out_of_order_releases_leave_the_rest_findable() {
        let mut ring: IdRing<u16> = IdRing::default();
        for v in 1..=10 {
            assert_eq!(ring.insert(v), Some(id(v)));
        }
        for v in [5, 2, 9, 1] {
            assert_eq!(ring.remove(id(v)), Some(v));
            assert_eq!(ring.remove(id(v)), None, "a second release finds nothing");
        }
        let left: Vec<u16> = ring
            .iter()
            .map(|(k, v)| {
                assert_eq!(k.get(), *v);
                *v
            })
            .collect();
        assert_eq!(left, [3, 4, 6, 7, 8, 10]);
        for (_, v) in ring.iter_mut() {
            *v += 100;
        }
        assert_eq!(ring.get(id(10)), Some(&110));
        assert_eq!(ring.insert(11), Some(id(11)));
    }

    #[test]
    fn wraps_from_65535_to_1() {
        let mut ring: IdRing<()> = IdRing {
            front: id(65534),
            ..IdRing::default()
        };
        assert_eq!(ring.insert(()), Some(id(65534)));
        assert_eq!(ring.insert(()), Some(id(65535)));
        assert_eq!(ring.insert(()), Some(id(1)));
        assert!(ring.get(id(1)).is_some());
        assert!(ring.get(id(2)).is_none());
        ring.release(id(65534));
        ring.release(id(65535));
        assert!(ring.get(id(1)).is_some());
        assert_eq!(ring.insert(()), Some(id(2)));
    }

    #[test]
    fn one_id_held_long_does_not_stretch_the_ring_over_the_id_space() {
        let mut ring: IdRing<u32> = IdRing::default();
        assert_eq!(ring.insert(0), Some(id(1)));
        for n in 1..200_000u32 {
            let got = ring.insert(n).expect("an id is free");
            assert_ne!(got, id(1), "the held id is never handed out again");
            assert_eq!(ring.remove(got), Some(n));
        }
        assert!(
            ring.slots.len() <= SPAN_FLOOR + 1,
            "span {}",
            ring.slots.len()
        );
        assert_eq!(ring.get(id(1)), Some(&0));
    }

    #[test]
    fn reports_exhaustion_and_recovers_after_release() {
        let mut ring: IdRing<()> = IdRing::default();
        for expected in 1..=u16::MAX {
            assert_eq!(ring.hold(), Some(id(expected)));
        }
        assert_eq!(ring.hold(), None);
        ring.release(id(777));
        assert_eq!(ring.hold(), Some(id(777)));
        assert_eq!(ring.hold(), None);
        ring.release(id(1));
        assert_eq!(ring.hold(), Some(id(1)));
    }

    #[test]
    fn an_emptied_ring_gives_back_a_burst_buffer() {
        let mut ring: IdRing<[u8; 64]> = IdRing::default();
        let ids: Vec<PacketId> = (0..500).map(|_| ring.insert([0; 64]).unwrap()).collect();
        for id in ids {
            ring.release(id);
        }
        assert!(ring.slots.capacity() <= IDLE_CAPACITY * 2);
    }
}
