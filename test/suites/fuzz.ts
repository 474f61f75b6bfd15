// Fuzzing of the incremental decoder: random bytes and mutated streams of valid packets, fed to a
// PacketReader in random chunks. Platform-free (no Node imports): mocha and the XS engine both run it.

import { encode, serverReader, toPacket } from "../lib/server-codec.js";
import type { PacketView } from "../../modules/mqtt/decode.js";
import { payloadLength } from "../../modules/mqtt/encode.js";
import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import {
	CONNACK, CONNECT, PACKET_NAMES, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, SUBACK, SUBACK_FAILURE,
	SUBSCRIBE, UNSUBACK, UNSUBSCRIBE,
} from "../../modules/mqtt/packet.js";
import type { ConnectPacket, Packet, Payload, QoS } from "../../modules/mqtt/packet.js";
import { PacketReader } from "../../modules/mqtt/reader.js";
import { remainingLengthSize } from "../../modules/mqtt/remaining-length.js";
import { topicNameBytes } from "../../modules/mqtt/topic.js";
import { writeUtf8 } from "../../modules/mqtt/utf8.js";
import { CheckError, deepEqual, equal, fail, hex, ok, show } from "../lib/check.js";
import { Random } from "../lib/random.js";

// ---------------------------------------------------------------------------------------------
// Random valid packets (`randomPacket` also feeds the differential test against mqtt-packet).

/** How large random packets may get. */
export interface Limits {
	/** Most code points in one string field (a topic, a filter, a client id, a user name). */
	text: number;
	/** Most bytes of a PUBLISH payload; will messages and passwords also stop at 65,535. */
	payload: number;
	/** Most subscriptions, filters or SUBACK return codes in one packet. */
	list: number;
}

/** Printable ASCII without the topic separator and wildcards ('/', '+', '#'), which are placed on purpose. */
const ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,:;$%&*=~!@()[]{}<>?|'\"\\`^";
/** Code points at the edges of the UTF-8 classes, plus a few that receivers often mishandle (BOM, U+FFFF). */
const EDGE_CODE_POINTS = [0x7F, 0x80, 0x9F, 0xA0, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFEFF, 0xFFFD, 0xFFFE, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF];
/** Sizes around which the remaining length changes its number of bytes, and the 16-bit string limit. */
const SIZE_EDGES = [127, 128, 16_383, 16_384, 65_535];
const PACKET_ID_EDGES = [1, 2, 255, 256, 32_768, 65_534, 65_535];

/** A count in [min, max], biased toward both ends and toward small values, where the edge cases are. */
function count(r: Random, min: number, max: number): number {
	switch (r.int(0, 4)) {
		case 0: return min;
		case 1: return max;
		case 2: return r.int(min, max);
		default: return r.int(min, Math.min(max, min + 4));
	}
}

/** A byte size in [0, max]: empty, tiny, anywhere, or near a remaining-length or string-length edge. */
function size(r: Random, max: number): number {
	let n: number;
	switch (r.int(0, 5)) {
		case 0: return 0;
		case 1: n = SIZE_EDGES[r.int(0, SIZE_EDGES.length - 1)]! + r.int(-4, 4); break;
		case 2: n = r.int(0, max); break;
		default: n = r.int(0, 16); break;
	}
	return n < 0 ? 0 : n > max ? max : n;
}

/** One code point an MQTT string may hold (§1.5.3): never U+0000 nor a surrogate; never '/', '+' or '#'. */
function stringChar(r: Random): string {
	switch (r.int(0, 11)) {
		case 0: return String.fromCharCode(r.int(1, 0x1F));
		case 1: return String.fromCharCode(r.int(0x80, 0x7FF));
		case 2: {
			const c = r.int(0x800, 0xF7FF);
			return String.fromCharCode(c < 0xD800 ? c : c + 0x800);
		}
		case 3: return String.fromCodePoint(r.int(0x10000, 0x10FFFF));
		case 4: return String.fromCodePoint(r.pick(EDGE_CODE_POINTS));
		default: return ASCII.charAt(r.int(0, ASCII.length - 1));
	}
}

/** A string of `length` code points for an MQTT string field: 1-, 2-, 3- and 4-byte UTF-8 mixed. */
function randomText(r: Random, length: number): string {
	let s = "";
	for (let i = 0; i < length; i++) s += stringChar(r);
	return s;
}

/** A topic name (§4.7): levels of any characters but wildcards, maybe empty levels, maybe `$`-prefixed. */
function randomTopic(r: Random, maxChars: number): string {
	let s = r.chance(0.1) ? "$SYS/" : r.chance(0.1) ? "/" : "";
	const levels = count(r, 1, 4);
	const perLevel = Math.max(1, Math.floor(maxChars / levels));
	for (let i = 0; i < levels; i++) {
		if (i > 0) s += "/";
		s += randomText(r, count(r, 0, perLevel));
	}
	return s.length > 0 ? s : stringChar(r);
}

const FILTER_EDGES = ["#", "+", "+/#", "/#", "/+", "+/+/+", "$SYS/#", "/", "//", "a/+/#"];

/** A valid topic filter: levels that are `+` or text, maybe ending in `#`. */
function randomFilter(r: Random, maxChars: number): string {
	if (r.chance(0.1)) return r.pick(FILTER_EDGES);
	const levels = count(r, 1, 4);
	const perLevel = Math.max(1, Math.floor(maxChars / levels));
	let s = "";
	for (let i = 0; i < levels; i++) {
		if (i > 0) s += "/";
		s += r.chance(0.25) ? "+" : randomText(r, count(r, 0, perLevel));
	}
	if (r.chance(0.25)) s += s.length > 0 ? "/#" : "#";
	return s.length > 0 ? s : "+";
}

/** A character for a string payload: anything, even U+0000, wildcards and unpaired surrogates (sent as U+FFFD). */
function payloadChar(r: Random): string {
	switch (r.int(0, 9)) {
		case 0: return String.fromCharCode(r.int(0xD800, 0xDFFF));
		case 1: return r.pick(["\u0000", "/", "+", "#"]);
		default: return stringChar(r);
	}
}

/** A payload of at most `bytes` bytes, as a string, an ArrayBuffer, a Uint8Array or a view at an offset. */
function randomPayload(r: Random, bytes: number): Payload {
	switch (r.int(0, 4)) {
		case 0: {
			let s = "";
			for (let i = bytes >> 2; i > 0; i--) s += payloadChar(r);
			return s;
		}
		case 1: {
			const b = new Uint8Array(bytes);
			b.set(r.bytes(bytes));
			return b.buffer;
		}
		case 2: return r.bytes(bytes + 5).subarray(2, 2 + bytes);
		default: return r.bytes(bytes);
	}
}

function randomPacketId(r: Random): number {
	return r.chance(0.3) ? r.pick(PACKET_ID_EDGES) : r.int(1, 65_535);
}

function randomQoS(r: Random): QoS {
	return r.int(0, 2) as QoS;
}

/** A random, valid packet of `type` (1..14), every field legal for MQTT 3.1.1. */
export function randomPacket(r: Random, type: number, limits: Limits): Packet {
	switch (type) {
		case CONNECT: {
			const cleanSession = r.chance(0.5);
			const clientId = cleanSession && r.chance(0.2) ? "" : randomText(r, count(r, 1, limits.text));
			const keepAlive = r.chance(0.3) ? r.pick([0, 1, 60, 65_535]) : r.int(0, 65_535);
			const packet: ConnectPacket = { type: CONNECT, protocolLevel: 4, clientId, cleanSession, keepAlive };
			if (r.chance(0.5))
				packet.will = { topic: randomTopic(r, limits.text), payload: randomPayload(r, size(r, Math.min(limits.payload, 65_535))), qos: randomQoS(r), retain: r.chance(0.5) };
			if (r.chance(0.6)) {
				packet.username = randomText(r, count(r, 0, limits.text));
				if (r.chance(0.6)) packet.password = randomPayload(r, size(r, Math.min(limits.payload, 65_535)));
			}
			return packet;
		}
		case CONNACK: {
			const returnCode = r.chance(0.5) ? 0 : r.int(0, 5);
			return { type: CONNACK, sessionPresent: returnCode === 0 && r.chance(0.5), returnCode };
		}
		case PUBLISH: {
			const qos = randomQoS(r);
			const topic = randomTopic(r, limits.text);
			const payload = randomPayload(r, size(r, limits.payload));
			if (qos === 0) return { type: PUBLISH, topic, payload, qos, retain: r.chance(0.5), dup: false };
			return { type: PUBLISH, topic, payload, qos, retain: r.chance(0.5), dup: r.chance(0.5), packetId: randomPacketId(r) };
		}
		case PUBACK:
		case PUBREC:
		case PUBREL:
		case PUBCOMP:
		case UNSUBACK:
			return { type, packetId: randomPacketId(r) } as Packet;
		case SUBSCRIBE: {
			const subscriptions = [];
			for (let i = count(r, 1, limits.list); i > 0; i--) subscriptions.push({ filter: randomFilter(r, limits.text), qos: randomQoS(r) });
			return { type: SUBSCRIBE, packetId: randomPacketId(r), subscriptions };
		}
		case SUBACK: {
			const returnCodes: number[] = [];
			for (let i = count(r, 1, limits.list); i > 0; i--) returnCodes.push(r.pick([0, 1, 2, SUBACK_FAILURE]));
			return { type: SUBACK, packetId: randomPacketId(r), returnCodes };
		}
		case UNSUBSCRIBE: {
			const filters: string[] = [];
			for (let i = count(r, 1, limits.list); i > 0; i--) filters.push(randomFilter(r, limits.text));
			return { type: UNSUBSCRIBE, packetId: randomPacketId(r), filters };
		}
		default:
			if (type >= 12 && type <= 14) return { type } as Packet;
			throw new CheckError(`randomPacket: no packet type ${type}`);
	}
}

/** The bytes a payload is sent as (strings as UTF-8, unpaired surrogates as U+FFFD). */
function bytesOf(payload: Payload): Uint8Array {
	if (typeof payload === "string") {
		const out = new Uint8Array(payloadLength(payload));
		writeUtf8(payload, out, 0);
		return out;
	}
	return payload instanceof ArrayBuffer ? new Uint8Array(payload.slice(0)) : payload.slice();
}

/**
 * `packet` as `toPacket` returns it after a round trip: payloads as bytes (made by `bytes`, ours
 * unless a test brings an independent encoder), protocol level present.
 */
export function asDecoded(packet: Packet, bytes: (payload: Payload) => Uint8Array = bytesOf): Packet {
	switch (packet.type) {
		case CONNECT: {
			const out: ConnectPacket = { type: CONNECT, protocolLevel: packet.protocolLevel ?? 4, clientId: packet.clientId, cleanSession: packet.cleanSession, keepAlive: packet.keepAlive };
			if (packet.will) out.will = { topic: packet.will.topic, payload: bytes(packet.will.payload), qos: packet.will.qos, retain: packet.will.retain };
			if (packet.username !== undefined) out.username = packet.username;
			if (packet.password !== undefined) out.password = bytes(packet.password);
			return out;
		}
		case PUBLISH: return { ...packet, payload: bytes(packet.payload) };
		default: return packet;
	}
}

// ---------------------------------------------------------------------------------------------
// Streams of packets, and their mutations.

/** Packets small enough for many per stream; `LARGE` ones exceed the 16- and 64-byte buffers and sometimes 1,024. */
const SMALL: Limits = { text: 10, payload: 40, list: 4 };
const LARGE: Limits = { text: 60, payload: 1_500, list: 24 };
/** Room for one stream; a packet that would overflow it ends the stream instead. */
const STREAM_ROOM = 12_288;

interface ValidStream {
	bytes: Uint8Array;
	packets: Packet[];
	/** Where each packet starts in `bytes`. */
	starts: number[];
}

/** Encodes 1..`maxPackets` random valid packets of random types back to back; `large` of them with LARGE limits. */
function validStream(r: Random, maxPackets: number, large = 0.12): ValidStream {
	const room = new Uint8Array(STREAM_ROOM);
	const packets: Packet[] = [];
	const starts: number[] = [];
	let at = 0;
	for (let n = count(r, 1, maxPackets); n > 0; n--) {
		const packet = randomPacket(r, r.int(1, 14), r.chance(large) ? LARGE : SMALL);
		let written: number;
		try {
			written = encode(packet, room, at);
		}
		catch (error) {
			if (error instanceof MqttError && error.code === ErrorCode.BUFFER_TOO_SMALL && at > 0) break;
			throw error;
		}
		starts.push(at);
		packets.push(packet);
		at += written;
	}
	return { bytes: room.slice(0, at), packets, starts };
}

const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x03, 0x04, 0x7F, 0x80, 0x81, 0xFF, 0x10, 0x20, 0x30, 0x32, 0x34, 0x36, 0x38, 0x3B, 0x62, 0x82, 0xA2, 0x90, 0xC0, 0xC3, 0xE0, 0xED, 0xF0, 0xF4, 0x2B, 0x23, 0x2F];
/** Byte sequences that break MQTT's string rules: overlong, bad continuation, surrogate, > U+10FFFF, truncated, U+0000, wildcards. */
const BAD_STRINGS = [[0xC0, 0x80], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x00], [0xFF], [0x80], [0x2B], [0x23], [0xEF, 0xBB, 0xBF]];
const EMPTY = new Uint8Array(0);

function splice(b: Uint8Array, at: number, remove: number, insert: ArrayLike<number>): Uint8Array {
	const out = new Uint8Array(b.length - remove + insert.length);
	out.set(b.subarray(0, at), 0);
	out.set(insert, at);
	out.set(b.subarray(at + remove), at + insert.length);
	return out;
}

/** `value` as a remaining length of exactly `bytes` bytes (more than needed is legal in 3.1.1, if odd). */
function lengthBytes(value: number, bytes: number): number[] {
	const out: number[] = [];
	for (let i = 0; i < bytes; i++) {
		out.push((value % 128) | (i < bytes - 1 ? 0x80 : 0));
		value = Math.floor(value / 128);
	}
	return out;
}

/** Tampers with the remaining length of the packet starting at `start`. */
function tamperLength(r: Random, b: Uint8Array, start: number, log: string[]): Uint8Array {
	if (start + 1 >= b.length) return b;
	let value = 0;
	let multiplier = 1;
	let k = 0;
	while (k < 4 && start + 1 + k < b.length) {
		const byte = b[start + 1 + k]!;
		value += (byte & 0x7F) * multiplier;
		multiplier *= 128;
		k++;
		if (!(byte & 0x80)) break;
	}
	switch (r.int(0, 4)) {
		case 0: {
			const out = b.slice();
			out[start + 1] = r.chance(0.5) ? r.pick(INTERESTING_BYTES) : r.int(0, 255);
			log.push(`length byte @${start + 1}=${out[start + 1]!.toString(16)}`);
			return out;
		}
		case 1: {
			let v = value + (r.chance(0.5) ? r.int(-3, 3) : r.int(-200, 200));
			if (v < 0) v = 0;
			if (v >= Math.pow(128, k)) v = Math.pow(128, k) - 1;
			log.push(`length @${start + 1}: ${value}→${v}`);
			return splice(b, start + 1, k, lengthBytes(v, k));
		}
		case 2:
			log.push(`length @${start + 1}: five bytes`);
			return splice(b, start + 1, k, [0xFF, 0xFF, 0xFF, 0xFF, 0x7F]);
		case 3:
			if (k >= 4) return b;
			log.push(`length @${start + 1}: ${value} in ${k + 1} bytes`);
			return splice(b, start + 1, k, lengthBytes(value, k + 1));
		default:
			log.push(`length @${start + 1}: 268,435,455`);
			return splice(b, start + 1, k, [0xFF, 0xFF, 0xFF, 0x7F]);
	}
}

/** Applies 1..4 random mutations to a valid stream, logging each. */
function mutate(r: Random, valid: ValidStream, log: string[]): Uint8Array {
	let b = valid.bytes;
	for (let rounds = count(r, 1, 4); rounds > 0; rounds--) {
		const inside = b.length > 0 ? r.int(0, b.length - 1) : 0;
		const anywhere = r.int(0, b.length);
		const start = valid.starts[r.int(0, valid.starts.length - 1)]!;
		switch (r.int(0, 10)) {
			case 0: {
				if (b.length === 0) break;
				const bit = r.int(0, 7);
				b = b.slice();
				b[inside] = b[inside]! ^ (1 << bit);
				log.push(`flip @${inside} bit ${bit}`);
				break;
			}
			case 1: {
				if (b.length === 0) break;
				b = b.slice();
				b[inside] = r.chance(0.5) ? r.pick(INTERESTING_BYTES) : r.int(0, 255);
				log.push(`set @${inside}=${b[inside]!.toString(16)}`);
				break;
			}
			case 2: {
				const inserted = r.bytes(count(r, 1, 8));
				b = splice(b, anywhere, 0, inserted);
				log.push(`insert @${anywhere} ${hex(inserted)}`);
				break;
			}
			case 3: {
				const n = Math.min(count(r, 1, 8), b.length - inside);
				b = splice(b, inside, n, EMPTY);
				log.push(`delete @${inside} ${n}`);
				break;
			}
			case 4:
				b = b.slice(0, inside);
				log.push(`truncate @${inside}`);
				break;
			case 5:
				b = tamperLength(r, b, start, log);
				break;
			case 6: {
				const other = validStream(r, 3).bytes;
				const from = r.int(0, other.length - 1);
				const to = r.int(from + 1, other.length);
				const replace = r.chance(0.5) ? Math.min(to - from, b.length - anywhere) : 0;
				b = splice(b, anywhere, replace, other.subarray(from, to));
				log.push(`splice @${anywhere} (replacing ${replace}) ${to - from} bytes of another stream`);
				break;
			}
			case 7: {
				if (b.length === 0) break;
				const to = r.int(inside + 1, b.length);
				const copy = b.slice(inside, to);
				b = splice(b, anywhere, 0, copy);
				log.push(`duplicate [${inside}, ${to}) @${anywhere}`);
				break;
			}
			case 8: {
				if (start >= b.length) break;
				b = b.slice();
				b[start] = r.chance(0.5) ? (r.int(0, 15) << 4) | (b[start]! & 0x0F) : (b[start]! & 0xF0) | r.int(0, 15);
				log.push(`first byte @${start}=${b[start]!.toString(16)}`);
				break;
			}
			case 9: {
				const bad = r.pick(BAD_STRINGS);
				const replace = r.chance(0.5) ? Math.min(bad.length, b.length - inside) : 0;
				b = splice(b, inside, replace, bad);
				log.push(`string bytes @${inside} (replacing ${replace}) ${hex(new Uint8Array(bad))}`);
				break;
			}
			default: {
				if (b.length < 2) break;
				const at = r.int(0, b.length - 2);
				const v = r.pick([0, 1, 0xFFFF, 0x8000, r.int(0, 40), r.int(0, 0xFFFF)]);
				b = b.slice();
				b[at] = v >> 8;
				b[at + 1] = v & 0xFF;
				log.push(`16-bit @${at}=${v}`);
				break;
			}
		}
	}
	return b;
}

// ---------------------------------------------------------------------------------------------
// The fuzz loop.

export interface FuzzStats {
	seed: number;
	streams: number;
	/** Streams of purely random bytes, of unmutated valid packets, and of mutated or cut-short ones. */
	random: number;
	valid: number;
	mutated: number;
	/** Streams after which the reader was reset and reused for a fresh valid stream. */
	resets: number;
	bytes: number;
	/** Complete packets the reader returned (each also re-encoded to the same bytes). */
	packets: number;
	/** Oversize PUBLISH reports. */
	oversize: number;
	/** Valid streams whose every packet, report and refusal matched the original packets exactly. */
	verified: number;
	/** Streams that ended in an MqttError, by code. */
	errors: Record<string, number>;
}

const ALL_CODES: readonly string[] = Object.values(ErrorCode);
/** What a reader may throw: the codes for malformed input (the first group in errors.ts). */
const DECODING_CODES: readonly string[] = [
	ErrorCode.RESERVED_PACKET_TYPE, ErrorCode.INVALID_FLAGS, ErrorCode.INVALID_QOS, ErrorCode.DUP_WITH_QOS0,
	ErrorCode.MALFORMED_REMAINING_LENGTH, ErrorCode.LENGTH_MISMATCH, ErrorCode.ZERO_PACKET_ID, ErrorCode.MALFORMED_UTF8,
	ErrorCode.UTF8_NULL_CHARACTER, ErrorCode.UTF8_SURROGATE, ErrorCode.WILDCARD_IN_TOPIC, ErrorCode.EMPTY_TOPIC,
	ErrorCode.INVALID_TOPIC_FILTER, ErrorCode.INVALID_SUBACK_CODE, ErrorCode.CONNACK_RESERVED_BITS,
	ErrorCode.INVALID_RETURN_CODE, ErrorCode.NO_TOPIC_FILTERS, ErrorCode.INVALID_REQUESTED_QOS,
	ErrorCode.INVALID_PROTOCOL_NAME, ErrorCode.UNSUPPORTED_PROTOCOL_LEVEL, ErrorCode.CONNECT_RESERVED_FLAG,
	ErrorCode.INVALID_WILL_FLAGS, ErrorCode.PASSWORD_WITHOUT_USERNAME, ErrorCode.EMPTY_CLIENT_ID, ErrorCode.PACKET_TOO_LARGE,
];

const BUFFER_SIZES = [16, 64, 1024];

/** How one stream is fed: the API, and how chunk sizes are drawn. */
interface Feeding {
	/** Write into `reader.buffer` at `writeOffset` and `commit`, as a socket would, instead of `feed`. */
	direct: boolean;
	/** 0: one byte at a time; 1: a fixed size; 2: 1..64; 3: 1..past the end; 4: everything left at once. */
	mode: number;
	fixed: number;
}

function describeFeeding(f: Feeding): string {
	const chunks = ["1 byte", `${f.fixed} bytes`, "1..64 bytes", "1..past the end", "the whole rest"][f.mode];
	return `${f.direct ? "space/commit" : "feed"} in chunks of ${chunks}`;
}

function chunkSize(r: Random, f: Feeding, left: number): number {
	switch (f.mode) {
		case 0: return 1;
		case 1: return f.fixed;
		case 2: return r.int(1, 64);
		case 3: return r.int(1, left + 16);
		default: return left + r.int(0, 64);
	}
}

/** One call of `next()`: true, false, or the MqttError it threw. Anything else it throws goes on up. */
function step(reader: PacketReader): boolean | MqttError {
	try {
		return reader.next();
	}
	catch (error) {
		if (error instanceof MqttError) return error;
		throw error;
	}
}

/**
 * Feeds all of `stream` to `reader` and hands each packet to `seen`. Returns the MqttError that
 * ended the stream (it is then abandoned, as the connection would be), or null. Fails, instead of
 * hanging, when a call makes no progress: every feed takes bytes, or next() returns a packet or throws.
 */
function pump(r: Random, reader: PacketReader, stream: Uint8Array, f: Feeding, seen: (view: PacketView) => void): MqttError | null {
	const maxPackets = (stream.length >> 1) + 1; // the smallest packet is 2 bytes
	let packets = 0;
	let at = 0;
	const packet = (): void => {
		if (++packets > maxPackets) fail(`${packets} packets came out of ${stream.length} bytes`);
		seen(reader.view);
	};
	for (;;) {
		for (;;) {
			const more = step(reader);
			if (more instanceof MqttError) return more;
			if (!more) break;
			packet();
		}
		if (at === stream.length) return null;
		const left = stream.length - at;
		const want = Math.min(chunkSize(r, f, left), left);
		let took: number;
		if (f.direct) {
			const room = reader.space();
			took = Math.min(room, want);
			reader.buffer.set(stream.subarray(at, at + took), reader.writeOffset);
			reader.commit(took);
		}
		else took = reader.feed(stream, at, want);
		if (!(took >= 0 && took <= want)) fail(`the reader took ${took} of ${want} bytes`);
		if (took === 0) {
			const more = step(reader);
			if (more instanceof MqttError) return more;
			if (!more) fail(`no progress: the reader took none of ${want} bytes at offset ${at} and next() returned no packet`);
			packet();
		}
		at += took;
	}
}

function checkError(error: MqttError): void {
	ok(ALL_CODES.indexOf(error.code) >= 0, `an MqttError with code ${String(error.code)}, which ErrorCode does not have`);
	ok(DECODING_CODES.indexOf(error.code) >= 0, `the reader threw ${error.code}, which is not a decoding error`);
}

/** An oversize report must describe a legal PUBLISH larger than the buffer. */
function checkOversize(view: PacketView, bufferSize: number): void {
	equal(view.type, PUBLISH, "oversize report type");
	ok(!(view.qos === 0 && view.dup), "an oversize report with DUP and QoS 0");
	if (view.qos > 0) ok(view.packetId >= 1 && view.packetId <= 65_535, `oversize report identifier ${view.packetId}`);
	else equal(view.packetId, 0, "oversize QoS 0 report identifier");
	const first = view.payloadEnd - view.payloadStart;
	ok(first >= 0 && first <= view.payloadLength, `oversize report with ${first} first payload bytes of ${view.payloadLength}`);
	if (view.topicEnd > view.topicStart) {
		topicNameBytes(view.topic()); // throws unless a valid topic name
		ok(5 + 2 + (view.topicEnd - view.topicStart) + (view.qos > 0 ? 2 : 0) + view.payloadLength > bufferSize, "an oversize report of a PUBLISH that fits");
	}
}

/**
 * Whatever the reader accepts must be a legal packet: `encode` must take it back and write the very
 * same bytes (the remaining length may differ only in using the fewest bytes).
 */
function checkReencodes(view: PacketView, scratch: Uint8Array): void {
	const packet = toPacket(view);
	let written: number;
	try {
		written = encode(packet, scratch, 0);
	}
	catch (error) {
		// An empty client id with clean session 0 is well formed; the server answers it with
		// CONNACK 2 (§3.1.3-8), but a client must not send it, so encode refuses it.
		if (error instanceof MqttError && error.code === ErrorCode.EMPTY_CLIENT_ID && packet.type === CONNECT && packet.clientId === "" && !packet.cleanSession) return;
		return fail(`the reader accepted ${PACKET_NAMES[view.type]} ${show(packet)}, which encode refuses: ${String(error)}`);
	}
	const body = view.bodyEnd - view.bodyStart;
	equal(written, 1 + remainingLengthSize(body) + body, `${PACKET_NAMES[view.type]} re-encoded size`);
	equal(scratch[0], (view.type << 4) | view.flags, `${PACKET_NAMES[view.type]} re-encoded first byte`);
	const offset = written - body;
	for (let i = 0; i < body; i++)
		if (scratch[offset + i] !== view.buffer[view.bodyStart + i])
			fail(`${PACKET_NAMES[view.type]} ${show(packet)} re-encodes differently at body byte ${i}`);
}

/**
 * Feeds a valid, unmutated stream and checks every outcome against the packets it was made of:
 * each packet equal to its original; a PUBLISH larger than the buffer reported as oversize with its
 * fields; any other packet larger than the buffer PACKET_TOO_LARGE, ending the stream.
 */
function verifyValid(r: Random, reader: PacketReader, valid: ValidStream, f: Feeding, stats: FuzzStats): void {
	const size = reader.buffer.length;
	const { bytes, packets, starts } = valid;
	const total = (i: number): number => (i + 1 < starts.length ? starts[i + 1]! : bytes.length) - starts[i]!;
	let index = 0;
	const error = pump(r, reader, bytes, f, (view) => {
		if (index >= packets.length) fail(`a packet beyond the ${packets.length} sent`);
		const original = packets[index]!;
		const start = starts[index]!;
		const length = total(index);
		const what = `packet ${index} (${PACKET_NAMES[original.type]}, ${length} bytes, buffer ${size})`;
		index++;
		if (length <= size) {
			ok(!view.oversize, `${what}: reported as oversize`);
			deepEqual(toPacket(view), asDecoded(original), what);
			stats.packets++;
			return;
		}
		if (original.type !== PUBLISH) return fail(`${what}: returned, but it is larger than the buffer`);
		ok(view.oversize, `${what}: not reported as oversize`);
		const payload = bytesOf(original.payload);
		let headerSize = 2;
		while (bytes[start + headerSize - 1]! & 0x80) headerSize++;
		const variableHeader = length - headerSize - payload.length;
		equal(view.type, PUBLISH, `${what}: type`);
		equal(view.qos, original.qos, `${what}: QoS`);
		equal(view.dup, original.dup, `${what}: DUP`);
		equal(view.retain, original.retain, `${what}: RETAIN`);
		equal(view.packetId, original.packetId ?? 0, `${what}: identifier`);
		equal(view.payloadLength, payload.length, `${what}: payload length`);
		// The topic is reported exactly when the whole variable header fits the buffer.
		if (headerSize + variableHeader <= size) equal(view.topic(), original.topic, `${what}: topic`);
		else equal(view.topicEnd - view.topicStart, 0, `${what}: a topic reported that did not fit`);
		const first = view.payloadEnd - view.payloadStart;
		ok(first <= payload.length, `${what}: ${first} first payload bytes`);
		for (let i = 0; i < first; i++)
			if (view.buffer[view.payloadStart + i] !== payload[i]) fail(`${what}: first payload byte ${i} differs`);
		stats.oversize++;
	});
	if (error) {
		const original = packets[index];
		if (!original || original.type === PUBLISH || total(index) <= size || error.code !== ErrorCode.PACKET_TOO_LARGE)
			fail(`packet ${index} of a valid stream: ${String(error.message)}`);
		stats.errors[error.code] = (stats.errors[error.code] ?? 0) + 1;
	}
	else {
		equal(index, packets.length, "packets out of a valid stream");
		equal(reader.buffered, 0, "bytes left buffered after a valid stream");
	}
	stats.verified++;
}

/** Feeds a random or mutated stream: packets must re-encode identically, errors must be typed. */
function exercise(r: Random, reader: PacketReader, stream: Uint8Array, f: Feeding, scratch: Uint8Array, stats: FuzzStats): void {
	const size = reader.buffer.length;
	const error = pump(r, reader, stream, f, (view) => {
		if (view.oversize) {
			checkOversize(view, size);
			stats.oversize++;
		}
		else {
			ok(view.type >= 1 && view.type <= 14, `packet type ${view.type}`);
			ok(view.bodyEnd - view.bodyStart + 2 <= size, "a packet larger than the buffer");
			checkReencodes(view, scratch);
			stats.packets++;
		}
	});
	if (error) {
		checkError(error);
		stats.errors[error.code] = (stats.errors[error.code] ?? 0) + 1;
	}
}

function randomFeeding(r: Random): Feeding {
	return { direct: r.chance(0.3), mode: r.int(0, 4), fixed: r.int(2, 32) };
}

/** A seed per stream, so that one stream's draws never shift another's. */
function streamSeed(seed: number, index: number): number {
	let h = Math.imul((seed >>> 0) ^ 0x9E3779B9, 0x85EBCA6B) ^ Math.imul(index + 1, 0xC2B2AE35);
	h = Math.imul(h ^ (h >>> 15), 0x27D4EB2F);
	return ((h ^ (h >>> 13)) >>> 0) || 1;
}

function fuzzStream(seed: number, stats: FuzzStats, scratch: Uint8Array): void {
	const r = new Random(seed);
	const roll = r.int(0, 99);
	const log: string[] = [];
	let stream: Uint8Array;
	let valid: ValidStream | null = null;
	if (roll < 15) {
		stream = r.chance(0.5) ? r.bytes(count(r, 0, 300)) : new Uint8Array(count(r, 0, 60)).map(() => r.pick(INTERESTING_BYTES));
		stats.random++;
		log.push("random bytes");
	}
	else {
		const made = validStream(r, 6);
		log.push(`packets ${made.packets.map((p) => PACKET_NAMES[p.type]).join(" ")}`);
		if (roll < 40) {
			valid = made;
			stream = made.bytes;
			stats.valid++;
		}
		else if (roll < 52) {
			// The connection drops in the middle of a packet (then always reconnects, below).
			const last = made.starts[made.starts.length - 1]!;
			const from = r.chance(0.5) ? last + 1 : 1;
			const cut = made.bytes.length > from ? r.int(from, made.bytes.length - 1) : 0;
			stream = made.bytes.subarray(0, cut);
			log.push(`cut @${cut}`);
			stats.mutated++;
		}
		else {
			stream = mutate(r, made, log);
			stats.mutated++;
		}
	}
	const size = r.chance(0.8) ? r.pick(BUFFER_SIZES) : r.int(16, 2048);
	const feeding = randomFeeding(r);
	let phase = `${describeFeeding(feeding)}, receive buffer ${size}`;
	let second: Uint8Array | null = null;
	try {
		const reader = serverReader(size);
		stats.streams++;
		stats.bytes += stream.length;
		if (valid) verifyValid(r, reader, valid, feeding, stats);
		else exercise(r, reader, stream, feeding, scratch, stats);
		// The connection closes, maybe in the middle of a packet; the next one reuses the reader from
		// a clean frame boundary. Large packets here catch state that reset() forgets to clear.
		if ((roll >= 40 && roll < 52) || r.chance(0.3)) {
			const next = validStream(r, 4, 0.4);
			const again = randomFeeding(r);
			phase += `; then after reset(), ${describeFeeding(again)}, packets ${next.packets.map((p) => PACKET_NAMES[p.type]).join(" ")}`;
			second = next.bytes;
			reader.reset();
			stats.resets++;
			stats.bytes += next.bytes.length;
			verifyValid(r, reader, next, again, stats);
		}
	}
	catch (error) {
		const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
		const after = second ? `\n  after reset() (${second.length} bytes): ${hex(second)}` : "";
		throw new CheckError(`${message}\n  stream seed ${seed}; ${log.join("; ")}\n  ${phase}\n  stream (${stream.length} bytes): ${hex(stream)}${after}`);
	}
}

/**
 * Runs `iterations` random streams from `seed` through PacketReaders. The only allowed outcomes are
 * packets (which must be legal) and MqttErrors with a decoding code; anything else throws a
 * CheckError naming the seed, the stream number and the stream's bytes.
 */
export function fuzz(seed: number, iterations: number): FuzzStats {
	const stats: FuzzStats = { seed, streams: 0, random: 0, valid: 0, mutated: 0, resets: 0, bytes: 0, packets: 0, oversize: 0, verified: 0, errors: {} };
	const scratch = new Uint8Array(4096);
	for (let i = 0; i < iterations; i++) {
		try {
			fuzzStream(streamSeed(seed, i), stats, scratch);
		}
		catch (error) {
			throw new CheckError(`fuzz(${seed}, ${iterations}): stream ${i}: ${error instanceof Error ? error.message : String(error)}`);
		}
	}
	return stats;
}

/** Stats as one line per figure, for printing. */
export function formatStats(stats: FuzzStats): string {
	const codes = Object.keys(stats.errors).sort().map((k) => `    ${k}: ${stats.errors[k]}`).join("\n");
	return `seed ${stats.seed}: ${stats.streams} streams (${stats.random} random, ${stats.valid} valid, ${stats.mutated} mutated, ${stats.resets} resets), ${stats.bytes} bytes\n`
		+ `  ${stats.packets} packets, ${stats.oversize} oversize reports, ${stats.verified} valid streams verified\n`
		+ `  errors:\n${codes}`;
}
