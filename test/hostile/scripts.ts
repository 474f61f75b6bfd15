// The hostile byte sequences, shared by the Node tests (over TCP) and the XS workloads (over the
// scripted transport), so both replay exactly the same bytes. Platform-free.

import { Random } from "../lib/random.js";

/** "hostile/huge" */
const HUGE_TOPIC = [0x68, 0x6F, 0x73, 0x74, 0x69, 0x6C, 0x65, 0x2F, 0x68, 0x75, 0x67, 0x65];
/** The payload bytes that follow the topic in the oversize PUBLISH scripts: 4 × the default receive buffer. */
export const OVERSIZE_PAYLOAD = 4096;

function oversizePublish(remainingLength: number[]): Uint8Array {
	const head = [0x30, ...remainingLength, 0x00, HUGE_TOPIC.length, ...HUGE_TOPIC];
	const out = new Uint8Array(head.length + OVERSIZE_PAYLOAD).fill(0x61);
	out.set(head, 0);
	return out;
}

/** A QoS 0 PUBLISH announcing 268,435,455 bytes (FF FF FF 7F), topic "hostile/huge", then 4,096 payload bytes and no more. */
export const RL_MAX_PUBLISH = oversizePublish([0xFF, 0xFF, 0xFF, 0x7F]);
/** The control: the same bytes announcing exactly what follows, 2 + 12 + 4,096 = 4,110 (8E 20). */
export const RL_EXACT_PUBLISH = oversizePublish([0x8E, 0x20]);
export const HUGE_TOPIC_TEXT = "hostile/huge";
/** The payload length an oversize report of RL_MAX_PUBLISH gives. */
export const RL_MAX_PAYLOAD = 268_435_455 - 2 - HUGE_TOPIC.length;

/** A SUBACK announcing 268,435,455 bytes: only PUBLISH may be larger than the receive buffer. */
export const RL_MAX_SUBACK = Uint8Array.of(0x90, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x01);
/** A PUBLISH whose remaining length has a fifth byte (four with the continuation bit). */
export const FIFTH_BYTE = Uint8Array.of(0x30, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00);
/** A PUBLISH with QoS bits 11 (flags 0110), otherwise well formed. */
export const QOS3 = Uint8Array.of(0x36, 0x07, 0x00, 0x01, 0x74, 0x00, 0x01, 0x68, 0x69);
/** PUBREL with flags 0000 (0010 is the rule). */
export const PUBREL_FLAGS = Uint8Array.of(0x60, 0x02, 0x00, 0x07);
/** A QoS 1 PUBLISH whose topic is "a", 0xC3 0x28, "b": 0xC3 starts a 2-byte sequence, 0x28 is no continuation byte. */
export const BAD_UTF8_TOPIC = Uint8Array.of(0x32, 0x0A, 0x00, 0x04, 0x61, 0xC3, 0x28, 0x62, 0x42, 0x42, 0x70, 0x6C);
/** A CONNACK of remaining length 3 (2 is the rule). */
export const CONNACK_LENGTH_3 = Uint8Array.of(0x20, 0x03, 0x00, 0x00, 0x00);
/** A PUBACK for identifier 0x7F7F, which the client never uses in these tests. */
export const PUBACK_UNKNOWN = Uint8Array.of(0x40, 0x02, 0x7F, 0x7F);
/** The start of an endless PUBLISH: 268,435,455 announced, topic "a/b"; ENDLESS_FILLER bytes follow forever. */
export const ENDLESS_HEADER = Uint8Array.of(0x30, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x03, 0x61, 0x2F, 0x62);
export const ENDLESS_FILLER = 0x78;
/** A valid QoS 1 PUBLISH of 23 bytes: topic "d/slow", identifier 0x0102, payload "dribbled ok". */
export const VALID_PUBLISH = Uint8Array.of(
	0x32, 0x15, 0x00, 0x06, 0x64, 0x2F, 0x73, 0x6C, 0x6F, 0x77, 0x01, 0x02,
	0x64, 0x72, 0x69, 0x62, 0x62, 0x6C, 0x65, 0x64, 0x20, 0x6F, 0x6B);

/** Writes a PUBACK with flags 0001 for `id` into `buffer`; returns its length. */
export function writePubackFlags1(buffer: Uint8Array, id: number): number {
	buffer[0] = 0x41;
	buffer[1] = 0x02;
	buffer[2] = id >> 8;
	buffer[3] = id & 0xFF;
	return 4;
}

/** Writes a SUBACK for `id` with two return codes (granted QoS 1 twice) into `buffer`; returns its length. */
export function writeSubackTwoCodes(buffer: Uint8Array, id: number): number {
	buffer[0] = 0x90;
	buffer[1] = 0x04;
	buffer[2] = id >> 8;
	buffer[3] = id & 0xFF;
	buffer[4] = 0x01;
	buffer[5] = 0x01;
	return 6;
}

/** The Node test's garbage: 0x70 0x9A 0x0E ..., a PUBCOMP announcing 1,818 bytes. */
export const GARBAGE_SEED = 0xC0FFEE;
/** `count` sequences of 64 seeded random bytes, the first from GARBAGE_SEED. */
export function garbage(count: number): Uint8Array[] {
	const out: Uint8Array[] = [];
	for (let i = 0; i < count; i++) out.push(new Random(i === 0 ? GARBAGE_SEED : 0x5EED + i).bytes(64));
	return out;
}
