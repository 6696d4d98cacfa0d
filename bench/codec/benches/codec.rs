//! PUBLISH (16 B, 1 KiB, 64 KiB payloads) and SUBSCRIBE decode/encode throughput, tether's
//! mqtt-proto against rumqttc's MQTT 3.1.1 codec, both fed identical bytes in one run.
//!
//! Decoding: each iteration decodes a batch of `BATCH` back-to-back packets from a receive
//! buffer, exactly as a connection task would; building the buffer is outside the timing.
//! Encoding: each iteration encodes one packet into a cleared, reused buffer.

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mqtt_proto::codec::Decoder;
use mqtt_proto::{
    Delivery, Packet, PacketId, Protocol, Publish, QoS, Subscribe, SubscriptionOptions,
    TopicFilter, TopicName,
};
use rumqttc::mqttbytes::v4 as peer;

const BATCH: usize = 64;
const MAX: usize = 1 << 20;

fn publish(payload_len: usize) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        delivery: Delivery::AtLeastOnce(PacketId::new(7).unwrap()),
        retain: false,
        topic: TopicName::new("devices/esp8266-0042/telemetry").unwrap(),
        properties: Default::default(),
        payload: Bytes::from(vec![0xA5; payload_len]),
    })
}

fn peer_publish(payload_len: usize) -> peer::Packet {
    let mut p = peer::Publish::new(
        "devices/esp8266-0042/telemetry",
        rumqttc::mqttbytes::QoS::AtLeastOnce,
        vec![0xA5; payload_len],
    );
    p.pkid = 7;
    peer::Packet::Publish(p)
}

const FILTERS: [&str; 4] = ["devices/+/telemetry", "devices/esp8266-0042/cmd/#", "$aws/things/x/shadow/update/delta", "fleet/status"];

fn subscribe() -> Packet {
    Packet::Subscribe(Subscribe {
        packet_id: PacketId::new(9).unwrap(),
        properties: Default::default(),
        filters: FILTERS
            .iter()
            .map(|f| (TopicFilter::new(f).unwrap(), SubscriptionOptions::with_qos(QoS::AtLeastOnce)))
            .collect(),
    })
}

fn peer_subscribe() -> peer::Packet {
    let mut s = peer::Subscribe::new_many(
        FILTERS.iter().map(|f| peer::SubscribeFilter::new((*f).to_owned(), rumqttc::mqttbytes::QoS::AtLeastOnce)),
    );
    s.pkid = 9;
    peer::Packet::Subscribe(s)
}

fn encoded(packet: &Packet) -> BytesMut {
    let mut buf = BytesMut::new();
    packet.encode(Protocol::V311, &mut buf).unwrap();
    buf
}

fn bench_pair(c: &mut Criterion, name: &str, ours: Packet, theirs: peer::Packet) {
    let wire = encoded(&ours);
    // Both encoders must produce the same bytes, or the comparison means nothing.
    let mut peer_wire = BytesMut::new();
    theirs.write(&mut peer_wire, MAX).unwrap();
    assert_eq!(wire, peer_wire, "{name}: the two encoders disagree");

    let mut batch = BytesMut::new();
    for _ in 0..BATCH {
        batch.extend_from_slice(&wire);
    }

    let mut group = c.benchmark_group(format!("{name}/decode"));
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("tether", |b| {
        let mut decoder = Decoder::new(Protocol::V311, MAX as u32);
        b.iter_batched_ref(
            || batch.clone(),
            |buf| {
                while let Some(packet) = decoder.decode(buf).unwrap() {
                    std::hint::black_box(packet);
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("rumqttc", |b| {
        b.iter_batched_ref(
            || batch.clone(),
            |buf| {
                while !buf.is_empty() {
                    std::hint::black_box(peer::Packet::read(buf, MAX).unwrap());
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();

    let mut group = c.benchmark_group(format!("{name}/encode"));
    group.throughput(Throughput::Elements(1));
    group.bench_function("tether", |b| {
        let mut buf = BytesMut::with_capacity(wire.len());
        b.iter(|| {
            buf.clear();
            std::hint::black_box(&ours).encode(Protocol::V311, &mut buf).unwrap();
            std::hint::black_box(&buf);
        })
    });
    group.bench_function("rumqttc", |b| {
        let mut buf = BytesMut::with_capacity(wire.len());
        b.iter(|| {
            buf.clear();
            std::hint::black_box(&theirs).write(&mut buf, MAX).unwrap();
            std::hint::black_box(&buf);
        })
    });
    group.finish();
}

fn codec(c: &mut Criterion) {
    bench_pair(c, "publish_16B", publish(16), peer_publish(16));
    bench_pair(c, "publish_1KiB", publish(1024), peer_publish(1024));
    bench_pair(c, "publish_64KiB", publish(64 * 1024), peer_publish(64 * 1024));
    bench_pair(c, "subscribe_4", subscribe(), peer_subscribe());
}

criterion_group!(benches, codec);
criterion_main!(benches);
