// Workloads for the Moddable transport (hosts/moddable/transport.ts) inside the XS engine: its write
// over a socket stub that only counts bytes, beside a per-byte staged write, for 16, 94 (a QoS 1
// PUBLISH) and 1,000-byte writes. test/lib/xs/transport-worker.ts compiles the transport, points its SDK
// imports at the stubs below and calls start() with its class.

import { Client } from "../../../modules/mqtt/client.js";
import { encodePublish } from "../../../modules/mqtt/encode.js";
import type { MqttError } from "../../../modules/mqtt/errors.js";
import type { Transport, TransportHandler } from "../../../modules/mqtt/host.js";
import { ManualClock } from "../manual-clock.js";

/** The benchmark message of workloads.ts: a 24-byte topic and a 64-byte payload. */
const TOPIC = "devices/abcdef/telemetry";
const PAYLOAD = new Uint8Array(64);
for (let i = 0; i < PAYLOAD.length; i++) PAYLOAD[i] = 0x30 + (i % 10);

/** The room the SDK's socket reports on an ESP32: the SDK's build gives lwIP an 8 KB TCP send buffer. */
export const ROOM = 8192;

/** The options the transport constructs a socket with (a TLS socket's carry host, TCP and secure too). */
export interface SocketOptions {
	address?: string;
	port?: number;
	host?: string;
	nodelay?: boolean;
	secure?: Record<string, unknown>;
	/** The TCP socket class a TLS socket runs over. */
	TCP?: { io: unknown };
	onReadable?: (this: CountingSocket, count: number) => void;
	onWritable?: (this: CountingSocket, count: number) => void;
	onError?: (this: CountingSocket) => void;
}

type Bytes = Uint8Array | ArrayBuffer;

/**
 * Stand-in for the SDK's ECMA-419 TCP socket (embedded:io/socket/tcp): write only counts what it is
 * given and returns the room left, which stays ROOM (a socket drained at once). checkedWrite, put in
 * write's place by tests, behaves as the SDK's: it throws when a write exceeds the room, uses room
 * up, and keeps the bytes.
 */
export class CountingSocket {
	/** The socket constructed last (the transport keeps its own privately). */
	static last: CountingSocket | undefined;
	readonly options: SocketOptions;
	/** What write returns: the bytes that may still be written. */
	room = ROOM;
	bytes = 0;
	writes = 0;
	closed = false;
	/** The bytes checkedWrite took, in order: log[0, logged). */
	log: Uint8Array | undefined;
	logged = 0;
	/** Bytes waiting to be read. */
	private incoming: Uint8Array | undefined;
	private readAt = 0;

	constructor(options: SocketOptions) {
		this.options = options;
		CountingSocket.last = this;
	}

	write(data: Bytes): number {
		this.bytes += data.byteLength;
		this.writes++;
		return this.room;
	}

	checkedWrite(data: Bytes): number {
		const n = data.byteLength;
		if (n > this.room) throw new Error("would block");
		this.log ??= new Uint8Array(65536);
		this.log.set(data instanceof Uint8Array ? data : new Uint8Array(data), this.logged);
		this.logged += n;
		this.bytes += n;
		this.writes++;
		this.room -= n;
		return this.room;
	}

	/**
	 * Fills `view` from the bytes waiting (all of it: the SDK's TCP socket throws on more than are
	 * waiting); returns the count. All of them at once take no view.
	 */
	read(view: Uint8Array): number {
		const incoming = this.incoming;
		const n = view.length;
		if (incoming === undefined || n > incoming.length - this.readAt) throw new Error("invalid");
		view.set(this.readAt === 0 && n === incoming.length ? incoming : incoming.subarray(this.readAt, this.readAt + n));
		this.readAt += n;
		return n;
	}

	close(): void {
		this.closed = true;
	}

	// ---- the driver's side ---------------------------------------------------------------

	/** Room for `count` bytes: onWritable (the first one opens the transport). */
	writable(count: number): void {
		this.room = count;
		this.options.onWritable?.call(this, count);
	}

	/** `bytes` arrive: onReadable with their count. */
	receive(bytes: Uint8Array): void {
		this.incoming = bytes;
		this.readAt = 0;
		this.options.onReadable?.call(this, bytes.length);
	}

	error(): void {
		this.options.onError?.call(this);
	}
}

/** Stand-in for the SDK's TLS socket (embedded:io/socket/tcp/tls): the same, under its own name. */
export class CountingTlsSocket extends CountingSocket {}

/** Stand-in for the SDK's `Resource` (a CA certificate by name). */
export class StubResource {
	constructor(readonly name: string) {}
}

/** Stand-in for the SDK's `net`: no names to resolve here. */
export const StubNet = {
	resolve(name: string): void {
		throw new Error(`no DNS here (${name})`);
	},
};

/** What a transport told its client, in order. */
export class RecordingHandler implements TransportHandler {
	readonly events: string[] = [];
	onOpen(): void {
		this.events.push("open");
	}
	onReadable(): void {
		this.events.push("readable");
	}
	onWritable(): void {
		this.events.push("writable");
	}
	onClose(error: MqttError): void {
		this.events.push(`close ${error.code}`);
	}
}

interface Writer {
	write(buffer: Uint8Array, offset: number, length: number): number;
}

/** Stage size of the staged write below. */
const STAGE = 512;

/**
 * The per-byte staged write, for comparison: bytes copied one at a time into fixed views of 1, 2,
 * 4 ... 512 bytes over a staging buffer, one socket write per view (94 bytes: 64 + 16 + 8 + 4 + 2).
 */
class StagedCopyWriter implements Writer {
	private readonly views: Uint8Array[] = [];
	private writable = ROOM;
	private readonly opened = true;

	constructor(private readonly socket: CountingSocket) {
		const stage = new Uint8Array(STAGE);
		for (let size = 1; size <= STAGE; size <<= 1) this.views.push(new Uint8Array(stage.buffer, 0, size));
	}

	write(buffer: Uint8Array, offset: number, length: number): number {
		const socket = this.socket;
		if (!socket || !this.opened) return 0;
		let left = length < this.writable ? length : this.writable;
		let done = 0;
		while (left > 0) {
			const view = this.views[stageIndex(left)]!;
			const n = view.length;
			for (let i = 0; i < n; i++) view[i] = buffer[offset + done + i]!;
			const room = socket.write(view);
			done += n;
			left -= n;
			this.writable = typeof room === "number" ? room : this.writable - n;
			if (left > this.writable) left = this.writable;
		}
		return done;
	}
}

/** The index of the largest staging view no longer than `n` (n >= 1). */
function stageIndex(n: number): number {
	let k = 0;
	while (k < 9 && (2 << k) <= n) k++;
	return k;
}

/** A client's pool: the writes come from inside it, at OFFSET, as from the client's ring. */
const outbox = new Uint8Array(2048);
const OFFSET = 128;
for (let i = 0; i < outbox.length; i++) outbox[i] = i & 0xFF;
/** The QoS 1 PUBLISH of the benchmark message (24-byte topic, 64-byte payload) at OFFSET. */
export const PUBLISH_BYTES = encodePublish(outbox, OFFSET, TOPIC, PAYLOAD, 1, false, false, 1);

/** Write sizes measured, by workload name suffix. */
const SIZES: Array<[string, number]> = [["16", 16], ["Publish", PUBLISH_BYTES], ["1000", 1000]];

let sink = 0;
/** Socket writes per call in each workload's last run. */
const socketWrites: Record<string, number> = {};

/**
 * A workload writing `length` bytes of `buffer` through `writer`, n times, checked: at `offset`
 * every time, or with `moving`, at `offset` and `offset + 1` in turn (never the place written last).
 */
function writing(name: string, writer: Writer, socket: CountingSocket, buffer: Uint8Array, offset: number, length: number, moving: boolean): (n: number) => void {
	const step = moving ? 1 : 0;
	return (n: number): void => {
		const bytes = socket.bytes;
		const writes = socket.writes;
		for (let i = 0; i < n; i++) if (writer.write(buffer, offset + (i & step), length) !== length) throw new Error(`${name}: a write was cut short`);
		if (socket.bytes - bytes !== n * length) throw new Error(`${name}: the socket got ${socket.bytes - bytes} bytes, not ${n * length}`);
		if (n > 0) socketWrites[name] = (socket.writes - writes) / n;
	};
}

/** A client connected over a transport of class `Transport`, its socket, and a PUBACK to answer with. */
function connectClient(Transport: new () => Transport): { client: Client; socket: CountingSocket; puback: Uint8Array; delivered: number } {
	const connected = {
		client: undefined as unknown as Client,
		socket: undefined as unknown as CountingSocket,
		puback: new Uint8Array([0x40, 2, 0, 0]),
		delivered: 0,
	};
	connected.client = new Client({
		host: "127.0.0.1", clientId: "bench", keepAlive: 0, transport: new Transport(), clock: new ManualClock(),
		onDelivered(): void { connected.delivered++; },
	});
	const socket = CountingSocket.last;
	if (socket === undefined || socket.options.address !== "127.0.0.1") throw new Error("the client's transport did not construct a socket");
	connected.socket = socket;
	socket.writable(ROOM);
	socket.receive(new Uint8Array([0x20, 2, 0, 0]));
	if (!connected.client.connected) throw new Error("the client did not connect over the transport");
	return connected;
}

export interface TransportRig {
	Transport: new () => Transport;
	CountingSocket: typeof CountingSocket;
	CountingTlsSocket: typeof CountingTlsSocket;
	RecordingHandler: typeof RecordingHandler;
	outbox: Uint8Array;
	PUBLISH_BYTES: number;
}

/**
 * Opens a transport of class `Transport` over the counting socket and registers the workloads
 * (globalThis.workloads), the socket write counts (globalThis.transportSocketWrites) and, for
 * tests, what builds more (globalThis.transportRig).
 */
export function start(Transport: new () => Transport): void {
	const transport = new Transport();
	const handler = new RecordingHandler();
	transport.open("127.0.0.1", 1883, undefined, handler);
	const socket = CountingSocket.last;
	if (socket === undefined || socket.options.address !== "127.0.0.1") throw new Error("the transport did not construct a socket");
	socket.writable(ROOM);
	if (handler.events.join() !== "open") throw new Error(`the transport did not open (${handler.events.join()})`);
	const stagedSocket = new CountingSocket({});
	const staged = new StagedCopyWriter(stagedSocket);

	const client = connectClient(Transport);
	const workloads: Record<string, (n: number) => void> = {
		/** Loop overhead alone, subtracted from the others. */
		empty(n: number): void {
			for (let i = 0; i < n; i++) sink ^= i;
		},
		/** The payload buffer written whole (the client's QoS 0 path hands payloads over so). */
		writeWhole: writing("writeWhole", transport, socket, PAYLOAD, 0, PAYLOAD.length, false),
		/** A client over the transport publishes QoS 0: header and topic from beside its topic cache, then the payload. */
		clientPublishQos0(n: number): void {
			const bytes = client.socket.bytes;
			const writes = client.socket.writes;
			for (let i = 0; i < n; i++) if (client.client.publish(TOPIC, PAYLOAD, 0, false) !== 0) throw new Error("publish refused");
			if (client.socket.bytes - bytes !== n * (PUBLISH_BYTES - 2)) throw new Error(`the socket got ${client.socket.bytes - bytes} bytes for ${n} publishes`);
			if (n > 0) socketWrites.clientPublishQos0 = (client.socket.writes - writes) / n;
		},
		/** A client over the transport publishes QoS 1 (from its pool) and reads the PUBACK. */
		clientPublishQos1(n: number): void {
			const delivered = client.delivered;
			const writes = client.socket.writes;
			const puback = client.puback;
			for (let i = 0; i < n; i++) {
				const id = client.client.publish(TOPIC, PAYLOAD, 1, false);
				if (id <= 0) throw new Error("publish refused");
				puback[2] = id >> 8;
				puback[3] = id & 0xFF;
				client.socket.receive(puback);
			}
			if (client.delivered - delivered !== n) throw new Error(`delivered ${client.delivered - delivered} of ${n}`);
			if (n > 0) socketWrites.clientPublishQos1 = (client.socket.writes - writes) / n;
		},
	};
	for (const [suffix, size] of SIZES) {
		workloads[`write${suffix}`] = writing(`write${suffix}`, transport, socket, outbox, OFFSET, size, false);
		workloads[`writeMoving${suffix}`] = writing(`writeMoving${suffix}`, transport, socket, outbox, OFFSET, size, true);
		workloads[`staged${suffix}`] = writing(`staged${suffix}`, staged, stagedSocket, outbox, OFFSET, size, true);
	}
	const global = globalThis as unknown as {
		workloads: typeof workloads;
		transportSocketWrites: typeof socketWrites;
		transportRig: TransportRig;
		transportWorkloadsReady: boolean;
	};
	global.workloads = workloads;
	global.transportSocketWrites = socketWrites;
	global.transportRig = { Transport, CountingSocket, CountingTlsSocket, RecordingHandler, outbox, PUBLISH_BYTES };
	global.transportWorkloadsReady = true;
}
