// The codec suite: fixture tables both ways, malformed input, refusals, remaining length,
// the incremental reader and topic matching. Platform-free: mocha and the XS engine both run it.

import { PacketView, parsePacket } from "../../modules/mqtt/decode.js";
import { encodePublish } from "../../modules/mqtt/encode.js";
import { decodePacket, encode, serverReader, toPacket } from "../lib/server-codec.js";
import { PUBLISH } from "../../modules/mqtt/packet.js";
import type { Packet } from "../../modules/mqtt/packet.js";
import { PacketReader } from "../../modules/mqtt/reader.js";
import { LENGTH_SIZE_SHIFT, LENGTH_VALUE_MASK, readRemainingLength, remainingLengthSize, writeRemainingLength } from "../../modules/mqtt/remaining-length.js";
import { topicMatches, topicMatchesBytes, validateTopicFilter } from "../../modules/mqtt/topic.js";
import { decodeUtf8, utf8Length, writeUtf8 } from "../../modules/mqtt/utf8.js";
import { malformedFixtures, refusalFixtures } from "../fixtures/malformed.js";
import { packetFixtures, remainingLengthVectors } from "../fixtures/packets.js";
import { topicFixtures, filterFixtures } from "../fixtures/topics.js";
import { bytes, deepEqual, equal, fail, hex, ok, throwsCode } from "../lib/check.js";
import type { Case } from "../lib/check.js";

/** Feeds `stream` to a reader in chunks of `chunk` bytes; returns the packets as objects. */
export function readAll(reader: PacketReader, stream: Uint8Array, chunk: number, toObject: (view: PacketView) => unknown): unknown[] {
	const out: unknown[] = [];
	let at = 0;
	while (at < stream.length) {
		const n = reader.feed(stream, at, Math.min(chunk, stream.length - at));
		at += n;
		while (reader.next()) out.push(toObject(reader.view));
		if (n === 0 && !reader.next()) fail("the reader took no bytes and produced no packet");
	}
	return out;
}

const objectOf = (view: PacketView): Packet => toPacket(view);

export const codecCases: Case[] = [];
const add = (name: string, run: () => void): void => { codecCases.push({ name, run }); };

for (const [value, text] of remainingLengthVectors) {
	add(`remaining length ${value} ↔ ${text}`, () => {
		const buffer = new Uint8Array(6);
		const end = writeRemainingLength(value, buffer, 1);
		equal(hex(buffer.subarray(1, end)), text, "encoded");
		equal(remainingLengthSize(value), end - 1, "size");
		const packed = readRemainingLength(bytes(text), 0, 4);
		ok(packed >= 0, "complete");
		equal(packed & LENGTH_VALUE_MASK, value, "decoded");
		equal(packed >>> LENGTH_SIZE_SHIFT, end - 1, "decoded size");
	});
}
add("remaining length: a fifth byte is malformed", () => {
	throwsCode(() => readRemainingLength(bytes("FF FF FF FF 01"), 0, 5), "MALFORMED_REMAINING_LENGTH");
	throwsCode(() => readRemainingLength(bytes("80 80 80 80 00"), 0, 5), "MALFORMED_REMAINING_LENGTH");
});
add("remaining length: incomplete until the last byte arrives", () => {
	const b = bytes("A0 8D 06");
	equal(readRemainingLength(b, 0, 1), -1, "1 byte");
	equal(readRemainingLength(b, 0, 2), -1, "2 bytes");
	ok(readRemainingLength(b, 0, 3) >= 0, "3 bytes");
});
add("remaining length: 268,435,456 cannot be encoded", () => {
	throwsCode(() => writeRemainingLength(268_435_456, new Uint8Array(5), 0), "PACKET_TOO_LARGE");
});

for (const f of packetFixtures) {
	add(`decode: ${f.name}`, () => {
		deepEqual(decodePacket(bytes(f.hex)), f.packet);
	});
	add(`encode: ${f.name}`, () => {
		const expected = bytes(f.hex);
		const buffer = new Uint8Array(expected.length + 8).fill(0xEE);
		const n = encode(f.packet, buffer, 3);
		equal(n, expected.length, "length written");
		equal(hex(buffer.subarray(3, 3 + n)), f.hex.replace(/\s+/g, " ").trim().toUpperCase(), "bytes");
		equal(buffer[2], 0xEE, "byte before untouched");
		equal(buffer[3 + n], 0xEE, "byte after untouched");
	});
	add(`encode refuses a buffer one byte short: ${f.name}`, () => {
		const size = bytes(f.hex).length;
		const buffer = new Uint8Array(size - 1).fill(0xEE);
		throwsCode(() => encode(f.packet, buffer, 0), "BUFFER_TOO_SMALL");
		for (let i = 0; i < buffer.length; i++) if (buffer[i] !== 0xEE) fail(`byte ${i} was written`);
	});
}

add("encode: payloads as string, Uint8Array and ArrayBuffer give the same bytes", () => {
	const text = "héllo \u{1F600}";
	const asBytes = new Uint8Array(utf8Length(text, false));
	writeUtf8(text, asBytes, 0);
	const a = new Uint8Array(64), b = new Uint8Array(64), c = new Uint8Array(64);
	const na = encodePublish(a, 0, "t", text, 1, false, false, 5);
	const nb = encodePublish(b, 0, "t", asBytes, 1, false, false, 5);
	const nc = encodePublish(c, 0, "t", asBytes.slice().buffer, 1, false, false, 5);
	equal(hex(a.subarray(0, na)), hex(b.subarray(0, nb)), "string vs bytes");
	equal(hex(b.subarray(0, nb)), hex(c.subarray(0, nc)), "bytes vs ArrayBuffer");
});

for (const f of malformedFixtures) {
	add(`malformed: ${f.name} → ${f.code}`, () => {
		throwsCode(() => decodePacket(bytes(f.hex)), f.code, "decodePacket");
		const reader = serverReader(256);
		throwsCode(() => readAll(reader, bytes(f.hex), 1, objectOf), f.code, "reader, one byte at a time");
	});
}

for (const f of refusalFixtures) {
	add(`encode refuses: ${f.name} → ${f.code}`, () => {
		const buffer = new Uint8Array(80_000).fill(0xEE);
		throwsCode(() => encode(f.packet, buffer, 0), f.code);
		for (let i = 0; i < 16; i++) if (buffer[i] !== 0xEE) fail(`byte ${i} was written before the refusal`);
	});
}

const stream = ((): Uint8Array => {
	const parts = packetFixtures.map((f) => bytes(f.hex));
	let total = 0;
	for (const p of parts) total += p.length;
	const out = new Uint8Array(total);
	let at = 0;
	for (const p of parts) { out.set(p, at); at += p.length; }
	return out;
})();

add("reader: all packets in one chunk", () => {
	deepEqual(readAll(serverReader(1024), stream, stream.length, objectOf), packetFixtures.map((f) => f.packet));
});
add("reader: one byte at a time", () => {
	deepEqual(readAll(serverReader(1024), stream, 1, objectOf), packetFixtures.map((f) => f.packet));
});
add("reader: chunks of every size from 2 to 64", () => {
	const expected = packetFixtures.map((f) => f.packet);
	for (let chunk = 2; chunk <= 64; chunk++)
		deepEqual(readAll(serverReader(512), stream, chunk, objectOf), expected, `chunk ${chunk}`);
});
add("reader: every packet split at every possible point", () => {
	for (const f of packetFixtures) {
		const b = bytes(f.hex);
		for (let cut = 1; cut < b.length; cut++) {
			const reader = serverReader(512);
			reader.feed(b, 0, cut);
			if (reader.next()) fail(`${f.name}: a packet came out after ${cut} of ${b.length} bytes`);
			reader.feed(b, cut, b.length - cut);
			ok(reader.next(), `${f.name}: complete after the second part (cut ${cut})`);
			deepEqual(toPacket(reader.view), f.packet, `${f.name} cut at ${cut}`);
			equal(reader.next(), false, "nothing more");
		}
	}
});
add("reader: a buffer exactly the size of the packet is enough", () => {
	const f = packetFixtures.find((x) => x.name.includes("200-byte"))!;
	const b = bytes(f.hex);
	deepEqual(readAll(serverReader(b.length), b, 7, objectOf), [f.packet]);
});
add("reader: a non-PUBLISH packet larger than the buffer is PACKET_TOO_LARGE", () => {
	const big = new Uint8Array(64);
	const n = encode({ type: 9, packetId: 1, returnCodes: new Array<number>(40).fill(1) }, big, 0);
	throwsCode(() => readAll(serverReader(16), big.subarray(0, n), 64, objectOf), "PACKET_TOO_LARGE");
});

/** An oversize PUBLISH between two small ones: drained, reported, and the stream goes on. */
function oversizeCase(topic: string, qos: 0 | 1 | 2, payloadSize: number, bufferSize: number, chunk: number): void {
	const before = new Uint8Array(16), after = new Uint8Array(16);
	const nb = encodePublish(before, 0, "a", "1", 0, false, false, 0);
	const na = encodePublish(after, 0, "b", "2", 1, false, false, 9);
	const big = new Uint8Array(payloadSize + topic.length * 4 + 16);
	const payload = new Uint8Array(payloadSize);
	for (let i = 0; i < payloadSize; i++) payload[i] = i & 0xFF;
	const nbig = encodePublish(big, 0, topic, payload, qos, true, false, 4242);
	const all = new Uint8Array(nb + nbig + na);
	all.set(before.subarray(0, nb), 0);
	all.set(big.subarray(0, nbig), nb);
	all.set(after.subarray(0, na), nb + nbig);
	const reader = serverReader(bufferSize);
	const seen = readAll(reader, all, chunk, (v) => v.oversize
		? { oversize: true, topic: v.topicEnd > v.topicStart ? v.topic() : undefined, qos: v.qos, retain: v.retain, packetId: v.packetId, payloadLength: v.payloadLength, first: v.payloadEnd > v.payloadStart ? v.buffer[v.payloadStart] : 0 }
		: { topic: v.topic(), text: v.payloadText() });
	const topicFits = 2 + topic.length + (qos ? 2 : 0) + 5 <= bufferSize;
	deepEqual(seen, [
		{ topic: "a", text: "1" },
		{ oversize: true, topic: topicFits ? topic : undefined, qos, retain: true, packetId: qos ? 4242 : 0, payloadLength: payloadSize, first: 0 },
		{ topic: "b", text: "2" },
	], `topic ${topic.length} bytes, buffer ${bufferSize}, chunk ${chunk}`);
}
add("reader: an oversize PUBLISH is drained and reported with its topic, QoS and identifier", () => {
	for (const chunk of [1, 7, 64, 5000]) {
		oversizeCase("big/topic", 1, 3000, 64, chunk);
		oversizeCase("big/topic", 0, 3000, 64, chunk);
		oversizeCase("big/topic", 2, 100, 64, chunk);
	}
});
add("reader: an oversize PUBLISH whose topic alone exceeds the buffer is still drained, with its identifier", () => {
	const topic = new Array<string>(201).join("t");
	for (const chunk of [1, 13, 4096]) {
		oversizeCase(topic, 1, 500, 32, chunk);
		oversizeCase(topic, 0, 500, 32, chunk);
	}
});
add("reader: an oversize PUBLISH with a malformed topic is still a typed error", () => {
	const b = bytes(`32 FF 01 00 02 C3 28 00 01 ${new Array<string>(250).fill("00").join(" ")}`);
	throwsCode(() => readAll(serverReader(32), b, 16, objectOf), "MALFORMED_UTF8");
});

add("PacketView: topicEquals compares bytes without making a string", () => {
	const view = new PacketView();
	const b = bytes(`30 0A 00 04 ${"74 2F C3 A9"} 78 78 78 78`);
	parsePacket(view, b, 0, b.length);
	ok(view.topicEquals("t/é"), "equal");
	ok(!view.topicEquals("t/e"), "different");
	ok(!view.topicEquals("t/é/"), "longer");
	equal(view.type, PUBLISH, "type");
});

for (const [filter, topic, expected] of topicFixtures) {
	add(`topic: "${filter}" ${expected ? "matches" : "does not match"} "${topic}"`, () => {
		equal(topicMatches(filter, topic), expected, "strings");
		const f = new Uint8Array(utf8Length(filter, true)), t = new Uint8Array(utf8Length(topic, true) + 4);
		writeUtf8(filter, f, 0);
		const end = writeUtf8(topic, t, 2);
		equal(topicMatchesBytes(f, f.length, t, 2, end), expected, "bytes");
	});
}
for (const [filter, valid] of filterFixtures) {
	add(`topic filter "${filter}" is ${valid ? "valid" : "invalid"}`, () => {
		if (valid) validateTopicFilter(filter);
		else throwsCode(() => validateTopicFilter(filter), "INVALID_TOPIC_FILTER");
	});
}

add("UTF-8: strings round-trip through bytes", () => {
	for (const text of ["", "a", "é", "€", "\u{10FFFF}", "mixed ascii é € \u{1F600} end", new Array<string>(700).join("ü")]) {
		const b = new Uint8Array(utf8Length(text, true));
		equal(writeUtf8(text, b, 0), b.length, "written");
		equal(decodeUtf8(b, 0, b.length), text, "decoded");
	}
});
