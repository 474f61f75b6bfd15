// Bytes waiting for the transport, in a fixed region of the client's memory. Packets are
// encoded straight into it; the client writes from it as the transport takes bytes.

export class Outbox {
	/** Pending bytes are mem[head, tail), inside [base, base + size). */
	head: number;
	tail: number;

	constructor(readonly mem: Uint8Array, readonly base: number, readonly size: number) {
		this.head = this.tail = base;
	}

	get pending(): number {
		return this.tail - this.head;
	}

	get free(): number {
		return this.size - (this.tail - this.head);
	}

	/** Makes `length` contiguous bytes free at `tail`; false when they cannot be. */
	reserve(length: number): boolean {
		const end = this.base + this.size;
		if (this.tail + length <= end) return true;
		if (this.tail - this.head + length > this.size) return false;
		this.mem.copyWithin(this.base, this.head, this.tail);
		this.tail -= this.head - this.base;
		this.head = this.base;
		return true;
	}

	/** Accounts for `length` bytes written at `tail` (after `reserve`). */
	commit(length: number): void {
		this.tail += length;
	}

	/** Accounts for `length` bytes taken by the transport. */
	consume(length: number): void {
		this.head += length;
		if (this.head === this.tail) this.head = this.tail = this.base;
	}

	clear(): void {
		this.head = this.tail = this.base;
	}
}
