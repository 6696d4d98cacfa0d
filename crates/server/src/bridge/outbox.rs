//! The bridge's outbound queue, pure: messages on their way upstream, in the order the local
//! broker delivered them, each remembered until the upstream acknowledges it (then its row in
//! the store goes too). It bounds itself (beyond `limit` the oldest waiting message is dropped),
//! keeps at most `window` in flight, and finds a message the upstream refuses by closing the
//! connection (AWS IoT's answer to an MQTT 3.1.1 publish its policy denies): after a connection
//! is lost with messages in flight, the next one sends a single message at a time, and a
//! message in flight when [`POISON_AFTER`] connections in a row were lost is given up. It does
//! no IO; `upstream.rs` drives it.

use std::collections::VecDeque;

use client::{Message, PacketId, QoS};

/// Connections lost in a row with the same message alone in flight before it is given up.
pub(crate) const POISON_AFTER: u8 = 3;

/// One message for the upstream.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    /// Its row in the bridge's local session queue (QoS 1 from a persistent session), to drop
    /// once the upstream has it.
    pub(crate) seq: Option<u64>,
    /// The message, its topic already the upstream's.
    pub(crate) message: Message,
    key: u64,
    in_flight: Option<PacketId>,
    attempts: u8,
}

impl Outbound {
    pub(crate) fn new(seq: Option<u64>, message: Message) -> Outbound {
        Outbound {
            seq,
            message,
            key: 0,
            in_flight: None,
            attempts: 0,
        }
    }
}

/// The queue.
#[derive(Debug)]
pub(crate) struct Outbox {
    items: VecDeque<Outbound>,
    limit: usize,
    window: usize,
    careful: bool,
    next_key: u64,
}

impl Outbox {
    pub(crate) fn new(limit: usize, window: usize) -> Outbox {
        Outbox {
            items: VecDeque::new(),
            limit: limit.max(1),
            window: window.max(1),
            careful: false,
            next_key: 0,
        }
    }

    /// Messages held (waiting and in flight).
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Messages sent and not yet acknowledged.
    pub(crate) fn in_flight(&self) -> usize {
        self.items.iter().filter(|i| i.in_flight.is_some()).count()
    }

    /// Queues a message; when the queue is full, returns the one dropped to make room: the
    /// oldest waiting one, or this one when every held message is in flight.
    pub(crate) fn push(&mut self, mut item: Outbound) -> Option<Outbound> {
        item.key = self.next_key;
        self.next_key += 1;
        let dropped = if self.items.len() >= self.limit {
            match self.items.iter().position(|i| i.in_flight.is_none()) {
                Some(index) => self.items.remove(index),
                None => return Some(item),
            }
        } else {
            None
        };
        self.items.push_back(item);
        dropped
    }

    /// The next message to send, if the window has room: the oldest one waiting. Report what
    /// became of it with [`Outbox::sent`].
    pub(crate) fn next(&self) -> Option<(u64, &Message)> {
        let window = if self.careful { 1 } else { self.window };
        if self.in_flight() >= window {
            return None;
        }
        self.items
            .iter()
            .find(|i| i.in_flight.is_none())
            .map(|i| (i.key, &i.message))
    }

    /// The message `key` was handed to the connection: in flight under `packet_id`, or gone
    /// for good (QoS 0, no packet id), in which case it is returned.
    pub(crate) fn sent(&mut self, key: u64, packet_id: Option<PacketId>) -> Option<Outbound> {
        let index = self.items.iter().position(|i| i.key == key)?;
        match packet_id {
            Some(id) => {
                if let Some(item) = self.items.get_mut(index) {
                    item.in_flight = Some(id);
                }
                None
            }
            None => self.items.remove(index),
        }
    }

    /// Takes message `key` out (it cannot be sent at all).
    pub(crate) fn remove(&mut self, key: u64) -> Option<Outbound> {
        let index = self.items.iter().position(|i| i.key == key)?;
        if index == 0 {
            self.careful = false;
        }
        self.items.remove(index)
    }

    /// The upstream answered the message in flight as `packet_id` (taken or refused): it is
    /// done either way and returned.
    pub(crate) fn completed(&mut self, packet_id: PacketId) -> Option<Outbound> {
        let index = self
            .items
            .iter()
            .position(|i| i.in_flight == Some(packet_id))?;
        if index == 0 {
            self.careful = false;
        }
        self.items.remove(index)
    }

    /// The connection was lost: what was in flight waits again, to be sent on the next one. A
    /// message that was alone in flight for [`POISON_AFTER`] lost connections in a row is given
    /// up and returned.
    pub(crate) fn connection_lost(&mut self) -> Option<Outbound> {
        let had_in_flight = self.in_flight() > 0;
        let head_in_flight = self.items.front().is_some_and(|i| i.in_flight.is_some());
        for item in &mut self.items {
            item.in_flight = None;
        }
        if !had_in_flight {
            return None;
        }
        if self.careful && head_in_flight {
            let given_up = self.items.front_mut().is_some_and(|head| {
                head.attempts = head.attempts.saturating_add(1);
                head.attempts >= POISON_AFTER
            });
            if given_up {
                return self.items.pop_front();
            }
        }
        self.careful = true;
        None
    }

    /// Drops every waiting QoS 0 message (they are not kept while the upstream is away) and
    /// returns how many.
    pub(crate) fn drop_qos0(&mut self) -> usize {
        let before = self.items.len();
        self.items
            .retain(|i| i.in_flight.is_some() || i.message.qos != QoS::AtMostOnce);
        before - self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use client::TopicName;

    use super::*;

    fn message(n: u32) -> Outbound {
        let topic = TopicName::new(&format!("t/{n}")).unwrap();
        Outbound::new(
            Some(u64::from(n)),
            Message::new(topic, QoS::AtLeastOnce, "x"),
        )
    }

    fn id(n: u16) -> PacketId {
        PacketId::new(n).unwrap()
    }

    /// Sends what the window allows, numbering packet ids from `first`.
    fn send_all(outbox: &mut Outbox, first: u16) -> Vec<String> {
        let mut sent = Vec::new();
        let mut next_id = first;
        while let Some((key, message)) = outbox.next() {
            sent.push(message.topic.to_string());
            outbox.sent(key, Some(id(next_id)));
            next_id += 1;
        }
        sent
    }

    #[test]
    fn messages_leave_in_order_within_the_window_and_go_when_acknowledged() {
        let mut outbox = Outbox::new(10, 2);
        for n in 0..3 {
            assert!(outbox.push(message(n)).is_none());
        }
        assert_eq!(send_all(&mut outbox, 1), ["t/0", "t/1"]);
        assert_eq!(outbox.completed(id(2)).unwrap().seq, Some(1));
        assert_eq!(send_all(&mut outbox, 3), ["t/2"]);
        assert_eq!(outbox.completed(id(1)).unwrap().seq, Some(0));
        assert!(outbox.completed(id(1)).is_none());
        assert_eq!(outbox.len(), 1);
    }

    #[test]
    fn a_full_queue_drops_its_oldest_waiting_message() {
        let mut outbox = Outbox::new(3, 1);
        for n in 0..3 {
            outbox.push(message(n));
        }
        send_all(&mut outbox, 1);
        // t/0 is in flight, so t/1 is the oldest waiting one.
        assert_eq!(outbox.push(message(3)).unwrap().seq, Some(1));
        assert_eq!(outbox.len(), 3);
        let mut tiny = Outbox::new(1, 1);
        tiny.push(message(0));
        send_all(&mut tiny, 1);
        assert_eq!(tiny.push(message(1)).unwrap().seq, Some(1));
    }

    #[test]
    fn lost_connections_resend_in_order_and_a_poisonous_message_is_given_up() {
        let mut outbox = Outbox::new(10, 5);
        for n in 0..3 {
            outbox.push(message(n));
        }
        assert_eq!(send_all(&mut outbox, 1).len(), 3);
        // First loss: all wait again, one at a time from now on.
        assert!(outbox.connection_lost().is_none());
        assert_eq!(send_all(&mut outbox, 1), ["t/0"]);
        assert!(outbox.connection_lost().is_none());
        assert_eq!(send_all(&mut outbox, 1), ["t/0"]);
        assert!(outbox.connection_lost().is_none());
        assert_eq!(send_all(&mut outbox, 1), ["t/0"]);
        assert_eq!(outbox.connection_lost().unwrap().seq, Some(0));
        // t/1 goes alone; once it is acknowledged the window opens again.
        assert_eq!(send_all(&mut outbox, 1), ["t/1"]);
        outbox.completed(id(1));
        assert_eq!(send_all(&mut outbox, 2), ["t/2"]);
        outbox.push(message(3));
        outbox.push(message(4));
        assert_eq!(send_all(&mut outbox, 3), ["t/3", "t/4"]);
    }

    #[test]
    fn a_loss_with_nothing_in_flight_changes_nothing_and_qos0_can_be_dropped() {
        let mut outbox = Outbox::new(10, 5);
        outbox.push(message(0));
        assert!(outbox.connection_lost().is_none());
        assert_eq!(send_all(&mut outbox, 1), ["t/0"]);
        let topic = TopicName::new("q0").unwrap();
        outbox.push(Outbound::new(
            None,
            Message::new(topic, QoS::AtMostOnce, "x"),
        ));
        assert_eq!(outbox.drop_qos0(), 1);
        assert_eq!(outbox.len(), 1);
        // A QoS 0 message handed over without a packet id is done at once.
        let topic = TopicName::new("q0").unwrap();
        outbox.push(Outbound::new(
            None,
            Message::new(topic, QoS::AtMostOnce, "x"),
        ));
        let (key, _) = outbox.next().unwrap();
        assert!(outbox.sent(key, None).is_some());
    }
}
