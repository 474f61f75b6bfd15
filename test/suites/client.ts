// The client over a scripted transport and a hand-driven clock: connection lifecycle, dispatch,
// backpressure, keepalive and reconnection with backoff. Every case runs twice, speaking MQTT 3.1.1
// (`clientCases`) and MQTT 5.0 (`client5Cases`), each expecting the bytes of its version.
// Platform-free: also runs in XS.

import { Client } from "../../modules/mqtt/client.js";
import type { ClientOptions, Message } from "../../modules/mqtt/client.js";
import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import { CONNACK, CONNECT, DISCONNECT, PINGREQ, PINGRESP, PUBACK, PUBLISH, SUBACK, SUBSCRIBE } from "../../modules/mqtt/packet.js";
import type { ConnectPacket, Packet } from "../../modules/mqtt/packet.js";
import type { PropertyValues } from "../../modules/mqtt/properties.js";
import { deepEqual, equal, ok, throwsCode } from "../lib/check.js";
import type { Case } from "../lib/check.js";
import { FakeTransport } from "../lib/fakes.js";
import { ManualClock } from "../lib/manual-clock.js";
import { bytesIn, pub } from "./session.js";

type Version = 4 | 5;

/**
 * What the rig's client announces in an MQTT 5.0 CONNECT (5.0 §3.1.2.11): Receive Maximum, its
 * maxInboundQos2 (64 by default), and Maximum Packet Size, its receive buffer (1024 by default).
 */
const RIG_CONNECT5: PropertyValues = { receiveMaximum: 64, maximumPacketSize: 1024 };

class Rig {
	readonly clock = new ManualClock();
	readonly transport = new FakeTransport(this.clock);
	readonly log: string[] = [];
	readonly client: Client;
	random = 0.5;
	constructor(readonly version: Version, options: Partial<ClientOptions> = {}) {
		const log = this.log;
		this.client = new Client({
			host: "broker.local", clientId: "rig", keepAlive: 0, transport: this.transport, clock: this.clock,
			protocolVersion: version,
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
	/** Hex of packets in the rig's version (CONNACK return codes become the 5.0 reason codes that mean the same). */
	bytes(...packets: Packet[]): string {
		return bytesIn(this.version, ...packets);
	}
	/** Hex of the CONNECT the rig's client sends: with MQTT 5.0, with the properties it announces. */
	connect(packet: Omit<ConnectPacket, "type" | "properties">): string {
		return this.bytes({ type: CONNECT, ...packet, properties: this.version === 5 ? RIG_CONNECT5 : undefined });
	}
	get connackOk(): string {
		return this.bytes({ type: CONNACK, sessionPresent: false, returnCode: 0 });
	}
	/** Accepts the TCP connection and answers CONNECT with CONNACK. */
	up(): void {
		this.transport.accept();
		this.transport.sent();
		this.transport.deliverHex(this.connackOk);
	}
	take(): string[] {
		return this.log.splice(0);
	}
}

/** A case, run with a rig of each version (`v`). */
const definitions: Array<{ name: string; run: (v: Version) => void }> = [];
const add = (name: string, run: (v: Version) => void): void => { definitions.push({ name, run }); };

add("opens the transport at once and sends CONNECT when it is up", (v) => {
	const r = new Rig(v, { port: 1999 });
	equal(r.transport.opens.length, 1);
	equal(r.transport.opens[0]!.host, "broker.local");
	equal(r.transport.opens[0]!.port, 1999);
	r.transport.accept();
	equal(r.transport.sent(), r.connect({ clientId: "rig", cleanSession: true, keepAlive: 0 }));
	r.transport.deliverHex(r.connackOk);
	deepEqual(r.take(), ["connect false"]);
	ok(r.client.connected, "connected");
});

add("default ports: 1883, and 8883 with TLS", (v) => {
	equal(new Rig(v, { port: undefined }).transport.opens[0]!.port, 1883);
	const tls = new Rig(v, { port: undefined, tls: true });
	equal(tls.transport.opens[0]!.port, 8883);
	ok(tls.transport.opens[0]!.tls !== undefined, "TLS options passed");
});

add("a client id is generated when none is given and clean session is on", (v) => {
	const r = new Rig(v, { clientId: undefined });
	r.transport.accept();
	// "xs-" and 12 hex digits, each from random() (0.5 here: "8").
	equal(r.transport.sent(), r.connect({ clientId: "xs-888888888888", cleanSession: true, keepAlive: 0 }));
	throwsCode(() => new Rig(v, { clientId: undefined, cleanSession: false }), "EMPTY_CLIENT_ID");
});

add("messages go to every matching subscription handler, else to onMessage", (v) => {
	const seen: string[] = [];
	const r = new Rig(v);
	r.up();
	r.client.subscribe("sensors/+/temp", 1, function (m) { seen.push(`temp ${m.topic()} ${m.payloadText()}`); });
	r.client.subscribe("sensors/#", 0, function (m) { seen.push(`all ${m.topic()}`); });
	r.transport.sent();
	r.transport.deliverHex(r.bytes(
		pub("sensors/a/temp", "21.5", 1, 3),
		pub("sensors/a/hum", "40", 0),
		pub("other", "x", 0),
	));
	deepEqual(seen, ["temp sensors/a/temp 21.5", "all sensors/a/temp", "all sensors/a/hum"]);
	deepEqual(r.take(), ["connect false", "message other x"]);
	equal(r.transport.sent(), r.bytes({ type: PUBACK, packetId: 3 }), "acknowledged after the handlers");
});

add("a handler that throws is reported, and its message is still acknowledged", (v) => {
	const r = new Rig(v);
	r.up();
	r.client.subscribe("cmd/#", 1, () => { throw new Error("handler bug"); });
	r.transport.sent();
	r.take();
	r.transport.deliverHex(r.bytes(pub("cmd/x", "1", 1, 9)));
	deepEqual(r.take(), ["error handler bug"]);
	equal(r.transport.sent(), r.bytes({ type: PUBACK, packetId: 9 }));
});

add("a lost connection is reported, then retried with exponential backoff, jitter and a cap", (v) => {
	const r = new Rig(v);
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

add("a broker that accepts and closes at once, again and again, meets growing delays up to maxDelay (CONNACK alone does not reset the backoff)", (v) => {
	const r = new Rig(v, { reconnect: { initialDelay: 1000, maxDelay: 8000, factor: 2, jitter: 0 } });
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

add("a connection proves itself by an acknowledgement (PINGRESP, PUBACK, SUBACK...) or by lasting stableAfter; then the backoff starts over", (v) => {
	for (const proof of ["suback", "pingresp", "lasted", "none"]) {
		const r = new Rig(v, { keepAlive: proof === "pingresp" ? 1 : 0, stableAfter: 3000, reconnect: { initialDelay: 1000, maxDelay: 60_000, factor: 2, jitter: 0 } });
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
			equal(r.transport.sent(), r.bytes({ type: SUBSCRIBE, packetId: 1, subscriptions: [{ filter: "a/b", qos: 1 }] }));
			r.transport.deliverHex(r.bytes({ type: SUBACK, packetId: 1, returnCodes: [1] }));
		}
		else if (proof === "pingresp") {
			r.clock.advance(1000);
			equal(r.transport.sent(), r.bytes({ type: PINGREQ }));
			r.transport.deliverHex(r.bytes({ type: PINGRESP }));
		}
		else if (proof === "lasted") r.clock.advance(3000);
		r.transport.lose(new MqttError(ErrorCode.CONNECTION_LOST, "closed"));
		const from = r.clock.now();
		reopen(r);
		equal(r.clock.now() - from, proof === "none" ? 4000 : 1000, `after ${proof}`);
	}
});

add("a refused CONNACK is a named error, and the retries back off (no storm)", (v) => {
	const r = new Rig(v);
	for (let i = 0; i < 4; i++) {
		r.transport.accept();
		r.transport.sent();
		r.transport.deliverHex(r.bytes({ type: CONNACK, sessionPresent: false, returnCode: 4 }));
		if (i < 3) r.clock.fireNext();
	}
	deepEqual(r.take(), ["error BAD_USERNAME_OR_PASSWORD", "error BAD_USERNAME_OR_PASSWORD", "error BAD_USERNAME_OR_PASSWORD", "error BAD_USERNAME_OR_PASSWORD"]);
	const at = r.transport.opens.map((o) => o.at);
	deepEqual(at.slice(1).map((t, i) => t - at[i]!), [750, 1500, 3000], "growing gaps");
	equal(r.transport.closes, 4, "each refused connection closed");
});

add("no CONNACK within connectTimeout: closed, reported, retried", (v) => {
	const r = new Rig(v, { connectTimeout: 2000 });
	r.transport.accept();
	r.clock.advance(1999);
	deepEqual(r.take(), []);
	r.clock.advance(1);
	deepEqual(r.take(), ["error CONNECT_TIMEOUT"]);
	equal(r.transport.closes, 1);
	r.clock.advance(750);
	equal(r.transport.opens.length, 2, "retried");
});

add("keepalive over the clock: PINGREQ, and a silent broker is dropped after 1.5 × keepAlive", (v) => {
	const r = new Rig(v, { keepAlive: 2 });
	r.up();
	r.take();
	r.clock.advance(2000);
	equal(r.transport.sent(), r.bytes({ type: PINGREQ }));
	r.transport.deliverHex(r.bytes({ type: PINGRESP }));
	r.clock.advance(2000);
	equal(r.transport.sent(), r.bytes({ type: PINGREQ }), "again after 2 s");
	r.clock.advance(999);
	deepEqual(r.take(), []);
	r.clock.advance(1);
	deepEqual(r.take(), ["close KEEPALIVE_TIMEOUT"]);
	equal(r.transport.closes, 1, "transport closed");
	r.clock.advance(750);
	equal(r.transport.opens.length, 2, "reconnecting");
});

add("transport backpressure: the transmit buffer keeps the rest and sends it on onWritable", (v) => {
	const r = new Rig(v);
	r.up();
	r.take();
	r.transport.writeRoom = 5;
	equal(r.client.publish("bp/topic", "0123456789", 0), 0);
	const full = r.bytes(pub("bp/topic", "0123456789", 0));
	equal(r.transport.sent(), full.slice(0, 14), "five bytes taken");
	r.transport.unblock();
	equal(r.transport.sent(), full.slice(15), "the rest after onWritable");
});

add("QoS 0 with a byte payload, cut anywhere by the transport: the bytes still follow in order (3.1.1 hands the payload over without a copy)", (v) => {
	const payload = new Uint8Array(40);
	for (let i = 0; i < payload.length; i++) payload[i] = i * 7;
	const message = (topic: string, retain: boolean): Packet => ({ type: PUBLISH, topic, payload, qos: 0, retain, dup: false });
	const whole = bytesIn(v, message("direct/topic", true));
	const n = (whole.length + 1) / 3;
	for (let room = 0; room <= n; room++) {
		const r = new Rig(v);
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
		equal([partial, tail].filter((x) => x !== "").join(" "), r.bytes(message("direct/topic", true), message("other", false)), `room ${room}: two messages in order`);
	}
});

add("QoS 0 sends that do not read the clock still keep the broker from ever seeing 1.5 × keepAlive of silence", (v) => {
	// The broker is chatty (a message every 2 s), so keepalive rests on what we send: a direct send
	// right after a tick and then nothing must not be taken as later than it was.
	const r = new Rig(v, { keepAlive: 10 });
	r.up();
	r.take();
	const payload = new Uint8Array(8);
	const inbound = r.bytes(pub("news", "x", 0));
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
			if (out.includes("C0 00")) r.transport.deliverHex(r.bytes({ type: PINGRESP }));
		}
	}
	ok(longest <= 10_000, `the longest silence toward the broker was ${longest} ms (keepAlive 10 s)`);
	ok(r.client.connected, "still connected");
});

add("reading pauses while the transmit buffer cannot take an acknowledgement, and resumes", (v) => {
	const r = new Rig(v, { txBufferSize: 32 });
	r.up();
	r.take();
	r.transport.writeRoom = 0;
	// QoS 0 fills the 32-byte transmit buffer but for room for one acknowledgement: 4 bytes, and with
	// MQTT 5.0 a fifth for a reason code (a PUBACK may have to say 0x99, 5.0 §3.4.2.1).
	const ackRoom = v === 5 ? 5 : 4;
	const overhead = (r.bytes(pub("t", "", 0)).length + 1) / 3;
	equal(r.client.publish("t", "x".repeat(32 - ackRoom - overhead), 0), 0);
	r.transport.deliverHex(r.bytes(pub("a", "1", 1, 1), pub("b", "2", 1, 2), pub("c", "3", 1, 3)));
	deepEqual(r.take(), ["message a 1"], "only what can be acknowledged");
	r.transport.unblock();
	deepEqual(r.take(), ["message b 2", "message c 3"]);
	const out = r.transport.sent();
	ok(out.endsWith(r.bytes({ type: PUBACK, packetId: 1 }, { type: PUBACK, packetId: 2 }, { type: PUBACK, packetId: 3 })), "all acknowledged in order");
});

add("onWritable tells a refused publisher to try again", (v) => {
	const r = new Rig(v, { queueBytes: 40, maxInflight: 1 });
	r.up();
	r.take();
	ok(r.client.publish("w", "0123456789abcdef", 1) > 0, "first accepted");
	equal(r.client.publish("w", "0123456789abcdef", 1), -1, "pool full");
	r.transport.deliverHex(r.bytes({ type: PUBACK, packetId: 1 }));
	deepEqual(r.take(), ["delivered 1", "writable"]);
});

add("close(): DISCONNECT, transport closed, onClose without error, no reconnect, later calls throw", (v) => {
	const r = new Rig(v);
	r.up();
	r.take();
	r.client.close();
	equal(r.transport.sent(), r.bytes({ type: DISCONNECT }));
	equal(r.transport.closes, 1);
	deepEqual(r.take(), ["close graceful"]);
	r.clock.advance(1_000_000);
	equal(r.transport.opens.length, 1, "never reopened");
	throwsCode(() => r.client.publish("t", "x", 0), "CLIENT_CLOSED");
	throwsCode(() => r.client.subscribe("t"), "CLIENT_CLOSED");
});

add("close(false): no DISCONNECT (the broker will publish the will), transport closed, no reconnect", (v) => {
	const r = new Rig(v);
	r.up();
	r.take();
	r.client.close(false);
	equal(r.transport.sent(), "", "nothing sent");
	equal(r.transport.closes, 1);
	deepEqual(r.take(), ["close graceful"]);
	r.clock.advance(1_000_000);
	equal(r.transport.opens.length, 1, "never reopened");
});

add("close() while the transport is blocked waits for DISCONNECT to drain, within a grace period", (v) => {
	const r = new Rig(v);
	r.up();
	r.take();
	r.transport.writeRoom = 0;
	r.client.close();
	equal(r.transport.closes, 0, "still draining");
	r.transport.unblock();
	equal(r.transport.sent(), r.bytes({ type: DISCONNECT }));
	equal(r.transport.closes, 1);
	const r2 = new Rig(v);
	r2.up();
	r2.transport.writeRoom = 0;
	r2.client.close();
	r2.clock.advance(2000);
	equal(r2.transport.closes, 1, "closed after the grace period even if never drained");
});

add("close() while waiting to reconnect stops the retries", (v) => {
	const r = new Rig(v);
	r.transport.lose(new MqttError(ErrorCode.CONNECTION_REFUSED, "refused"));
	r.client.close();
	r.clock.advance(1_000_000);
	equal(r.transport.opens.length, 1);
});

add("subscriptions made while offline are sent once connected; QoS 1 published offline too", (v) => {
	const r = new Rig(v);
	r.client.subscribe("later/#", 1);
	equal(r.client.publish("later/x", "queued", 1), 1);
	r.transport.accept();
	r.transport.sent();
	r.transport.deliverHex(r.connackOk);
	equal(r.transport.sent(), r.bytes({ type: SUBSCRIBE, packetId: 2, subscriptions: [{ filter: "later/#", qos: 1 }] }, pub("later/x", "queued", 1, 1)));
	r.transport.deliverHex(r.bytes({ type: SUBACK, packetId: 2, returnCodes: [1] }, { type: PUBACK, packetId: 1 }));
	deepEqual(r.take(), ["connect false", "suback later/# 1", "delivered 1"]);
	equal(r.client.pending, 0);
});

add("packets split across many reads are reassembled", (v) => {
	const r = new Rig(v);
	r.up();
	r.take();
	const all = r.bytes(pub("split/a", "first", 0), pub("split/b", "second", 0)).split(" ");
	for (const b of all) r.transport.deliverHex(b);
	deepEqual(r.take(), ["message split/a first", "message split/b second"]);
});

add("malformed bytes from the broker close the connection with a typed error, and it reconnects", (v) => {
	const r = new Rig(v);
	r.up();
	r.take();
	r.transport.deliverHex("36 05 00 01 74 00 01");
	deepEqual(r.take(), ["close INVALID_QOS"]);
	// MQTT 5.0 says why before closing: DISCONNECT 0x81 Malformed Packet (5.0 §4.13.1).
	equal(r.transport.sent(), v === 5 ? "E0 01 81" : "");
	equal(r.transport.closes, 1);
	r.clock.advance(750);
	equal(r.transport.opens.length, 2);
});

// ---- several brokers (`servers`) ---------------------------------------------------------

const THREE = [{ host: "a.local" }, { host: "b.local", port: 1884 }, { host: "c.local", tls: true }];

/** Where each open of `r`'s transport went, from the `from`-th on: "host:port". */
function targets(r: Rig, from = 0): string[] {
	return r.transport.opens.slice(from).map((o) => `${o.host}:${o.port}`);
}

add("servers: checked (a host each, ports 1..65535, TLS true/false/options); with host, port or tls as well, or empty, INVALID_ARGUMENT", (v) => {
	throwsCode(() => new Rig(v, { host: undefined, servers: [] }), "INVALID_ARGUMENT");
	throwsCode(() => new Rig(v, { host: undefined, servers: [{ host: "" }] }), "INVALID_ARGUMENT");
	throwsCode(() => new Rig(v, { host: undefined, servers: [{ host: "a" }, { host: "b", port: 0 }] }), "INVALID_ARGUMENT");
	throwsCode(() => new Rig(v, { host: undefined, servers: [{ host: "a", port: 1.5 }] }), "INVALID_ARGUMENT");
	throwsCode(() => new Rig(v, { host: undefined, servers: [{ host: "a", tls: "yes" as unknown as boolean }] }), "INVALID_ARGUMENT");
	throwsCode(() => new Rig(v, { servers: [{ host: "a" }] }), "INVALID_ARGUMENT"); // the rig's host as well
	throwsCode(() => new Rig(v, { host: undefined, port: 1883, servers: [{ host: "a" }] }), "INVALID_ARGUMENT");
	throwsCode(() => new Rig(v, { host: undefined }), "INVALID_ARGUMENT");
	const r = new Rig(v, { host: undefined, servers: THREE });
	equal(r.client.server, "a.local:1883", "the first, default port 1883");
	equal(r.transport.opens[0]!.tls, undefined, "no TLS on a");
});

add("servers: each failed attempt moves to the next (round and round, each with its port and TLS), after the backoff delay, which keeps growing across servers", (v) => {
	const r = new Rig(v, { host: undefined, servers: THREE, reconnect: { initialDelay: 1000, maxDelay: 8000, factor: 2, jitter: 0 } });
	for (let i = 0; i < 5; i++) {
		r.transport.lose(new MqttError(ErrorCode.CONNECTION_REFUSED, "refused"));
		reopen(r);
	}
	deepEqual(targets(r), ["a.local:1883", "b.local:1884", "c.local:8883", "a.local:1883", "b.local:1884", "c.local:8883"]);
	deepEqual(gaps(r, 0), [1000, 2000, 4000, 8000, 8000], "one backoff across the servers: no faster loop");
	ok(r.transport.opens[2]!.tls !== undefined, "TLS on c");
	equal(r.transport.opens[3]!.tls, undefined, "none on a again");
	equal(r.client.server, "c.local:8883");
	deepEqual(r.take(), ["error CONNECTION_REFUSED", "error CONNECTION_REFUSED", "error CONNECTION_REFUSED", "error CONNECTION_REFUSED", "error CONNECTION_REFUSED"]);
});

add("servers: a refused CONNACK and a CONNACK timeout move on too; client.server, read in onConnect, names the one that took the connection", (v) => {
	const seen: string[] = [];
	const r = new Rig(v, { host: undefined, servers: THREE, connectTimeout: 2000, onConnect() { seen.push(this.server); } });
	r.transport.accept();
	r.transport.sent();
	r.transport.deliverHex(r.bytes({ type: CONNACK, sessionPresent: false, returnCode: 3 }));
	reopen(r);
	r.transport.accept();
	r.clock.advance(2000); // no CONNACK from b
	reopen(r);
	r.up();
	deepEqual(targets(r), ["a.local:1883", "b.local:1884", "c.local:8883"]);
	deepEqual(seen, ["c.local:8883"]);
	equal(r.client.server, "c.local:8883");
	ok(r.client.connected, "connected to c");
});

add("servers: a lost connection that had proved itself retries the same server first, then moves on when that fails; one that had not moves at once", (v) => {
	const r = new Rig(v, { host: undefined, servers: THREE, stableAfter: 3000, reconnect: { initialDelay: 1000, maxDelay: 8000, factor: 2, jitter: 0 } });
	r.transport.lose(new MqttError(ErrorCode.CONNECTION_REFUSED, "refused"));
	reopen(r);
	r.up(); // on b
	r.clock.advance(3000); // proved itself
	r.transport.lose(new MqttError(ErrorCode.CONNECTION_LOST, "gone"));
	let from = r.clock.now();
	reopen(r);
	equal(r.clock.now() - from, 1000, "the backoff started over");
	equal(r.client.server, "b.local:1884", "stays on the server that worked");
	r.transport.lose(new MqttError(ErrorCode.CONNECTION_REFUSED, "refused"));
	reopen(r);
	equal(r.client.server, "c.local:8883", "b failed: the next");
	r.up();
	r.clock.advance(5); // closed before it proved itself
	r.transport.lose(new MqttError(ErrorCode.CONNECTION_LOST, "closed by the broker"));
	from = r.clock.now();
	reopen(r);
	equal(r.clock.now() - from, 4000, "the backoff still growing");
	deepEqual(targets(r), ["a.local:1883", "b.local:1884", "b.local:1884", "c.local:8883", "a.local:1883"]);
});

add("servers: after a move the new broker has no session (sessionPresent false): subscriptions are made again and QoS 1/2 messages in flight sent again with DUP", (v) => {
	const r = new Rig(v, { host: undefined, servers: [{ host: "a.local" }, { host: "b.local" }], cleanSession: false, stableAfter: 60_000 });
	r.up();
	r.client.subscribe("cmd/#", 1);
	equal(r.transport.sent(), r.bytes({ type: SUBSCRIBE, packetId: 1, subscriptions: [{ filter: "cmd/#", qos: 1 }] }));
	r.transport.deliverHex(r.bytes({ type: SUBACK, packetId: 1, returnCodes: [1] }));
	r.clock.advance(60_000); // a good connection: a retries first
	equal(r.client.publish("t/1", "one", 1), 2);
	equal(r.client.publish("t/2", "two", 2), 3);
	equal(r.transport.sent(), r.bytes(pub("t/1", "one", 1, 2), pub("t/2", "two", 2, 3)));
	r.transport.lose(new MqttError(ErrorCode.CONNECTION_LOST, "a is gone"));
	reopen(r);
	equal(r.client.server, "a.local:1883");
	r.transport.lose(new MqttError(ErrorCode.CONNECTION_REFUSED, "a is down"));
	reopen(r);
	equal(r.client.server, "b.local:1883", "moved to b");
	r.take();
	r.transport.accept();
	r.transport.sent();
	r.transport.deliverHex(r.bytes({ type: CONNACK, sessionPresent: false, returnCode: 0 }));
	equal(r.transport.sent(), r.bytes(
		{ type: SUBSCRIBE, packetId: 4, subscriptions: [{ filter: "cmd/#", qos: 1 }] },
		pub("t/1", "one", 1, 2, true), pub("t/2", "two", 2, 3, true),
	), "SUBSCRIBE made again, the messages re-sent with DUP");
	r.transport.deliverHex(r.bytes({ type: SUBACK, packetId: 4, returnCodes: [1] }, { type: PUBACK, packetId: 2 }, pub("cmd/x", "from b", 0)));
	deepEqual(r.take(), ["connect false", "suback cmd/# 1", "delivered 2", "message cmd/x from b"]);
	equal(r.client.pending, 1, "the QoS 2 message waits for PUBREC");
});

/** The suite speaking MQTT 3.1.1 (protocolVersion 4). */
export const clientCases: Case[] = definitions.map((d) => ({ name: d.name, run: () => d.run(4) }));
/** The same cases speaking MQTT 5.0 (protocolVersion 5), each expecting the 5.0 bytes. */
export const client5Cases: Case[] = definitions.map((d) => ({ name: d.name, run: () => d.run(5) }));
