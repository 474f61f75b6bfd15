// The client over a scripted transport and a hand-driven clock: connection lifecycle, dispatch,
// backpressure, keepalive and reconnection with backoff. Platform-free: also runs in XS.

import { Client } from "../../modules/mqtt/client.js";
import type { ClientOptions, Message } from "../../modules/mqtt/client.js";
import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import { CONNACK, CONNECT, DISCONNECT, PINGREQ, PINGRESP, PUBACK, SUBACK, SUBSCRIBE } from "../../modules/mqtt/packet.js";
import { encodePublish } from "../../modules/mqtt/encode.js";
import { writeRemainingLength } from "../../modules/mqtt/remaining-length.js";
import { writeUtf8, utf8Length } from "../../modules/mqtt/utf8.js";
import { deepEqual, equal, hex, ok, throwsCode } from "../lib/check.js";
import type { Case } from "../lib/check.js";
import { FakeTransport } from "../lib/fakes.js";
import { ManualClock } from "../lib/manual-clock.js";
import { bytesOf, pub } from "./session.js";
import { connack5 } from "./session5.js";

const CONNACK_OK = bytesOf({ type: CONNACK, sessionPresent: false, returnCode: 0 });

class Rig {
	readonly clock = new ManualClock();
	readonly transport = new FakeTransport(this.clock);
	readonly log: string[] = [];
	readonly client: Client;
	random = 0.5;
	constructor(options: Partial<ClientOptions> = {}) {
		const log = this.log;
		this.client = new Client({
			host: "broker.local", clientId: "rig", keepAlive: 0, transport: this.transport, clock: this.clock,
			random: () => this.random,
			reconnect: { initialDelay: 1000, maxDelay: 8000, factor: 2, jitter: 0.5 },
			onConnect(present) { log.push(`connect ${present}`); },
			onClose(error) { log.push(`close ${error ? error.code : "graceful"}`); },
			onError(error) { log.push(`error ${(error as MqttError).code ?? error.message}`); },
			onMessage(m: Message) { log.push(`message ${m.topic()} ${m.payloadText()}`); },
			onDelivered(id) { log.push(`delivered ${id}`); },
			onSubscribe(filter, code) { log.push(`suback ${filter} ${code}`); },
			onWritable() { log.push("writable"); },
			...options,
		});
	}
	/** Accepts the TCP connection and answers CONNECT with CONNACK. */
	up(): void {
		this.transport.accept();
		this.transport.sent();
		this.transport.deliverHex(CONNACK_OK);
	}
	/** MQTT 5.0: accepts the TCP connection and answers CONNECT with a CONNACK without properties. */
	up5(): void {
		this.transport.accept();
		this.transport.sent();
		this.transport.deliverHex(connack5());
	}
	take(): string[] {
		return this.log.splice(0);
	}
}

/**
 * An MQTT 5.0 QoS 0 PUBLISH as a broker sends it: `ids` as Subscription Identifiers (5.0 §3.3.2.3.8),
 * then `padding` bytes of payload after `payload`.
 */
function publish5(topic: string, payload: string, ids: number[], padding = 0): string {
	const out = new Uint8Array(16 + utf8Length(topic, true) + payload.length + padding + 5 * ids.length);
	let at = 5;
	at = writeUtf8(topic, out, writeLength16(out, at, utf8Length(topic, true)));
	const props = new Uint8Array(5 * ids.length);
	let n = 0;
	for (const id of ids) {
		props[n++] = 0x0B;
		n = writeRemainingLength(id, props, n);
	}
	at = writeRemainingLength(n, out, at);
	out.set(props.subarray(0, n), at);
	at += n;
	for (let i = 0; i < payload.length; i++) out[at++] = payload.charCodeAt(i);
	at += padding;
	// The fixed header right before the body.
	const body = at - 5;
	const header = new Uint8Array(5);
	header[0] = 0x30;
	const headerSize = writeRemainingLength(body, header, 1);
	const packet = new Uint8Array(headerSize + body);
	packet.set(header.subarray(0, headerSize), 0);
	packet.set(out.subarray(5, at), headerSize);
	return hex(packet);
}

function writeLength16(out: Uint8Array, at: number, length: number): number {
	out[at] = length >> 8;
	out[at + 1] = length & 0xFF;
	return at + 2;
}

export const clientCases: Case[] = [];
const add = (name: string, run: () => void): void => { clientCases.push({ name, run }); };

add("opens the transport at once and sends CONNECT when it is up", () => {
	const r = new Rig({ port: 1999 });
	equal(r.transport.opens.length, 1);
	equal(r.transport.opens[0]!.host, "broker.local");
	equal(r.transport.opens[0]!.port, 1999);
	r.transport.accept();
	equal(r.transport.sent(), bytesOf({ type: CONNECT, clientId: "rig", cleanSession: true, keepAlive: 0 }));
	r.transport.deliverHex(CONNACK_OK);
	deepEqual(r.take(), ["connect false"]);
	ok(r.client.connected, "connected");
});

add("default ports: 1883, and 8883 with TLS", () => {
	equal(new Rig({ port: undefined }).transport.opens[0]!.port, 1883);
	const tls = new Rig({ port: undefined, tls: true });
	equal(tls.transport.opens[0]!.port, 8883);
	ok(tls.transport.opens[0]!.tls !== undefined, "TLS options passed");
});

add("a client id is generated when none is given and clean session is on", () => {
	const r = new Rig({ clientId: undefined });
	r.transport.accept();
	const sent = r.transport.sent();
	// "xs-" and 12 hex digits: 15 bytes of client id
	equal(sent.slice(0, 5), "10 1B", "CONNECT of the expected length");
	throwsCode(() => new Rig({ clientId: undefined, cleanSession: false }), "EMPTY_CLIENT_ID");
});

add("messages go to every matching subscription handler, else to onMessage", () => {
	const seen: string[] = [];
	const r = new Rig();
	r.up();
	r.client.subscribe("sensors/+/temp", 1, function (m) { seen.push(`temp ${m.topic()} ${m.payloadText()}`); });
	r.client.subscribe("sensors/#", 0, function (m) { seen.push(`all ${m.topic()}`); });
	r.transport.sent();
	r.transport.deliverHex(bytesOf(
		pub("sensors/a/temp", "21.5", 1, 3),
		pub("sensors/a/hum", "40", 0),
		pub("other", "x", 0),
	));
	deepEqual(seen, ["temp sensors/a/temp 21.5", "all sensors/a/temp", "all sensors/a/hum"]);
	deepEqual(r.take(), ["connect false", "message other x"]);
	equal(r.transport.sent(), bytesOf({ type: PUBACK, packetId: 3 }), "acknowledged after the handlers");
});

add("a handler that throws is reported, and its message is still acknowledged", () => {
	const r = new Rig();
	r.up();
	r.client.subscribe("cmd/#", 1, () => { throw new Error("handler bug"); });
	r.transport.sent();
	r.take();
	r.transport.deliverHex(bytesOf(pub("cmd/x", "1", 1, 9)));
	deepEqual(r.take(), ["error handler bug"]);
	equal(r.transport.sent(), bytesOf({ type: PUBACK, packetId: 9 }));
});

add("a lost connection is reported, then retried with exponential backoff, jitter and a cap", () => {
	const r = new Rig();
	r.up();
	r.take();
	r.transport.lose(new MqttError(ErrorCode.CONNECTION_LOST, "gone"));
	deepEqual(r.take(), ["close CONNECTION_LOST"]);
	const delays: number[] = [];
	for (let i = 0; i < 6; i++) {
		const before = r.transport.opens.length;
		const from = r.clock.now();
		r.clock.fireNext();
		equal(r.transport.opens.length, before + 1, `attempt ${i + 1}`);
		delays.push(r.transport.opens[before]!.at - from);
		r.transport.lose(new MqttError(ErrorCode.CONNECTION_REFUSED, "refused"));
	}
	// random() = 0.5 and jitter 0.5: each delay is 3/4 of min(8000, 1000 × 2^n)
	deepEqual(delays, [750, 1500, 3000, 6000, 6000, 6000]);
	deepEqual(r.take(), ["error CONNECTION_REFUSED", "error CONNECTION_REFUSED", "error CONNECTION_REFUSED", "error CONNECTION_REFUSED", "error CONNECTION_REFUSED", "error CONNECTION_REFUSED"]);
	r.clock.fireNext();
	r.up();
	deepEqual(r.take(), ["connect false"]);
	// A connection that proved itself (it lasted stableAfter, 10 s by default): the backoff starts over.
	r.clock.advance(10_000);
	r.transport.lose(new MqttError(ErrorCode.CONNECTION_LOST, "gone"));
	const from = r.clock.now();
	const before = r.transport.opens.length;
	r.clock.fireNext();
	equal(r.transport.opens[before]!.at - from, 750, "backoff starts over after a connection that lasted stableAfter");
});

/** Fires the clock until the client opens its transport again. */
function reopen(r: Rig): void {
	const opens = r.transport.opens.length;
	for (let i = 0; i < 10 && r.transport.opens.length === opens; i++) r.clock.fireNext();
	equal(r.transport.opens.length, opens + 1, "the client opened the transport again");
}

/** Delays between the opens of `r`'s transport, from the `from`-th open on. */
function gaps(r: Rig, from: number): number[] {
	const out: number[] = [];
	for (let i = from + 1; i < r.transport.opens.length; i++) out.push(r.transport.opens[i]!.at - r.transport.opens[i - 1]!.at);
	return out;
}

add("a broker that accepts and closes at once, again and again, meets growing delays up to maxDelay (CONNACK alone does not reset the backoff)", () => {
	const r = new Rig({ reconnect: { initialDelay: 1000, maxDelay: 8000, factor: 2, jitter: 0 } });
	for (let i = 0; i < 7; i++) {
		r.up();
		r.clock.advance(5); // closed 5 ms after CONNACK: it never proved itself
		r.transport.lose(new MqttError(ErrorCode.CONNECTION_LOST, "closed by the broker"));
		r.clock.fireNext();
	}
	// Before: every CONNACK reset the backoff, so every gap was the first delay (about 1.3 connections a second).
	deepEqual(gaps(r, 0), [1005, 2005, 4005, 8005, 8005, 8005, 8005]);
	equal(r.client.stats.connects, 7);
});

add("a connection proves itself by an acknowledgement (PINGRESP, PUBACK, SUBACK...) or by lasting stableAfter; then the backoff starts over", () => {
	for (const proof of ["suback", "pingresp", "lasted", "none"]) {
		const r = new Rig({ keepAlive: proof === "pingresp" ? 1 : 0, stableAfter: 3000, reconnect: { initialDelay: 1000, maxDelay: 60_000, factor: 2, jitter: 0 } });
		// Two quick failures first: the next delay would be 4 s.
		for (let i = 0; i < 2; i++) {
			r.up();
			r.transport.lose(new MqttError(ErrorCode.CONNECTION_LOST, "closed"));
			reopen(r);
		}
		r.up();
		r.transport.sent();
		if (proof === "suback") {
			r.client.subscribe("a/b", 1);
			equal(r.transport.sent(), bytesOf({ type: SUBSCRIBE, packetId: 1, subscriptions: [{ filter: "a/b", qos: 1 }] }));
			r.transport.deliverHex(bytesOf({ type: SUBACK, packetId: 1, returnCodes: [1] }));
		}
		else if (proof === "pingresp") {
			r.clock.advance(1000);
			equal(r.transport.sent(), bytesOf({ type: PINGREQ }));
			r.transport.deliverHex(bytesOf({ type: PINGRESP }));
		}
		else if (proof === "lasted") r.clock.advance(3000);
		r.transport.lose(new MqttError(ErrorCode.CONNECTION_LOST, "closed"));
		const from = r.clock.now();
		reopen(r);
		equal(r.clock.now() - from, proof === "none" ? 4000 : 1000, `after ${proof}`);
	}
});

add("a refused CONNACK is a named error, and the retries back off (no storm)", () => {
	const r = new Rig();
	for (let i = 0; i < 4; i++) {
		r.transport.accept();
		r.transport.sent();
		r.transport.deliverHex(bytesOf({ type: CONNACK, sessionPresent: false, returnCode: 4 }));
		if (i < 3) r.clock.fireNext();
	}
	deepEqual(r.take(), ["error BAD_USERNAME_OR_PASSWORD", "error BAD_USERNAME_OR_PASSWORD", "error BAD_USERNAME_OR_PASSWORD", "error BAD_USERNAME_OR_PASSWORD"]);
	const at = r.transport.opens.map((o) => o.at);
	deepEqual(at.slice(1).map((t, i) => t - at[i]!), [750, 1500, 3000], "growing gaps");
	equal(r.transport.closes, 4, "each refused connection closed");
});

add("no CONNACK within connectTimeout: closed, reported, retried", () => {
	const r = new Rig({ connectTimeout: 2000 });
	r.transport.accept();
	r.clock.advance(1999);
	deepEqual(r.take(), []);
	r.clock.advance(1);
	deepEqual(r.take(), ["error CONNECT_TIMEOUT"]);
	equal(r.transport.closes, 1);
	r.clock.advance(750);
	equal(r.transport.opens.length, 2, "retried");
});

add("keepalive over the clock: PINGREQ, and a silent broker is dropped after 1.5 × keepAlive", () => {
	const r = new Rig({ keepAlive: 2 });
	r.up();
	r.take();
	r.clock.advance(2000);
	equal(r.transport.sent(), bytesOf({ type: PINGREQ }));
	r.transport.deliverHex(bytesOf({ type: PINGRESP }));
	r.clock.advance(2000);
	equal(r.transport.sent(), bytesOf({ type: PINGREQ }), "again after 2 s");
	r.clock.advance(999);
	deepEqual(r.take(), []);
	r.clock.advance(1);
	deepEqual(r.take(), ["close KEEPALIVE_TIMEOUT"]);
	equal(r.transport.closes, 1, "transport closed");
	r.clock.advance(750);
	equal(r.transport.opens.length, 2, "reconnecting");
});

add("transport backpressure: the transmit buffer keeps the rest and sends it on onWritable", () => {
	const r = new Rig();
	r.up();
	r.take();
	r.transport.writeRoom = 5;
	equal(r.client.publish("bp/topic", "0123456789", 0), 0);
	const full = bytesOf(pub("bp/topic", "0123456789", 0));
	equal(r.transport.sent(), full.slice(0, 14), "five bytes taken");
	r.transport.unblock();
	equal(r.transport.sent(), full.slice(15), "the rest after onWritable");
});

add("QoS 0 with a byte payload goes to the transport without a copy; cut anywhere, the bytes still follow in order", () => {
	const payload = new Uint8Array(40);
	for (let i = 0; i < payload.length; i++) payload[i] = i * 7;
	const expected = bytesOf(pub("direct/topic", "", 0)).split(" ");
	const buffer = new Uint8Array(128);
	const n = encodePublish(buffer, 0, "direct/topic", payload, 0, true, false, 0);
	const whole = hex(buffer.subarray(0, n));
	ok(expected.length > 0, "fixture");
	for (let room = 0; room <= n; room++) {
		const r = new Rig();
		r.up();
		r.take();
		r.transport.writeRoom = room;
		equal(r.client.publish("direct/topic", payload, 0, true), 0, `accepted (room ${room})`);
		const first = r.transport.sent();
		r.transport.unblock();
		const rest = r.transport.sent();
		equal([first, rest].filter((x) => x !== "").join(" "), whole, `room ${room}: the same bytes, in order`);
		// A second message after the first queued part must not overtake it.
		r.transport.writeRoom = 3;
		r.client.publish("direct/topic", payload, 0, true);
		r.client.publish("other", payload, 0, false);
		const partial = r.transport.sent();
		r.transport.unblock();
		const tail = r.transport.sent();
		const both = new Uint8Array(256);
		let m = encodePublish(both, 0, "direct/topic", payload, 0, true, false, 0);
		m += encodePublish(both, m, "other", payload, 0, false, false, 0);
		equal([partial, tail].filter((x) => x !== "").join(" "), hex(both.subarray(0, m)), `room ${room}: two messages in order`);
	}
});

add("QoS 0 sends that do not read the clock still keep the broker from ever seeing 1.5 × keepAlive of silence", () => {
	// The broker is chatty (a message every 2 s), so keepalive rests on what we send: a direct send
	// right after a tick and then nothing must not be taken as later than it was.
	const r = new Rig({ keepAlive: 10 });
	r.up();
	r.take();
	const payload = new Uint8Array(8);
	const inbound = bytesOf(pub("news", "x", 0));
	let lastWrite = r.clock.now();
	let longest = 0;
	for (let second = 1; second <= 120; second++) {
		r.clock.advance(1_000);
		if (second % 2 === 0) r.transport.deliverHex(inbound);
		if (second === 11 || second === 41 || second === 73) r.client.publish("t", payload, 0);
		const out = r.transport.sent();
		if (out !== "") {
			longest = Math.max(longest, r.clock.now() - lastWrite);
			lastWrite = r.clock.now();
			if (out.includes("C0 00")) r.transport.deliverHex(bytesOf({ type: PINGRESP }));
		}
	}
	ok(longest <= 10_000, `the longest silence toward the broker was ${longest} ms (keepAlive 10 s)`);
	ok(r.client.connected, "still connected");
});

add("reading pauses while the transmit buffer cannot take an acknowledgement, and resumes", () => {
	const r = new Rig({ txBufferSize: 32 });
	r.up();
	r.take();
	r.transport.writeRoom = 0;
	// 28 bytes of QoS 0 fill the transmit buffer, leaving 4: room for exactly one PUBACK.
	equal(r.client.publish("t", "x".repeat(23), 0), 0);
	r.transport.deliverHex(bytesOf(pub("a", "1", 1, 1), pub("b", "2", 1, 2), pub("c", "3", 1, 3)));
	deepEqual(r.take(), ["message a 1"], "only what can be acknowledged");
	r.transport.unblock();
	deepEqual(r.take(), ["message b 2", "message c 3"]);
	const out = r.transport.sent();
	ok(out.endsWith(bytesOf({ type: PUBACK, packetId: 1 }, { type: PUBACK, packetId: 2 }, { type: PUBACK, packetId: 3 })), "all acknowledged in order");
});

add("onWritable tells a refused publisher to try again", () => {
	const r = new Rig({ queueBytes: 40, maxInflight: 1 });
	r.up();
	r.take();
	ok(r.client.publish("w", "0123456789abcdef", 1) > 0, "first accepted");
	equal(r.client.publish("w", "0123456789abcdef", 1), -1, "pool full");
	r.transport.deliverHex(bytesOf({ type: PUBACK, packetId: 1 }));
	deepEqual(r.take(), ["delivered 1", "writable"]);
});

add("close(): DISCONNECT, transport closed, onClose without error, no reconnect, later calls throw", () => {
	const r = new Rig();
	r.up();
	r.take();
	r.client.close();
	equal(r.transport.sent(), bytesOf({ type: DISCONNECT }));
	equal(r.transport.closes, 1);
	deepEqual(r.take(), ["close graceful"]);
	r.clock.advance(1_000_000);
	equal(r.transport.opens.length, 1, "never reopened");
	throwsCode(() => r.client.publish("t", "x", 0), "CLIENT_CLOSED");
	throwsCode(() => r.client.subscribe("t"), "CLIENT_CLOSED");
});

add("close(false): no DISCONNECT (the broker will publish the will), transport closed, no reconnect", () => {
	const r = new Rig();
	r.up();
	r.take();
	r.client.close(false);
	equal(r.transport.sent(), "", "nothing sent");
	equal(r.transport.closes, 1);
	deepEqual(r.take(), ["close graceful"]);
	r.clock.advance(1_000_000);
	equal(r.transport.opens.length, 1, "never reopened");
});

add("close() while the transport is blocked waits for DISCONNECT to drain, within a grace period", () => {
	const r = new Rig();
	r.up();
	r.take();
	r.transport.writeRoom = 0;
	r.client.close();
	equal(r.transport.closes, 0, "still draining");
	r.transport.unblock();
	equal(r.transport.sent(), bytesOf({ type: DISCONNECT }));
	equal(r.transport.closes, 1);
	const r2 = new Rig();
	r2.up();
	r2.transport.writeRoom = 0;
	r2.client.close();
	r2.clock.advance(2000);
	equal(r2.transport.closes, 1, "closed after the grace period even if never drained");
});

add("close() while waiting to reconnect stops the retries", () => {
	const r = new Rig();
	r.transport.lose(new MqttError(ErrorCode.CONNECTION_REFUSED, "refused"));
	r.client.close();
	r.clock.advance(1_000_000);
	equal(r.transport.opens.length, 1);
});

add("subscriptions made while offline are sent once connected; QoS 1 published offline too", () => {
	const r = new Rig();
	r.client.subscribe("later/#", 1);
	equal(r.client.publish("later/x", "queued", 1), 1);
	r.transport.accept();
	r.transport.sent();
	r.transport.deliverHex(CONNACK_OK);
	equal(r.transport.sent(), bytesOf({ type: SUBSCRIBE, packetId: 2, subscriptions: [{ filter: "later/#", qos: 1 }] }, pub("later/x", "queued", 1, 1)));
	r.transport.deliverHex(bytesOf({ type: SUBACK, packetId: 2, returnCodes: [1] }, { type: PUBACK, packetId: 1 }));
	deepEqual(r.take(), ["connect false", "suback later/# 1", "delivered 1"]);
	equal(r.client.pending, 0);
});

add("packets split across many reads are reassembled", () => {
	const r = new Rig();
	r.up();
	r.take();
	const all = bytesOf(pub("split/a", "first", 0), pub("split/b", "second", 0)).split(" ");
	for (const b of all) r.transport.deliverHex(b);
	deepEqual(r.take(), ["message split/a first", "message split/b second"]);
});

add("malformed bytes from the broker close the connection with a typed error, and it reconnects", () => {
	const r = new Rig();
	r.up();
	r.take();
	r.transport.deliverHex("36 05 00 01 74 00 01");
	deepEqual(r.take(), ["close INVALID_QOS"]);
	equal(r.transport.closes, 1);
	r.clock.advance(750);
	equal(r.transport.opens.length, 2);
});

add("MQTT 5.0: a subscription with an identifier takes only the messages that carry it (5.0 §3.3.4): one copy per subscription (mosquitto) reaches each handler once, one copy naming both reaches both", () => {
	const seen: string[] = [];
	const r = new Rig({ protocolVersion: 5 });
	r.up5();
	r.client.subscribe("s/+", 1, function (m) { seen.push(`plus ${m.topic()} ${m.payloadText()}`); }, { subscriptionIdentifier: 7 });
	r.client.subscribe("s/#", 1, function (m) { seen.push(`hash ${m.topic()} ${m.payloadText()}`); }, { subscriptionIdentifier: 300 });
	r.transport.sent();
	r.transport.deliverHex(`${publish5("s/a", "copy7", [7])} ${publish5("s/a", "copy300", [300])}`);
	deepEqual(seen.splice(0), ["plus s/a copy7", "hash s/a copy300"]);
	r.transport.deliverHex(publish5("s/a", "one", [300, 7]));
	deepEqual(seen.splice(0), ["plus s/a one", "hash s/a one"]);
	r.transport.deliverHex(publish5("s/a/b", "deep", [300]));
	deepEqual(seen.splice(0), ["hash s/a/b deep"]);
	deepEqual(r.take(), ["connect false"]);
});

add("MQTT 5.0: a message naming none of its matching subscriptions' identifiers goes to all of them; a subscription without an identifier takes every copy; no match is onMessage", () => {
	const seen: string[] = [];
	const r = new Rig({ protocolVersion: 5 });
	r.up5();
	r.client.subscribe("s/+", 1, function (m) { seen.push(`plus ${m.payloadText()}`); }, { subscriptionIdentifier: 7 });
	r.client.subscribe("s/#", 1, function (m) { seen.push(`hash ${m.payloadText()}`); }, { subscriptionIdentifier: 9 });
	r.transport.sent();
	// Identifiers from before a re-subscription, or none (a subscription a previous process made): every match.
	r.transport.deliverHex(`${publish5("s/a", "stale", [5])} ${publish5("s/a", "none", [])}`);
	deepEqual(seen.splice(0), ["plus stale", "hash stale", "plus none", "hash none"]);
	r.client.subscribe("s/a", 1, function (m) { seen.push(`plain ${m.payloadText()}`); });
	r.transport.sent();
	r.transport.deliverHex(`${publish5("s/a", "for7", [7])} ${publish5("s/a", "forPlain", [])}`);
	deepEqual(seen.splice(0), ["plus for7", "plain for7", "plain forPlain"]);
	r.transport.deliverHex(publish5("t", "other", [7]));
	deepEqual(seen, []);
	deepEqual(r.take(), ["connect false", "message t other"]);
});

add("MQTT 5.0: the receive buffer takes a packet one byte over the Maximum Packet Size announced (mosquitto leaves the first byte out of its check); two over is DISCONNECT 0x95", () => {
	const r = new Rig({ protocolVersion: 5, rxBufferSize: 64 });
	r.transport.accept();
	ok(r.transport.sent().includes("27 00 00 00 40"), "CONNECT announces Maximum Packet Size 64 (5.0 §3.1.2.11.4)");
	r.transport.deliverHex(connack5());
	r.take();
	const fixed = (total: number): string => publish5("big", "", [], total - 2 - 2 - 3 - 1);
	equal(fixed(65).split(" ").length, 65);
	r.transport.deliverHex(`${fixed(64)} ${fixed(65)}`);
	equal(r.take().length, 2, "64 and 65 bytes: both delivered");
	equal(r.client.stats.messagesReceived, 2);
	r.transport.deliverHex(fixed(66));
	deepEqual(r.take(), ["close PACKET_TOO_LARGE"]);
	equal(r.transport.sent(), "E0 01 95", "DISCONNECT 0x95 Packet too large (5.0 §3.14.2.1)");
});
