// The session's in-flight state as bytes for a Store: outbound QoS 1/2 messages in order, the next
// packet identifier, inbound QoS 2 identifiers awaiting PUBREL. Versioned, checked strictly on load.

import { FREE, QUEUED, RELEASE, RESEND, SENT } from "./pool.js";
import type { EntryState, MessagePool } from "./pool.js";
import { LENGTH_SIZE_SHIFT, LENGTH_VALUE_MASK, readRemainingLength } from "./remaining-length.js";
import { ErrorCode, MqttError } from "./errors.js";
import type { Store } from "./host.js";

/*
 * Format, version 2 (integers big-endian):
 *
 *   0  2  magic "mq" (0x6D 0x71)
 *   2  1  version (2)
 *   3  1  flags (0; reserved)
 *   4  2  next packet identifier, 1..65,535
 *   6  2  entries, n (at most maxMessages)
 *   8  2  inbound QoS 2 identifiers, m (at most maxInboundQos2)
 *  10  4  owner: FNV-1a (32-bit) of the client identifier's UTF-8 (XOR 0x5005 for MQTT 5.0, whose packets differ); another client's snapshot is not restored
 *  14     n entries, oldest first, each:
 *           2  packet identifier, 1..65,535, unique among the entries
 *           1  QoS << 4 | state: QoS 1 or 2; state 1 (not yet sent), 3 (sent: re-send with DUP) or
 *              4 (PUBREC received: send PUBREL; QoS 2 only)
 *           states 1 and 3: the PUBLISH packet as encoded (fixed header to payload; its remaining
 *           length delimits it; its QoS and identifier match the entry's; at most txBufferSize
 *           bytes, all of them at most queueBytes)
 *         m inbound identifiers, 2 bytes each, 1..65,535, unique
 *   end-4  4  FNV-1a (32-bit) of every byte before it
 *
 * Queued QoS 0 messages are not kept (at most once may be lost). SENT becomes 3 and RELEASING 4.
 * A save happens when a message is accepted, not when it is sent, so state 1 cannot prove that it
 * never went out: restored PUBLISH packets all carry DUP 1 ("might be a re-delivery", §3.3.1.1);
 * those in state 1 still wait for room in the in-flight window (maxInflight).
 */

export const SNAPSHOT_VERSION = 2;
const MAGIC_0 = 0x6D;
const MAGIC_1 = 0x71;
const HEADER = 14;
const ENTRY = 3;
const TRAILER = 4;
/** Entry states as written (the pool's own numbers). */
const S_QUEUED = QUEUED;
const S_RESEND = RESEND;
const S_RELEASE = RELEASE;

/** The largest snapshot a session with these options writes. */
export function snapshotCapacity(maxMessages: number, queueBytes: number, maxInboundQos2: number): number {
	return HEADER + maxMessages * ENTRY + queueBytes + maxInboundQos2 * 2 + TRAILER;
}

/** FNV-1a, 32 bits, of bytes [start, end) of `bytes`. */
export function fnv1a(bytes: Uint8Array, start: number, end: number): number {
	let h = 0x811C9DC5;
	for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
	return h >>> 0;
}

/**
 * Writes the snapshot into `mem` at `at` (a region of snapshotCapacity bytes in the pool's own
 * memory, so that messages are copied natively); returns its length. Allocates nothing.
 */
export function writeSnapshot(mem: Uint8Array, at: number, pool: MessagePool, nextId: number, inbound: Uint16Array, inboundCount: number, owner: number): number {
	let p = at + HEADER;
	let n = 0;
	for (let k = 0; k < pool.count; k++) {
		const i = pool.at(k);
		const state = pool.states[i]!;
		const qos = pool.qos[i]!;
		if (state === FREE || qos === 0) continue;
		const id = pool.ids[i]!;
		mem[p] = id >> 8;
		mem[p + 1] = id & 0xFF;
		let saved = S_RELEASE;
		if (state === QUEUED) saved = S_QUEUED;
		else if (state === SENT || state === RESEND) saved = S_RESEND;
		mem[p + 2] = (qos << 4) | saved;
		p += ENTRY;
		if (saved !== S_RELEASE) {
			const offset = pool.offsets[i]!;
			const length = pool.lengths[i]!;
			mem.copyWithin(p, offset, offset + length);
			p += length;
		}
		n++;
	}
	for (let j = 0; j < inboundCount; j++) {
		const id = inbound[j]!;
		mem[p] = id >> 8;
		mem[p + 1] = id & 0xFF;
		p += 2;
	}
	mem[at] = MAGIC_0;
	mem[at + 1] = MAGIC_1;
	mem[at + 2] = SNAPSHOT_VERSION;
	mem[at + 3] = 0;
	mem[at + 4] = nextId >> 8;
	mem[at + 5] = nextId & 0xFF;
	mem[at + 6] = n >> 8;
	mem[at + 7] = n & 0xFF;
	mem[at + 8] = inboundCount >> 8;
	mem[at + 9] = inboundCount & 0xFF;
	mem[at + 10] = owner >>> 24;
	mem[at + 11] = (owner >>> 16) & 0xFF;
	mem[at + 12] = (owner >>> 8) & 0xFF;
	mem[at + 13] = owner & 0xFF;
	const sum = fnv1a(mem, at, p);
	mem[p] = sum >>> 24;
	mem[p + 1] = (sum >>> 16) & 0xFF;
	mem[p + 2] = (sum >>> 8) & 0xFF;
	mem[p + 3] = sum & 0xFF;
	return p + TRAILER - at;
}

/** The limits a snapshot must fit: the options of the session restoring it. */
export interface SnapshotLimits {
	/** FNV-1a of the restoring client's identifier: the snapshot's owner must be the same. */
	owner: number;
	txBufferSize: number;
	queueBytes: number;
	maxMessages: number;
	maxInboundQos2: number;
}

/** Where a valid snapshot's parts are (filled by checkSnapshot). */
export class SnapshotInfo {
	nextId = 1;
	entries = 0;
	inbound = 0;
	/** Offset of the inbound identifiers (the entries start at the header's end). */
	inboundAt = HEADER;
}

function u16(bytes: Uint8Array, at: number): number {
	return (bytes[at]! << 8) | bytes[at + 1]!;
}

/** The fixed header's length and remaining length of the packet at `at`, packed (see readRemainingLength), or -1 if malformed or cut short by `end`. */
function packetHeader(bytes: Uint8Array, at: number, end: number): number {
	try {
		return readRemainingLength(bytes, at + 1, end);
	}
	catch {
		return -1;
	}
}

/**
 * Checks `bytes` against the format and `limits`; returns undefined when it is valid (and fills
 * `out`), else what is wrong. Changes nothing else.
 */
export function checkSnapshot(bytes: Uint8Array, limits: SnapshotLimits, out: SnapshotInfo): string | undefined {
	const length = bytes.length;
	const capacity = snapshotCapacity(limits.maxMessages, limits.queueBytes, limits.maxInboundQos2);
	if (length < HEADER + TRAILER) return `${length} bytes is shorter than any snapshot`;
	if (bytes[0] !== MAGIC_0 || bytes[1] !== MAGIC_1) return "not a session snapshot (bad magic)";
	if (bytes[2] !== SNAPSHOT_VERSION) return `snapshot version ${bytes[2]} is not ${SNAPSHOT_VERSION}`;
	if (bytes[3] !== 0) return `reserved flags ${bytes[3]} are not 0`;
	if (length > capacity)
		return `${length} bytes is larger than this client's options allow (${capacity}: maxMessages ${limits.maxMessages}, queueBytes ${limits.queueBytes}, maxInboundQos2 ${limits.maxInboundQos2})`;
	const end = length - TRAILER;
	const sum = ((bytes[end]! << 24) | (bytes[end + 1]! << 16) | (bytes[end + 2]! << 8) | bytes[end + 3]!) >>> 0;
	if (fnv1a(bytes, 0, end) !== sum) return "checksum mismatch";
	const owner = ((bytes[10]! << 24) | (bytes[11]! << 16) | (bytes[12]! << 8) | bytes[13]!) >>> 0;
	if (owner !== limits.owner) return "it belongs to another client identifier (or protocol version)";
	const nextId = u16(bytes, 4);
	const n = u16(bytes, 6);
	const m = u16(bytes, 8);
	if (nextId === 0) return "next packet identifier 0";
	if (n > limits.maxMessages) return `${n} messages exceed maxMessages (${limits.maxMessages})`;
	if (m > limits.maxInboundQos2) return `${m} inbound QoS 2 identifiers exceed maxInboundQos2 (${limits.maxInboundQos2})`;
	const seen = new Uint8Array(8192);
	let p = HEADER;
	let held = 0;
	for (let e = 0; e < n; e++) {
		if (p + ENTRY > end) return `entry ${e} runs past the end`;
		const id = u16(bytes, p);
		const qos = bytes[p + 2]! >> 4;
		const state = bytes[p + 2]! & 0x0F;
		if (id === 0) return `entry ${e} has packet identifier 0`;
		if (seen[id >> 3]! & (1 << (id & 7))) return `packet identifier ${id} appears twice`;
		seen[id >> 3] = seen[id >> 3]! | (1 << (id & 7));
		if (qos !== 1 && qos !== 2) return `entry ${e} has QoS ${qos}`;
		if (state !== S_QUEUED && state !== S_RESEND && state !== S_RELEASE) return `entry ${e} has state ${state}`;
		if (state === S_RELEASE && qos !== 2) return `entry ${e} awaits PUBCOMP but is QoS 1`;
		p += ENTRY;
		if (state === S_RELEASE) continue;
		const packed = packetHeader(bytes, p, end);
		const header = 1 + (packed >>> LENGTH_SIZE_SHIFT);
		const total = packed < 0 ? -1 : header + (packed & LENGTH_VALUE_MASK);
		if (total < 0 || p + total > end) return `entry ${e}: not a whole PUBLISH packet`;
		const first = bytes[p]!;
		if (first >> 4 !== 3 || ((first >> 1) & 3) !== qos) return `entry ${e}: the packet is not a QoS ${qos} PUBLISH`;
		const topicLength = header + 2 <= total ? u16(bytes, p + header) : 0;
		if (topicLength === 0 || header + 2 + topicLength + 2 > total) return `entry ${e}: the PUBLISH has no room for a topic and an identifier`;
		if (u16(bytes, p + header + 2 + topicLength) !== id) return `entry ${e}: the PUBLISH carries another packet identifier`;
		if (total > limits.txBufferSize) return `entry ${e}: a ${total}-byte PUBLISH exceeds txBufferSize (${limits.txBufferSize})`;
		held += total;
		if (held > limits.queueBytes) return `the messages exceed queueBytes (${limits.queueBytes})`;
		p += total;
	}
	if (p + 2 * m !== end) return `${end - p} bytes where ${m} inbound identifiers take ${2 * m}`;
	seen.fill(0);
	for (let j = 0; j < m; j++) {
		const id = u16(bytes, p + 2 * j);
		if (id === 0) return "inbound packet identifier 0";
		if (seen[id >> 3]! & (1 << (id & 7))) return `inbound packet identifier ${id} appears twice`;
		seen[id >> 3] = seen[id >> 3]! | (1 << (id & 7));
	}
	out.nextId = nextId;
	out.entries = n;
	out.inbound = m;
	out.inboundAt = p;
	return undefined;
}

/** Walks a checked snapshot's entries, oldest first: `length` is 0 for one awaiting PUBCOMP. */
export function forEachEntry(bytes: Uint8Array, info: SnapshotInfo, entry: (id: number, qos: number, state: EntryState, start: number, length: number) => void): void {
	let p = HEADER;
	for (let e = 0; e < info.entries; e++) {
		const id = u16(bytes, p);
		const qos = bytes[p + 2]! >> 4;
		const state = bytes[p + 2]! & 0x0F;
		p += ENTRY;
		const packed = state === S_RELEASE ? 0 : packetHeader(bytes, p, bytes.length);
		const length = state === S_RELEASE ? 0 : 1 + (packed >>> LENGTH_SIZE_SHIFT) + (packed & LENGTH_VALUE_MASK);
		entry(id, qos, state as EntryState, p, length); // one of QUEUED, RESEND, RELEASE: checkSnapshot saw to it
		p += length;
	}
}

/** The `j`th inbound identifier of a checked snapshot. */
export function inboundId(bytes: Uint8Array, info: SnapshotInfo, j: number): number {
	return u16(bytes, info.inboundAt + 2 * j);
}

/** What takes a snapshot back (a Session). */
export interface Restorable {
	/** Takes over `bytes`; returns why they were ignored, or undefined. */
	restore(bytes: Uint8Array | undefined): string | undefined;
}

/**
 * A Store in use: restores the snapshot it holds into a session, and saves the ones the session
 * hands out. Failures come back as errors to report (a failing save once until one succeeds).
 */
export class Persistence {
	/** The last save threw. */
	private failing = false;

	constructor(readonly store: Store) {}

	/** Restores what the store holds into `session` (before its first connection). */
	restore(session: Restorable): MqttError | undefined {
		let bytes: Uint8Array | undefined;
		try {
			bytes = this.store.load();
		}
		catch (error) {
			return new MqttError(ErrorCode.STORE_FAILED, `store.load() threw: ${describe(error)}`);
		}
		if (bytes === undefined || bytes === null) return undefined;
		if (!(bytes instanceof Uint8Array))
			return new MqttError(ErrorCode.STORE_CORRUPT, "store.load() returned something other than a Uint8Array: ignored");
		const problem = session.restore(bytes);
		return problem === undefined ? undefined : new MqttError(ErrorCode.STORE_CORRUPT, `the stored session was ignored: ${problem}`);
	}

	/** Saves bytes [0, length) of `data`; an error only when this save threw and the last did not. */
	save(data: Uint8Array, length: number): MqttError | undefined {
		try {
			this.store.save(data, length);
			this.failing = false;
			return undefined;
		}
		catch (error) {
			if (this.failing) return undefined;
			this.failing = true;
			return new MqttError(ErrorCode.STORE_FAILED, `store.save() threw: ${describe(error)}`);
		}
	}
}

/** Checks that `store` is one (it came from the API). */
export function checkStore(store: Store | undefined): void {
	if (store !== undefined && (store === null || typeof store.load !== "function" || typeof store.save !== "function"))
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, "store must have load() and save(data, length)");
}

function describe(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}
