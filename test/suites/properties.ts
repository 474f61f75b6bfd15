// MQTT 5.0 properties (OASIS MQTT Version 5.0 §2.2.2), byte for byte: every identifier written and
// read back in a place it may appear, and every rule a receiver enforces, with the reason code it
// sends. Platform-free: also runs in XS.

import { AUTH, CONNACK, CONNECT, DISCONNECT, PUBACK, PUBLISH, SUBSCRIBE, UNSUBSCRIBE } from "../../modules/mqtt/constants.js";
import type { MqttError } from "../../modules/mqtt/errors.js";
import {
	BINARY, BYTE, FOUR_BYTE, MALFORMED_PACKET, Properties, Property, PROPERTY_NAMES, PROTOCOL_ERROR, propertiesLength,
	propertyAllowed, propertyType, readProperties, STRING_PAIR, TWO_BYTE, UTF8_STRING, VARIABLE_BYTE, WILL_PROPERTIES, writeProperties,
} from "../../modules/mqtt/properties.js";
import type { PropertyValues } from "../../modules/mqtt/properties.js";
import { bytes, deepEqual, equal, fail, hex, ok, throwsCode } from "../lib/check.js";
import { Random } from "../lib/random.js";
import type { Case } from "../lib/check.js";

export const propertyCases: Case[] = [];
const add = (name: string, run: () => void): void => { propertyCases.push({ name, run }); };

/** Where each property may appear (§2.2.2.2), as the standard's table lists it. */
const PLACES: Record<number, number[]> = {
	[Property.PAYLOAD_FORMAT_INDICATOR]: [PUBLISH, WILL_PROPERTIES],
	[Property.MESSAGE_EXPIRY_INTERVAL]: [PUBLISH, WILL_PROPERTIES],
	[Property.CONTENT_TYPE]: [PUBLISH, WILL_PROPERTIES],
	[Property.RESPONSE_TOPIC]: [PUBLISH, WILL_PROPERTIES],
	[Property.CORRELATION_DATA]: [PUBLISH, WILL_PROPERTIES],
	[Property.SUBSCRIPTION_IDENTIFIER]: [PUBLISH, SUBSCRIBE],
	[Property.SESSION_EXPIRY_INTERVAL]: [CONNECT, CONNACK, DISCONNECT],
	[Property.ASSIGNED_CLIENT_IDENTIFIER]: [CONNACK],
	[Property.SERVER_KEEP_ALIVE]: [CONNACK],
	[Property.AUTHENTICATION_METHOD]: [CONNECT, CONNACK, AUTH],
	[Property.AUTHENTICATION_DATA]: [CONNECT, CONNACK, AUTH],
	[Property.REQUEST_PROBLEM_INFORMATION]: [CONNECT],
	[Property.WILL_DELAY_INTERVAL]: [WILL_PROPERTIES],
	[Property.REQUEST_RESPONSE_INFORMATION]: [CONNECT],
	[Property.RESPONSE_INFORMATION]: [CONNACK],
	[Property.SERVER_REFERENCE]: [CONNACK, DISCONNECT],
	[Property.REASON_STRING]: [CONNACK, PUBACK, 5, 6, 7, 9, 11, DISCONNECT, AUTH],
	[Property.RECEIVE_MAXIMUM]: [CONNECT, CONNACK],
	[Property.TOPIC_ALIAS_MAXIMUM]: [CONNECT, CONNACK],
	[Property.TOPIC_ALIAS]: [PUBLISH],
	[Property.MAXIMUM_QOS]: [CONNACK],
	[Property.RETAIN_AVAILABLE]: [CONNACK],
	[Property.USER_PROPERTY]: [CONNECT, CONNACK, PUBLISH, WILL_PROPERTIES, PUBACK, 5, 6, 7, SUBSCRIBE, 9, UNSUBSCRIBE, 11, DISCONNECT, AUTH],
	[Property.MAXIMUM_PACKET_SIZE]: [CONNECT, CONNACK],
	[Property.WILDCARD_SUBSCRIPTION_AVAILABLE]: [CONNACK],
	[Property.SUBSCRIPTION_IDENTIFIER_AVAILABLE]: [CONNACK],
	[Property.SHARED_SUBSCRIPTION_AVAILABLE]: [CONNACK],
};

/** A value for each property, and its encoding after the identifier, as hex. */
const SAMPLES: Record<number, { value: unknown; hex: string }> = {
	[Property.PAYLOAD_FORMAT_INDICATOR]: { value: 1, hex: "01" },
	[Property.MESSAGE_EXPIRY_INTERVAL]: { value: 0x01020304, hex: "01020304" },
	[Property.CONTENT_TYPE]: { value: "application/json", hex: "0010" + "6170706c69636174696f6e2f6a736f6e" },
	[Property.RESPONSE_TOPIC]: { value: "r/é", hex: "0004722fc3a9" },
	[Property.CORRELATION_DATA]: { value: Uint8Array.of(0, 0xFF, 7), hex: "000300ff07" },
	[Property.SUBSCRIPTION_IDENTIFIER]: { value: 268_435_455, hex: "ffffff7f" },
	[Property.SESSION_EXPIRY_INTERVAL]: { value: 0xFFFFFFFF, hex: "ffffffff" },
	[Property.ASSIGNED_CLIENT_IDENTIFIER]: { value: "auto-1", hex: "00066175746f2d31" },
	[Property.SERVER_KEEP_ALIVE]: { value: 300, hex: "012c" },
	[Property.AUTHENTICATION_METHOD]: { value: "SCRAM", hex: "0005534352414d" },
	[Property.AUTHENTICATION_DATA]: { value: Uint8Array.of(1, 2), hex: "00020102" },
	[Property.REQUEST_PROBLEM_INFORMATION]: { value: 0, hex: "00" },
	[Property.WILL_DELAY_INTERVAL]: { value: 60, hex: "0000003c" },
	[Property.REQUEST_RESPONSE_INFORMATION]: { value: 1, hex: "01" },
	[Property.RESPONSE_INFORMATION]: { value: "rsp/", hex: "00047273702f" },
	[Property.SERVER_REFERENCE]: { value: "b2", hex: "00026232" },
	[Property.REASON_STRING]: { value: "ok", hex: "00026f6b" },
	[Property.RECEIVE_MAXIMUM]: { value: 20, hex: "0014" },
	[Property.TOPIC_ALIAS_MAXIMUM]: { value: 10, hex: "000a" },
	[Property.TOPIC_ALIAS]: { value: 1, hex: "0001" },
	[Property.MAXIMUM_QOS]: { value: 1, hex: "01" },
	[Property.RETAIN_AVAILABLE]: { value: 0, hex: "00" },
	[Property.USER_PROPERTY]: { value: [["k", "v"]], hex: "00016b000176" },
	[Property.MAXIMUM_PACKET_SIZE]: { value: 1024, hex: "00000400" },
	[Property.WILDCARD_SUBSCRIPTION_AVAILABLE]: { value: 1, hex: "01" },
	[Property.SUBSCRIPTION_IDENTIFIER_AVAILABLE]: { value: 0, hex: "00" },
	[Property.SHARED_SUBSCRIPTION_AVAILABLE]: { value: 1, hex: "01" },
};

const IDS = Object.values(Property) as number[];

/** A property block (length prefix included) from the hex of its properties. */
function block(text: string): Uint8Array {
	const body = bytes(text.replace(/\s+/g, ""));
	if (body.length > 127) fail("test blocks stay under 128 bytes");
	const b = new Uint8Array(body.length + 1);
	b[0] = body.length;
	b.set(body, 1);
	return b;
}

function read(text: string, place: number): Properties {
	const b = block(text);
	const p = new Properties();
	equal(readProperties(b, 0, b.length, place, p), b.length, "the whole block read");
	return p;
}

/** Reading `text` where `place` says fails with `code` and `reasonCode`. */
function refused(text: string, place: number, code: string, reasonCode: number, what: string): void {
	const b = block(text);
	let error: MqttError | undefined;
	try {
		readProperties(b, 0, b.length, place, new Properties());
	}
	catch (e) {
		error = e as MqttError;
	}
	if (!error) fail(`${what}: accepted`);
	equal(error.code, code, `${what}: code`);
	equal(error.reasonCode, reasonCode, `${what}: reason code`);
}

add("the table of §2.2.2.2: 27 properties, each with its type and the packets it may appear in", () => {
	equal(IDS.length, 27);
	const types: Record<number, number> = { 1: BYTE, 2: FOUR_BYTE, 3: UTF8_STRING, 8: UTF8_STRING, 9: BINARY, 11: VARIABLE_BYTE, 17: FOUR_BYTE,
		18: UTF8_STRING, 19: TWO_BYTE, 21: UTF8_STRING, 22: BINARY, 23: BYTE, 24: FOUR_BYTE, 25: BYTE, 26: UTF8_STRING, 28: UTF8_STRING,
		31: UTF8_STRING, 33: TWO_BYTE, 34: TWO_BYTE, 35: TWO_BYTE, 36: BYTE, 37: BYTE, 38: STRING_PAIR, 39: FOUR_BYTE, 40: BYTE, 41: BYTE, 42: BYTE };
	for (let id = 0; id <= 0x2C; id++) {
		equal(propertyType(id), types[id] ?? 0, `type of 0x${id.toString(16)}`);
		for (let place = 1; place <= WILL_PROPERTIES; place++)
			equal(propertyAllowed(id, place), (PLACES[id] ?? []).includes(place), `0x${id.toString(16)} in place ${place}`);
	}
});

add("every property written where it may appear reads back the same, byte for byte", () => {
	for (const id of IDS) {
		const name = PROPERTY_NAMES[id]!;
		const sample = SAMPLES[id]!;
		for (const place of PLACES[id]!) {
			const values = { [name]: sample.value } as PropertyValues;
			const length = propertiesLength(values, place);
			const buffer = new Uint8Array(length + 4);
			const end = writeProperties(values, length, buffer, 0);
			equal(hex(buffer.subarray(0, end)), hex(block(id.toString(16).padStart(2, "0") + sample.hex)), `${name} in ${place}: bytes`);
			const p = new Properties();
			equal(readProperties(buffer, 0, end, place, p), end, `${name}: read to its end`);
			ok(p.has(id), `${name}: present`);
			const type = propertyType(id);
			if (type === UTF8_STRING) equal(p.string(id), sample.value, `${name}: value`);
			else if (type === BINARY) equal(hex(p.bytes(id)!), hex(sample.value as Uint8Array), `${name}: value`);
			else if (type === STRING_PAIR) deepEqual(p.userPairs(), sample.value, `${name}: value`);
			else equal(p.number(id, -1), sample.value, `${name}: value`);
		}
	}
});

add("a property in a packet it may not appear in: PROPERTY_NOT_ALLOWED, Malformed Packet (0x81, 5.0 §2.2.2.2); refused before sending", () => {
	for (const id of IDS) {
		const name = PROPERTY_NAMES[id]!;
		const sample = SAMPLES[id]!;
		for (let place = 1; place <= WILL_PROPERTIES; place++) {
			if (PLACES[id]!.includes(place)) continue;
			refused(id.toString(16).padStart(2, "0") + sample.hex, place, "PROPERTY_NOT_ALLOWED", MALFORMED_PACKET, `${name} in place ${place}`);
			throwsCode(() => propertiesLength({ [name]: sample.value } as PropertyValues, place), "INVALID_ARGUMENT", `${name} in place ${place}`);
		}
	}
});

add("a property that may appear once, twice: DUPLICATE_PROPERTY, Protocol Error; user properties repeat; subscription identifiers repeat in PUBLISH only", () => {
	refused("2300012300 02", PUBLISH, "DUPLICATE_PROPERTY", PROTOCOL_ERROR, "topic alias twice");
	refused("1100000001 1100000002", CONNECT, "DUPLICATE_PROPERTY", PROTOCOL_ERROR, "session expiry twice");
	refused("0b01 0b02", SUBSCRIBE, "DUPLICATE_PROPERTY", PROTOCOL_ERROR, "subscription identifier twice in SUBSCRIBE");
	const p = read("260001610002 6201 260001610002 6202 0b01 0b8001", PUBLISH);
	equal(p.userProperties, 2);
	deepEqual(p.userPairs(), [["a", "b\u0001"], ["a", "b\u0002"]], "both user properties, in order, the same name twice");
	equal(p.subscriptionIdentifiers, 2);
	const first = p.next(Property.SUBSCRIPTION_IDENTIFIER, -1);
	const second = p.next(Property.SUBSCRIPTION_IDENTIFIER, first);
	equal(p.buffer[first], 1, "the first subscription identifier");
	equal(p.buffer[second], 0x80, "the second, 128, as a variable byte integer");
	equal(p.number(Property.SUBSCRIPTION_IDENTIFIER, -1), 128, "number() gives the last");
	equal(p.next(Property.SUBSCRIPTION_IDENTIFIER, second), -1, "no third");
	deepEqual(p.numbers(Property.SUBSCRIPTION_IDENTIFIER), [1, 128], "numbers() gives them all, in order");
	ok(p.includes(Property.SUBSCRIPTION_IDENTIFIER, 1) && p.includes(Property.SUBSCRIPTION_IDENTIFIER, 128), "includes() finds each");
	ok(!p.includes(Property.SUBSCRIPTION_IDENTIFIER, 0x80 << 8), "and nothing else");
	deepEqual(read("", PUBLISH).numbers(Property.SUBSCRIPTION_IDENTIFIER), [], "none in an empty block");
});

add("an identifier that does not exist: UNKNOWN_PROPERTY, Malformed Packet (0x81)", () => {
	for (const id of [0x00, 0x04, 0x0A, 0x14, 0x1B, 0x20, 0x2B, 0x7F, 0xFF])
		refused(id.toString(16).padStart(2, "0") + "00", PUBLISH, "UNKNOWN_PROPERTY", MALFORMED_PACKET, `identifier 0x${id.toString(16)}`);
});

add("lengths: a block, a string or a pair running past what holds it, a variable byte integer with a fifth byte: MALFORMED_PROPERTIES, Malformed Packet", () => {
	const short = Uint8Array.of(5, 0x23, 0x00);
	throwsCode(() => readProperties(short, 0, short.length, PUBLISH, new Properties()), "MALFORMED_PROPERTIES", "the block past the packet");
	const cut = Uint8Array.of(0x80);
	throwsCode(() => readProperties(cut, 0, cut.length, PUBLISH, new Properties()), "MALFORMED_PROPERTIES", "the block's length cut");
	const five = Uint8Array.of(0xFF, 0xFF, 0xFF, 0xFF, 0x01);
	throwsCode(() => readProperties(five, 0, five.length, PUBLISH, new Properties()), "MALFORMED_PROPERTIES", "the block's length with a fifth byte");
	refused("0300056162", PUBLISH, "MALFORMED_PROPERTIES", MALFORMED_PACKET, "a string past the block");
	refused("03 00", PUBLISH, "MALFORMED_PROPERTIES", MALFORMED_PACKET, "a string's length cut");
	refused("260001610005 62", PUBLISH, "MALFORMED_PROPERTIES", MALFORMED_PACKET, "a pair's value past the block");
	refused("2300", PUBLISH, "MALFORMED_PROPERTIES", MALFORMED_PACKET, "a two-byte integer cut");
	refused("02000000", PUBLISH, "MALFORMED_PROPERTIES", MALFORMED_PACKET, "a four-byte integer cut");
	refused("0bffffffff01", PUBLISH, "MALFORMED_PROPERTIES", MALFORMED_PACKET, "a variable byte integer with a fifth byte");
	refused("0b80", PUBLISH, "MALFORMED_PROPERTIES", MALFORMED_PACKET, "a variable byte integer cut");
});

add("values out of range: zero topic alias, receive maximum, maximum packet size or subscription identifier; a flag above 1: INVALID_PROPERTY_VALUE, Protocol Error", () => {
	refused("230000", PUBLISH, "INVALID_PROPERTY_VALUE", PROTOCOL_ERROR, "topic alias 0");
	refused("210000", CONNACK, "INVALID_PROPERTY_VALUE", PROTOCOL_ERROR, "receive maximum 0");
	refused("2700000000", CONNACK, "INVALID_PROPERTY_VALUE", PROTOCOL_ERROR, "maximum packet size 0");
	refused("0b00", PUBLISH, "INVALID_PROPERTY_VALUE", PROTOCOL_ERROR, "subscription identifier 0");
	for (const id of [0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A]) {
		const place = PLACES[id]![0]!;
		refused(id.toString(16).padStart(2, "0") + "02", place, "INVALID_PROPERTY_VALUE", PROTOCOL_ERROR, `${PROPERTY_NAMES[id]} 2`);
	}
	for (const [values, what] of [
		[{ topicAlias: 0 }, "topic alias 0"], [{ receiveMaximum: 0 }, "receive maximum 0"], [{ maximumPacketSize: 0 }, "maximum packet size 0"],
		[{ payloadFormatIndicator: 2 }, "a flag of 2"], [{ maximumQoS: 2 }, "maximum QoS 2"], [{ topicAlias: 65_536 }, "a two-byte integer too large"],
		[{ messageExpiryInterval: -1 }, "a negative interval"], [{ messageExpiryInterval: 1.5 }, "a fraction"], [{ contentType: 7 }, "a number for a string"],
		[{ correlationData: "x" }, "a string for binary data"], [{ userProperties: [["k"]] }, "a pair of one"],
	] as Array<[PropertyValues, string]>) {
		const place = "receiveMaximum" in values || "maximumPacketSize" in values ? CONNECT : PUBLISH;
		throwsCode(() => propertiesLength(values, place), "INVALID_ARGUMENT", what);
	}
});

add("strings: ill-formed UTF-8 or U+0000 in a string property or a user property is a Malformed Packet", () => {
	refused("030002c328", PUBLISH, "MALFORMED_UTF8", MALFORMED_PACKET, "a cut two-byte sequence");
	refused("03000100", PUBLISH, "UTF8_NULL_CHARACTER", MALFORMED_PACKET, "U+0000");
	refused("260001610003eda080", PUBLISH, "UTF8_SURROGATE", MALFORMED_PACKET, "a surrogate in a user property's value");
});

add("an empty block: length 0, nothing present; a block read leaves nothing of the one before", () => {
	const p = read("", PUBLISH);
	for (const id of IDS) ok(!p.has(id), `${PROPERTY_NAMES[id]} absent`);
	equal(p.number(Property.TOPIC_ALIAS, 7), 7, "the default when absent");
	equal(p.string(Property.CONTENT_TYPE), undefined);
	const b = block("230005");
	readProperties(b, 0, b.length, PUBLISH, p);
	equal(p.number(Property.TOPIC_ALIAS, 0), 5);
	const empty = block("");
	readProperties(empty, 0, empty.length, PUBLISH, p);
	ok(!p.has(Property.TOPIC_ALIAS), "cleared");
	equal(propertiesLength(undefined, PUBLISH), 0);
	equal(propertiesLength({}, PUBLISH), 0);
	const out = new Uint8Array(1);
	equal(writeProperties(undefined, 0, out, 0), 1);
	equal(out[0], 0, "a zero length");
});

add("several properties at once: written in identifier order, user properties last, and all read back", () => {
	const values: PropertyValues = {
		userProperties: [["unit", "°C"], ["site", "b1"]], topicAlias: 3, contentType: "application/json", payloadFormatIndicator: true,
		messageExpiryInterval: 120, correlationData: Uint8Array.of(9, 9), responseTopic: "devices/x/responses",
	};
	const length = propertiesLength(values, PUBLISH);
	const buffer = new Uint8Array(200);
	const end = writeProperties(values, length, buffer, 10);
	equal(end - 10, 1 + length, "the length prefix and the properties");
	const p = new Properties();
	equal(readProperties(buffer, 10, end, PUBLISH, p), end);
	equal(p.number(Property.PAYLOAD_FORMAT_INDICATOR, -1), 1);
	equal(p.number(Property.MESSAGE_EXPIRY_INTERVAL, -1), 120);
	equal(p.string(Property.CONTENT_TYPE), "application/json");
	equal(p.string(Property.RESPONSE_TOPIC), "devices/x/responses");
	equal(hex(p.bytes(Property.CORRELATION_DATA)!), "09 09");
	equal(p.number(Property.TOPIC_ALIAS, -1), 3);
	deepEqual(p.userPairs(), [["unit", "°C"], ["site", "b1"]]);
	equal(buffer[11], Property.PAYLOAD_FORMAT_INDICATOR, "the lowest identifier first");
	const start = p.valueStart(Property.CONTENT_TYPE);
	equal(p.valueEnd(Property.CONTENT_TYPE) - start, 16, "a string read in place: its bytes in the buffer");
});

add("fuzz: 20,000 blocks of random and mutated bytes (seed 5150) are read or refused with a typed error and a reason code of 0x81 or 0x82, never anything else", () => {
	const random = new Random(5150);
	const places = [CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT, AUTH, WILL_PROPERTIES];
	// Valid blocks to mutate: every sample where it may appear.
	const seeds: Uint8Array[] = [];
	for (const id of IDS) seeds.push(block(id.toString(16).padStart(2, "0") + SAMPLES[id]!.hex));
	const p = new Properties();
	let accepted = 0;
	for (let i = 0; i < 20_000; i++) {
		let b: Uint8Array;
		if (random.chance(0.5)) b = random.bytes(random.int(0, 40));
		else {
			b = random.pick(seeds).slice();
			for (let k = random.int(1, 3); k > 0; k--) b[random.int(0, b.length - 1)] = random.u32() & 0xFF;
		}
		const place = random.pick(places);
		try {
			const end = readProperties(b, 0, b.length, place, p);
			ok(end <= b.length, "the block ends within the bytes");
			accepted++;
		}
		catch (error) {
			const e = error as MqttError;
			ok(e.reasonCode === MALFORMED_PACKET || e.reasonCode === PROTOCOL_ERROR, `case ${i}: ${String(e.message ?? e)} has reason code ${e.reasonCode}`);
		}
	}
	ok(accepted > 100, `some blocks are valid (${accepted})`);
});
