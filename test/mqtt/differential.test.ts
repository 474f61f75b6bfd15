// Differential tests against the npm package mqtt-packet (protocol version 4): random valid packets of
// all 14 types, our encoder into its parser, its generator into our decoder, and byte-for-byte equality.

import * as assert from "node:assert/strict";
import { generate, parser } from "mqtt-packet";
import type { Packet as MqttPacket } from "mqtt-packet";
import { decodePacket, encode } from "../lib/server-codec.js";
import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import {
	CONNACK, CONNECT, DISCONNECT, PACKET_NAMES, PINGREQ, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC,
	PUBREL, SUBACK, SUBSCRIBE, UNSUBACK, UNSUBSCRIBE,
} from "../../modules/mqtt/packet.js";
import type { ConnectPacket, Packet, Payload, QoS, Subscription } from "../../modules/mqtt/packet.js";
import { remainingLengthSize } from "../../modules/mqtt/remaining-length.js";
import { deepEqual, hex, show } from "../lib/check.js";
import { Random } from "../lib/random.js";
import { asDecoded, randomPacket } from "../suites/fuzz.js";
import type { Limits } from "../suites/fuzz.js";

const RANDOM_PER_TYPE = 300;
/** Random packets reach 20,000-byte payloads (three-byte remaining lengths); the fixed cases go further. */
const LIMITS: Limits = { text: 40, payload: 20_000, list: 12 };

const seed = ((): number => {
	const text = process.env.DIFFERENTIAL_SEED;
	if (text === undefined || text === "") return (Date.now() ^ (process.pid << 8)) >>> 0;
	const value = Number(text);
	if (!Number.isInteger(value) || value < 0 || value > 0xFFFF_FFFF) throw new Error(`DIFFERENTIAL_SEED must be an integer in 0..2^32-1, not "${text}"`);
	return value;
})();

const CMD: Record<number, MqttPacket["cmd"]> = {
	[CONNECT]: "connect", [CONNACK]: "connack", [PUBLISH]: "publish", [PUBACK]: "puback", [PUBREC]: "pubrec",
	[PUBREL]: "pubrel", [PUBCOMP]: "pubcomp", [SUBSCRIBE]: "subscribe", [SUBACK]: "suback", [UNSUBSCRIBE]: "unsubscribe",
	[UNSUBACK]: "unsuback", [PINGREQ]: "pingreq", [PINGRESP]: "pingresp", [DISCONNECT]: "disconnect",
};
const TYPE_OF_CMD = new Map<string, number>(Object.entries(CMD).map(([type, cmd]) => [cmd, Number(type)]));

// ---------------------------------------------------------------------------------------------
// Mapping between our packet objects and mqtt-packet's.

/** The bytes a payload goes out as, by Node's own UTF-8 encoder (not ours), so the oracle is independent. */
function bytesOf(payload: Payload): Uint8Array {
	if (typeof payload === "string") return new Uint8Array(Buffer.from(payload, "utf8"));
	return payload instanceof ArrayBuffer ? new Uint8Array(payload.slice(0)) : payload.slice();
}

/** mqtt-packet takes strings as they are (its own UTF-8 path) and binary as Buffers. */
function mqttPayload(payload: Payload): Buffer | string {
	return typeof payload === "string" ? payload : Buffer.from(bytesOf(payload));
}

/** Our packet as mqtt-packet's object for `generate`. */
function toMqtt(p: Packet): MqttPacket {
	switch (p.type) {
		case CONNECT: {
			const m: MqttPacket = { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId: p.clientId, clean: p.cleanSession, keepalive: p.keepAlive };
			if (p.will) m.will = { topic: p.will.topic, payload: mqttPayload(p.will.payload), qos: p.will.qos, retain: p.will.retain };
			if (p.username !== undefined) m.username = p.username;
			if (p.password !== undefined) m.password = Buffer.from(bytesOf(p.password));
			return m;
		}
		case CONNACK: return { cmd: "connack", sessionPresent: p.sessionPresent, returnCode: p.returnCode };
		case PUBLISH: {
			const m: MqttPacket = { cmd: "publish", topic: p.topic, payload: mqttPayload(p.payload), qos: p.qos, dup: p.dup, retain: p.retain };
			if (p.packetId !== undefined) m.messageId = p.packetId;
			return m;
		}
		case PUBACK: return { cmd: "puback", messageId: p.packetId };
		case PUBREC: return { cmd: "pubrec", messageId: p.packetId };
		case PUBREL: return { cmd: "pubrel", messageId: p.packetId };
		case PUBCOMP: return { cmd: "pubcomp", messageId: p.packetId };
		case SUBSCRIBE: return { cmd: "subscribe", messageId: p.packetId, subscriptions: p.subscriptions.map((s) => ({ topic: s.filter, qos: s.qos })) };
		case SUBACK: return { cmd: "suback", messageId: p.packetId, granted: p.returnCodes.slice() };
		case UNSUBSCRIBE: return { cmd: "unsubscribe", messageId: p.packetId, unsubscriptions: p.filters.slice() };
		case UNSUBACK: return { cmd: "unsuback", messageId: p.packetId, granted: [] };
		case PINGREQ: return { cmd: "pingreq" };
		case PINGRESP: return { cmd: "pingresp" };
		default: return { cmd: "disconnect" };
	}
}

/** Our packet as our decoder returns it, its payload bytes made by Node's encoder. */
const expected = (p: Packet): Packet => asDecoded(p, bytesOf);

type Fields = Record<string, unknown>;

function field<T>(o: Fields, key: string, kind: "string" | "number" | "boolean" | "object"): T {
	const value = o[key];
	assert.equal(typeof value, kind, `mqtt-packet field ${key}: ${String(value)}`);
	return value as T;
}
function bytesField(o: Fields, key: string): Uint8Array {
	const value = o[key];
	assert.ok(Buffer.isBuffer(value), `mqtt-packet field ${key} is not a Buffer`);
	return new Uint8Array(value);
}
function qosField(o: Fields, key: string): QoS {
	const value = field<number>(o, key, "number");
	assert.ok(value === 0 || value === 1 || value === 2, `mqtt-packet field ${key}: ${value}`);
	return value;
}

/** The fields mqtt-packet's parser sets on every packet (from its Packet class). */
const COMMON_FIELDS = ["cmd", "retain", "qos", "dup", "length", "topic", "payload"];
const FIELDS: Record<string, string[]> = {
	connect: ["protocolId", "protocolVersion", "clean", "keepalive", "clientId", "will", "username", "password"],
	connack: ["sessionPresent", "returnCode"],
	publish: ["messageId"],
	puback: ["messageId"], pubrec: ["messageId"], pubrel: ["messageId"], pubcomp: ["messageId"], unsuback: ["messageId"],
	subscribe: ["messageId", "subscriptions"],
	suback: ["messageId", "granted"],
	unsubscribe: ["messageId", "unsubscriptions"],
	pingreq: [], pingresp: [], disconnect: [],
};

/**
 * A packet parsed by mqtt-packet, as our packet object. Checks on the way that it carries no field
 * we do not know, that its fixed-header fields are right for its type, and its length.
 */
function fromMqtt(o: Fields, remainingLength: number): Packet {
	const cmd = field<string>(o, "cmd", "string");
	const type = TYPE_OF_CMD.get(cmd);
	assert.ok(type !== undefined, `mqtt-packet cmd ${cmd}`);
	const known = COMMON_FIELDS.concat(FIELDS[cmd]!);
	for (const key of Object.keys(o)) assert.ok(known.includes(key), `mqtt-packet set an unexpected field ${key} on ${cmd}`);
	assert.equal(o.length, remainingLength, "mqtt-packet length");
	if (type !== PUBLISH) {
		assert.equal(o.qos, type === PUBREL || type === SUBSCRIBE || type === UNSUBSCRIBE ? 1 : 0, "fixed-header flags (as qos)");
		assert.equal(o.dup, false, "fixed-header flags (as dup)");
		assert.equal(o.retain, false, "fixed-header flags (as retain)");
		assert.equal(o.topic, null, "topic of a non-PUBLISH");
		assert.equal(o.payload, null, "payload of a non-PUBLISH");
	}
	switch (type) {
		case CONNECT: {
			assert.equal(o.protocolId, "MQTT", "protocolId");
			const p: ConnectPacket = { type: CONNECT, protocolLevel: field<number>(o, "protocolVersion", "number"), clientId: field<string>(o, "clientId", "string"), cleanSession: field<boolean>(o, "clean", "boolean"), keepAlive: field<number>(o, "keepalive", "number") };
			if (o.will !== undefined) {
				const w = field<Fields>(o, "will", "object");
				p.will = { topic: field<string>(w, "topic", "string"), payload: bytesField(w, "payload"), qos: qosField(w, "qos"), retain: field<boolean>(w, "retain", "boolean") };
			}
			if (o.username !== undefined) p.username = field<string>(o, "username", "string");
			if (o.password !== undefined) p.password = bytesField(o, "password");
			return p;
		}
		case CONNACK: return { type: CONNACK, sessionPresent: field<boolean>(o, "sessionPresent", "boolean"), returnCode: field<number>(o, "returnCode", "number") };
		case PUBLISH: {
			const qos = qosField(o, "qos");
			const p: Packet = { type: PUBLISH, topic: field<string>(o, "topic", "string"), payload: bytesField(o, "payload"), qos, retain: field<boolean>(o, "retain", "boolean"), dup: field<boolean>(o, "dup", "boolean") };
			if (qos > 0) p.packetId = field<number>(o, "messageId", "number");
			else assert.equal(o.messageId, undefined, "messageId of a QoS 0 PUBLISH");
			return p;
		}
		case SUBSCRIBE: {
			const list = field<Fields[]>(o, "subscriptions", "object");
			const subscriptions: Subscription[] = list.map((s) => {
				assert.deepEqual(Object.keys(s).sort(), ["qos", "topic"], "subscription fields");
				return { filter: field<string>(s, "topic", "string"), qos: qosField(s, "qos") };
			});
			return { type: SUBSCRIBE, packetId: field<number>(o, "messageId", "number"), subscriptions };
		}
		case SUBACK: return { type: SUBACK, packetId: field<number>(o, "messageId", "number"), returnCodes: field<number[]>(o, "granted", "object").slice() };
		case UNSUBSCRIBE: return { type: UNSUBSCRIBE, packetId: field<number>(o, "messageId", "number"), filters: field<string[]>(o, "unsubscriptions", "object").slice() };
		case PINGREQ:
		case PINGRESP:
		case DISCONNECT:
			return { type } as Packet;
		default:
			return { type, packetId: field<number>(o, "messageId", "number") } as Packet;
	}
}

// ---------------------------------------------------------------------------------------------
// The three directions.

let scratch = new Uint8Array(1 << 16);

/** Our encoding of `p`. */
function ours(p: Packet): Uint8Array {
	for (;;) {
		try {
			return scratch.slice(0, encode(p, scratch, 0));
		}
		catch (error) {
			if (!(error instanceof MqttError && error.code === ErrorCode.BUFFER_TOO_SMALL)) throw error;
			scratch = new Uint8Array(scratch.length * 4);
		}
	}
}

/** mqtt-packet's parser on `bytes`: exactly one packet, no error, nothing left over. */
function parseWithMqttPacket(bytes: Uint8Array): Fields {
	const packets: Fields[] = [];
	const errors: Error[] = [];
	const p = parser({ protocolVersion: 4 });
	p.on("packet", (packet) => packets.push(packet as unknown as Fields));
	p.on("error", (error: Error) => errors.push(error));
	const left = p.parse(Buffer.from(bytes));
	assert.deepEqual(errors.map((e) => e.message), [], "mqtt-packet parser errors");
	assert.equal(packets.length, 1, "packets parsed by mqtt-packet");
	assert.equal(left, 0, "bytes mqtt-packet left unparsed");
	return packets[0]!;
}

/** `p` for a failure message, long payloads and strings shortened. */
function brief(p: Packet): string {
	return show(p).replace(/bytes\(([0-9A-F ]{90})[0-9A-F ]{60,}\)/g, "bytes($1…)").replace(/"([^"]{60})[^"]{40,}"/g, "\"$1…\"");
}

function remainingLengthOf(bytes: Uint8Array): number {
	let size = 1;
	while (bytes[size]! & 0x80) size++;
	return bytes.length - 1 - size;
}

// ---------------------------------------------------------------------------------------------
// The packets: fixed edge cases, then random ones.

const FOUR_BYTE_65532 = "\u{1F600}".repeat(16_383); // 65,532 bytes of UTF-8
const LONG_TEXT = FOUR_BYTE_65532 + "é/"; // 65,535 bytes, no wildcard
const BIG = (n: number, r: Random): Uint8Array => r.bytes(n);

function edgeCases(type: number, r: Random): Packet[] {
	const out: Packet[] = [];
	switch (type) {
		case CONNECT:
			out.push({ type: CONNECT, protocolLevel: 4, clientId: "", cleanSession: true, keepAlive: 0 });
			out.push({ type: CONNECT, protocolLevel: 4, clientId: LONG_TEXT, cleanSession: false, keepAlive: 65_535 });
			out.push({ type: CONNECT, protocolLevel: 4, clientId: "\u{10FFFF}\u{10000}\uFEFF\u0800\u07FF\u0080\u007F", cleanSession: false, keepAlive: 1, username: "", password: new Uint8Array(0) });
			for (const qos of [0, 1, 2] as const)
				for (const retain of [false, true]) {
					out.push({ type: CONNECT, protocolLevel: 4, clientId: "w", cleanSession: true, keepAlive: 60, will: { topic: "will/\u{1F600}", payload: new Uint8Array(0), qos, retain } });
					out.push({ type: CONNECT, protocolLevel: 4, clientId: "w", cleanSession: retain, keepAlive: 60, will: { topic: "$SYS/x", payload: "gone \u{1F4A4}", qos, retain }, username: "u" });
				}
			out.push({ type: CONNECT, protocolLevel: 4, clientId: "big", cleanSession: true, keepAlive: 10, will: { topic: LONG_TEXT, payload: BIG(65_535, r), qos: 2, retain: true }, username: LONG_TEXT, password: BIG(65_535, r) });
			break;
		case CONNACK:
			for (let code = 0; code <= 5; code++) out.push({ type: CONNACK, sessionPresent: false, returnCode: code });
			out.push({ type: CONNACK, sessionPresent: true, returnCode: 0 });
			break;
		case PUBLISH:
			// Remaining lengths at every change of size of the length field: topic "t" (3 bytes with its length) and the payload.
			for (const remaining of [3, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152])
				out.push({ type: PUBLISH, topic: "t", payload: BIG(remaining - 3, r), qos: 0, retain: false, dup: false });
			for (const qos of [1, 2] as const)
				for (const packetId of [1, 65_535])
					for (const dup of [false, true])
						for (const retain of [false, true])
							out.push({ type: PUBLISH, topic: "a/b", payload: "", qos, retain, dup, packetId });
			out.push({ type: PUBLISH, topic: LONG_TEXT, payload: BIG(200, r), qos: 1, retain: true, dup: false, packetId: 7 });
			out.push({ type: PUBLISH, topic: "/", payload: "\u0000+#\uD800", qos: 0, retain: true, dup: false });
			break;
		case PUBACK:
		case PUBREC:
		case PUBREL:
		case PUBCOMP:
		case UNSUBACK:
			for (const packetId of [1, 255, 256, 65_535]) out.push({ type, packetId } as Packet);
			break;
		case SUBSCRIBE: {
			const filters = ["#", "+", "+/+/#", "/#", "$SYS/#", "a/+/c", "/", "\u{1F600}/+", LONG_TEXT];
			out.push({ type: SUBSCRIBE, packetId: 1, subscriptions: filters.map((filter, i) => ({ filter, qos: (i % 3) as QoS })) });
			out.push({ type: SUBSCRIBE, packetId: 65_535, subscriptions: Array.from({ length: 3_000 }, (_, i) => ({ filter: `s/${i}/+`, qos: (i % 3) as QoS })) });
			break;
		}
		case SUBACK:
			out.push({ type: SUBACK, packetId: 1, returnCodes: [0, 1, 2, 0x80] });
			// Remaining lengths 127, 128, 16,383 and 16,384: the identifier and the codes.
			for (const remaining of [127, 128, 16_383, 16_384])
				out.push({ type: SUBACK, packetId: 65_535, returnCodes: Array.from({ length: remaining - 2 }, (_, i) => [0, 1, 2, 0x80][i % 4]!) });
			break;
		case UNSUBSCRIBE:
			out.push({ type: UNSUBSCRIBE, packetId: 1, filters: ["#", "+", "+/+/#", "$SYS/#", "\u{10FFFF}", LONG_TEXT] });
			out.push({ type: UNSUBSCRIBE, packetId: 65_535, filters: Array.from({ length: 3_000 }, (_, i) => `u/${i}/#`) });
			break;
		default:
			out.push({ type } as Packet);
	}
	return out;
}

function typeSeed(type: number): number {
	return (Math.imul(seed ^ 0x5BD1E995, 0x01000193) + Math.imul(type, 0x9E3779B1)) >>> 0 || 1;
}

const packetsByType = new Map<number, Packet[]>();
function packetsOf(type: number): Packet[] {
	let packets = packetsByType.get(type);
	if (!packets) {
		const r = new Random(typeSeed(type));
		packets = edgeCases(type, r);
		const count = type >= PINGREQ ? 1 : RANDOM_PER_TYPE;
		for (let i = 0; i < count; i++) packets.push(randomPacket(r, type, LIMITS));
		packetsByType.set(type, packets);
	}
	return packets;
}

function each(type: number, check: (p: Packet) => void): void {
	const packets = packetsOf(type);
	packets.forEach((p, i) => {
		try {
			check(p);
		}
		catch (error) {
			throw new Error(`packet ${i} of ${packets.length} (type seed ${typeSeed(type)}): ${brief(p)}\n${error instanceof Error ? error.message : String(error)}`);
		}
	});
}

describe(`differential against mqtt-packet 9 (protocol version 4), seed ${seed} (DIFFERENTIAL_SEED=${seed} replays it)`, function () {
	this.timeout(30_000);
	for (let type = CONNECT; type <= DISCONNECT; type++) {
		const name = PACKET_NAMES[type];
		it(`${name}: our encoding parses in mqtt-packet to the same fields`, () => {
			each(type, (p) => {
				const bytes = ours(p);
				deepEqual(fromMqtt(parseWithMqttPacket(bytes), remainingLengthOf(bytes)), expected(p), "mqtt-packet parsed");
			});
		});
		it(`${name}: mqtt-packet's encoding decodes in ours to the same fields`, () => {
			each(type, (p) => {
				const theirs = new Uint8Array(generate(toMqtt(p), { protocolVersion: 4 }));
				deepEqual(decodePacket(theirs), expected(p), "decodePacket");
			});
		});
		it(`${name}: the same bytes as mqtt-packet's encoding`, () => {
			each(type, (p) => {
				const mine = ours(p);
				const theirs = new Uint8Array(generate(toMqtt(p), { protocolVersion: 4 }));
				if (Buffer.compare(mine, theirs) !== 0)
					assert.fail(`ours ${hex(mine.subarray(0, 64))}… (${mine.length} bytes), mqtt-packet ${hex(theirs.subarray(0, 64))}… (${theirs.length} bytes)`);
				assert.equal(remainingLengthSize(remainingLengthOf(mine)) + 1 + remainingLengthOf(mine), mine.length, "header size");
			});
		});
	}
	it("covers every remaining-length size and every packet type", () => {
		const sizes = new Set<number>();
		for (let type = CONNECT; type <= DISCONNECT; type++)
			for (const p of packetsOf(type)) sizes.add(remainingLengthSize(remainingLengthOf(ours(p))));
		assert.deepEqual([...sizes].sort(), [1, 2, 3, 4]);
	});
});
