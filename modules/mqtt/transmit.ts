// The one way bytes leave the client. A packet goes to the transport as it is made: a small packet
// encoded into this buffer, a message's bytes from where they are (the caller's payload, the
// in-flight store). Whatever the transport does not take is copied here and goes first once the
// transport has room again, so packets leave whole and in order.

/** Where bytes go: the connection's transport while it is open. */
export interface Writer {
	/** Writes up to `length` bytes of `buffer` from `offset`; returns how many were taken (0 when full). */
	write(buffer: Uint8Array, offset: number, length: number): number;
}

export class Transmit {
	/** Bytes waiting for the transport are mem[head, tail). */
	head = 0;
	tail = 0;
	readonly size: number;
	/** Where bytes go; undefined while no connection is open (bytes then wait). */
	private writer: Writer | undefined = undefined;
	/** Bytes mem[0, secretEnd) hold a CONNECT with a password: zeroed as soon as they are sent. */
	private secretEnd = 0;

	/** `mem`: the transmit buffer, sized by `txBufferSize`: the largest packet that can wait whole. */
	constructor(readonly mem: Uint8Array) {
		this.size = mem.length;
	}

	get pending(): number {
		return this.tail - this.head;
	}

	/** Can a packet of `length` bytes be accepted now (even if the transport takes none of it)? */
	room(length: number): boolean {
		return length <= this.size - this.tail + this.head;
	}

	/** Bytes now go to `writer` (a connection opened), or nowhere (it closed: what waits is dropped). */
	attach(writer: Writer | undefined): void {
		this.writer = writer;
		this.clear();
	}

	/**
	 * Room for `length` contiguous bytes at the tail, to encode a packet into (after `room`);
	 * returns its offset in `mem`. `commit` then sends them.
	 */
	claim(length: number): number {
		if (this.tail + length > this.size) {
			const head = this.head;
			this.mem.copyWithin(0, head, this.tail);
			this.tail -= head;
			this.head = 0;
			if (this.secretEnd > 0) this.secretEnd = this.secretEnd > head ? this.secretEnd - head : 0;
		}
		return this.tail;
	}

	/** Sends the `length` bytes encoded at the tail (see `claim`); `secret`: they hold a password. */
	commit(length: number, secret?: boolean): void {
		const start = this.tail;
		this.tail = start + length;
		if (secret === true) this.secretEnd = this.tail;
		if (start === this.head) this.flush();
	}

	/**
	 * Sends bytes [offset, offset + length) of `source` by reference: straight to the transport when
	 * nothing waits, and what it does not take is copied here (after `room` for the whole packet).
	 */
	send(source: Uint8Array, offset: number, length: number): void {
		const writer = this.writer;
		if (this.head === this.tail && writer !== undefined) {
			const n = writer.write(source, offset, length);
			if (n >= length) return;
			if (n > 0) {
				offset += n;
				length -= n;
			}
		}
		this.keep(source, offset, length);
	}

	/**
	 * Sends a packet in two parts by reference, as `send` sends each: bytes [offset, offset + length)
	 * of `head`, then the whole of `tail` (after `room` for both).
	 */
	sendPair(head: Uint8Array, offset: number, length: number, tail: Uint8Array, tailLength: number): void {
		const writer = this.writer;
		if (this.head === this.tail && writer !== undefined) {
			const n = writer.write(head, offset, length);
			if (n >= length) {
				const m = writer.write(tail, 0, tailLength);
				if (m >= tailLength) return;
				if (m > 0) this.keep(tail, m, tailLength - m);
				else this.keep(tail, 0, tailLength);
				return;
			}
			if (n > 0) this.keep(head, offset + n, length - n);
			else this.keep(head, offset, length);
		}
		else this.keep(head, offset, length);
		this.keep(tail, 0, tailLength);
	}

	/** Copies bytes the transport did not take to the end of what waits. */
	private keep(source: Uint8Array, offset: number, length: number): void {
		const at = this.claim(length);
		const mem = this.mem;
		if (source === mem) mem.copyWithin(at, offset, offset + length);
		else if (offset === 0 && length === source.length) mem.set(source, at);
		else for (let i = 0; i < length; i++) mem[at + i] = source[offset + i]!;
		this.tail = at + length;
	}

	/** Writes what waits; true when nothing waits any more. */
	flush(): boolean {
		const writer = this.writer;
		if (writer === undefined) return this.head === this.tail;
		while (this.head < this.tail) {
			const n = writer.write(this.mem, this.head, this.tail - this.head);
			if (n <= 0) break;
			this.head += n;
		}
		if (this.secretEnd > 0) this.wipe();
		if (this.head < this.tail) return false;
		this.head = this.tail = 0;
		return true;
	}

	/** Drops what waits (the connection ended). A password in it is zeroed. */
	clear(): void {
		this.head = this.tail;
		if (this.secretEnd > 0) this.wipe();
		this.head = this.tail = 0;
	}

	/** Zeroes the bytes of the CONNECT with a password that have left (or will never leave). */
	private wipe(): void {
		const end = this.head < this.secretEnd ? this.head : this.secretEnd;
		this.mem.fill(0, 0, end);
		if (end === this.secretEnd) this.secretEnd = 0;
	}
}
