// The session, byte for byte, against a scripted broker: the paths real brokers rarely take
// (PUBREL re-send, duplicate QoS 2, identifier wrap, full pools). Platform-free: also runs in XS.

import { encode } from "../lib/server-codec.js";
import type { MqttError } from "../../modules/mqtt/errors.js";
import type { Store } from "../../modules/mqtt/host.js";
import { checkStore, Persistence } from "../../modules/mqtt/snapshot.js";
import { Transmit } from "../../modules/mqtt/transmit.js";
import type { Writer } from "../../modules/mqtt/transmit.js";
import {
	CONNACK, CONNECT, DISCONNECT, PINGREQ, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, SUBACK,
	SUBSCRIBE, UNSUBACK, UNSUBSCRIBE,
} from "../../modules/mqtt/packet.js";
import type { Packet, QoS } from "../../modules/mqtt/packet.js";
import { PacketReader } from "../../modules/mqtt/reader.js";
import { PacketView5, parseBody5 } from "../../modules/mqtt/decode5.js";
import { Property } from "../../modules/mqtt/properties.js";
import type { Properties } from "../../modules/mqtt/properties.js";
import { CONNECTED, Session } from "../../modules/mqtt/session.js";
import type { RejectedMessage, SessionOptions } from "../../modules/mqtt/session.js";
import { decodeUtf8 } from "../../modules/mqtt/utf8.js";
import { deepEqual, equal, fail, hex, ok, throwsCode } from "../lib/check.js";
import type { Case } from "../lib/check.js";

/** Hex of one packet object, as the (fixture-verified) encoder writes it. */
export function bytesOf(...packets: Packet[]): string {
	return bytesIn(4, ...packets);
}

/** Hex of packet objects in the layout of `version`: 4 (MQTT 3.1.1) or 5 (MQTT 5.0, see encode5). */
export function bytesIn(version: 4 | 5, ...packets: Packet[]): string {
	const buffer = new Uint8Array(70_000);
	let n = 0;
	for (const p of packets) n += encode(p, buffer, n, version);
	return hex(buffer.subarray(0, n));
}

export const pub = (topic: string, payload: string, qos: QoS, packetId?: number, dup = false, retain = false): Packet =>
	({ type: PUBLISH, topic, payload, qos, retain, dup, packetId });
const ack = (type: typeof PUBACK | typeof PUBREC | typeof PUBREL | typeof PUBCOMP | typeof UNSUBACK, packetId: number): Packet => ({ type, packetId } as Packet);

/** The broker's end of the connection: keeps every byte written, or takes none while `taking` is off. */
export class Wire implements Writer {
	readonly bytes = new Uint8Array(70_000);
	length = 0;
	taking = true;
	write(buffer: Uint8Array, offset: number, length: number): number {
		if (!this.taking) return 0;
		this.bytes.set(buffer.subarray(offset, offset + length), this.length);
		this.length += length;
		return length;
	}
}

/**
 * A session with a scripted broker: `sent()` is what it wrote, `events` what it told its owner. With
 * a `store`, it restores and saves snapshots as the client does.
 */
export class Harness {
	readonly session: Session<string>;
	readonly tx: Transmit;
	readonly wire = new Wire();
	readonly events: string[] = [];
	/** The QoS each `delivered` event gave, in order. */
	readonly deliveredQos: number[] = [];
	readonly reader: PacketReader;
	/** What the AUTH handler answers (MQTT 5.0). */
	authAnswer: Uint8Array | undefined = undefined;
	now = 1_000;
	constructor(options: Partial<SessionOptions> & { store?: Store } = {}) {
		const { store, ...given } = options;
		checkStore(store);
		this.reader = options.protocolVersion === 5 ? new PacketReader(2048, parseBody5, new PacketView5(), 5) : new PacketReader(2048);
		const persistence = store === undefined ? undefined : new Persistence(store);
		this.tx = new Transmit(new Uint8Array(options.txBufferSize ?? 1024));
		this.tx.attach(this.wire);
		// stableAfter 0: a dropped connection had proved itself (no probing) unless a test says otherwise.
		this.session = new Session<string>({ clientId: "c1", keepAlive: 0, stableAfter: 0, ...given, snapshots: store !== undefined }, {
			failed: (error: MqttError, wasConnected: boolean) => this.events.push(`failed ${error.code}${wasConnected ? "" : " (connecting)"}`),
			connected: (present: boolean) => this.events.push(`connected ${present}`),
			message: (m) => this.events.push(`message ${m.topic()} ${m.payloadText()} q${m.qos}${m.dup ? " dup" : ""}${m.retain ? " retain" : ""}`),
			oversize: (m) => this.events.push(`oversize ${m.topic()} ${m.payloadLength} q${m.qos}`),
			delivered: (id: number, qos: QoS, reasonCode: number) => {
				this.events.push(`delivered ${id}${reasonCode !== 0 ? ` 0x${reasonCode.toString(16)}` : ""}`);
				this.deliveredQos.push(qos);
			},
			subscribed: (filter: string, code: number) => this.events.push(`subscribed ${filter} ${code}`),
			unsubscribed: (filter: string, code: number) => this.events.push(`unsubscribed ${filter}${code !== 0 ? ` 0x${code.toString(16)}` : ""}`),
			auth: (code: number, properties: Properties) => {
				const data = properties.bytes(Property.AUTHENTICATION_DATA);
				this.events.push(`auth 0x${code.toString(16)} ${data ? decodeUtf8(data, 0, data.length) : "-"}`);
				return this.authAnswer;
			},
			problem: (error: MqttError) => this.events.push(`problem ${error.code}${error.topic !== undefined ? ` ${error.topic}` : ""}`),
			writable: () => this.events.push("writable"),
			persist: (data: Uint8Array, length: number) => {
				const error = persistence!.save(data, length);
				if (error) this.events.push(`store ${error.code}`);
			},
			rejected: (error: MqttError, m: RejectedMessage | undefined) => this.events.push(m
				? `rejected ${error.code} ${m.topic} ${m.packetId} q${m.qos} ${decodeUtf8(m.payload, 0, m.payload.length)}${m.retain ? " retain" : ""}`
				: `rejected ${error.code} ${error.topic}`),
		}, this.tx);
		const error = persistence?.restore(this.session);
		if (error) this.events.push(`store ${error.code}`);
	}
	/** What the session sent since the last call, as hex (what waited in its transmit buffer too). */
	sent(): string {
		const wire = this.wire;
		const taking = wire.taking;
		wire.taking = true;
		this.tx.flush();
		wire.taking = taking;
		const text = hex(wire.bytes.subarray(0, wire.length));
		wire.length = 0;
		this.session.drained();
		return text;
	}
	/** Bytes from the broker. */
	receive(...packets: Packet[]): void {
		this.receiveHex(bytesOf(...packets));
	}
	receiveHex(text: string): void {
		const clean = text.replace(/\s+/g, "");
		const bytes = new Uint8Array(clean.length / 2);
		for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(clean.substr(i * 2, 2), 16);
		let at = 0;
		while (at < bytes.length) {
			at += this.reader.feed(bytes, at, bytes.length - at);
			while (this.reader.next()) {
				if (!this.session.canReceive()) fail("the session has no room to answer");
				this.session.receive(this.reader.view, this.now);
			}
		}
	}
	/** Opens a connection and answers its CONNECT with CONNACK. */
	connect(sessionPresent = false): void {
		this.session.opening(this.now);
		this.session.opened(this.now);
		const connect = this.sent();
		if (!connect.startsWith("10")) fail(`expected CONNECT first, got ${connect}`);
		this.reader.reset();
		this.receive({ type: CONNACK, sessionPresent, returnCode: 0 });
	}
	/** The connection drops (nothing more reaches the broker). */
	drop(): void {
		this.session.closed();
		this.tx.attach(this.wire);
	}
	take(): string[] {
		return this.events.splice(0);
	}
	tick(ms: number): void {
		this.now += ms;
		this.session.tick(this.now);
	}
}

export const sessionCases: Case[] = [];
const add = (name: string, run: () => void): void => { sessionCases.push({ name, run }); };

add("CONNECT is the first packet, with every configured field", () => {
	const h = new Harness({ clientId: "dev-7", cleanSession: false, keepAlive: 30, username: "u", password: "p", will: { topic: "devices/dev-7/status", payload: "offline", qos: 1, retain: true } });
	h.session.opening(h.now);
	h.session.opened(h.now);
	equal(h.sent(), bytesOf({ type: CONNECT, clientId: "dev-7", cleanSession: false, keepAlive: 30, username: "u", password: "p", will: { topic: "devices/dev-7/status", payload: "offline", qos: 1, retain: true } }));
});

add("a CONNECT with a password leaves no copy in memory: zeroed as soon as it is sent, or when the connection ends", () => {
	const secret = "pw-4242";
	const codes = (text: string): string => { const b = new Uint8Array(text.length); for (let i = 0; i < text.length; i++) b[i] = text.charCodeAt(i); return hex(b); };
	const held = (h: Harness): boolean => hex(h.tx.mem).includes(codes(secret));
	// Waiting for the transport: held until it has gone.
	const waiting = new Harness({ username: "u", password: secret });
	waiting.wire.taking = false;
	waiting.session.opening(waiting.now);
	waiting.session.opened(waiting.now);
	ok(held(waiting), "the CONNECT waiting to be sent holds it");
	ok(waiting.sent().includes(codes(secret)), "the broker gets it");
	ok(!held(waiting), "gone once sent");
	// Taken by the transport at once: gone at once.
	const direct = new Harness({ username: "u", password: secret });
	direct.session.opening(direct.now);
	direct.session.opened(direct.now);
	ok(!held(direct), "gone as soon as the transport took it");
	// Never sent: zeroed when the connection drops, and when the client ends.
	const dropped = new Harness({ username: "u", password: secret });
	dropped.wire.taking = false;
	dropped.session.opening(dropped.now);
	dropped.session.opened(dropped.now);
	dropped.drop();
	ok(!held(dropped), "gone after the connection was lost");
	const ended = new Harness({ username: "u", password: new TextEncoder().encode(secret) });
	ended.wire.taking = false;
	ended.session.opening(ended.now);
	ended.session.opened(ended.now);
	ended.session.disconnect();
	ended.tx.attach(undefined);
	ok(!held(ended), "gone after disconnect()");
	// Without a password nothing is wiped: the CONNECT stays as it was sent.
	const plain = new Harness({ clientId: "plain-client" });
	plain.session.opening(plain.now);
	plain.session.opened(plain.now);
	plain.sent();
	plain.receive({ type: CONNACK, sessionPresent: false, returnCode: 0 });
	ok(hex(plain.tx.mem).includes(codes("plain-client")), "no wipe without a password");
});

add("CONNACK accepted: connected, with session present as the broker said", () => {
	const h = new Harness({ cleanSession: false });
	h.connect(true);
	deepEqual(h.take(), ["connected true"]);
	equal(h.session.state, CONNECTED, "state");
});

add("a packet before CONNACK is a protocol error", () => {
	const h = new Harness();
	h.session.opening(h.now);
	h.session.opened(h.now);
	h.sent();
	h.receive(pub("t", "x", 0));
	deepEqual(h.take(), ["failed UNEXPECTED_PACKET (connecting)"]);
});

add("CONNACK refusals are named errors", () => {
	const names = ["", "UNACCEPTABLE_PROTOCOL_VERSION", "IDENTIFIER_REJECTED", "SERVER_UNAVAILABLE", "BAD_USERNAME_OR_PASSWORD", "NOT_AUTHORIZED"];
	for (let code = 1; code <= 5; code++) {
		const h = new Harness();
		h.session.opening(h.now);
		h.session.opened(h.now);
		h.sent();
		h.receive({ type: CONNACK, sessionPresent: false, returnCode: code });
		deepEqual(h.take(), [`failed ${names[code]} (connecting)`], `return code ${code}`);
	}
});

add("session present after asking for a clean session is a protocol error", () => {
	const h = new Harness({ cleanSession: true });
	h.session.opening(h.now);
	h.session.opened(h.now);
	h.sent();
	h.receive({ type: CONNACK, sessionPresent: true, returnCode: 0 });
	deepEqual(h.take(), ["failed SESSION_PRESENT_WITH_CLEAN_SESSION (connecting)"]);
});

add("no CONNACK within connectTimeout: CONNECT_TIMEOUT", () => {
	const h = new Harness({ connectTimeout: 5000 });
	h.session.opening(h.now);
	h.tick(4999);
	deepEqual(h.take(), []);
	h.tick(1);
	deepEqual(h.take(), ["failed CONNECT_TIMEOUT (connecting)"]);
});

add("QoS 0: written at once; offline it is dropped and counted", () => {
	const h = new Harness();
	equal(h.session.publish("t/a", "off", 0, false), -1, "offline");
	equal(h.session.stats.qos0Dropped, 1, "counted");
	h.connect();
	h.take();
	equal(h.session.publish("t/a", "on", 0, true), 0, "accepted");
	equal(h.sent(), bytesOf(pub("t/a", "on", 0, undefined, false, true)));
});

add("QoS 0 offline with the queue policy: kept and sent on connect", () => {
	const h = new Harness({ qos0WhileOffline: "queue" });
	equal(h.session.publish("t/a", "queued", 0, false), 0, "accepted");
	h.connect();
	equal(h.sent(), bytesOf(pub("t/a", "queued", 0)));
	equal(h.session.pending, 0, "nothing left");
});

add("QoS 1: the PUBLISH is kept until PUBACK, then delivered", () => {
	const h = new Harness();
	h.connect();
	h.take();
	const id = h.session.publish("t/1", "one", 1, false);
	equal(id, 1, "first identifier");
	equal(h.sent(), bytesOf(pub("t/1", "one", 1, 1)));
	equal(h.session.pending, 1, "kept");
	h.receive(ack(PUBACK, 1));
	deepEqual(h.take(), ["delivered 1"]);
	equal(h.session.pending, 0, "forgotten");
});

add("QoS 2: PUBLISH, PUBREC → PUBREL, PUBCOMP → delivered", () => {
	const h = new Harness();
	h.connect();
	h.take();
	equal(h.session.publish("t/2", "two", 2, false), 1);
	equal(h.sent(), bytesOf(pub("t/2", "two", 2, 1)));
	h.receive(ack(PUBREC, 1));
	equal(h.sent(), bytesOf(ack(PUBREL, 1)), "PUBREL");
	deepEqual(h.take(), []);
	h.receive(ack(PUBCOMP, 1));
	deepEqual(h.take(), ["delivered 1"]);
	equal(h.session.pending, 0);
});

add("reconnect with a session: unfinished PUBLISH re-sent with DUP and its identifier, PUBREL re-sent, in order", () => {
	const h = new Harness({ cleanSession: false });
	h.connect(false);
	h.take();
	h.session.publish("t/a", "A", 1, false); // 1
	h.session.publish("t/b", "B", 2, false); // 2
	h.session.publish("t/c", "C", 2, false); // 3
	h.session.publish("t/d", "D", 1, false); // 4
	h.sent();
	h.receive(ack(PUBREC, 2)); // B is past PUBREC: only its PUBREL may be re-sent
	equal(h.sent(), bytesOf(ack(PUBREL, 2)));
	h.receive(ack(PUBACK, 4));
	deepEqual(h.take(), ["delivered 4"]);
	h.drop();
	h.connect(true);
	deepEqual(h.take(), ["connected true"]);
	equal(h.sent(), bytesOf(pub("t/a", "A", 1, 1, true), ack(PUBREL, 2), pub("t/c", "C", 2, 3, true)));
	// The DUP bit is the only difference from the first send:
	equal(bytesOf(pub("t/a", "A", 1, 1, true)).slice(0, 2), "3A", "DUP 1, QoS 1");
	h.receive(ack(PUBACK, 1), ack(PUBCOMP, 2), ack(PUBREC, 3));
	equal(h.sent(), bytesOf(ack(PUBREL, 3)));
	h.receive(ack(PUBCOMP, 3));
	deepEqual(h.take(), ["delivered 1", "delivered 2", "delivered 3"]);
	equal(h.session.pending, 0);
});

add("never re-send a QoS 2 PUBLISH once PUBREC came, even after several reconnects", () => {
	const h = new Harness({ cleanSession: false });
	h.connect();
	h.session.publish("t", "x", 2, false);
	h.sent();
	h.receive(ack(PUBREC, 1));
	h.sent();
	for (let i = 0; i < 3; i++) {
		h.drop();
		h.connect(true);
		equal(h.sent(), bytesOf(ack(PUBREL, 1)), `reconnect ${i + 1}`);
	}
});

add("QoS 1/2 published while offline wait in the pool and go out on connect, in order", () => {
	const h = new Harness();
	equal(h.session.publish("q/1", "a", 1, false), 1);
	equal(h.session.publish("q/2", "b", 2, true), 2);
	equal(h.session.publish("q/3", "c", 1, false), 3);
	equal(h.sent(), "", "nothing sent offline");
	h.connect();
	equal(h.sent(), bytesOf(pub("q/1", "a", 1, 1), pub("q/2", "b", 2, 2, false, true), pub("q/3", "c", 1, 3)));
});

add("packet identifiers wrap from 65,535 to 1 and skip those in use", () => {
	// Restored from a snapshot: message 1 still in flight, the next identifier 65,534.
	const store = new MemoryStore(snapshotOf(65_534, [{ id: 1, qos: 1, state: NOT_SENT, packet: pub("t", "a", 1, 1) }], []));
	const h = new Harness({ maxMessages: 4, maxInflight: 4, store });
	h.connect();
	h.take();
	equal(h.session.publish("t", "b", 1, false), 65_534);
	equal(h.session.publish("t", "c", 1, false), 65_535);
	equal(h.session.publish("t", "d", 1, false), 2, "wrapped past 1, which is in use");
	equal(h.sent(), bytesOf(pub("t", "a", 1, 1, true), pub("t", "b", 1, 65_534), pub("t", "c", 1, 65_535), pub("t", "d", 1, 2)));
	h.receive(ack(PUBACK, 1));
	equal(h.session.publish("t", "e", 1, false), 3, "1 is free again, but the next identifier is 3");
	equal(h.session.publish("t", "f", 1, false), -1, "the pool's 4 entries are full");
});

add("the in-flight window: maxInflight PUBLISH at once, the rest wait; each PUBACK releases the next", () => {
	const h = new Harness({ maxInflight: 2 });
	h.connect();
	for (let i = 1; i <= 4; i++) equal(h.session.publish("w", String(i), 1, false), i);
	equal(h.sent(), bytesOf(pub("w", "1", 1, 1), pub("w", "2", 1, 2)), "two in flight");
	h.receive(ack(PUBACK, 2));
	equal(h.sent(), bytesOf(pub("w", "3", 1, 3)), "one released");
	h.receive(ack(PUBACK, 1));
	equal(h.sent(), bytesOf(pub("w", "4", 1, 4)));
});

add("a full pool is backpressure: -1, nothing dropped, writable after an acknowledgement", () => {
	const h = new Harness({ queueBytes: 64, maxInflight: 8 });
	h.connect();
	h.take();
	const ids: number[] = [];
	for (;;) {
		const id = h.session.publish("full/topic", "0123456789", 1, false);
		if (id < 0) break;
		ids.push(id);
	}
	equal(ids.length, 2, "two 26-byte messages fit 64 bytes");
	h.sent();
	h.receive(ack(PUBACK, ids[0]!));
	deepEqual(h.take(), ["delivered 1", "writable"]);
	ok(h.session.publish("full/topic", "0123456789", 1, false) > 0, "accepted after writable");
});

add("the pool wraps around its byte region and keeps messages whole", () => {
	const h = new Harness({ queueBytes: 100, maxInflight: 1 });
	h.connect();
	h.take();
	let sent = 0;
	for (let round = 0; round < 20; round++) {
		const id = h.session.publish("ring", "x".repeat(10 + (round % 7) * 5), 1, false);
		ok(id > 0, `round ${round} accepted`);
		equal(h.sent(), bytesOf(pub("ring", "x".repeat(10 + (round % 7) * 5), 1, id)), `round ${round} bytes`);
		h.receive(ack(PUBACK, id));
		sent++;
	}
	equal(sent, 20);
	equal(h.session.pending, 0);
});

add("a transmit buffer too full for a QoS 0 publish is backpressure too", () => {
	const h = new Harness({ txBufferSize: 64 });
	h.connect();
	h.take();
	h.wire.taking = false; // the transport takes nothing: packets wait in the transmit buffer
	equal(h.session.publish("t", "x".repeat(40), 0, false), 0);
	equal(h.session.publish("t", "x".repeat(40), 0, false), -1, "transmit buffer full");
	h.sent();
	deepEqual(h.take(), ["writable"]);
	equal(h.session.publish("t", "x".repeat(40), 0, false), 0);
});

add("inbound QoS 0, 1 and 2: delivered, then acknowledged", () => {
	const h = new Harness();
	h.connect();
	h.take();
	h.receive(pub("in/0", "zero", 0), pub("in/1", "one", 1, 7), pub("in/2", "two", 2, 8, false, true));
	deepEqual(h.take(), ["message in/0 zero q0", "message in/1 one q1", "message in/2 two q2 retain"]);
	equal(h.sent(), bytesOf(ack(PUBACK, 7), ack(PUBREC, 8)));
	h.receive(ack(PUBREL, 8));
	equal(h.sent(), bytesOf(ack(PUBCOMP, 8)));
});

add("inbound QoS 2: a re-sent PUBLISH before PUBREL is not delivered twice", () => {
	const h = new Harness();
	h.connect();
	h.take();
	h.receive(pub("x", "once", 2, 5));
	h.receive(pub("x", "once", 2, 5, true));
	h.receive(pub("x", "once", 2, 5, true));
	deepEqual(h.take(), ["message x once q2"]);
	equal(h.sent(), bytesOf(ack(PUBREC, 5), ack(PUBREC, 5), ack(PUBREC, 5)));
	equal(h.session.stats.duplicatesIgnored, 2);
	h.receive(ack(PUBREL, 5));
	equal(h.sent(), bytesOf(ack(PUBCOMP, 5)));
	h.receive(pub("x", "again", 2, 5));
	deepEqual(h.take(), ["message x again q2"], "after PUBREL the identifier is new");
});

add("inbound QoS 2 survives a reconnect with a session: the re-sent PUBLISH is still a duplicate", () => {
	const h = new Harness({ cleanSession: false });
	h.connect();
	h.take();
	h.receive(pub("x", "m", 2, 9));
	h.sent();
	h.drop();
	h.connect(true);
	h.receive(pub("x", "m", 2, 9, true));
	deepEqual(h.take(), ["message x m q2", "connected true"]);
	equal(h.sent(), bytesOf(ack(PUBREC, 9)));
});

add("PUBREL for an unknown identifier is answered with PUBCOMP", () => {
	const h = new Harness();
	h.connect();
	h.receive(ack(PUBREL, 77));
	equal(h.sent(), bytesOf(ack(PUBCOMP, 77)));
});

add("acknowledgements go out in the order the PUBLISH packets arrived", () => {
	const h = new Harness();
	h.connect();
	h.receive(pub("a", "1", 1, 3), pub("b", "2", 2, 1), pub("c", "3", 1, 2), pub("d", "4", 2, 9));
	equal(h.sent(), bytesOf(ack(PUBACK, 3), ack(PUBREC, 1), ack(PUBACK, 2), ack(PUBREC, 9)));
});

add("more inbound QoS 2 awaiting PUBREL than maxInboundQos2 is INBOUND_QOS2_FULL", () => {
	const h = new Harness({ maxInboundQos2: 2 });
	h.connect();
	h.take();
	h.receive(pub("a", "1", 2, 1), pub("a", "2", 2, 2));
	h.receive(pub("a", "3", 2, 3));
	deepEqual(h.take(), ["message a 1 q2", "message a 2 q2", "failed INBOUND_QOS2_FULL"]);
});

add("acknowledgements for identifiers without an exchange are UNKNOWN_PACKET_ID", () => {
	for (const p of [ack(PUBACK, 4), ack(PUBREC, 4), ack(PUBCOMP, 4), ack(UNSUBACK, 4), { type: SUBACK, packetId: 4, returnCodes: [0] } as Packet]) {
		const h = new Harness();
		h.connect();
		h.take();
		h.receive(p);
		deepEqual(h.take(), ["failed UNKNOWN_PACKET_ID"], `packet type ${p.type}`);
	}
});

add("PUBACK for a QoS 2 message awaiting PUBREC completes it at QoS 1, counted (RabbitMQ grants at most QoS 1)", () => {
	const h = new Harness();
	h.connect();
	h.take();
	h.session.publish("t", "x", 2, false);
	h.sent();
	h.receive(ack(PUBACK, 1));
	// Before: UNKNOWN_PACKET_ID, a reconnect, the PUBLISH again with DUP, forever.
	deepEqual(h.take(), ["delivered 1"]);
	deepEqual(h.deliveredQos, [1], "reported as delivered at QoS 1");
	equal(h.session.pending, 0);
	equal(h.session.stats.qos2AckedAsQos1, 1);
	equal(h.sent(), "", "no PUBREL: the exchange is over");
	ok(h.session.state === CONNECTED, "still connected");
	// Strict everywhere else: PUBACK after PUBREC (the exchange is at PUBREL) is still unknown.
	h.session.publish("t", "y", 2, false);
	h.sent();
	h.receive(ack(PUBREC, 2));
	equal(h.sent(), bytesOf(ack(PUBREL, 2)));
	h.receive(ack(PUBACK, 2));
	deepEqual(h.take(), ["failed UNKNOWN_PACKET_ID"]);
	equal(h.session.pending, 1, "the message is kept for the next connection");
});

add("completed out of order, newest first, while the oldest waits: the pool gives the entries and bytes back and never fills with holes", () => {
	const h = new Harness({ maxMessages: 4, queueBytes: 256 });
	h.connect();
	h.take();
	const oldest = h.session.publish("t/old", "never acknowledged", 1, false);
	for (let i = 0; i < 200; i++) {
		const id = h.session.publish("t/new", `message ${i}`, 2, false);
		ok(id > 0, `publish ${i} accepted (before: refused once the ring held 3 freed entries)`);
		h.sent();
		h.receive(ack(PUBREC, id));
		h.sent();
		h.receive(ack(PUBCOMP, id));
	}
	equal(h.session.pending, 1);
	equal(h.session.pool.count, 1, "only the oldest holds an entry");
	ok(h.session.pool.find(oldest) >= 0, "the oldest is still found by its identifier");
});

add("a queued QoS 0 message sent from behind freed entries leaves sending where it can resume: a message published next goes out", () => {
	// The transport takes nothing between sent() calls and the transmit buffer holds two of these
	// PUBLISH packets at a time, so the QoS 0 one waits while B is acknowledged.
	const h = new Harness({ cleanSession: false, txBufferSize: 36, qos0WhileOffline: "queue" });
	h.connect();
	h.take();
	const a = h.session.publish("t/a", "aaaaaaa", 1, false);
	const b = h.session.publish("t/b", "bbbbbbb", 1, false);
	h.sent();
	h.drop();
	h.session.publish("t/c", "ccccccc", 0, false); // queued in the pool while offline
	h.wire.taking = false;
	h.connect(true);
	h.receive(ack(PUBACK, b)); // B is freed before C could go out: a hole between A and C
	equal(h.session.pool.count, 3, "A, the hole left by B, C");
	const resent = h.sent(); // A and B again (DUP), then, drained, C
	ok(resent.length > 0, "sent");
	equal(h.sent(), bytesOf(pub("t/c", "ccccccc", 0)), "C goes out once there is room");
	const d = h.session.publish("t/d", "ddddddd", 1, false);
	equal(h.sent(), bytesOf(pub("t/d", "ddddddd", 1, d)), "D goes out at once");
	h.receive(ack(PUBACK, a), ack(PUBACK, d));
	equal(h.session.pending, 0);
});

add("PUBCOMP completes a QoS 2 message at QoS 2", () => {
	const h = new Harness();
	h.connect();
	h.take();
	h.session.publish("t", "x", 2, false);
	h.receive(ack(PUBREC, 1), ack(PUBCOMP, 1));
	deepEqual(h.take(), ["delivered 1"]);
	deepEqual(h.deliveredQos, [2]);
});

add("SUBACK codes of 0x80 and above are refusals reported with their code; 3..0x7F stay malformed", () => {
	const h = new Harness();
	h.connect();
	h.session.subscribe("a/#", 1, "a");
	h.session.subscribe("b/#", 1, "b");
	h.sent();
	h.take();
	// ejabberd 23.01 answers a 3.1.1 client with MQTT 5's 0x8F (topic filter invalid) or 0x87 (not authorized).
	h.receiveHex("90 03 00 01 8F  90 03 00 02 87");
	deepEqual(h.take(), ["subscribed a/# 143", "subscribed b/# 135"]);
	equal(h.session.subscriptions.entries[0]!.granted, 0x8F);
	ok(h.session.state === CONNECTED, "still connected: no reconnect loop");
	h.session.subscribe("c/#", 1, "c");
	h.sent();
	throwsCode(() => h.receiveHex("90 03 00 03 03"), "INVALID_SUBACK_CODE");
});

add("maxPacketSize: a PUBLISH or SUBSCRIBE above the broker's limit throws PACKET_TOO_LARGE before a byte is sent; at the limit it goes", () => {
	const h = new Harness({ maxPacketSize: 64 });
	h.connect();
	h.take();
	const payload = "x".repeat(64 - 2 - 2 - 3 - 2); // header 2, topic length 2, "t/1" 3, identifier 2: 64 bytes
	throwsCode(() => h.session.publish("t/1", payload + "y", 1, false), "PACKET_TOO_LARGE");
	throwsCode(() => h.session.publish("t/1", payload + "yyy", 0, false), "PACKET_TOO_LARGE");
	throwsCode(() => h.session.subscribe("f/".repeat(30), 1), "PACKET_TOO_LARGE");
	equal(h.sent(), "", "nothing was sent");
	equal(h.session.pending, 0, "nothing was queued");
	equal(h.session.publish("t/1", payload, 1, false), 1);
	equal(h.sent().split(" ").length, 64, "a 64-byte PUBLISH went out");
	throwsCode(() => new Harness({ maxPacketSize: 20, will: { topic: "status/of/this/device", payload: "offline", qos: 1, retain: true } }), "PACKET_TOO_LARGE");
	throwsCode(() => new Harness({ maxPacketSize: 1 }), "INVALID_ARGUMENT");
	throwsCode(() => h.session.subscribe("g/".repeat(600), 1), "PACKET_TOO_LARGE"); // larger than txBufferSize too
});

/** The broker closes the connection (the harness's drop), `ms` after the last event. */
function brokerCloses(h: Harness, ms = 5): void {
	h.now += ms;
	h.session.closed(h.now);
	h.tx.attach(h.wire);
}

add("a connection closed young (within stableAfter) with requests in flight: the next sends one at a time until the oldest of them is acknowledged", () => {
	const h = new Harness({ cleanSession: false, stableAfter: 10_000 });
	h.connect();
	h.take();
	h.session.publish("a", "1", 1, false);
	h.session.publish("b", "2", 1, false);
	h.session.publish("c", "3", 1, false);
	equal(h.sent(), bytesOf(pub("a", "1", 1, 1), pub("b", "2", 1, 2), pub("c", "3", 1, 3)));
	ok(!h.session.probing, "not probing while all is well");
	brokerCloses(h);
	ok(h.session.probing, "probing after a close with requests in flight");
	h.connect(true);
	// A probe goes alone, with a PINGREQ right behind it: its PINGRESP will say the broker read past it.
	equal(h.sent(), bytesOf(pub("a", "1", 1, 1, true), { type: PINGREQ }), "only the first, alone");
	h.receive(ack(PUBACK, 1));
	ok(!h.session.probing, "the suspect is acknowledged: as usual again");
	equal(h.sent(), bytesOf(pub("b", "2", 1, 2, true), pub("c", "3", 1, 3, true)));
	h.receive(ack(PUBACK, 2));
	brokerCloses(h);
	ok(h.session.probing, "young, c in flight: probing again, whatever was acknowledged before");
	h.connect(true);
	equal(h.sent(), bytesOf(pub("c", "3", 1, 3, true), { type: PINGREQ }));
	h.receive(ack(PUBACK, 3));
	// A connection that lasted stableAfter does not start probing.
	h.session.publish("d", "4", 1, false);
	h.sent();
	h.now += 10_000;
	brokerCloses(h, 0);
	ok(!h.session.probing, "that connection lasted stableAfter");
	h.connect(true);
	equal(h.sent(), bytesOf(pub("d", "4", 1, 4, true)));
	// Our own decision to close (keepalive, a protocol error) is not the broker refusing.
	h.connect(true);
	h.sent();
	h.receive(ack(PUBACK, 77));
	deepEqual(h.take().filter((e) => e.startsWith("failed")), ["failed UNKNOWN_PACKET_ID"]);
	ok(!h.session.probing, "a failure of ours does not start probing");
});

add("a PUBLISH the broker closes the connection on is set aside after maxAttempts closes while alone in flight; what waits behind it proceeds, nothing else is lost", () => {
	const h = new Harness({ cleanSession: false, maxAttempts: 3, stableAfter: 10_000 });
	h.connect();
	h.take();
	h.session.publish("ok/1", "one", 1, false);
	h.session.publish("forbidden/x", "poison", 1, true);
	h.session.publish("ok/2", "two", 2, false);
	h.session.publish("ok/3", "three", 0, false);
	h.sent();
	h.receive(ack(PUBACK, 1)); // the broker took the first, then closed on the second
	brokerCloses(h);
	ok(h.session.probing, "closed young with two in flight: probing, the oldest (forbidden/x) the suspect");
	for (let attempt = 1; attempt <= 3; attempt++) {
		h.take();
		h.connect(true);
		equal(h.sent(), bytesOf(pub("forbidden/x", "poison", 1, 2, true, true), { type: PINGREQ }), `attempt ${attempt}: alone`);
		brokerCloses(h);
	}
	deepEqual(h.take(), ["connected true", "rejected REJECTED_BY_BROKER forbidden/x 2 q1 poison retain"], "set aside at the third close");
	equal(h.session.stats.rejected, 1);
	equal(h.session.pending, 1, "only the QoS 2 message is left");
	h.connect(true);
	ok(!h.session.probing, "the suspect is set aside: as usual again");
	equal(h.sent(), bytesOf(pub("ok/2", "two", 2, 3, true)), "what waited behind it goes");
	h.receive(ack(PUBREC, 3));
	equal(h.sent(), bytesOf(ack(PUBREL, 3)));
	h.receive(ack(PUBCOMP, 3));
	deepEqual(h.take(), ["connected true", "delivered 3"]);
	equal(h.session.pending, 0);
});

add("a close after the connection proved itself does not count against the probe: network cuts do not set a message aside once the PINGRESP to the PINGREQ behind the probe came; a PINGRESP to an earlier PINGREQ does not pass the probe", () => {
	const h = new Harness({ cleanSession: false, maxAttempts: 2, keepAlive: 10, stableAfter: 60_000 });
	h.connect();
	h.session.publish("t", "m", 1, false);
	h.sent();
	brokerCloses(h);
	for (let i = 0; i < 5; i++) {
		h.connect(true);
		equal(h.sent(), bytesOf(pub("t", "m", 1, 1, true), { type: PINGREQ }));
		h.receive({ type: PINGRESP });
		brokerCloses(h); // a cut, after the broker read past the message
	}
	equal(h.session.pending, 1, "never set aside");
	equal(h.session.stats.rejected, 0);
	// A PINGREQ sent before the probe: its PINGRESP passes nothing; the probe's own does.
	for (const answered of [1, 2]) {
		const k = new Harness({ maxAttempts: 1, stableAfter: 60_000 });
		const sub = (packetId: number, filter: string): Packet => ({ type: SUBSCRIBE, packetId, subscriptions: [{ filter, qos: 1 }] });
		k.connect();
		k.session.subscribe("a", 1);
		k.session.subscribe("b", 1);
		k.sent();
		k.receive({ type: SUBACK, packetId: 1, returnCodes: [1] });
		brokerCloses(k); // b in flight: the suspect
		k.connect();
		equal(k.sent(), bytesOf(sub(3, "a"), { type: PINGREQ }));
		k.receive({ type: SUBACK, packetId: 3, returnCodes: [1] });
		equal(k.sent(), bytesOf(sub(4, "b"), { type: PINGREQ }), "the suspect, with its own PINGREQ");
		for (let i = 0; i < answered; i++) k.receive({ type: PINGRESP });
		brokerCloses(k);
		deepEqual(k.take().filter((e) => e.startsWith("rejected")), answered === 1 ? ["rejected REJECTED_BY_BROKER b"] : [],
			answered === 1 ? "only the earlier PINGREQ was answered: the close counts" : "the suspect's PINGREQ was answered: it does not");
	}
});

add("a connection that ends by our own decision while the probe is in flight breaks its run of closes: maxAttempts counts closes in a row", () => {
	const h = new Harness({ cleanSession: false, maxAttempts: 2, stableAfter: 60_000 });
	h.connect();
	h.session.publish("t", "m", 1, false);
	h.sent();
	brokerCloses(h);
	h.connect(true);
	h.sent();
	brokerCloses(h); // close 1 on the probe
	h.connect(true);
	h.sent();
	h.receive(ack(PUBACK, 99)); // ours: UNKNOWN_PACKET_ID
	h.drop();
	h.connect(true);
	h.sent();
	brokerCloses(h); // close 1 again, not 2
	equal(h.session.stats.rejected, 0, "not set aside: the run was broken");
	h.connect(true);
	h.sent();
	brokerCloses(h); // close 2 in a row
	equal(h.session.stats.rejected, 1);
});

add("a SUBSCRIBE the broker closes the connection on is set aside after maxAttempts: refused as 0x80, forgotten, and the other subscriptions are made", () => {
	// Clean session: every CONNACK says no session, so every subscription is requested again each time.
	const h = new Harness({ maxAttempts: 2, stableAfter: 10_000 });
	const sub = (packetId: number, filter: string): Packet => ({ type: SUBSCRIBE, packetId, subscriptions: [{ filter, qos: 1 }] });
	h.connect();
	h.session.subscribe("devices/1/commands/+", 1, "commands");
	h.session.subscribe("forbidden/#", 1, "forbidden");
	h.session.subscribe("devices/1/config", 1, "config");
	equal(h.sent(), bytesOf(sub(1, "devices/1/commands/+"), sub(2, "forbidden/#"), sub(3, "devices/1/config")));
	h.receive({ type: SUBACK, packetId: 1, returnCodes: [1] });
	brokerCloses(h); // on forbidden/#
	ok(h.session.probing, "closed young with two SUBSCRIBEs in flight: probing, forbidden/# the suspect");
	h.take();
	// Each connection: the first subscription alone and acknowledged, then the suspect alone, then the close.
	for (let attempt = 1; attempt <= 2; attempt++) {
		h.connect();
		const id = 4 + (attempt - 1) * 2;
		equal(h.sent(), bytesOf(sub(id, "devices/1/commands/+"), { type: PINGREQ }), `attempt ${attempt}: the first alone`);
		h.receive({ type: SUBACK, packetId: id, returnCodes: [1] });
		ok(h.session.probing, "still probing: the suspect is not acknowledged");
		equal(h.sent(), bytesOf(sub(id + 1, "forbidden/#"), { type: PINGREQ }), `attempt ${attempt}: the suspect alone`);
		brokerCloses(h);
	}
	deepEqual(h.take(), ["connected false", "subscribed devices/1/commands/+ 1", "connected false", "subscribed devices/1/commands/+ 1",
		"subscribed forbidden/# 128", "rejected REJECTED_BY_BROKER forbidden/#"]);
	ok(!h.session.probing, "the suspect is set aside: as usual again");
	deepEqual(h.session.subscriptions.entries.map((e) => e.filter), ["devices/1/commands/+", "devices/1/config"], "forgotten");
	h.connect();
	equal(h.sent(), bytesOf(sub(8, "devices/1/commands/+"), sub(9, "devices/1/config")), "the others, together");
	h.receive({ type: SUBACK, packetId: 8, returnCodes: [1] }, { type: SUBACK, packetId: 9, returnCodes: [1] });
	deepEqual(h.take(), ["connected false", "subscribed devices/1/commands/+ 1", "subscribed devices/1/config 1"]);
	equal(h.session.stats.rejected, 1);
});
add("packets a broker must not send are UNEXPECTED_PACKET: the client half of the codec does not parse them, and a second CONNACK fails the session", () => {
	for (const p of [{ type: PINGREQ }, { type: DISCONNECT }, { type: SUBSCRIBE, packetId: 1, subscriptions: [{ filter: "a", qos: 0 }] }, { type: UNSUBSCRIBE, packetId: 1, filters: ["a"] }, { type: CONNECT, clientId: "x", cleanSession: true, keepAlive: 0 }] as Packet[]) {
		const h = new Harness();
		h.connect();
		h.take();
		throwsCode(() => h.receive(p), "UNEXPECTED_PACKET");
	}
	const h = new Harness();
	h.connect();
	h.take();
	h.receive({ type: CONNACK, sessionPresent: false, returnCode: 0 });
	deepEqual(h.take(), ["failed UNEXPECTED_PACKET"]);
});

add("SUBSCRIBE before connecting goes out after CONNACK; SUBACK reports granted QoS and refusals", () => {
	const h = new Harness();
	h.session.subscribe("a/+", 1, "handler-a");
	h.session.subscribe("forbidden/#", 2);
	h.connect();
	equal(h.sent(), bytesOf(
		{ type: SUBSCRIBE, packetId: 1, subscriptions: [{ filter: "a/+", qos: 1 }] },
		{ type: SUBSCRIBE, packetId: 2, subscriptions: [{ filter: "forbidden/#", qos: 2 }] },
	));
	h.receive({ type: SUBACK, packetId: 2, returnCodes: [0x80] }, { type: SUBACK, packetId: 1, returnCodes: [1] });
	deepEqual(h.take(), ["connected false", "subscribed forbidden/# 128", "subscribed a/+ 1"]);
	equal(h.session.subscriptions.entries[0]!.granted, 1);
	equal(h.session.subscriptions.entries[1]!.granted, 0x80);
});

add("SUBACK with the wrong number of return codes is SUBACK_COUNT_MISMATCH", () => {
	const h = new Harness();
	h.connect();
	h.session.subscribe("a", 0);
	h.sent();
	h.take();
	h.receive({ type: SUBACK, packetId: 1, returnCodes: [0, 0] });
	deepEqual(h.take(), ["failed SUBACK_COUNT_MISMATCH"]);
});

add("subscriptions are restored after a reconnect without a session, not with one", () => {
	const h = new Harness({ cleanSession: false });
	h.connect();
	h.session.subscribe("s/1", 1);
	h.session.subscribe("s/2", 2);
	h.sent();
	h.receive({ type: SUBACK, packetId: 1, returnCodes: [1] }, { type: SUBACK, packetId: 2, returnCodes: [2] });
	h.drop();
	h.connect(true);
	equal(h.sent(), "", "the broker kept them");
	h.drop();
	h.connect(false);
	equal(h.sent(), bytesOf(
		{ type: SUBSCRIBE, packetId: 3, subscriptions: [{ filter: "s/1", qos: 1 }] },
		{ type: SUBSCRIBE, packetId: 4, subscriptions: [{ filter: "s/2", qos: 2 }] },
	), "the broker lost them");
});

add("a SUBSCRIBE lost with the connection is sent again", () => {
	const h = new Harness({ cleanSession: false });
	h.connect();
	h.session.subscribe("s", 1);
	h.sent();
	h.drop();
	h.connect(true);
	equal(h.sent(), bytesOf({ type: SUBSCRIBE, packetId: 2, subscriptions: [{ filter: "s", qos: 1 }] }));
});

add("UNSUBSCRIBE: the subscription is gone at once; UNSUBACK reported", () => {
	const h = new Harness();
	h.connect();
	h.session.subscribe("u/#", 0, "h");
	h.sent();
	h.receive({ type: SUBACK, packetId: 1, returnCodes: [0] });
	h.session.unsubscribe("u/#");
	equal(h.session.subscriptions.entries.length, 0, "removed");
	equal(h.sent(), bytesOf({ type: UNSUBSCRIBE, packetId: 2, filters: ["u/#"] }));
	h.receive(ack(UNSUBACK, 2));
	deepEqual(h.take(), ["connected false", "subscribed u/# 0", "unsubscribed u/#"]);
});

add("keepalive: PINGREQ after keepAlive of silence; PINGRESP clears it", () => {
	const h = new Harness({ keepAlive: 10 });
	h.connect();
	h.sent();
	h.tick(9_999);
	equal(h.sent(), "", "not yet");
	h.tick(1);
	equal(h.sent(), bytesOf({ type: PINGREQ }));
	h.tick(1_000);
	equal(h.sent(), "", "one ping outstanding at a time");
	h.receive({ type: PINGRESP });
	h.tick(8_999);
	equal(h.sent(), "", "10 s after the last PINGREQ went out, not before");
	h.tick(1);
	equal(h.sent(), bytesOf({ type: PINGREQ }));
	equal(h.session.stats.pings, 2);
});

add("keepalive: a device that only sends still pings when the broker is silent", () => {
	const h = new Harness({ keepAlive: 10 });
	h.connect();
	h.sent();
	for (let i = 0; i < 4; i++) {
		h.tick(2_000);
		h.session.publish("telemetry", "x", 0, false);
		equal(h.sent(), bytesOf(pub("telemetry", "x", 0)), `telemetry ${i + 1}, no ping`);
	}
	h.tick(2_000);
	equal(h.sent(), bytesOf({ type: PINGREQ }), "10 s with nothing received");
});

add("keepalive: nothing received for 1.5 × keepAlive is KEEPALIVE_TIMEOUT", () => {
	const h = new Harness({ keepAlive: 10 });
	h.connect();
	h.take();
	h.tick(10_000);
	h.sent();
	h.tick(4_999);
	deepEqual(h.take(), []);
	h.tick(1);
	deepEqual(h.take(), ["failed KEEPALIVE_TIMEOUT"]);
});

add("keepalive 0: never pings, never times out", () => {
	const h = new Harness({ keepAlive: 0 });
	h.connect();
	h.take();
	h.tick(10_000_000);
	equal(h.sent(), "");
	deepEqual(h.take(), []);
	equal(h.session.nextDeadline(), -1);
});

add("nextDeadline says when the next tick matters", () => {
	const h = new Harness({ keepAlive: 10, connectTimeout: 3000 });
	h.session.opening(h.now);
	equal(h.session.nextDeadline(), h.now + 3000, "connect timeout");
	h.session.opened(h.now);
	h.sent();
	h.receive({ type: CONNACK, sessionPresent: false, returnCode: 0 });
	equal(h.session.nextDeadline(), h.now + 10_000, "ping");
});

add("an oversize inbound PUBLISH is reported and acknowledged, not delivered", () => {
	const h = new Harness();
	h.connect();
	h.take();
	const big = new Array<string>(3001).join("z");
	h.receive(pub("big", big, 1, 12));
	deepEqual(h.take(), ["oversize big 3000 q1"]);
	equal(h.sent(), bytesOf(ack(PUBACK, 12)));
	equal(h.session.stats.oversizeReceived, 1);
});

add("API misuse throws before a byte is written", () => {
	const h = new Harness({ txBufferSize: 128, queueBytes: 256 });
	h.connect();
	h.sent();
	throwsCode(() => h.session.publish("a/+", "x", 0, false), "WILDCARD_IN_TOPIC");
	throwsCode(() => h.session.publish("a/#", "x", 1, false), "WILDCARD_IN_TOPIC");
	throwsCode(() => h.session.publish("", "x", 1, false), "EMPTY_TOPIC");
	throwsCode(() => h.session.publish("t", "x", 3 as QoS, false), "INVALID_QOS");
	throwsCode(() => h.session.publish("t", "x".repeat(200), 0, false), "PACKET_TOO_LARGE");
	throwsCode(() => h.session.publish("t", "x".repeat(200), 1, false), "PACKET_TOO_LARGE");
	throwsCode(() => h.session.subscribe("a/#/b", 0), "INVALID_TOPIC_FILTER");
	throwsCode(() => h.session.subscribe("a", 3 as QoS), "INVALID_QOS");
	equal(h.sent(), "", "nothing written");
	equal(h.session.pending, 0, "nothing kept");
});

add("disconnect sends DISCONNECT; every later call throws CLIENT_CLOSED", () => {
	const h = new Harness();
	h.connect();
	h.sent();
	h.session.publish("t", "kept", 1, false);
	h.sent();
	h.session.disconnect();
	equal(h.sent(), bytesOf({ type: DISCONNECT }));
	throwsCode(() => h.session.publish("t", "x", 0, false), "CLIENT_CLOSED");
	throwsCode(() => h.session.subscribe("t", 0), "CLIENT_CLOSED");
	throwsCode(() => h.session.unsubscribe("t"), "CLIENT_CLOSED");
	equal(h.session.pending, 1, "the unacknowledged message is not forgotten");
});

add("bad options throw at construction", () => {
	throwsCode(() => new Harness({ keepAlive: 70_000 }), "INVALID_ARGUMENT");
	throwsCode(() => new Harness({ maxInflight: 0 }), "INVALID_ARGUMENT");
	throwsCode(() => new Harness({ clientId: "", cleanSession: false }), "EMPTY_CLIENT_ID");
	throwsCode(() => new Harness({ password: "p" }), "PASSWORD_WITHOUT_USERNAME");
	throwsCode(() => new Harness({ will: { topic: "a/+", payload: "x", qos: 0, retain: false } }), "WILDCARD_IN_TOPIC");
	throwsCode(() => new Harness({ txBufferSize: 20, clientId: "a-rather-long-client-identifier" }), "BUFFER_TOO_SMALL");
});

// ---- power loss: the store ------------------------------------------------------------------

/** A Store in memory: `data` is what survives a power cut; each save is counted (and may be watched). */
export class MemoryStore implements Store {
	data: Uint8Array | undefined;
	saves = 0;
	onSave: (() => void) | undefined;
	constructor(data?: Uint8Array) {
		this.data = data;
	}
	load(): Uint8Array | undefined {
		return this.data ? this.data.slice() : undefined;
	}
	save(data: Uint8Array, length: number): void {
		this.data = data.slice(0, length);
		this.saves++;
		this.onSave?.();
	}
}

/** The bytes of one packet, as the encoder writes it. */
function packetBytes(p: Packet): number[] {
	const buffer = new Uint8Array(1024);
	const n = encode(p, buffer, 0);
	const out: number[] = [];
	for (let i = 0; i < n; i++) out.push(buffer[i]!);
	return out;
}

interface StoredEntry { id: number; qos: number; state: number; packet?: Packet }

function fnv(bytes: number[]): number {
	let h = 0x811C9DC5;
	for (const x of bytes) h = Math.imul(h ^ x, 0x01000193);
	return h >>> 0;
}

/** A snapshot built by hand from the documented format (modules/mqtt/snapshot.ts), version 2, for client id `owner`. */
function snapshotOf(nextId: number, entries: StoredEntry[], inbound: number[], extra: number[] = [], owner = "c1"): Uint8Array {
	const who = fnv(Array.from(owner, (ch) => ch.charCodeAt(0)));
	const b: number[] = [0x6D, 0x71, 2, 0, nextId >> 8, nextId & 0xFF, entries.length >> 8, entries.length & 0xFF, inbound.length >> 8, inbound.length & 0xFF,
		who >>> 24, (who >>> 16) & 0xFF, (who >>> 8) & 0xFF, who & 0xFF];
	for (const e of entries) {
		b.push(e.id >> 8, e.id & 0xFF, (e.qos << 4) | e.state);
		if (e.packet) b.push(...packetBytes(e.packet));
	}
	for (const id of inbound) b.push(id >> 8, id & 0xFF);
	b.push(...extra);
	const h = fnv(b);
	b.push(h >>> 24, (h >>> 16) & 0xFF, (h >>> 8) & 0xFF, h & 0xFF);
	return new Uint8Array(b);
}

const NOT_SENT = 1;
const SENT_ONCE = 3;
const PAST_PUBREC = 4;

add("power cut: a new session on the same store re-sends what was unacknowledged, byte for byte and in order (DUP PUBLISH, PUBREL past PUBREC)", () => {
	const store = new MemoryStore();
	const h = new Harness({ cleanSession: false, store, maxInflight: 4 });
	h.connect();
	h.take();
	equal(h.session.publish("t/a", "A", 1, false), 1);
	equal(h.session.publish("t/b", "B", 2, false), 2);
	equal(h.session.publish("t/c", "C", 2, true), 3);
	equal(h.session.publish("t/d", "D", 1, false), 4);
	h.sent();
	h.receive(ack(PUBREC, 2));
	equal(h.sent(), bytesOf(ack(PUBREL, 2)));
	h.receive(ack(PUBACK, 4));
	equal(h.session.publish("t/e", "E", 1, false), 5);
	equal(h.session.publish("t/f", "F", 2, false), 6);
	equal(h.sent(), bytesOf(pub("t/e", "E", 1, 5)), "F waits: four in flight");
	deepEqual(h.take(), ["delivered 4"]);
	equal(store.saves, 8, "a save per publish (6), for the PUBREC and for the PUBACK");

	// The power goes: only the store remains.
	const after = new Harness({ cleanSession: false, store, maxInflight: 4 });
	deepEqual(after.take(), [], "a valid snapshot: nothing to report");
	equal(after.session.pending, 5, "A, B (awaiting PUBCOMP), C, E, F");
	equal(after.sent(), "", "nothing before a connection");
	after.connect(true);
	equal(after.sent(), bytesOf(pub("t/a", "A", 1, 1, true), ack(PUBREL, 2), pub("t/c", "C", 2, 3, true, true), pub("t/e", "E", 1, 5, true)),
		"the in-flight window again, oldest first: DUP set, identifiers kept; B only as PUBREL");
	after.receive(ack(PUBACK, 1));
	// F was saved before it could be sent; whether it went out the store cannot tell: DUP 1 ("might be a re-delivery").
	equal(after.sent(), bytesOf(pub("t/f", "F", 2, 6, true)), "F follows as the window opens");
	after.receive(ack(PUBCOMP, 2), ack(PUBREC, 3), ack(PUBACK, 5), ack(PUBREC, 6));
	equal(after.sent(), bytesOf(ack(PUBREL, 3), ack(PUBREL, 6)));
	after.receive(ack(PUBCOMP, 3), ack(PUBCOMP, 6));
	deepEqual(after.take(), ["connected true", "delivered 1", "delivered 2", "delivered 5", "delivered 3", "delivered 6"]);
	equal(after.session.pending, 0);
	equal(after.session.publish("t/g", "G", 1, false), 7, "identifiers go on from the stored next one");
	// Saved when accepted, before it was sent: "not yet sent".
	deepEqual(store.data, snapshotOf(8, [{ id: 7, qos: 1, state: NOT_SENT, packet: pub("t/g", "G", 1, 7) }], []), "the store holds G alone, in the documented format");
});

add("power cut before any connection: messages published offline are restored and sent on the first connection", () => {
	const store = new MemoryStore();
	const h = new Harness({ store });
	equal(h.session.publish("q/1", "a", 1, false), 1);
	equal(h.session.publish("q/2", "b", 2, true), 2);
	deepEqual(store.data, snapshotOf(3, [
		{ id: 1, qos: 1, state: NOT_SENT, packet: pub("q/1", "a", 1, 1) },
		{ id: 2, qos: 2, state: NOT_SENT, packet: pub("q/2", "b", 2, 2, false, true) },
	], []), "the documented format");
	const after = new Harness({ store });
	after.connect();
	equal(after.sent(), bytesOf(pub("q/1", "a", 1, 1, true), pub("q/2", "b", 2, 2, true, true)));
});

add("the store is written before the PUBLISH or PUBREL goes out, and for inbound QoS 2 after the handler, before PUBREC", () => {
	const store = new MemoryStore();
	const h = new Harness({ store });
	store.onSave = () => h.events.push(`save (${h.wire.length} bytes on the wire)`);
	h.connect();
	h.take();
	equal(h.session.publish("t", "x", 2, false), 1);
	deepEqual(h.take(), ["save (0 bytes on the wire)"], "saved before the PUBLISH was written");
	equal(h.sent(), bytesOf(pub("t", "x", 2, 1)));
	h.receive(ack(PUBREC, 1));
	deepEqual(h.take(), ["save (0 bytes on the wire)"], "saved before the PUBREL was written");
	equal(h.sent(), bytesOf(ack(PUBREL, 1)));
	h.receive(pub("in", "m", 2, 9));
	deepEqual(h.take(), ["message in m q2", "save (0 bytes on the wire)"], "handled, saved, and only then PUBREC");
	equal(h.sent(), bytesOf(ack(PUBREC, 9)));
	h.receive(ack(PUBREL, 9));
	deepEqual(h.take(), ["save (0 bytes on the wire)"], "saved before the PUBCOMP was written");
	equal(h.sent(), bytesOf(ack(PUBCOMP, 9)));
});

add("saves per message: QoS 1 two (publish, PUBACK), QoS 2 three (publish, PUBREC, PUBCOMP), inbound QoS 2 two; QoS 0, inbound QoS 0/1, duplicates none", () => {
	const store = new MemoryStore();
	const h = new Harness({ store });
	h.connect();
	h.take();
	h.session.publish("t", "zero", 0, false);
	h.sent();
	equal(store.saves, 0, "QoS 0 publish");
	h.session.publish("t", "one", 1, false);
	equal(store.saves, 1, "QoS 1 accepted");
	h.sent();
	h.receive(ack(PUBACK, 1));
	equal(store.saves, 2, "QoS 1 completed");
	h.session.publish("t", "two", 2, false);
	equal(store.saves, 3, "QoS 2 accepted");
	h.sent();
	h.receive(ack(PUBREC, 2));
	equal(store.saves, 4, "QoS 2 past PUBREC");
	h.sent();
	h.receive(ack(PUBREC, 2));
	equal(store.saves, 4, "a repeated PUBREC changes nothing");
	h.sent();
	h.receive(ack(PUBCOMP, 2));
	equal(store.saves, 5, "QoS 2 completed");
	h.receive(pub("in", "0", 0), pub("in", "1", 1, 4));
	equal(store.saves, 5, "inbound QoS 0 and 1");
	h.receive(pub("in", "2", 2, 5));
	equal(store.saves, 6, "inbound QoS 2 recorded");
	h.receive(pub("in", "2", 2, 5, true));
	equal(store.saves, 6, "its duplicate");
	h.receive(ack(PUBREL, 5));
	equal(store.saves, 7, "inbound QoS 2 released");
	h.receive(ack(PUBREL, 77));
	equal(store.saves, 7, "PUBREL for an unknown identifier");
	h.sent();
	h.drop();
	h.connect(true);
	equal(store.saves, 7, "a reconnect");
});

add("inbound QoS 2 recorded before a power cut: the broker's re-send after it is still a duplicate; PUBREL frees the identifier in the store", () => {
	const store = new MemoryStore();
	const h = new Harness({ cleanSession: false, store });
	h.connect();
	h.take();
	h.receive(pub("x", "m", 2, 9));
	deepEqual(h.take(), ["message x m q2"]);
	equal(h.sent(), bytesOf(ack(PUBREC, 9)));

	const after = new Harness({ cleanSession: false, store });
	after.connect(true);
	after.receive(pub("x", "m", 2, 9, true));
	deepEqual(after.take(), ["connected true"], "not delivered again");
	equal(after.session.stats.duplicatesIgnored, 1);
	equal(after.sent(), bytesOf(ack(PUBREC, 9)));
	after.receive(ack(PUBREL, 9));
	equal(after.sent(), bytesOf(ack(PUBCOMP, 9)));

	const later = new Harness({ cleanSession: false, store });
	later.connect(true);
	later.receive(pub("x", "new", 2, 9));
	deepEqual(later.take(), ["connected true", "message x new q2"], "released before the second cut: a new message");
});

add("a connection without a session forgets the inbound QoS 2 identifiers in the store too", () => {
	const store = new MemoryStore();
	const h = new Harness({ cleanSession: false, store });
	h.connect();
	h.receive(pub("x", "m", 2, 9));
	const after = new Harness({ cleanSession: false, store });
	const saves = store.saves;
	after.connect(false);
	equal(store.saves, saves + 1, "saved: the broker has no state for us");
	const later = new Harness({ cleanSession: false, store });
	later.connect(true);
	later.receive(pub("x", "new", 2, 9));
	deepEqual(later.take(), ["connected true", "message x new q2"]);
});

add("identifiers restored from the store are not handed out again, across the wrap", () => {
	// a and b in flight (1 and 2), the next identifier 65,535, as a snapshot holds them.
	const store = new MemoryStore(snapshotOf(65_535, [{ id: 1, qos: 1, state: NOT_SENT, packet: pub("t", "a", 1, 1) }, { id: 2, qos: 1, state: NOT_SENT, packet: pub("t", "b", 1, 2) }], []));
	const h = new Harness({ store });
	equal(h.session.pending, 2);
	equal(h.session.publish("t", "c", 1, false), 65_535);
	const after = new Harness({ store });
	equal(after.session.publish("t", "d", 1, false), 3, "1 and 2 are in use");
	after.connect();
	equal(after.sent(), bytesOf(pub("t", "a", 1, 1, true), pub("t", "b", 1, 2, true), pub("t", "c", 1, 65_535, true), pub("t", "d", 1, 3)));
});

add("a snapshot built by hand from the documented format is restored", () => {
	const store = new MemoryStore(snapshotOf(300, [
		{ id: 40, qos: 2, state: PAST_PUBREC },
		{ id: 41, qos: 1, state: SENT_ONCE, packet: pub("h/1", "one", 1, 41, false, true) },
		{ id: 299, qos: 2, state: NOT_SENT, packet: pub("h/2", "two", 2, 299) },
	], [7, 1000]));
	const h = new Harness({ cleanSession: false, store });
	deepEqual(h.take(), []);
	equal(h.session.pending, 3);
	h.connect(true);
	equal(h.sent(), bytesOf(ack(PUBREL, 40), pub("h/1", "one", 1, 41, true, true), pub("h/2", "two", 2, 299, true)));
	h.receive(pub("in", "dup", 2, 1000, true), pub("in", "new", 2, 8));
	deepEqual(h.take(), ["connected true", "message in new q2"], "1000 was awaiting PUBREL");
	equal(h.session.publish("t", "x", 1, false), 300, "the next identifier");
});

add("a corrupt snapshot is ignored and reported once (STORE_CORRUPT); the session starts empty and the next save replaces it", () => {
	const good = snapshotOf(5, [{ id: 4, qos: 1, state: SENT_ONCE, packet: pub("c/1", "payload", 1, 4) }], [3]);
	const flip = (at: number): Uint8Array => {
		const b = good.slice();
		b[at] = b[at]! ^ 0x01;
		return b;
	};
	const variants: Array<[string, Uint8Array]> = [
		["a payload bit flipped", flip(good.length - 8)],
		["the checksum altered", flip(good.length - 1)],
		["cut short", good.slice(0, good.length - 3)],
		["cut to the header", good.slice(0, 10)],
		["empty", new Uint8Array(0)],
		["bad magic", flip(0)],
		["another version", flip(2)],
		["reserved flags", flip(3)],
		["garbage", new Uint8Array(64).fill(0xA5)],
		["a byte too many", new Uint8Array([...good, 0])],
	];
	for (const [what, bytes] of variants) {
		const store = new MemoryStore(bytes);
		const h = new Harness({ cleanSession: false, store });
		deepEqual(h.take(), ["store STORE_CORRUPT"], what);
		equal(h.session.pending, 0, `${what}: nothing restored`);
		h.connect(true);
		equal(h.sent(), "", `${what}: nothing re-sent`);
		h.receive(pub("in", "m", 2, 3));
		deepEqual(h.take(), ["connected true", "message in m q2"], `${what}: no inbound identifier restored`);
		equal(h.session.publish("t", "x", 1, false), 1, `${what}: identifiers from 1`);
		const again = new Harness({ store });
		deepEqual(again.take(), [], `${what}: replaced by a valid snapshot`);
		equal(again.session.pending, 1);
	}
	const h = new Harness({ store: new MemoryStore(good) });
	deepEqual(h.take(), [], "the unaltered snapshot is valid");
	equal(h.session.pending, 1);
});

add("a snapshot whose checksum holds but whose content is invalid is ignored and reported", () => {
	const m1 = pub("v/1", "a", 1, 1);
	const m2 = pub("v/2", "b", 2, 2);
	const cases: Array<[string, Uint8Array]> = [
		["next identifier 0", snapshotOf(0, [], [])],
		["packet identifier 0", snapshotOf(2, [{ id: 0, qos: 2, state: PAST_PUBREC }], [])],
		["an identifier twice", snapshotOf(3, [{ id: 1, qos: 1, state: SENT_ONCE, packet: m1 }, { id: 1, qos: 2, state: PAST_PUBREC }], [])],
		["QoS 0", snapshotOf(2, [{ id: 1, qos: 0, state: NOT_SENT, packet: pub("v/0", "z", 0) }], [])],
		["QoS 3", snapshotOf(2, [{ id: 1, qos: 3, state: PAST_PUBREC }], [])],
		["QoS 1 awaiting PUBCOMP", snapshotOf(2, [{ id: 1, qos: 1, state: PAST_PUBREC }], [])],
		["state 2", snapshotOf(2, [{ id: 1, qos: 1, state: 2, packet: m1 }], [])],
		["state 5", snapshotOf(2, [{ id: 1, qos: 2, state: 5 }], [])],
		["the PUBLISH carries another identifier", snapshotOf(3, [{ id: 2, qos: 1, state: SENT_ONCE, packet: m1 }], [])],
		["the PUBLISH has another QoS", snapshotOf(3, [{ id: 2, qos: 1, state: SENT_ONCE, packet: m2 }], [])],
		["not a PUBLISH", snapshotOf(3, [{ id: 2, qos: 2, state: SENT_ONCE, packet: ack(PUBREL, 2) }], [])],
		["a PUBLISH with no message bytes", snapshotOf(3, [{ id: 2, qos: 2, state: SENT_ONCE }], [])],
		["more entries than written", (() => { const b = snapshotOf(3, [{ id: 2, qos: 2, state: PAST_PUBREC }], []); b[7] = 2; return resum(b); })()],
		["inbound identifier 0", snapshotOf(1, [], [0])],
		["an inbound identifier twice", snapshotOf(1, [], [9, 9])],
		["bytes after the inbound identifiers", snapshotOf(1, [], [9], [0, 0, 0])],
		["a malformed remaining length", snapshotOf(3, [{ id: 2, qos: 1, state: SENT_ONCE }], [], [0x32, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])],
		["another client identifier's snapshot (not re-sent under ours)", snapshotOf(3, [{ id: 2, qos: 1, state: SENT_ONCE, packet: pub("v/1", "a", 1, 2) }], [], [], "another-device")],
	];
	for (const [what, bytes] of cases) {
		const h = new Harness({ store: new MemoryStore(bytes) });
		deepEqual(h.take(), ["store STORE_CORRUPT"], what);
		equal(h.session.pending, 0, what);
	}
});

/** Recomputes the checksum of a snapshot altered by a test. */
function resum(b: Uint8Array): Uint8Array {
	let h = 0x811C9DC5;
	for (let i = 0; i < b.length - 4; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
	h >>>= 0;
	b[b.length - 4] = h >>> 24;
	b[b.length - 3] = (h >>> 16) & 0xFF;
	b[b.length - 2] = (h >>> 8) & 0xFF;
	b[b.length - 1] = h & 0xFF;
	return b;
}

add("a snapshot larger than the current options allow is ignored and reported", () => {
	const store = new MemoryStore();
	const h = new Harness({ store, maxMessages: 8 });
	h.session.publish("big/1", "x".repeat(100), 1, false);
	h.session.publish("big/2", "y".repeat(100), 2, false);
	h.session.publish("big/3", "z", 1, false);
	const saved = store.data!;
	const fits = new Harness({ store: new MemoryStore(saved), maxMessages: 3 });
	deepEqual(fits.take(), [], "three messages fit three entries");
	for (const [what, options] of [
		["maxMessages 2", { maxMessages: 2 }],
		["queueBytes 200", { queueBytes: 200 }],
		["txBufferSize 64", { txBufferSize: 64 }],
	] as Array<[string, Partial<SessionOptions>]>) {
		const s = new Harness({ store: new MemoryStore(saved), ...options });
		deepEqual(s.take(), ["store STORE_CORRUPT"], what);
		equal(s.session.pending, 0, what);
	}
	const inbound = snapshotOf(1, [], [1, 2, 3]);
	deepEqual(new Harness({ store: new MemoryStore(inbound), maxInboundQos2: 3 }).take(), []);
	deepEqual(new Harness({ store: new MemoryStore(inbound), maxInboundQos2: 2 }).take(), ["store STORE_CORRUPT"], "maxInboundQos2 2");
	const oversized = new Uint8Array(200_000);
	oversized.set(snapshotOf(1, [], []).subarray(0, 10));
	deepEqual(new Harness({ store: new MemoryStore(oversized) }).take(), ["store STORE_CORRUPT"], "200,000 bytes");
});

add("a store that throws: load is reported (STORE_FAILED) and the session starts empty; a failing save is reported once, publishing goes on", () => {
	const broken: Store = { load: () => { throw new Error("flash read error"); }, save: () => {} };
	const h = new Harness({ store: broken });
	deepEqual(h.take(), ["store STORE_FAILED"]);
	equal(h.session.pending, 0);

	let failing = true;
	const flaky: Store = { load: () => undefined, save: () => { if (failing) throw new Error("flash full"); } };
	const f = new Harness({ store: flaky });
	f.connect();
	f.take();
	equal(f.session.publish("t", "1", 1, false), 1, "accepted all the same");
	equal(f.session.publish("t", "2", 1, false), 2);
	deepEqual(f.take(), ["store STORE_FAILED"], "reported once");
	equal(f.sent(), bytesOf(pub("t", "1", 1, 1), pub("t", "2", 1, 2)), "and sent");
	failing = false;
	f.receive(ack(PUBACK, 1));
	failing = true;
	f.receive(ack(PUBACK, 2));
	deepEqual(f.take(), ["delivered 1", "store STORE_FAILED", "delivered 2"], "failing again after a success is reported again");
});

add("no store: nothing is saved, no memory is added; a store that is not one is INVALID_ARGUMENT", () => {
	const store = new MemoryStore();
	const plain = new Harness();
	const stored = new Harness({ store });
	equal(stored.session.pool.mem.length - plain.session.pool.mem.length, 14 + 32 * 3 + 4096 + 64 * 2 + 4, "the snapshot's room, only with a store");
	plain.connect();
	plain.session.publish("t", "x", 2, false);
	plain.sent();
	plain.receive(ack(PUBREC, 1), pub("in", "m", 2, 4));
	equal(store.saves, 0);
	equal(store.data, undefined);
	throwsCode(() => new Harness({ store: {} as Store }), "INVALID_ARGUMENT");
});
