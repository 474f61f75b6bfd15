// A process that answers every MQTT packet at once: not a broker (nothing is routed, kept or checked
// beyond framing). Started by bench/node-answerer.ts with fork(), so that its CPU time is not the
// client's. It listens on 127.0.0.1 at a port the system picks and answers CONNECT with CONNACK,
// QoS 1 PUBLISH with PUBACK, QoS 2 PUBLISH with PUBREC, PUBREL with PUBCOMP, SUBSCRIBE with SUBACK,
// UNSUBSCRIBE with UNSUBACK and PINGREQ with PINGRESP; QoS 0 PUBLISHes are dropped and counted.
//
// Control over the IPC channel (AnswererRequest in, AnswererReport out): `listening` once at start;
// `reset` clears the counts and sets how many QoS 0 PUBLISH bytes make `reached`; `counts` reports
// them. The process exits when the parent disconnects, on SIGTERM, or after the lifetime (ms) given
// as its first argument.

import * as net from "node:net";

export interface AnswererCounts {
	/** QoS 0 PUBLISH packets, and their bytes (fixed header included). */
	qos0: number;
	qos0Bytes: number;
	qos1: number;
	qos2: number;
	pubrel: number;
	connects: number;
	/** Packets a client does not send to a server (acknowledgements of PUBLISHes it never got, CONNACK, …). */
	unexpected: number;
	/** This process's CPU time so far (user + system), µs, when the report was made. */
	cpu: number;
}

export type AnswererRequest =
	| { op: "reset"; qos0Bytes: number }
	| { op: "counts" };

export type AnswererReport =
	| { op: "listening"; port: number }
	| { op: "reset"; cpu: number }
	| { op: "reached"; counts: AnswererCounts }
	| { op: "counts"; counts: AnswererCounts }
	| { op: "error"; message: string };

// The answers: fixed bytes; an acknowledgement gets the packet identifier copied in after its two.
const CONNACK = [0x20, 0x02, 0x00, 0x00];
const PINGRESP = [0xD0, 0x00];
const PUBACK = 0x40;
const PUBREC = 0x50;
const PUBCOMP = 0x70;
const SUBACK = 0x90;
const UNSUBACK = 0xB0;
/** Every answer fits in this many bytes per received byte (SUBACK is the largest, under 2 per byte). */
const ANSWER_PER_BYTE = 2;

const counts: AnswererCounts = { qos0: 0, qos0Bytes: 0, qos1: 0, qos2: 0, pubrel: 0, connects: 0, unexpected: 0, cpu: 0 };
/** `reached` is sent when qos0Bytes gets to this (0: never). */
let target = 0;

function report(message: AnswererReport): void {
	process.send?.(message);
}

function cpuNow(): number {
	const { user, system } = process.cpuUsage();
	return user + system;
}

function checkTarget(): void {
	if (target > 0 && counts.qos0Bytes >= target) {
		target = 0;
		report({ op: "reached", counts: { ...counts, cpu: cpuNow() } });
	}
}

/**
 * The size of the packet at `at` (fixed header included), -1 when `data` ends before its remaining
 * length does, -2 when the remaining length is longer than four bytes.
 */
function packetSize(data: Buffer, at: number, length: number): number {
	let k = at + 1;
	let remaining = 0;
	let multiplier = 1;
	for (;;) {
		if (k >= length) return -1;
		if (k - at > 4) return -2;
		const byte = data[k++]!;
		remaining += (byte & 0x7F) * multiplier;
		if (!(byte & 0x80)) return k - at + remaining;
		multiplier *= 128;
	}
}

class Connection {
	/** The start of a packet not yet complete, kept from the previous chunk. */
	private rest: Buffer | undefined;
	/** Answers to one chunk gather here, then go out as one write. */
	private out = Buffer.allocUnsafe(64 * 1024);
	private o = 0;
	private disconnect = false;

	constructor(private readonly socket: net.Socket) {
		socket.setNoDelay(true);
		socket.on("data", (chunk: Buffer) => this.received(chunk));
		socket.on("error", () => socket.destroy());
	}

	private received(chunk: Buffer): void {
		const room = (chunk.length + (this.rest?.length ?? 0)) * ANSWER_PER_BYTE;
		if (this.out.length < room) this.out = Buffer.allocUnsafe(room);
		this.o = 0;
		let from = 0;
		const rest = this.rest;
		if (rest) {
			// Only the packet begun in the previous chunk is put together; the rest is framed in place.
			this.rest = undefined;
			const head = rest.length >= 5 ? rest : Buffer.concat([rest, chunk.subarray(0, 5)]);
			const size = packetSize(head, 0, head.length);
			if (size === -2) {
				this.fail("a remaining length longer than four bytes");
				return;
			}
			if (size === -1 || size - rest.length > chunk.length) {
				this.rest = Buffer.concat([rest, chunk]);
				return;
			}
			from = size - rest.length;
			if (this.frame(Buffer.concat([rest, chunk.subarray(0, from)]), 0) < 0) return;
		}
		const end = this.frame(chunk, from);
		if (end < 0) return;
		if (end < chunk.length) this.rest = Buffer.from(chunk.subarray(end));
		const socket = this.socket;
		if (this.o > 0 && !socket.destroyed && !socket.write(Buffer.from(this.out.subarray(0, this.o)))) {
			// Read no more until the client has taken the answers.
			socket.pause();
			socket.once("drain", () => socket.resume());
		}
		if (this.disconnect) socket.end();
		checkTarget();
	}

	/**
	 * Answers the whole packets in `data` from `at` on (into `out`); returns where the first incomplete
	 * one starts, or -1 after a malformed one (the connection is closed).
	 */
	private frame(data: Buffer, at: number): number {
		const length = data.length;
		const out = this.out;
		let o = this.o;
		while (length - at >= 2) {
			const size = packetSize(data, at, length);
			if (size === -2) return this.fail("a remaining length longer than four bytes");
			if (size === -1) break;
			const end = at + size;
			if (end > length) break;
			const first = data[at]!;
			// The variable header, after the fixed header's 2 to 5 bytes.
			const k = at + (size < 130 ? 2 : size < 16387 ? 3 : size < 2097156 ? 4 : 5);
			switch (first >> 4) {
				case 3: { // PUBLISH
					const qos = (first >> 1) & 3;
					if (qos === 0) {
						counts.qos0++;
						counts.qos0Bytes += size;
						break;
					}
					const id = k + 2 + ((data[k]! << 8) | data[k + 1]!);
					if (qos === 3 || id + 2 > end) return this.fail("a malformed PUBLISH");
					if (qos === 1) counts.qos1++;
					else counts.qos2++;
					out[o] = qos === 1 ? PUBACK : PUBREC;
					out[o + 1] = 2;
					out[o + 2] = data[id]!;
					out[o + 3] = data[id + 1]!;
					o += 4;
					break;
				}
				case 6: // PUBREL
					if (end - k !== 2) return this.fail("a malformed PUBREL");
					counts.pubrel++;
					out[o] = PUBCOMP;
					out[o + 1] = 2;
					out[o + 2] = data[k]!;
					out[o + 3] = data[k + 1]!;
					o += 4;
					break;
				case 1: // CONNECT
					counts.connects++;
					for (const b of CONNACK) out[o++] = b;
					break;
				case 8: { // SUBSCRIBE: each filter granted the QoS it asks for
					if (end - k < 5) return this.fail("a malformed SUBSCRIBE");
					let filters = 0;
					for (let f = k + 2; f < end; f += 2 + ((data[f]! << 8) | data[f + 1]!) + 1) filters++;
					out[o++] = SUBACK;
					let rl = 2 + filters;
					do {
						out[o++] = (rl & 0x7F) | (rl > 0x7F ? 0x80 : 0);
						rl >>= 7;
					} while (rl > 0);
					out[o++] = data[k]!;
					out[o++] = data[k + 1]!;
					for (let f = k + 2; f < end; f += 2 + ((data[f]! << 8) | data[f + 1]!) + 1) {
						const requested = data[f + 2 + ((data[f]! << 8) | data[f + 1]!)] ?? 0x80;
						out[o++] = requested <= 2 ? requested : 0x80;
					}
					break;
				}
				case 10: // UNSUBSCRIBE
					out[o] = UNSUBACK;
					out[o + 1] = 2;
					out[o + 2] = data[k]!;
					out[o + 3] = data[k + 1]!;
					o += 4;
					break;
				case 12: // PINGREQ
					for (const b of PINGRESP) out[o++] = b;
					break;
				case 14: // DISCONNECT
					this.disconnect = true;
					break;
				default:
					counts.unexpected++;
			}
			at = end;
		}
		this.o = o;
		return at;
	}

	private fail(why: string): -1 {
		report({ op: "error", message: `answerer: ${why}` });
		this.socket.destroy();
		return -1;
	}
}

const lifetime = Number(process.argv[2]) || 10 * 60_000;
const sockets = new Set<net.Socket>();
const server = net.createServer((socket) => {
	sockets.add(socket);
	socket.on("close", () => sockets.delete(socket));
	new Connection(socket);
});

function stop(): void {
	server.close();
	for (const socket of sockets) socket.destroy();
	process.exit(0);
}

process.on("message", (request: AnswererRequest) => {
	if (request.op === "reset") {
		for (const key of Object.keys(counts) as Array<keyof AnswererCounts>) counts[key] = 0;
		target = request.qos0Bytes;
		report({ op: "reset", cpu: cpuNow() });
	}
	else if (request.op === "counts") report({ op: "counts", counts: { ...counts, cpu: cpuNow() } });
});
process.on("disconnect", stop);
process.on("SIGTERM", stop);
setTimeout(stop, lifetime).unref();
server.on("error", (error) => {
	report({ op: "error", message: `answerer: ${error.message}` });
	process.exit(1);
});
server.listen(0, "127.0.0.1", () => {
	const address = server.address();
	report({ op: "listening", port: typeof address === "object" && address ? address.port : 0 });
});
