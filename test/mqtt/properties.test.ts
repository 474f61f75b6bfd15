// MQTT 5.0 properties: the platform-free suite under mocha (test/xs runs it inside XS), and ours
// against mqtt-packet (protocolVersion 5) both ways: blocks it writes, we read; blocks we write,
// it reads, for every property in packets that carry them.

import * as assert from "node:assert/strict";
import { generate } from "mqtt-packet";
import { AUTH, CONNACK, DISCONNECT, PUBACK, PUBLISH } from "../../modules/mqtt/constants.js";
import { Properties, Property, PROPERTY_NAMES, propertiesLength, propertyType, readProperties, STRING_PAIR, BINARY, UTF8_STRING, BYTE, writeProperties } from "../../modules/mqtt/properties.js";
import type { PropertyValues } from "../../modules/mqtt/properties.js";
import { writeRemainingLength } from "../../modules/mqtt/remaining-length.js";
import { parse5 as parse } from "../lib/mqtt-packet5.js";
import type { Fields } from "../lib/mqtt-packet5.js";
import { propertyCases } from "../suites/properties.js";

describe("MQTT 5.0 properties (Node)", () => {
	for (const c of propertyCases) it(c.name, c.run);
});


/** Properties of each packet with every property it may carry (mqtt-packet's names and forms). */
const CONNACK_PROPERTIES: Fields = {
	sessionExpiryInterval: 86_400, receiveMaximum: 20, maximumQoS: 1, retainAvailable: true, maximumPacketSize: 65_536,
	assignedClientIdentifier: "auto-7f", topicAliasMaximum: 10, reasonString: "welcome", userProperties: { region: "eu", node: ["a", "b"] },
	wildcardSubscriptionAvailable: true, subscriptionIdentifiersAvailable: false, sharedSubscriptionAvailable: true,
	serverKeepAlive: 30, responseInformation: "rsp/", serverReference: "other:1883", authenticationMethod: "SCRAM-SHA-1",
	authenticationData: Buffer.from([1, 2, 3]),
};
const PUBLISH_PROPERTIES: Fields = {
	payloadFormatIndicator: true, messageExpiryInterval: 120, topicAlias: 3, responseTopic: "devices/d1/responses",
	correlationData: Buffer.from([0xDE, 0xAD]), userProperties: { unit: "°C" }, subscriptionIdentifier: [1, 300], contentType: "application/json",
};
const DISCONNECT_PROPERTIES: Fields = { sessionExpiryInterval: 0, reasonString: "bye", serverReference: "b2", userProperties: { why: "maintenance" } };
const AUTH_PROPERTIES: Fields = { authenticationMethod: "SCRAM-SHA-1", authenticationData: Buffer.from([9]), reasonString: "continue", userProperties: { step: "2" } };
const PUBACK_PROPERTIES: Fields = { reasonString: "quota", userProperties: { k: "v" } };

const generated: Array<{ place: number; name: string; packet: Fields; properties: Fields; blockAt: (b: Buffer) => number }> = [
	{ place: CONNACK, name: "CONNACK", packet: { cmd: "connack", sessionPresent: false, reasonCode: 0 }, properties: CONNACK_PROPERTIES, blockAt: (b) => afterHeader(b) + 2 },
	{ place: PUBLISH, name: "PUBLISH", packet: { cmd: "publish", topic: "t", payload: Buffer.from("x"), qos: 1, messageId: 7, retain: false, dup: false }, properties: PUBLISH_PROPERTIES, blockAt: (b) => afterHeader(b) + 2 + 1 + 2 },
	{ place: DISCONNECT, name: "DISCONNECT", packet: { cmd: "disconnect", reasonCode: 0x8B }, properties: DISCONNECT_PROPERTIES, blockAt: (b) => afterHeader(b) + 1 },
	{ place: AUTH, name: "AUTH", packet: { cmd: "auth", reasonCode: 0x18 }, properties: AUTH_PROPERTIES, blockAt: (b) => afterHeader(b) + 1 },
	{ place: PUBACK, name: "PUBACK", packet: { cmd: "puback", messageId: 9, reasonCode: 0x97 }, properties: PUBACK_PROPERTIES, blockAt: (b) => afterHeader(b) + 2 + 1 },
];

/** The offset after a packet's fixed header. */
function afterHeader(b: Uint8Array): number {
	let k = 1;
	while (b[k]! & 0x80) k++;
	return k + 1;
}

/** What mqtt-packet would give for our reading of the block: its names and forms. */
function asMqttPacket(p: Properties): Fields {
	const out: Fields = {};
	for (const id of Object.values(Property) as number[]) {
		if (!p.has(id)) continue;
		const name = PROPERTY_NAMES[id]!;
		const type = propertyType(id);
		if (type === STRING_PAIR) {
			const users: Record<string, string | string[]> = {};
			for (const [k, v] of p.userPairs()) {
				const had = users[k];
				users[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
			}
			out[name] = users;
		}
		else if (id === Property.SUBSCRIPTION_IDENTIFIER) {
			const ids: number[] = [];
			for (let at = p.next(id, -1); at >= 0; at = p.next(id, at)) {
				let value = 0, multiplier = 1, k = at;
				for (;;) {
					const byte = p.buffer[k++]!;
					value += (byte & 0x7F) * multiplier;
					if (!(byte & 0x80)) break;
					multiplier *= 128;
				}
				ids.push(value);
			}
			out[name] = ids.length === 1 ? ids[0] : ids;
		}
		else if (type === UTF8_STRING) out[name] = p.string(id);
		else if (type === BINARY) out[name] = Buffer.from(p.bytes(id)!);
		else if (type === BYTE && id !== Property.MAXIMUM_QOS) out[name] = p.number(id, 0) !== 0;
		else out[name] = p.number(id, -1);
	}
	return out;
}

/** Our API's form of mqtt-packet's property values. */
function asOurs(fields: Fields): PropertyValues {
	const out: Record<string, unknown> = {};
	for (const [name, value] of Object.entries(fields)) {
		if (name === "userProperties") {
			const pairs: Array<[string, string]> = [];
			for (const [k, v] of Object.entries(value as Record<string, string | string[]>))
				for (const one of Array.isArray(v) ? v : [v]) pairs.push([k, one]);
			out[name] = pairs;
		}
		else if (Buffer.isBuffer(value)) out[name] = new Uint8Array(value);
		else out[name] = value;
	}
	return out as PropertyValues;
}

describe("MQTT 5.0 properties against mqtt-packet (protocolVersion 5)", () => {
	for (const g of generated) {
		it(`${g.name}: the properties mqtt-packet writes, we read, value for value`, () => {
			const bytes = generate({ ...g.packet, properties: g.properties } as never, { protocolVersion: 5 });
			const p = new Properties();
			const at = g.blockAt(bytes);
			const end = readProperties(bytes, at, bytes.length, g.place, p);
			assert.ok(end <= bytes.length);
			assert.deepEqual(asMqttPacket(p), g.properties);
		});
		it(`${g.name}: the properties we write, mqtt-packet reads, value for value`, () => {
			// The same packet with our property block in place of mqtt-packet's.
			const theirs = generate({ ...g.packet, properties: g.properties } as never, { protocolVersion: 5 });
			const at = g.blockAt(theirs);
			const theirEnd = readProperties(theirs, at, theirs.length, g.place, new Properties());
			const values = asOurs(g.properties);
			// Ours writes one subscription identifier per value; a PUBLISH from a broker may carry several.
			const ids = values.subscriptionIdentifier as unknown as number[] | undefined;
			if (Array.isArray(ids)) delete (values as Record<string, unknown>).subscriptionIdentifier;
			let length = propertiesLength(values, g.place);
			const block = new Uint8Array(length + 8 + (ids ? ids.length * 5 : 0));
			let end = writeProperties(values, length, block, 0);
			if (ids) {
				// Appended by hand (id 0x0B, a variable byte integer), and the block's length rewritten.
				const extra: number[] = [];
				for (const id of ids) {
					const v = new Uint8Array(5);
					const n = writeRemainingLength(id, v, 0);
					extra.push(Property.SUBSCRIPTION_IDENTIFIER, ...v.subarray(0, n));
				}
				const body = [...block.subarray(end - length, end), ...extra];
				length = body.length;
				const head = new Uint8Array(5);
				const h = writeRemainingLength(length, head, 0);
				block.set(head.subarray(0, h), 0);
				block.set(body, h);
				end = h + length;
			}
			const body = [...theirs.subarray(afterHeader(theirs), at), ...block.subarray(0, end), ...theirs.subarray(theirEnd)];
			const head = new Uint8Array(5);
			head[0] = theirs[0]!;
			const h = writeRemainingLength(body.length, head, 1);
			const packet = parse(Uint8Array.from([...head.subarray(0, h), ...body]));
			assert.deepEqual(packet.properties, g.properties);
		});
	}
});
