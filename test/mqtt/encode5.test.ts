// The MQTT 5.0 packets a client sends (encode5.ts) against mqtt-packet with protocolVersion 5: each
// packet we write, it parses to the same fields; where both write the same properties in the same
// order, the bytes are equal. Usage errors throw before a byte is written.

import * as assert from "node:assert/strict";
import { generate } from "mqtt-packet";
import { AUTH, DISCONNECT, PUBACK, PUBCOMP, PUBREC, PUBREL } from "../../modules/mqtt/constants.js";
import { encodeConnect } from "../../modules/mqtt/encode.js";
import { encodeAck5, encodeConnect5, encodePublish5, encodeReasonPacket, encodeSubscribe5, encodeUnsubscribe5 } from "../../modules/mqtt/encode5.js";
import type { MqttError } from "../../modules/mqtt/errors.js";
import { reasonAllowed, ReasonCode } from "../../modules/mqtt/reason-codes.js";
import { parse5 as parse } from "../lib/mqtt-packet5.js";
import type { Fields } from "../lib/mqtt-packet5.js";

function ours(write: (buffer: Uint8Array) => number): Uint8Array {
	const buffer = new Uint8Array(4096);
	const n = write(buffer);
	return buffer.subarray(0, n);
}

function pick(packet: Fields, keys: string[]): Fields {
	const out: Fields = {};
	for (const k of keys) if (packet[k] !== undefined) out[k] = packet[k];
	return out;
}

const PUBLISH_PROPERTIES = {
	payloadFormatIndicator: true, messageExpiryInterval: 120, contentType: "application/json",
	responseTopic: "devices/d1/responses", correlationData: Buffer.from([1, 2]), topicAlias: 4, userProperties: { unit: "C" },
};

describe("MQTT 5.0 encoders against mqtt-packet (protocolVersion 5)", () => {
	it("CONNECT: clean start, keep alive, properties, a will with its properties, user name and password; the same bytes as mqtt-packet's", () => {
		const properties = { sessionExpiryInterval: 86_400, receiveMaximum: 16, maximumPacketSize: 1024, topicAliasMaximum: 8, requestResponseInformation: true, requestProblemInformation: true, userProperties: { fw: "1.2" } };
		const willProperties = { willDelayInterval: 5, payloadFormatIndicator: true, messageExpiryInterval: 3600, contentType: "text/plain" };
		const bytes = ours((b) => encodeConnect5(b, 0, {
			clientId: "dev-1", cleanStart: true, keepAlive: 30, username: "u", password: "p",
			properties: { ...properties, userProperties: [["fw", "1.2"]] },
			will: { topic: "devices/dev-1/status", payload: "offline", qos: 1, retain: true, properties: willProperties },
		}));
		const p = parse(bytes);
		assert.deepEqual(pick(p, ["cmd", "protocolId", "protocolVersion", "clean", "keepalive", "clientId", "username"]),
			{ cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clean: true, keepalive: 30, clientId: "dev-1", username: "u" });
		assert.equal(String(p.password), "p");
		assert.deepEqual(p.properties, properties);
		const will = p.will as Fields;
		assert.deepEqual(pick(will, ["topic", "qos", "retain"]), { topic: "devices/dev-1/status", qos: 1, retain: true });
		assert.equal(String(will.payload), "offline");
		assert.deepEqual({ ...(will.properties as Fields) }, willProperties);
		// mqtt-packet writes properties in the order given: given in ours (identifier order), the bytes agree.
		const theirs = generate({
			cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clean: true, keepalive: 30, clientId: "dev-1", username: "u", password: Buffer.from("p"),
			properties: { sessionExpiryInterval: 86_400, requestProblemInformation: true, requestResponseInformation: true, receiveMaximum: 16, topicAliasMaximum: 8, maximumPacketSize: 1024, userProperties: { fw: "1.2" } },
			will: { topic: "devices/dev-1/status", payload: Buffer.from("offline"), qos: 1, retain: true, properties: { payloadFormatIndicator: true, messageExpiryInterval: 3600, contentType: "text/plain", willDelayInterval: 5 } },
		} as never, { protocolVersion: 5 });
		assert.equal(Buffer.from(bytes).toString("hex"), theirs.toString("hex"));
	});

	it("CONNECT: a password without a user name is allowed in 5.0 (§3.1.2.9); no properties is a zero length", () => {
		const p = parse(ours((b) => encodeConnect5(b, 0, { clientId: "c", cleanStart: false, keepAlive: 0, password: Uint8Array.of(1, 2) })));
		assert.equal(p.clean, false);
		assert.deepEqual([...(p.password as Buffer)], [1, 2]);
		assert.equal(p.username, undefined);
	});

	it("encodeConnect: the 5.0 layout comes with properties (even none); without them the 3.1.1 layout with the level byte asked for (a test broker re-encodes what it parsed so)", () => {
		const plain = ours((b) => encodeConnect(b, 0, { type: 1, protocolLevel: 5, clientId: "c", cleanSession: true, keepAlive: 10 }));
		const v5 = ours((b) => encodeConnect(b, 0, { type: 1, protocolLevel: 5, clientId: "c", cleanSession: true, keepAlive: 10, properties: {} }));
		assert.equal(v5.length, plain.length + 1, "one byte more: the empty property block");
		assert.equal(plain[8], 5);
		assert.equal(parse(v5).protocolVersion, 5);
		assert.throws(() => encodeConnect(new Uint8Array(64), 0, { type: 1, clientId: "c", cleanSession: true, keepAlive: 10, properties: {} }), (e: MqttError) => e.code === "INVALID_ARGUMENT", "properties at level 4");
	});

	for (const qos of [0, 1, 2] as const) {
		it(`PUBLISH QoS ${qos} with every property a client sends: parsed the same, and the same bytes`, () => {
			const bytes = ours((b) => encodePublish5(b, 0, "devices/d1/telemetry", Uint8Array.of(0x7B, 0x7D), qos, qos === 1, false, qos ? 42 : 0, {
				...PUBLISH_PROPERTIES, correlationData: Uint8Array.of(1, 2), userProperties: [["unit", "C"]],
			}));
			const p = parse(bytes);
			assert.deepEqual(pick(p, ["cmd", "topic", "qos", "retain", "dup"]), { cmd: "publish", topic: "devices/d1/telemetry", qos, retain: qos === 1, dup: false });
			if (qos) assert.equal(p.messageId, 42);
			assert.deepEqual([...(p.payload as Buffer)], [0x7B, 0x7D]);
			assert.deepEqual(p.properties, PUBLISH_PROPERTIES);
			const theirs = generate({ cmd: "publish", topic: "devices/d1/telemetry", payload: Buffer.from([0x7B, 0x7D]), qos, retain: qos === 1, dup: false, messageId: qos ? 42 : undefined, properties: PUBLISH_PROPERTIES } as never, { protocolVersion: 5 });
			assert.equal(Buffer.from(bytes).toString("hex"), theirs.toString("hex"));
		});
	}

	it("PUBLISH by topic alias alone: an empty topic name with the alias", () => {
		const p = parse(ours((b) => encodePublish5(b, 0, "", "x", 0, false, false, 0, { topicAlias: 2 })));
		assert.equal(p.topic, "");
		assert.deepEqual(p.properties, { topicAlias: 2 });
	});

	for (const type of [PUBACK, PUBREC, PUBREL, PUBCOMP]) {
		const cmd = { [PUBACK]: "puback", [PUBREC]: "pubrec", [PUBREL]: "pubrel", [PUBCOMP]: "pubcomp" }[type]!;
		it(`${cmd.toUpperCase()}: success is the 3.1.1 short form; a reason code alone adds one byte; with properties, all three`, () => {
			const short = ours((b) => encodeAck5(b, 0, type, 7));
			assert.equal(short.length, 4, "remaining length 2");
			assert.deepEqual(pick(parse(short), ["cmd", "messageId"]), { cmd, messageId: 7 });
			const failure = type === PUBREL || type === PUBCOMP ? ReasonCode.PACKET_IDENTIFIER_NOT_FOUND : ReasonCode.QUOTA_EXCEEDED;
			const reason = ours((b) => encodeAck5(b, 0, type, 7, failure));
			assert.equal(reason.length, 5, "remaining length 3: no property length");
			assert.equal(parse(reason).reasonCode, failure);
			const full = parse(ours((b) => encodeAck5(b, 0, type, 7, failure, { reasonString: "why", userProperties: [["k", "v"]] })));
			assert.equal(full.reasonCode, failure);
			assert.deepEqual(full.properties, { reasonString: "why", userProperties: { k: "v" } });
			const theirs = generate({ cmd, messageId: 7, reasonCode: failure, properties: { reasonString: "why", userProperties: { k: "v" } } } as never, { protocolVersion: 5 });
			assert.equal(Buffer.from(ours((b) => encodeAck5(b, 0, type, 7, failure, { reasonString: "why", userProperties: [["k", "v"]] }))).toString("hex"), theirs.toString("hex"));
		});
	}

	it("SUBSCRIBE: subscription options (QoS, No Local, Retain As Published, Retain Handling) and a subscription identifier", () => {
		const bytes = ours((b) => encodeSubscribe5(b, 0, 3, [
			{ filter: "devices/+/commands", qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 },
			{ filter: "$share/g/jobs/#", qos: 2 },
		], { subscriptionIdentifier: 77, userProperties: [["a", "b"]] }));
		const p = parse(bytes);
		assert.equal(p.messageId, 3);
		assert.deepEqual(p.subscriptions, [
			{ topic: "devices/+/commands", qos: 1, nl: true, rap: true, rh: 2 },
			{ topic: "$share/g/jobs/#", qos: 2, nl: false, rap: false, rh: 0 },
		]);
		assert.deepEqual(p.properties, { subscriptionIdentifier: 77, userProperties: { a: "b" } });
	});

	it("UNSUBSCRIBE with properties", () => {
		const p = parse(ours((b) => encodeUnsubscribe5(b, 0, 4, ["a/#", "b/+"], { userProperties: [["x", "y"]] })));
		assert.deepEqual(pick(p, ["cmd", "messageId", "unsubscriptions"]), { cmd: "unsubscribe", messageId: 4, unsubscriptions: ["a/#", "b/+"] });
		assert.deepEqual(p.properties, { userProperties: { x: "y" } });
	});

	it("DISCONNECT and AUTH: two bytes for success; a reason code; with properties", () => {
		assert.equal(ours((b) => encodeReasonPacket(b, 0, DISCONNECT)).length, 2);
		assert.equal(ours((b) => encodeReasonPacket(b, 0, AUTH)).length, 2);
		const will = parse(ours((b) => encodeReasonPacket(b, 0, DISCONNECT, ReasonCode.DISCONNECT_WITH_WILL)));
		assert.deepEqual(pick(will, ["cmd", "reasonCode"]), { cmd: "disconnect", reasonCode: 0x04 });
		const full = parse(ours((b) => encodeReasonPacket(b, 0, DISCONNECT, 0, { sessionExpiryInterval: 0, reasonString: "bye" })));
		assert.deepEqual(full.properties, { sessionExpiryInterval: 0, reasonString: "bye" });
		const auth = parse(ours((b) => encodeReasonPacket(b, 0, AUTH, ReasonCode.CONTINUE_AUTHENTICATION, { authenticationMethod: "SCRAM-SHA-1", authenticationData: Uint8Array.of(5) })));
		assert.deepEqual(pick(auth, ["cmd", "reasonCode"]), { cmd: "auth", reasonCode: 0x18 });
		assert.deepEqual({ ...(auth.properties as Fields), authenticationData: [...((auth.properties as Fields).authenticationData as Buffer)] },
			{ authenticationMethod: "SCRAM-SHA-1", authenticationData: [5] });
	});

	it("usage errors throw before a byte is written: a reason code the packet cannot carry, properties it may not carry, No Local on a shared subscription, a subscription identifier on a client's PUBLISH", () => {
		const cases: Array<[() => number, string]> = [
			[() => encodeAck5(buffer, 0, PUBACK, 1, 0x92), "INVALID_ARGUMENT"],
			[() => encodeAck5(buffer, 0, PUBREL, 1, 0x97), "INVALID_ARGUMENT"],
			[() => encodeReasonPacket(buffer, 0, AUTH, 0x80), "INVALID_ARGUMENT"],
			[() => encodeReasonPacket(buffer, 0, DISCONNECT, 0x84), "INVALID_ARGUMENT"],
			[() => encodeAck5(buffer, 0, PUBACK, 1, 0, { topicAlias: 1 }), "INVALID_ARGUMENT"],
			[() => encodePublish5(buffer, 0, "t", "x", 1, false, false, 1, { sessionExpiryInterval: 1 }), "INVALID_ARGUMENT"],
			[() => encodePublish5(buffer, 0, "t", "x", 1, false, false, 1, { subscriptionIdentifier: 1 }), "INVALID_ARGUMENT"],
			[() => encodeSubscribe5(buffer, 0, 1, [{ filter: "$share/g/t", qos: 0, noLocal: true }]), "INVALID_ARGUMENT"],
			[() => encodeSubscribe5(buffer, 0, 1, [{ filter: "t", qos: 0, retainHandling: 3 as never }]), "INVALID_ARGUMENT"],
			[() => encodeConnect5(buffer, 0, { clientId: "c", cleanStart: true, keepAlive: 0, properties: { topicAlias: 1 } }), "INVALID_ARGUMENT"],
			[() => encodeConnect5(buffer, 0, { clientId: "c", cleanStart: true, keepAlive: 0, will: { topic: "w", payload: "", qos: 0, retain: false, properties: { sessionExpiryInterval: 1 } } }), "INVALID_ARGUMENT"],
			[() => encodePublish5(buffer, 0, "", "x", 0, false, false, 0), "EMPTY_TOPIC"],
		];
		const buffer = new Uint8Array(256);
		for (const [run, code] of cases) {
			buffer.fill(0xEE);
			assert.throws(run, (e: MqttError) => e.code === code, `expected ${code}`);
			assert.ok(buffer.every((x) => x === 0xEE), "nothing written");
		}
	});

	it("the reason codes each packet may carry (5.0 §2.4)", () => {
		assert.ok(reasonAllowed(PUBACK, 0x10) && reasonAllowed(PUBREC, 0x10), "No matching subscribers");
		assert.ok(!reasonAllowed(PUBREL, 0x10) && reasonAllowed(PUBREL, 0x92));
		assert.ok(reasonAllowed(AUTH, 0x18) && reasonAllowed(AUTH, 0x19) && !reasonAllowed(AUTH, 0x04));
		assert.ok(reasonAllowed(DISCONNECT, 0x04) && reasonAllowed(DISCONNECT, 0x8E) && !reasonAllowed(DISCONNECT, 0x84));
		assert.ok(reasonAllowed(9, 0x02) && reasonAllowed(9, 0xA2) && !reasonAllowed(9, 0x10), "SUBACK");
		assert.ok(reasonAllowed(11, 0x11) && !reasonAllowed(11, 0x97), "UNSUBACK");
		assert.ok(reasonAllowed(2, 0x9F) && !reasonAllowed(2, 0x01), "CONNACK");
		assert.ok(!reasonAllowed(3, 0x00), "PUBLISH carries none");
	});
});
