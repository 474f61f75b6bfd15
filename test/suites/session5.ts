// The session speaking MQTT 5.0 (OASIS MQTT Version 5.0), byte for byte, against a scripted broker:
// what the broker says in CONNACK (limits, assigned identifier, keep alive), reason codes on every
// acknowledgement, topic aliases both ways, DISCONNECT and AUTH from the broker, and the hostile cases.
// Platform-free: also runs in XS.

import { AUTH, DISCONNECT, PUBACK, PUBCOMP, PUBREC, PUBREL, SUBACK, UNSUBACK } from "../../modules/mqtt/constants.js";
import { encodeConnect5, encodeAck5, encodePublish5, encodeReasonPacket, encodeSubscribe5, encodeUnsubscribe5 } from "../../modules/mqtt/encode5.js";
import type { Connect5 } from "../../modules/mqtt/encode5.js";
import { MqttError } from "../../modules/mqtt/errors.js";
import type { PropertyValues } from "../../modules/mqtt/properties.js";
import { CONNECTED } from "../../modules/mqtt/session.js";
import type { SessionOptions } from "../../modules/mqtt/session.js";
import { deepEqual, equal, fail, hex, throwsCode } from "../lib/check.js";
import type { Case } from "../lib/check.js";
import { encodeConnack5, encodeSubackOrUnsuback5 } from "../lib/server-codec.js";
import { Harness } from "./session.js";

const scratch = new Uint8Array(4096);

function hexOf(n: number): string {
	return hex(scratch.subarray(0, n));
}

export const connack5 = (properties: PropertyValues = {}, sessionPresent = false, reasonCode = 0): string =>
	hexOf(encodeConnack5(scratch, 0, sessionPresent, reasonCode, properties));
const suback5 = (id: number, code: number, properties?: PropertyValues): string => hexOf(encodeSubackOrUnsuback5(scratch, 0, SUBACK, id, [code], properties));
const unsuback5 = (id: number, code: number): string => hexOf(encodeSubackOrUnsuback5(scratch, 0, UNSUBACK, id, [code]));
const ack5 = (type: number, id: number, code = 0, properties?: PropertyValues): string => hexOf(encodeAck5(scratch, 0, type, id, code, properties));
const reason5 = (type: typeof DISCONNECT | typeof AUTH, code: number, properties?: PropertyValues): string =>
	hexOf(encodeReasonPacket(scratch, 0, type, code, properties));
/** A PUBLISH as the broker sends it: it may carry a subscription identifier (below 128, in a packet below 128 bytes). */
function publish5(topic: string, payload: string, qos: number, id: number, properties?: PropertyValues): string {
	const { subscriptionIdentifier, ...rest } = properties ?? {};
	if (subscriptionIdentifier === undefined) return hexOf(encodePublish5(scratch, 0, topic, payload, qos, false, false, id, properties));
	const n = encodePublish5(scratch, 0, topic, payload, qos, false, false, id, rest);
	const bytes = Array.from(scratch.subarray(0, n));
	const propsAt = 2 + 2 + new TextEncoder().encode(topic).length + (qos > 0 ? 2 : 0);
	bytes[propsAt] = bytes[propsAt]! + 2;
	bytes.splice(propsAt + 1, 0, 0x0B, subscriptionIdentifier);
	bytes[1] = bytes[1]! + 2;
	return hex(Uint8Array.from(bytes));
}
const connect5 = (packet: Connect5): string => hexOf(encodeConnect5(scratch, 0, packet));
const clientPublish5 = (topic: string, payload: string, qos: number, id: number, properties?: PropertyValues, retain = false): string =>
	hexOf(encodePublish5(scratch, 0, topic, payload, qos, retain, false, id, properties));

/** A session speaking 5.0, connected with `properties` in the CONNACK. */
function up(options: Partial<SessionOptions> = {}, properties: PropertyValues = {}, sessionPresent = false): Harness {
	const h = new Harness({ protocolVersion: 5, ...options });
	h.session.opening(h.now);
	h.session.opened(h.now);
	const sent = h.sent();
	if (!sent.startsWith("10")) fail(`expected CONNECT first, got ${sent}`);
	h.reader.reset();
	h.receiveHex(connack5(properties, sessionPresent));
	deepEqual(h.take(), [`connected ${sessionPresent}`]);
	return h;
}

/** Feeds bytes that the reader refuses; fails the session as the client does. Returns the error. */
function receiveBad(h: Harness, text: string): MqttError {
	try {
		h.receiveHex(text);
	}
	catch (error) {
		if (!(error instanceof MqttError)) throw error;
		h.session.fail(error);
		return error;
	}
	return fail("the bytes were accepted");
}

/** What the session sent equals `expected` (hex, spaces and case free, parts joined with +). */
function sent(h: Harness, expected: string, message = ""): void {
	equal(h.sent().replace(/\s+/g, "").toLowerCase(), expected.replace(/\s+/g, "").toLowerCase(), message);
}

export const session5Cases: Case[] = [];
const add = (name: string, run: () => void): void => { session5Cases.push({ name, run }); };

// ---- CONNECT and CONNACK -------------------------------------------------------------------

add("CONNECT is protocol level 5 with what the options announce: session expiry, receive maximum, maximum packet size, topic alias maximum (5.0 §3.1.2.11)", () => {
	const h = new Harness({ protocolVersion: 5, clientId: "dev", cleanSession: false, sessionExpiry: 86_400, maxInboundQos2: 10, rxBufferSize: 2048, inboundTopicAliases: 4, keepAlive: 30 });
	h.session.opening(h.now);
	h.session.opened(h.now);
	sent(h, connect5({ clientId: "dev", cleanStart: false, keepAlive: 30, properties: { sessionExpiryInterval: 86_400, receiveMaximum: 10, maximumPacketSize: 2048, topicAliasMaximum: 4 } }));
});

add("a persistent session without sessionExpiry never expires (what 3.1.1 clean session 0 means, 5.0 §3.1.2.11.2); a clean one ends with the connection", () => {
	const h = new Harness({ protocolVersion: 5, clientId: "dev", cleanSession: false });
	h.session.opening(h.now);
	h.session.opened(h.now);
	sent(h, connect5({ clientId: "dev", cleanStart: false, keepAlive: 0, properties: { sessionExpiryInterval: 4_294_967_295, receiveMaximum: 64 } }));
	const c = new Harness({ protocolVersion: 5, clientId: "dev" });
	c.session.opening(c.now);
	c.session.opened(c.now);
	sent(c, connect5({ clientId: "dev", cleanStart: true, keepAlive: 0, properties: { receiveMaximum: 64 } }));
});

add("3.1.1 refuses the options only 5.0 has, before a byte is sent", () => {
	throwsCode(() => new Harness({ sessionExpiry: 10 }), "INVALID_ARGUMENT");
	throwsCode(() => new Harness({ inboundTopicAliases: 2 }), "INVALID_ARGUMENT");
	throwsCode(() => new Harness({ authenticationMethod: "x" }), "INVALID_ARGUMENT");
	const h = new Harness();
	throwsCode(() => h.session.publish("t", "x", 0, false, { contentType: "text/plain" }), "INVALID_ARGUMENT");
	throwsCode(() => h.session.subscribe("t", 0, undefined, { noLocal: true }), "INVALID_ARGUMENT");
	throwsCode(() => new Harness({ protocolVersion: 3 as 4 }), "INVALID_ARGUMENT");
});

add("CONNACK refusals carry the broker's reason code and reason string; no DISCONNECT is sent back", () => {
	const h = new Harness({ protocolVersion: 5 });
	h.session.opening(h.now);
	h.session.opened(h.now);
	h.sent();
	h.receiveHex(connack5({ reasonString: "no such user" }, false, 0x86));
	deepEqual(h.take(), ["failed BAD_USERNAME_OR_PASSWORD (connecting)"]);
	sent(h, "");
	for (const [code, name] of [[0x84, "UNACCEPTABLE_PROTOCOL_VERSION"], [0x85, "IDENTIFIER_REJECTED"], [0x87, "NOT_AUTHORIZED"], [0x89, "SERVER_UNAVAILABLE"], [0x97, "CONNECTION_REFUSED_BY_BROKER"]] as const) {
		const k = new Harness({ protocolVersion: 5 });
		k.session.opening(k.now);
		k.session.opened(k.now);
		k.receiveHex(connack5({}, false, code));
		deepEqual(k.take(), [`failed ${name} (connecting)`]);
	}
});

add("a 3.1.1 broker's refusal of a 5.0 CONNECT (return code 1, no properties) is UNACCEPTABLE_PROTOCOL_VERSION", () => {
	const h = new Harness({ protocolVersion: 5 });
	h.session.opening(h.now);
	h.session.opened(h.now);
	h.receiveHex("20020001");
	deepEqual(h.take(), ["failed UNACCEPTABLE_PROTOCOL_VERSION (connecting)"]);
});

add("the broker's assigned client identifier is kept and sent on the next CONNECT (5.0 §3.2.2.3.7)", () => {
	const h = up({ clientId: "" }, { assignedClientIdentifier: "auto-7f3a" });
	equal(h.session.clientId, "auto-7f3a");
	equal(h.session.broker.assignedClientIdentifier, "auto-7f3a");
	h.drop();
	h.session.opening(h.now);
	h.session.opened(h.now);
	sent(h, connect5({ clientId: "auto-7f3a", cleanStart: true, keepAlive: 0, properties: { receiveMaximum: 64 } }));
});

add("Server Keep Alive replaces ours: PINGREQ after the broker's interval (5.0 §3.2.2.3.14)", () => {
	const h = up({ keepAlive: 60 }, { serverKeepAlive: 5 });
	h.take();
	h.tick(4_999);
	sent(h, "");
	h.tick(1);
	sent(h, "c000");
	equal(h.session.nextDeadline() <= h.now + 7_500, true, "dead after 1.5 × the broker's keep alive");
});

add("Receive Maximum from the broker caps what is in flight; the next goes on an acknowledgement (5.0 §4.9)", () => {
	const h = up({ maxInflight: 8 }, { receiveMaximum: 2 });
	const ids = [h.session.publish("t", "a", 1, false), h.session.publish("t", "b", 1, false), h.session.publish("t", "c", 1, false)];
	sent(h, clientPublish5("t", "a", 1, ids[0]!) + clientPublish5("t", "b", 1, ids[1]!));
	h.receiveHex(ack5(PUBACK, ids[0]!));
	sent(h, clientPublish5("t", "c", 1, ids[2]!));
});

add("Maximum Packet Size from the broker: a larger publish throws PACKET_TOO_LARGE at once; one queued before CONNACK is set aside, not sent", () => {
	const h = new Harness({ protocolVersion: 5 });
	const big = h.session.publish("t", "x".repeat(100), 1, false);
	h.session.opening(h.now);
	h.session.opened(h.now);
	h.sent();
	h.receiveHex(connack5({ maximumPacketSize: 64 }));
	deepEqual(h.take(), ["connected false", `rejected PACKET_TOO_LARGE t ${big} q1 ${"x".repeat(100)}`]);
	sent(h, "");
	throwsCode(() => h.session.publish("t", "y".repeat(80), 0, false), "PACKET_TOO_LARGE");
	equal(h.session.publish("t", "small", 0, false), 0);
});

add("Maximum QoS and Retain Available: what the broker does not take is refused locally with a typed error (5.0 §3.2.2.3.4-5)", () => {
	const h = up({}, { maximumQoS: 1, retainAvailable: 0 });
	throwsCode(() => h.session.publish("t", "x", 2, false), "QOS_NOT_SUPPORTED");
	throwsCode(() => h.session.publish("t", "x", 0, true), "RETAIN_NOT_SUPPORTED");
	equal(h.sent().length > 0, false, "nothing sent");
	equal(h.session.publish("t", "x", 1, false) > 0, true);
});

add("Wildcard, Subscription Identifier and Shared Subscription Available 0: refused at subscribe, and those asked for before CONNACK are refused then (SUBACK codes 0xA2, 0xA1, 0x9E), never sent", () => {
	const h = new Harness({ protocolVersion: 5 });
	h.session.subscribe("a/+", 1);
	h.session.subscribe("$share/g/b", 1);
	h.session.subscribe("c", 1, undefined, { subscriptionIdentifier: 7 });
	h.session.subscribe("d", 1);
	h.session.opening(h.now);
	h.session.opened(h.now);
	h.sent();
	h.receiveHex(connack5({ wildcardSubscriptionAvailable: 0, sharedSubscriptionAvailable: 0, subscriptionIdentifiersAvailable: 0 }));
	deepEqual(h.take(), [
		"connected false",
		"subscribed a/+ 162", "problem WILDCARD_NOT_SUPPORTED a/+",
		"subscribed $share/g/b 158", "problem SHARED_SUBSCRIPTIONS_NOT_SUPPORTED $share/g/b",
		"subscribed c 161", "problem SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED c",
	]);
	sent(h, hexOf(encodeSubscribe5(scratch, 0, 1, [{ filter: "d", qos: 1 }])));
	throwsCode(() => h.session.subscribe("x/#", 0), "WILDCARD_NOT_SUPPORTED");
	throwsCode(() => h.session.subscribe("$share/g/x", 0), "SHARED_SUBSCRIPTIONS_NOT_SUPPORTED");
	throwsCode(() => h.session.subscribe("x", 0, undefined, { subscriptionIdentifier: 1 }), "SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED");
});

// ---- topic aliases ---------------------------------------------------------------------------

add("outbound topic aliases: a QoS 0 topic goes once with its alias, then as the alias alone; none beyond the broker's Topic Alias Maximum (5.0 §3.3.2.3.4)", () => {
	const h = up({ topicAliases: 8 }, { topicAliasMaximum: 2 });
	h.session.publish("sensors/t", "1", 0, false);
	h.session.publish("sensors/t", "2", 0, false);
	h.session.publish("sensors/h", "3", 0, false);
	h.session.publish("sensors/p", "4", 0, false);
	h.session.publish("sensors/h", "5", 0, false);
	sent(h, clientPublish5("sensors/t", "1", 0, 0, { topicAlias: 1 }) + clientPublish5("", "2", 0, 0, { topicAlias: 1 }) +
		clientPublish5("sensors/h", "3", 0, 0, { topicAlias: 2 }) + clientPublish5("sensors/p", "4", 0, 0) +
		clientPublish5("", "5", 0, 0, { topicAlias: 2 }));
	equal(h.session.stats.aliased, 2);
});

add("outbound topic aliases start over on each connection; QoS 1/2 messages never use one (they may be re-sent on another)", () => {
	const h = up({ cleanSession: false }, { topicAliasMaximum: 4 });
	h.session.publish("t", "1", 0, false);
	const id = h.session.publish("t", "q", 1, false);
	sent(h, clientPublish5("t", "1", 0, 0, { topicAlias: 1 }) + clientPublish5("t", "q", 1, id));
	h.drop();
	h.session.opening(h.now);
	h.session.opened(h.now);
	h.sent();
	h.receiveHex(connack5({ topicAliasMaximum: 4 }, true));
	h.take();
	sent(h, clientPublish5("t", "q", 1, id).replace(/^32/, "3A"), "re-sent with DUP and its topic");
	h.session.publish("t", "2", 0, false);
	sent(h, clientPublish5("t", "2", 0, 0, { topicAlias: 1 }));
});

add("without the broker's Topic Alias Maximum, no alias is used", () => {
	const h = up();
	h.session.publish("t", "1", 0, false);
	h.session.publish("t", "2", 0, false);
	sent(h, clientPublish5("t", "1", 0, 0) + clientPublish5("t", "2", 0, 0));
});

add("inbound topic aliases: set with a topic, then a PUBLISH with an empty topic is delivered under the alias's topic", () => {
	const h = up({ inboundTopicAliases: 4 });
	h.session.subscribe("a/#", 0, "handler");
	h.sent();
	h.receiveHex(publish5("a/b", "one", 0, 0, { topicAlias: 3 }));
	h.receiveHex(publish5("", "two", 1, 9, { topicAlias: 3 }));
	h.receiveHex(publish5("a/c", "three", 0, 0, { topicAlias: 3 }));
	h.receiveHex(publish5("", "four", 0, 0, { topicAlias: 3 }));
	deepEqual(h.take().filter((e) => e.startsWith("message")), ["message a/b one q0", "message a/b two q1", "message a/c three q0", "message a/c four q0"]);
	sent(h, ack5(PUBACK, 9));
});

add("hostile: an alias above our Topic Alias Maximum, or used before it was set, fails the connection with DISCONNECT 0x94 / 0x82 (5.0 §3.3.2.3.4)", () => {
	const h = up({ inboundTopicAliases: 2 });
	h.receiveHex(publish5("a", "x", 0, 0, { topicAlias: 3 }));
	deepEqual(h.take(), ["failed TOPIC_ALIAS_INVALID"]);
	sent(h, "e00194");
	const k = up({ inboundTopicAliases: 2 });
	k.receiveHex(publish5("", "x", 0, 0, { topicAlias: 1 }));
	deepEqual(k.take(), ["failed TOPIC_ALIAS_INVALID"]);
	sent(k, "e00182");
	const z = up({});
	z.receiveHex(publish5("a", "x", 0, 0, { topicAlias: 1 }));
	deepEqual(z.take(), ["failed TOPIC_ALIAS_INVALID"], "no aliases announced: any alias is above the maximum");
});

add("hostile: topic alias 0, a duplicate property, an unknown property, Receive Maximum 0: the reader refuses them with the reason code to send, and DISCONNECT carries it", () => {
	const cases: Array<[string, string, string]> = [
		// PUBLISH "a" QoS 0, properties: topic alias 0.
		["3007" + "000161" + "03" + "230000" + "", "INVALID_PROPERTY_VALUE", "e00182"],
		// PUBLISH with content type twice.
		["300c" + "000161" + "08" + "03000178" + "03000178", "DUPLICATE_PROPERTY", "e00182"],
		// PUBLISH with property 0x7f.
		["3006" + "000161" + "02" + "7f00", "UNKNOWN_PROPERTY", "e00181"],
	];
	for (const [bytes, code, disconnect] of cases) {
		const h = up();
		const error = receiveBad(h, bytes);
		equal(error.code, code, bytes);
		deepEqual(h.take(), [`failed ${code}`]);
		sent(h, disconnect, bytes);
	}
	const h = new Harness({ protocolVersion: 5 });
	h.session.opening(h.now);
	h.session.opened(h.now);
	h.sent();
	const error = receiveBad(h, "200600000321" + "0000");
	equal(error.code, "INVALID_PROPERTY_VALUE");
	sent(h, "e00182");
});

// ---- reason codes ---------------------------------------------------------------------------

add("PUBACK with a reason code of 0x80 or more is reported as refused, not as delivered (5.0 §3.4.2.1)", () => {
	const h = up();
	const a = h.session.publish("t", "a", 1, false);
	const b = h.session.publish("t", "b", 1, false);
	h.sent();
	h.receiveHex(ack5(PUBACK, a, 0x10) + ack5(PUBACK, b, 0x97, { reasonString: "quota" }));
	deepEqual(h.take(), [`delivered ${a} 0x10`, `delivered ${b} 0x97`]);
	equal(h.session.stats.refusedByBroker, 1);
	equal(h.session.pending, 0);
});

add("a PUBREC of 0x80 or more ends the QoS 2 exchange: no PUBREL (5.0 §4.3.3)", () => {
	const h = up();
	const a = h.session.publish("t", "a", 2, false);
	h.sent();
	h.receiveHex(ack5(PUBREC, a, 0x87));
	deepEqual(h.take(), [`delivered ${a} 0x87`]);
	sent(h, "");
	equal(h.session.pending, 0);
	const b = h.session.publish("t", "b", 2, false);
	h.sent();
	h.receiveHex(ack5(PUBREC, b));
	sent(h, ack5(PUBREL, b));
	h.receiveHex(ack5(PUBCOMP, b, 0x92));
	deepEqual(h.take(), [`delivered ${b} 0x92`]);
});

add("a PUBREL for an identifier we do not hold is answered PUBCOMP 0x92 Packet Identifier not found (5.0 §4.3.3)", () => {
	const h = up();
	h.receiveHex(ack5(PUBREL, 77));
	sent(h, ack5(PUBCOMP, 77, 0x92));
});

add("SUBACK and UNSUBACK reason codes reach the app: granted QoS, refusals, No subscription existed", () => {
	const h = up();
	h.session.subscribe("a", 2);
	h.session.subscribe("b", 1);
	h.sent();
	h.receiveHex(suback5(1, 1) + suback5(2, 0x87, { reasonString: "not yours" }));
	h.session.unsubscribe("a");
	sent(h, hexOf(encodeUnsubscribe5(scratch, 0, 3, ["a"])));
	h.receiveHex(unsuback5(3, 0x11));
	deepEqual(h.take(), ["subscribed a 1", "subscribed b 135", "unsubscribed a 0x11"]);
});

add("a payload marked UTF-8 that is not: PUBACK/PUBREC 0x99, reported, not delivered (5.0 §3.3.2.3.2)", () => {
	const h = up();
	h.session.subscribe("#", 0, "handler");
	h.sent();
	// PUBLISH "t" QoS 1 id 7, payload format indicator 1, payload ff fe.
	h.receiveHex("320a" + "000174" + "0007" + "020101" + "fffe");
	deepEqual(h.take(), ["problem PAYLOAD_FORMAT_INVALID t"]);
	sent(h, ack5(PUBACK, 7, 0x99));
	h.receiveHex("340a" + "000174" + "0008" + "020101" + "c328");
	sent(h, ack5(PUBREC, 8, 0x99));
	deepEqual(h.take(), ["problem PAYLOAD_FORMAT_INVALID t"]);
	equal(h.session.stats.payloadFormatInvalid, 2);
	h.receiveHex(publish5("t", "ünïcode\u0000ok", 1, 9, { payloadFormatIndicator: 1 }));
	deepEqual(h.take(), ["message t ünïcode\u0000ok q1"]);
});

add("publishing bytes marked UTF-8 that are not throws PAYLOAD_FORMAT_INVALID before a byte is sent", () => {
	const h = up();
	throwsCode(() => h.session.publish("t", Uint8Array.of(0xC3, 0x28), 0, false, { payloadFormatIndicator: 1 }), "PAYLOAD_FORMAT_INVALID");
	throwsCode(() => h.session.publish("t", "x", 0, false, { topicAlias: 1 }), "INVALID_ARGUMENT");
	sent(h, "");
});

add("message properties go out as given: expiry, content type, response topic, correlation data, user properties", () => {
	const h = up();
	const properties: PropertyValues = {
		payloadFormatIndicator: 1, messageExpiryInterval: 120, contentType: "application/json", responseTopic: "replies/dash",
		correlationData: Uint8Array.of(1, 2, 3), userProperties: [["unit", "C"], ["unit", "F"]],
	};
	h.session.publish("t", "{}", 0, false, properties);
	const id = h.session.publish("t", "{}", 1, false, properties);
	sent(h, clientPublish5("t", "{}", 0, 0, properties) + clientPublish5("t", "{}", 1, id, properties));
});

add("inbound message properties are read in place: response topic, correlation data, expiry, user properties, subscription identifier", () => {
	const h = up();
	const seen: string[] = [];
	h.session.subscribe("cmd/#", 1, "handler", { subscriptionIdentifier: 5 });
	h.sent();
	h.receiveHex(suback5(1, 1));
	h.take();
	// The session hands the view to `message`; here the Harness logs the topic and payload, so read
	// the view's properties through the reader after delivery.
	h.receiveHex(publish5("cmd/led", "on", 1, 3, { responseTopic: "r/1", correlationData: Uint8Array.of(9), messageExpiryInterval: 30, userProperties: [["k", "v"]], subscriptionIdentifier: 5 }));
	const p = (h.reader.view as unknown as { properties: { string(id: number): string | undefined; number(id: number, o: number): number; bytes(id: number): Uint8Array | undefined; userPairs(): Array<[string, string]> } }).properties;
	seen.push(p.string(0x08)!, String(p.bytes(0x09)![0]), String(p.number(0x02, 0)), JSON.stringify(p.userPairs()), String(p.number(0x0B, 0)));
	deepEqual(seen, ["r/1", "9", "30", '[["k","v"]]', "5"]);
	deepEqual(h.take(), ["message cmd/led on q1"]);
});

// ---- subscriptions -----------------------------------------------------------------------------

add("subscription options and identifier go in SUBSCRIBE (5.0 §3.8.3.1); a shared subscription is matched on its filter", () => {
	const h = up();
	h.session.subscribe("a/+", 1, "h1", { noLocal: true, retainAsPublished: true, retainHandling: 2, subscriptionIdentifier: 42 });
	h.session.subscribe("$share/workers/jobs/#", 1, "h2");
	sent(h, hexOf(encodeSubscribe5(scratch, 0, 1, [{ filter: "a/+", qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 }], { subscriptionIdentifier: 42 })) +
		hexOf(encodeSubscribe5(scratch, 0, 2, [{ filter: "$share/workers/jobs/#", qos: 1 }])));
	const subs = h.session.subscriptions;
	const topic = new TextEncoder().encode("jobs/7");
	equal(subs.match(topic, 0, topic.length, 0), 1, "the shared subscription takes jobs/7");
	throwsCode(() => h.session.subscribe("$share/g", 0), "INVALID_TOPIC_FILTER");
	throwsCode(() => h.session.subscribe("$share/+/x", 0), "INVALID_TOPIC_FILTER");
	throwsCode(() => h.session.subscribe("$share/g/x", 0, undefined, { noLocal: true }), "INVALID_ARGUMENT");
	throwsCode(() => h.session.subscribe("x", 0, undefined, { retainHandling: 3 as 2 }), "INVALID_ARGUMENT");
});

// ---- DISCONNECT and AUTH ----------------------------------------------------------------------

add("DISCONNECT from the broker is a typed error with its reason code, reason string and server reference; nothing is sent back (5.0 §3.14)", () => {
	const h = up();
	h.receiveHex(reason5(DISCONNECT, 0x9C, { reasonString: "moving", serverReference: "b2.example:1884" }));
	deepEqual(h.take(), ["failed DISCONNECTED_BY_BROKER"]);
	sent(h, "");
	equal(h.session.state === CONNECTED, false);
});

add("enhanced authentication: AUTH 0x18 steps answered by the handler, then CONNACK (5.0 §4.12)", () => {
	const h = new Harness({ protocolVersion: 5, clientId: "dev", authenticationMethod: "SCRAM-SHA-1", authenticationData: new TextEncoder().encode("client-first") });
	h.session.opening(h.now);
	h.session.opened(h.now);
	sent(h, connect5({ clientId: "dev", cleanStart: true, keepAlive: 0, properties: { receiveMaximum: 64, authenticationMethod: "SCRAM-SHA-1", authenticationData: new TextEncoder().encode("client-first") } }));
	h.authAnswer = new TextEncoder().encode("client-final");
	h.receiveHex(reason5(AUTH, 0x18, { authenticationMethod: "SCRAM-SHA-1", authenticationData: new TextEncoder().encode("server-first") }));
	sent(h, reason5(AUTH, 0x18, { authenticationMethod: "SCRAM-SHA-1", authenticationData: new TextEncoder().encode("client-final") }));
	h.receiveHex(connack5({ authenticationMethod: "SCRAM-SHA-1", authenticationData: new TextEncoder().encode("server-final") }));
	deepEqual(h.take(), ["auth 0x18 server-first", "connected false"]);
	h.session.reauthenticate(new TextEncoder().encode("again"));
	sent(h, reason5(AUTH, 0x19, { authenticationMethod: "SCRAM-SHA-1", authenticationData: new TextEncoder().encode("again") }));
	h.receiveHex(reason5(AUTH, 0x00, { authenticationMethod: "SCRAM-SHA-1" }));
	equal(h.session.state, CONNECTED);
});

add("enhanced authentication fails typed: no handler answer, another method, or AUTH without a method configured", () => {
	const h = new Harness({ protocolVersion: 5, authenticationMethod: "M" });
	h.session.opening(h.now);
	h.session.opened(h.now);
	h.sent();
	h.receiveHex(reason5(AUTH, 0x18, { authenticationMethod: "M" }));
	deepEqual(h.take(), ["auth 0x18 -", "failed AUTHENTICATION_FAILED (connecting)"]);
	sent(h, "e00180");
	const k = new Harness({ protocolVersion: 5, authenticationMethod: "M" });
	k.session.opening(k.now);
	k.session.opened(k.now);
	k.sent();
	k.receiveHex(reason5(AUTH, 0x18, { authenticationMethod: "N" }));
	deepEqual(k.take(), ["failed AUTHENTICATION_FAILED (connecting)"]);
	const z = up();
	z.receiveHex(reason5(AUTH, 0x18, { authenticationMethod: "M" }));
	deepEqual(z.take(), ["failed AUTHENTICATION_FAILED"]);
	sent(z, "e00182", "DISCONNECT 0x82 Protocol Error");
});

add("3.1.1 acknowledgements decode as success on a 5.0 connection: a PUBACK of remaining length 2 (5.0 §3.4.2.1)", () => {
	const h = up();
	const id = h.session.publish("t", "x", 1, false);
	h.sent();
	h.receiveHex(`4002${(id >> 8).toString(16).padStart(2, "0")}${(id & 0xFF).toString(16).padStart(2, "0")}`);
	deepEqual(h.take(), [`delivered ${id}`]);
});
