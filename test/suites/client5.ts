// The client's own MQTT 5.0 wiring, over a scripted transport and a hand-driven clock: the reader
// frames 5.0, a Server Reference is followed when allowed, the fall back to 3.1.1, AUTH through
// onAuth, and messages carry their properties and aliased topics to the handlers. Platform-free:
// also runs in XS.

import { Client } from "../../modules/mqtt/client.js";
import type { ClientOptions, Message } from "../../modules/mqtt/client.js";
import { AUTH, DISCONNECT, PUBACK } from "../../modules/mqtt/constants.js";
import { encodeAck5, encodePublish5, encodeReasonPacket } from "../../modules/mqtt/encode5.js";
import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import { Property } from "../../modules/mqtt/properties.js";
import type { PropertyValues } from "../../modules/mqtt/properties.js";
import { writeRemainingLength } from "../../modules/mqtt/remaining-length.js";
import { decodeUtf8, utf8Length, writeUtf8 } from "../../modules/mqtt/utf8.js";
import { deepEqual, equal, hex, ok } from "../lib/check.js";
import type { Case } from "../lib/check.js";
import { FakeTransport } from "../lib/fakes.js";
import { ManualClock } from "../lib/manual-clock.js";
import { connack5 } from "./session5.js";

const scratch = new Uint8Array(1024);

class Rig5 {
	readonly clock = new ManualClock();
	readonly transport = new FakeTransport(this.clock);
	readonly log: string[] = [];
	readonly client: Client;
	constructor(options: Partial<ClientOptions> = {}) {
		const log = this.log;
		this.client = new Client({
			host: "a.local", port: 1883, clientId: "rig", keepAlive: 0, protocolVersion: 5, transport: this.transport, clock: this.clock,
			random: () => 0.5, reconnect: { initialDelay: 1000, maxDelay: 8000, factor: 2, jitter: 0 },
			onConnect(present) { log.push(`connect ${present}`); },
			onClose(error) { log.push(`close ${error ? `${error.code} 0x${(error.reasonCode ?? 0).toString(16)}` : "graceful"}`); },
			onError(error) { log.push(`error ${(error as MqttError).code ?? error.message}`); },
			onDelivered(id, qos, code) { log.push(`delivered ${id} q${qos} 0x${code.toString(16)}`); },
			onMessage(m) { log.push(`message ${m.topic()} ${m.payloadText()}`); },
			...options,
		});
	}
	/** Accepts the connection and answers CONNECT with a 5.0 CONNACK carrying `properties`. */
	up(properties: PropertyValues = {}): void {
		this.transport.accept();
		this.transport.sent();
		this.transport.deliverHex(connack5(properties));
	}
	take(): string[] {
		return this.log.splice(0);
	}
}

const packetHex = (n: number): string => hex(scratch.subarray(0, n));

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


export const mqtt5ClientCases: Case[] = [];
const add = (name: string, run: () => void): void => { mqtt5ClientCases.push({ name, run }); };

add("a 5.0 client frames 5.0: reason codes on acknowledgements reach onDelivered", () => {
	const r = new Rig5();
	r.up();
	deepEqual(r.take(), ["connect false"]);
	const id = r.client.publish("t", "x", 1);
	r.transport.sent();
	r.transport.deliverHex(packetHex(encodeAck5(scratch, 0, PUBACK, id, 0x97, { reasonString: "quota" })));
	deepEqual(r.take(), [`delivered ${id} q1 0x97`]);
	equal(r.client.broker.receiveMaximum, 65_535);
});

add("handlers get the topic an inbound alias names, the message's properties read in place, and topicBuffer holds the topic", () => {
	const r = new Rig5({ inboundTopicAliases: 2 });
	r.up();
	const seen: string[] = [];
	r.client.subscribe("sensors/#", 0, (m: Message) => {
		const p = m.properties!;
		seen.push(`${m.topic()} ${m.payloadText()} ${m.topicEquals("sensors/t")} ${decodeUtf8(m.topicBuffer, m.topicStart, m.topicEnd)} ${p.string(Property.CONTENT_TYPE) ?? "-"}`);
	});
	r.transport.sent();
	r.transport.deliverHex(packetHex(encodePublish5(scratch, 0, "sensors/t", "1", 0, false, false, 0, { topicAlias: 2, contentType: "text/plain" })));
	r.transport.deliverHex(packetHex(encodePublish5(scratch, 0, "", "2", 0, false, false, 0, { topicAlias: 2 })));
	deepEqual(seen, ["sensors/t 1 true sensors/t text/plain", "sensors/t 2 true sensors/t -"]);
});

add("Server Reference: with followServerReference the next attempt goes there, after the backoff; without, it stays", () => {
	for (const [reference, host, port] of [["b.local:1884", "b.local", 1884], ["b.local", "b.local", 1883], ["[fd00::2]:8884 c.local:1", "fd00::2", 8884], ["fd00::3", "fd00::3", 1883]] as const) {
		const r = new Rig5({ followServerReference: true });
		r.up();
		r.transport.deliverHex(hex(scratch.subarray(0, encodeReasonPacket(scratch, 0, DISCONNECT, 0x9D, { serverReference: reference }))));
		deepEqual(r.take(), ["connect false", "close DISCONNECTED_BY_BROKER 0x9d"]);
		equal(r.client.server, `${host}:${port}`, reference);
		r.clock.advance(999);
		equal(r.transport.opens.length, 1, "not before the backoff");
		r.clock.advance(1);
		deepEqual(r.transport.opens.map((o) => `${o.host}:${o.port}`), ["a.local:1883", `${host}:${port}`]);
	}
	const r = new Rig5();
	r.transport.accept();
	r.transport.deliverHex(connack5({ serverReference: "b.local" }, false, 0x9C));
	deepEqual(r.take(), ["error USE_ANOTHER_SERVER"]);
	r.clock.advance(1000);
	equal(r.transport.opens[1]!.host, "a.local");
});

add("Server Reference with servers: followed before the list (the next attempt goes there); a failure there goes on to the list's next; not followed, the list's next", () => {
	const servers = [{ host: "a.local" }, { host: "b.local" }, { host: "c.local" }];
	const r = new Rig5({ host: undefined, port: undefined, servers, followServerReference: true });
	r.transport.accept();
	r.transport.deliverHex(connack5({ serverReference: "z.local:1999" }, false, 0x9C));
	r.clock.advance(1000);
	equal(r.client.server, "z.local:1999");
	r.transport.lose(new MqttError(ErrorCode.CONNECTION_REFUSED, "refused"));
	r.clock.advance(2000);
	deepEqual(r.transport.opens.map((o) => `${o.host}:${o.port}`), ["a.local:1883", "z.local:1999", "b.local:1883"]);
	const n = new Rig5({ host: undefined, port: undefined, servers });
	n.transport.accept();
	n.transport.deliverHex(connack5({ serverReference: "z.local:1999" }, false, 0x9C));
	n.clock.advance(1000);
	deepEqual(n.transport.opens.map((o) => `${o.host}:${o.port}`), ["a.local:1883", "b.local:1883"]);
});

add("fallbackTo311: refused 5.0, the next attempt is a 3.1.1 CONNECT, and 3.1.1 packets are framed from then on", () => {
	const r = new Rig5({ fallbackTo311: true });
	r.transport.accept();
	equal(r.transport.sent().split(" ")[8], "05", "protocol level 5 first");
	r.transport.deliverHex("20 02 00 01");
	deepEqual(r.take(), ["error UNACCEPTABLE_PROTOCOL_VERSION"]);
	r.clock.advance(1000);
	r.transport.accept();
	equal(r.transport.sent().split(" ")[8], "04", "then level 4");
	r.transport.deliverHex("20 02 00 00");
	deepEqual(r.take(), ["connect false"]);
	const id = r.client.publish("t", "x", 1);
	equal(r.transport.sent(), `32 06 00 01 74 00 ${id.toString(16).padStart(2, "0").toUpperCase()} 78`.replace(" 00 0", " 00 0"));
	r.transport.deliverHex(`40 02 00 ${id.toString(16).padStart(2, "0")}`);
	deepEqual(r.take(), [`delivered ${id} q1 0x0`]);
	const strict = new Rig5();
	strict.transport.accept();
	strict.transport.deliverHex("20 02 00 01");
	strict.clock.advance(1000);
	strict.transport.accept();
	equal(strict.transport.sent().split(" ")[8], "05", "without fallbackTo311, 5.0 again");
});

add("enhanced authentication through onAuth: the broker's data in, the answer out, then CONNACK", () => {
	const steps: string[] = [];
	const r = new Rig5({
		authenticationMethod: "DEMO",
		onAuth(code, data) {
			steps.push(`0x${code.toString(16)} ${data ? decodeUtf8(data, 0, data.length) : "-"}`);
			return new TextEncoder().encode("answer");
		},
	});
	r.transport.accept();
	r.transport.sent();
	r.transport.deliverHex(hex(scratch.subarray(0, encodeReasonPacket(scratch, 0, AUTH, 0x18, { authenticationMethod: "DEMO", authenticationData: new TextEncoder().encode("challenge") }))));
	equal(r.transport.sent(), hex(scratch.subarray(0, encodeReasonPacket(scratch, 0, AUTH, 0x18, { authenticationMethod: "DEMO", authenticationData: new TextEncoder().encode("answer") }))));
	r.transport.deliverHex(connack5());
	deepEqual(steps, ["0x18 challenge"]);
	deepEqual(r.take(), ["connect false"]);
});

add("an onAuth that throws is reported and gives up the attempt (AUTHENTICATION_FAILED)", () => {
	const r = new Rig5({ authenticationMethod: "DEMO", onAuth() { throw new Error("no key"); } });
	r.transport.accept();
	r.transport.deliverHex(hex(scratch.subarray(0, encodeReasonPacket(scratch, 0, AUTH, 0x18, { authenticationMethod: "DEMO" }))));
	deepEqual(r.take(), ["error no key", "error AUTHENTICATION_FAILED"]);
});

add("a 5.0 client with clientId \"\" sends it empty and takes the identifier the broker assigns", () => {
	const r = new Rig5({ clientId: "" });
	r.up({ assignedClientIdentifier: "given-1" });
	equal(r.client.clientId, "given-1");
});

add("DISCONNECT 0x8E Session taken over proves nothing: the delays keep growing however long the connection lasted", () => {
	const r = new Rig5({ stableAfter: 0 });
	const delays: number[] = [];
	for (let i = 0; i < 4; i++) {
		r.up();
		r.clock.advance(5000);
		r.transport.deliverHex(hex(scratch.subarray(0, encodeReasonPacket(scratch, 0, DISCONNECT, 0x8E))));
		const before = r.clock.now();
		const opens = r.transport.opens.length;
		while (r.transport.opens.length === opens) r.clock.advance(100);
		delays.push(r.clock.now() - before);
	}
	deepEqual(delays, [1000, 2000, 4000, 8000]);
	deepEqual(r.take().filter((e) => e.startsWith("close")), Array(4).fill("close DISCONNECTED_BY_BROKER 0x8e"));
});

add("MQTT 5.0: a subscription with an identifier takes only the messages that carry it (5.0 §3.3.4): one copy per subscription (mosquitto) reaches each handler once, one copy naming both reaches both", () => {
	const seen: string[] = [];
	const r = new Rig5();
	r.up();
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
	const r = new Rig5();
	r.up();
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
	const r = new Rig5({ rxBufferSize: 64 });
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
	deepEqual(r.take(), ["close PACKET_TOO_LARGE 0x95"]);
	equal(r.transport.sent(), "E0 01 95", "DISCONNECT 0x95 Packet too large (5.0 §3.14.2.1)");
});
