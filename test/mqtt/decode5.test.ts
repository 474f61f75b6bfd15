// The MQTT 5.0 packets a client receives (decode5.ts): what mqtt-packet (protocolVersion 5)
// generates, ours reads to the same fields and properties; malformed and forbidden forms are
// refused with the typed error and the reason code to send.

import * as assert from "node:assert/strict";
import { generate } from "mqtt-packet";
import { AUTH, CONNACK, DISCONNECT, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, SUBACK, UNSUBACK } from "../../modules/mqtt/constants.js";
import { PacketView5, parseBody5, parsePacket5 } from "../../modules/mqtt/decode5.js";
import { PacketReader } from "../../modules/mqtt/reader.js";
import type { MqttError } from "../../modules/mqtt/errors.js";
import { MqttError as MqttErrorClass } from "../../modules/mqtt/errors.js";
import { Property } from "../../modules/mqtt/properties.js";
import { Random } from "../lib/random.js";

function theirs(packet: Record<string, unknown>): Uint8Array {
	return new Uint8Array(generate(packet as never, { protocolVersion: 5 }));
}

function read(bytes: Uint8Array): PacketView5 {
	const view = new PacketView5();
	assert.equal(parsePacket5(view, bytes, 0, bytes.length), bytes.length, "the whole packet read");
	return view;
}

function refused(bytes: number[], code: string, reasonCode: number, what: string): void {
	const b = Uint8Array.from(bytes);
	assert.throws(() => parsePacket5(new PacketView5(), b, 0, b.length), (e: MqttError) => {
		assert.equal(e.code, code, `${what}: code`);
		assert.equal(e.reasonCode, reasonCode, `${what}: reason code`);
		return true;
	}, what);
}

describe("MQTT 5.0 decoding against mqtt-packet (protocolVersion 5)", () => {
	it("CONNACK: session present, reason code, and the broker's limits as properties", () => {
		const v = read(theirs({ cmd: "connack", sessionPresent: true, reasonCode: 0, properties: { receiveMaximum: 20, maximumPacketSize: 4096, topicAliasMaximum: 10, maximumQoS: 1, retainAvailable: false, assignedClientIdentifier: "auto-1", serverKeepAlive: 30 } }));
		assert.equal(v.type, CONNACK);
		assert.equal(v.sessionPresent, true);
		assert.equal(v.reasonCode, 0);
		assert.equal(v.properties.number(Property.RECEIVE_MAXIMUM, -1), 20);
		assert.equal(v.properties.number(Property.MAXIMUM_PACKET_SIZE, -1), 4096);
		assert.equal(v.properties.number(Property.TOPIC_ALIAS_MAXIMUM, -1), 10);
		assert.equal(v.properties.number(Property.MAXIMUM_QOS, -1), 1);
		assert.equal(v.properties.number(Property.RETAIN_AVAILABLE, -1), 0);
		assert.equal(v.properties.string(Property.ASSIGNED_CLIENT_IDENTIFIER), "auto-1");
		assert.equal(v.properties.number(Property.SERVER_KEEP_ALIVE, -1), 30);
		const refusal = read(theirs({ cmd: "connack", sessionPresent: false, reasonCode: 0x86, properties: { reasonString: "bad credentials" } }));
		assert.equal(refusal.reasonCode, 0x86);
		assert.equal(refusal.properties.string(Property.REASON_STRING), "bad credentials");
	});

	for (const qos of [0, 1, 2] as const) {
		it(`PUBLISH QoS ${qos}: topic, identifier, properties and payload in place`, () => {
			const v = read(theirs({ cmd: "publish", topic: "devices/d1/commands", payload: Buffer.from("{\"x\":1}"), qos, retain: true, dup: qos > 0, messageId: qos ? 300 : undefined,
				properties: { payloadFormatIndicator: true, messageExpiryInterval: 60, responseTopic: "dash/r", correlationData: Buffer.from([7]), contentType: "application/json", subscriptionIdentifier: [4, 200], userProperties: { a: "1" } } }));
			assert.equal(v.type, PUBLISH);
			assert.equal(v.topic(), "devices/d1/commands");
			assert.equal(v.qos, qos);
			assert.equal(v.retain, true);
			assert.equal(v.dup, qos > 0);
			assert.equal(v.packetId, qos ? 300 : 0);
			assert.equal(v.payloadText(), "{\"x\":1}");
			assert.equal(v.properties.string(Property.RESPONSE_TOPIC), "dash/r");
			assert.equal(v.properties.subscriptionIdentifiers, 2);
			assert.deepEqual(v.properties.userPairs(), [["a", "1"]]);
		});
	}

	it("PUBLISH by alias: an empty topic name with a topic alias is read; without one it is a Protocol Error", () => {
		const v = read(theirs({ cmd: "publish", topic: "", payload: Buffer.from("x"), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } }));
		assert.equal(v.topicEnd - v.topicStart, 0);
		assert.equal(v.properties.number(Property.TOPIC_ALIAS, -1), 3);
		refused([0x30, 0x04, 0x00, 0x00, 0x00, 0x78], "EMPTY_TOPIC", 0x82, "an empty topic, no alias");
	});

	for (const [type, cmd, code] of [[PUBACK, "puback", 0x10], [PUBREC, "pubrec", 0x97], [PUBREL, "pubrel", 0x92], [PUBCOMP, "pubcomp", 0x92]] as const) {
		it(`${cmd.toUpperCase()}: the short form is success; a reason code; a reason code with properties`, () => {
			const short = read(theirs({ cmd, messageId: 5 }));
			assert.deepEqual([short.type, short.packetId, short.reasonCode], [type, 5, 0]);
			const failure = read(theirs({ cmd, messageId: 5, reasonCode: code }));
			assert.equal(failure.reasonCode, code);
			const full = read(theirs({ cmd, messageId: 5, reasonCode: code, properties: { reasonString: "r", userProperties: { k: "v" } } }));
			assert.equal(full.reasonCode, code);
			assert.equal(full.properties.string(Property.REASON_STRING), "r");
		});
	}

	it("SUBACK and UNSUBACK: a reason code per filter, after the properties", () => {
		const s = read(theirs({ cmd: "suback", messageId: 9, granted: [0, 1, 2, 0x80, 0x8F, 0xA2], properties: { reasonString: "some refused" } }));
		assert.equal(s.type, SUBACK);
		assert.deepEqual([...s.buffer.subarray(s.payloadStart, s.payloadEnd)], [0, 1, 2, 0x80, 0x8F, 0xA2]);
		assert.equal(s.properties.string(Property.REASON_STRING), "some refused");
		const u = read(theirs({ cmd: "unsuback", messageId: 9, granted: [0, 0x11] }));
		assert.equal(u.type, UNSUBACK);
		assert.deepEqual([...u.buffer.subarray(u.payloadStart, u.payloadEnd)], [0, 0x11]);
	});

	it("DISCONNECT and AUTH from the broker: reason code, reason string, server reference; PINGRESP", () => {
		const d = read(theirs({ cmd: "disconnect", reasonCode: 0x9C, properties: { reasonString: "moving", serverReference: "b2:1883" } }));
		assert.deepEqual([d.type, d.reasonCode], [DISCONNECT, 0x9C]);
		assert.equal(d.properties.string(Property.SERVER_REFERENCE), "b2:1883");
		const plain = read(Uint8Array.of(0xE0, 0x00));
		assert.equal(plain.reasonCode, 0, "two bytes: normal disconnection");
		const a = read(theirs({ cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: "SCRAM-SHA-1", authenticationData: Buffer.from([1]) } }));
		assert.deepEqual([a.type, a.reasonCode], [AUTH, 0x18]);
		assert.equal(a.properties.string(Property.AUTHENTICATION_METHOD), "SCRAM-SHA-1");
		assert.equal(read(Uint8Array.of(0xD0, 0x00)).type, PINGRESP);
	});

	it("refused: a reason code the packet may not carry, bad properties, bytes after the properties, what only a client sends", () => {
		refused([0x40, 0x03, 0x00, 0x01, 0x92], "INVALID_RETURN_CODE", 0x82, "PUBACK with 0x92");
		refused([0x62, 0x03, 0x00, 0x01, 0x10], "INVALID_RETURN_CODE", 0x82, "PUBREL with 0x10");
		refused([0x20, 0x03, 0x00, 0x01, 0x00], "INVALID_RETURN_CODE", 0x82, "CONNACK with 0x01");
		refused([0x90, 0x04, 0x00, 0x01, 0x00, 0x10], "INVALID_RETURN_CODE", 0x82, "SUBACK with 0x10");
		refused([0xE0, 0x01, 0x84], "INVALID_RETURN_CODE", 0x82, "DISCONNECT with 0x84");
		refused([0x40, 0x07, 0x00, 0x01, 0x00, 0x03, 0x23, 0x00, 0x01], "PROPERTY_NOT_ALLOWED", 0x81, "a topic alias in PUBACK (5.0 §2.2.2.2)");
		refused([0x30, 0x08, 0x00, 0x01, 0x74, 0x03, 0x23, 0x00, 0x00, 0x78], "INVALID_PROPERTY_VALUE", 0x82, "topic alias 0");
		refused([0x30, 0x0B, 0x00, 0x01, 0x74, 0x06, 0x23, 0x00, 0x01, 0x23, 0x00, 0x02, 0x78], "DUPLICATE_PROPERTY", 0x82, "two topic aliases");
		refused([0x40, 0x06, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xFF], "LENGTH_MISMATCH", 0x81, "bytes after the properties");
		refused([0x90, 0x03, 0x00, 0x01, 0x00], "LENGTH_MISMATCH", 0x81, "a SUBACK without reason codes");
		refused([0x10, 0x00], "UNEXPECTED_PACKET", 0x82, "a CONNECT from the broker");
		refused([0x00, 0x00], "RESERVED_PACKET_TYPE", 0x81, "type 0");
		refused([0x41, 0x02, 0x00, 0x01], "INVALID_FLAGS", 0x81, "PUBACK flags 0001");
		refused([0x40, 0x02, 0x00, 0x00], "ZERO_PACKET_ID", 0x81, "identifier 0");
		refused([0x30, 0x05, 0x00, 0x01, 0x2B, 0x00, 0x78], "WILDCARD_IN_TOPIC", 0x90, "a wildcard in the topic name: Topic Name invalid");
		refused([0x30, 0x05, 0x00, 0x01, 0xC3, 0x00, 0x78], "MALFORMED_UTF8", 0x81, "ill-formed UTF-8 in the topic name");
	});

	it("fuzz: 20,000 random and mutated packets (seed 2024) are read or refused with an MqttError carrying 0x81, 0x82 or 0x90, never anything else", () => {
		const random = new Random(2024);
		const seeds = [
			theirs({ cmd: "connack", sessionPresent: false, reasonCode: 0, properties: { receiveMaximum: 5, userProperties: { a: "b" } } }),
			theirs({ cmd: "publish", topic: "a/b", payload: Buffer.from("xy"), qos: 1, retain: false, dup: false, messageId: 3, properties: { topicAlias: 2, contentType: "t" } }),
			theirs({ cmd: "puback", messageId: 1, reasonCode: 0x10, properties: { reasonString: "r" } }),
			theirs({ cmd: "suback", messageId: 2, granted: [0, 1, 0x80] }),
			theirs({ cmd: "disconnect", reasonCode: 0x8B, properties: { reasonString: "bye" } }),
			theirs({ cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: "m" } }),
		];
		const view = new PacketView5();
		let read = 0;
		for (let i = 0; i < 20_000; i++) {
			let b: Uint8Array;
			if (random.chance(0.3)) b = random.bytes(random.int(1, 24));
			else {
				b = random.pick(seeds).slice();
				for (let k = random.int(1, 3); k > 0; k--) b[random.int(0, b.length - 1)] = random.u32() & 0xFF;
			}
			try {
				if (parsePacket5(view, b, 0, b.length) > 0) read++;
			}
			catch (error) {
				assert.ok(error instanceof MqttErrorClass, `case ${i}: ${String(error)}`);
				assert.ok(error.reasonCode === 0x81 || error.reasonCode === 0x82 || error.reasonCode === 0x90, `case ${i}: ${error.message} carries ${error.reasonCode}`);
			}
		}
		assert.ok(read > 500, `some packets are read (${read})`);
	});

	it("PacketReader with version 5 frames a stream of 5.0 packets (AUTH among them) fed in chunks of every size, and refuses a packet larger than its buffer with 0x95", () => {
		const packets = [
			theirs({ cmd: "connack", sessionPresent: false, reasonCode: 0, properties: { topicAliasMaximum: 4 } }),
			theirs({ cmd: "publish", topic: "a/b", payload: Buffer.from("hello"), qos: 1, retain: false, dup: false, messageId: 9, properties: { userProperties: { k: "v" } } }),
			theirs({ cmd: "puback", messageId: 2 }),
			theirs({ cmd: "puback", messageId: 3, reasonCode: 0x10 }),
			theirs({ cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: "m" } }),
			Uint8Array.of(0xD0, 0x00),
			theirs({ cmd: "disconnect", reasonCode: 0x8B }),
		];
		const stream = Uint8Array.from(packets.flatMap((p) => [...p]));
		for (const chunk of [1, 2, 3, 7, stream.length]) {
			const reader = new PacketReader(256, parseBody5, new PacketView5(), 5);
			const seen: string[] = [];
			for (let at = 0; at < stream.length; at += chunk) {
				reader.feed(stream, at, Math.min(chunk, stream.length - at));
				while (reader.next()) {
					const v = reader.view as PacketView5;
					seen.push(`${v.type}:${v.packetId}:${v.reasonCode}`);
				}
			}
			assert.deepEqual(seen, ["2:0:0", "3:9:0", "4:2:0", "4:3:16", "15:0:24", "13:0:0", "14:0:139"], `chunks of ${chunk}`);
		}
		const reader = new PacketReader(32, parseBody5, new PacketView5(), 5);
		const big = theirs({ cmd: "publish", topic: "t", payload: Buffer.alloc(64), qos: 0, retain: false, dup: false });
		reader.feed(big, 0, 16);
		assert.throws(() => reader.next(), (e: MqttError) => e.code === "PACKET_TOO_LARGE" && e.reasonCode === 0x95);
	});
});
