// Outbound QoS 1/2 messages (and queued offline QoS 0), kept encoded in a fixed byte region until
// their exchange completes, in publish order. A re-send is a copy of bytes with DUP set. Each packet
// identifier in use leads to its entry in constant time (identifiers.ts).

import { IdTable } from "./identifiers.js";

/** Entry states. A message holds bytes while QUEUED, SENT or RESEND. */
export const FREE = 0;
/** Accepted, not yet sent on this connection. */
export const QUEUED = 1;
/** PUBLISH sent on this connection; awaiting PUBACK or PUBREC. */
export const SENT = 2;
/** PUBLISH sent on an earlier connection; to be re-sent with DUP 1. */
export const RESEND = 3;
/** PUBREC received; PUBREL to be sent (again). The message bytes are gone. */
export const RELEASE = 4;
/** PUBREL sent on this connection; awaiting PUBCOMP. */
export const RELEASING = 5;
/** The state of a pool entry (kept in a byte per entry). */
export type EntryState = typeof FREE | typeof QUEUED | typeof SENT | typeof RESEND | typeof RELEASE | typeof RELEASING;

export class MessagePool {
	readonly ids: Uint16Array;
	readonly states: Uint8Array;
	readonly qos: Uint8Array;
	readonly offsets: Uint32Array;
	readonly lengths: Uint32Array;
	/** Packet identifier → entry, for the entries that hold one (QoS 1/2). */
	readonly index: IdTable;
	/** Per entry, connections closed in a row while it was the only message in flight (Session.maxAttempts). */
	readonly strikes: Uint8Array;
	/** Entries are a ring: indices first .. first + count - 1 (mod capacity), FREE holes included. */
	first = 0;
	count = 0;
	/** Entries not FREE. */
	live = 0;
	/** Entries SENT, RESEND, RELEASE or RELEASING: the in-flight window. */
	inflight = 0;
	/** QoS 0 messages waiting to be sent (queued offline, or for room). */
	waiting0 = 0;
	/** Ring positions below this hold nothing to send (QUEUED, RESEND or RELEASE): sending starts here. */
	scan = 0;
	/** Ring positions below this hold no message bytes (RELEASE, RELEASING or FREE). */
	private held = 0;
	/** Where the next message's bytes go, relative to `base`. */
	private writeAt = 0;

	constructor(readonly mem: Uint8Array, readonly base: number, readonly size: number, readonly capacity: number) {
		// The entry tables are views of one buffer: each typed array of its own costs heap slots.
		const tables = new ArrayBuffer(capacity * 13);
		this.offsets = new Uint32Array(tables, 0, capacity);
		this.lengths = new Uint32Array(tables, capacity * 4, capacity);
		this.ids = new Uint16Array(tables, capacity * 8, capacity);
		this.states = new Uint8Array(tables, capacity * 10, capacity);
		this.qos = new Uint8Array(tables, capacity * 11, capacity);
		this.strikes = new Uint8Array(tables, capacity * 12, capacity);
		this.index = new IdTable(capacity);
	}

	/** The entry index at ring position `k` (0 = oldest). */
	at(k: number): number {
		const i = this.first + k;
		return i < this.capacity ? i : i - this.capacity;
	}

	/** The index of the live entry with packet identifier `id`, or -1. */
	find(id: number): number {
		// Acknowledgements mostly come in order: the oldest entry first, without hashing.
		const first = this.first;
		if (this.count > 0 && this.ids[first] === id && this.states[first] !== FREE) return first;
		return this.live === 0 ? -1 : this.index.get(id);
	}

	/**
	 * Finds room for a message of `length` bytes and an entry for it. Returns the absolute offset
	 * in `mem` to encode it at, or -1 when the pool is full (bytes or entries).
	 */
	allocate(length: number): number {
		if (this.count === this.capacity || length > this.size) return -1;
		// The oldest message still holding bytes: where the free bytes end. Entries before `held` hold
		// none (an entry never holds bytes again once it lost them), so the search starts there.
		let start = -1;
		let k = this.held;
		for (; k < this.count; k++) {
			const i = this.at(k);
			const s = this.states[i];
			if (s === QUEUED || s === SENT || s === RESEND) {
				start = this.offsets[i]! - this.base;
				break;
			}
		}
		this.held = k;
		let at: number;
		if (start < 0) at = 0;
		else if (this.writeAt > start) {
			if (length <= this.size - this.writeAt) at = this.writeAt;
			else if (length <= start) at = 0;
			else return -1;
		}
		else if (this.writeAt < start && length <= start - this.writeAt) at = this.writeAt;
		else return -1;
		return this.base + at;
	}

	/**
	 * Adds the message encoded at `offset` (from `allocate`) at the end of the ring; returns its
	 * entry index. `id` is its packet identifier (0 for QoS 0), not held by another entry.
	 */
	add(id: number, qos: number, offset: number, length: number, state: EntryState): number {
		let i = this.first + this.count;
		if (i >= this.capacity) i -= this.capacity;
		this.count++;
		this.live++;
		this.ids[i] = id;
		if (id !== 0) this.index.set(id, i);
		this.qos[i] = qos;
		this.states[i] = state;
		this.offsets[i] = offset;
		this.lengths[i] = length;
		this.strikes[i] = 0;
		if (qos === 0) this.waiting0++;
		this.writeAt = offset - this.base + length;
		if (state !== QUEUED) this.inflight++;
		return i;
	}

	/**
	 * Appends an entry restored from a snapshot, in order, to a pool that only restores have filled:
	 * `length` bytes of `source` from `start` are its message (none for RELEASE). Returns its index,
	 * or -1 when it does not fit.
	 */
	restore(id: number, qos: number, state: EntryState, source: Uint8Array, start: number, length: number): number {
		let offset = this.base + this.writeAt;
		if (length > 0) {
			offset = this.allocate(length);
			if (offset < 0) return -1;
			this.mem.set(source.subarray(start, start + length), offset);
		}
		else if (this.count === this.capacity) return -1;
		return this.add(id, qos, offset, length, state);
	}

	/** Moves entry `i` to `state`, keeping the in-flight count and where sending starts. */
	set(i: number, state: EntryState): void {
		const was = this.states[i]!;
		if (was === QUEUED && state !== QUEUED && state !== FREE) this.inflight++;
		this.states[i] = state;
		if (state === RELEASE || state === RELEASING) this.lengths[i] = 0;
		if (state === QUEUED || state === RESEND || state === RELEASE) {
			const k = i >= this.first ? i - this.first : i + this.capacity - this.first;
			if (k < this.scan) this.scan = k;
		}
	}

	/** Forgets entry `i`. Freed entries at either end of the ring leave it (the newest ones give their bytes back). */
	remove(i: number): void {
		const states = this.states;
		if (states[i] !== QUEUED) this.inflight--;
		const id = this.ids[i]!;
		if (id !== 0) this.index.delete(id);
		else if (this.qos[i] === 0) this.waiting0--;
		states[i] = FREE;
		if (--this.live === 0) {
			// The last one: the ring is empty.
			this.first = this.count = this.writeAt = this.scan = this.waiting0 = this.held = 0;
			return;
		}
		while (this.count > 0 && this.states[this.first] === FREE) {
			this.first = this.first + 1 === this.capacity ? 0 : this.first + 1;
			this.count--;
			if (this.scan > 0) this.scan--;
			if (this.held > 0) this.held--;
		}
		if (this.count === 0) {
			this.first = this.writeAt = this.scan = this.waiting0 = this.held = 0;
			return;
		}
		for (let last = this.at(this.count - 1); this.states[last] === FREE; last = this.at(this.count - 1)) {
			this.writeAt = this.offsets[last]! - this.base;
			this.count--;
			if (this.scan > this.count) this.scan = this.count;
			if (this.held > this.count) this.held = this.count;
		}
	}

	/** A connection ended: what was sent must be sent again on the next one. */
	disconnected(): void {
		this.scan = 0;
		for (let k = 0; k < this.count; k++) {
			const i = this.at(k);
			const s = this.states[i];
			if (s === SENT) this.states[i] = RESEND;
			else if (s === RELEASING) this.states[i] = RELEASE;
		}
	}

	/** Bytes held by messages (what a full pool would refuse). */
	get bytesUsed(): number {
		let n = 0;
		for (let k = 0; k < this.count; k++) n += this.lengths[this.at(k)]!;
		return n;
	}
}
