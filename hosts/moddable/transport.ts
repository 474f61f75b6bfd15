// Transport over the SDK's ECMA-419 sockets (embedded:io/socket/tcp, and the SDK's TLS socket),
// with DNS from `net`. Reads land in the client's buffer through fixed staging views: no allocation.
// Writes hand the socket the caller's own bytes, in one write: no copy here.

import TCP from "embedded:io/socket/tcp";
import type { Options as TcpOptions } from "embedded:io/socket/tcp";
import TLSSocket from "embedded:io/socket/tcp/tls";
import Net from "net";
import Resource from "Resource";
import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import type { TlsOptions, Transport, TransportHandler } from "../../modules/mqtt/host.js";

/** The staging buffer: reads go through views of 1, 2, 4 ... STAGE bytes over it. */
const STAGE = 512;

/** The most one socket write carries: the TLS socket refuses a record of more than 16 KB. */
const MAX_WRITE = 16384;

interface Socket {
	read(buffer: Uint8Array): unknown;
	write(buffer: Uint8Array): unknown;
	close(): unknown;
}

export class ModdableTransport implements Transport {
	private socket: Socket | undefined;
	private handler: TransportHandler | undefined;
	private readable = 0;
	private writable = 0;
	private opened = false;
	private secure = false;
	private generation = 0;
	private readonly views: Uint8Array[] = [];
	/** The view last handed to the socket: `writtenLength` bytes of `writtenSource` from `writtenOffset`. */
	private written: Uint8Array | undefined;
	private writtenSource: Uint8Array | undefined;
	private writtenOffset = 0;
	private writtenLength = 0;

	constructor() {
		const stage = new Uint8Array(STAGE);
		for (let size = 1; size <= STAGE; size <<= 1) this.views.push(new Uint8Array(stage.buffer, 0, size));
	}

	open(host: string, port: number, tls: TlsOptions | undefined, handler: TransportHandler): void {
		this.close();
		const generation = ++this.generation;
		this.handler = handler;
		this.secure = tls !== undefined;
		if (isAddress(host)) return this.connect(host, host, port, tls, generation);
		try {
			Net.resolve(host, (_name: string, address?: string) => {
				if (generation !== this.generation) return;
				if (address) this.connect(address, host, port, tls, generation);
				else this.fail(generation, new MqttError(ErrorCode.HOST_NOT_FOUND, `no address for ${host}`));
			});
		}
		catch {
			this.fail(generation, new MqttError(ErrorCode.HOST_NOT_FOUND, `cannot look up ${host} now`));
		}
	}

	private connect(address: string, host: string, port: number, tls: TlsOptions | undefined, generation: number): void {
		const transport = this;
		const options = {
			address, port, nodelay: true,
			onReadable(count: number): void {
				if (generation !== transport.generation) return;
				transport.readable = count;
				transport.handler?.onReadable();
			},
			onWritable(count: number): void {
				if (generation !== transport.generation) return;
				transport.writable = count;
				if (!transport.opened) {
					transport.opened = true;
					transport.handler?.onOpen();
				}
				else transport.handler?.onWritable();
			},
			onError(): void {
				if (generation !== transport.generation) return;
				const where = `${host}:${port}`;
				transport.fail(generation, !transport.opened
					? new MqttError(transport.secure ? ErrorCode.TLS_ERROR : ErrorCode.CONNECTION_REFUSED, transport.secure ? `TLS with ${where} failed (certificate or handshake)` : `${where} refused the connection`)
					: new MqttError(ErrorCode.CONNECTION_LOST, `the connection to ${where} was lost`));
			},
		};
		try {
			if (tls) {
				const secure: Record<string, unknown> = { verify: !tls.insecure };
				if (typeof tls.ca === "string" && tls.ca) secure.certificate = new Resource(tls.ca);
				else if (tls.ca instanceof Uint8Array) secure.certificate = tls.ca.buffer;
				// The TLS socket runs its handshake inside the TCP socket's callbacks, and a refused
				// certificate throws there: uncaught, that aborts XS. It becomes TLS_ERROR instead.
				const io = guardedTCP((error) => {
					if (generation === transport.generation)
						transport.fail(generation, new MqttError(ErrorCode.TLS_ERROR, `TLS with ${host}:${port} failed: ${tlsProblem(error)}`));
				});
				this.socket = new TLSSocket({ ...options, host: tls.serverName ?? host, TCP: { io }, secure });
			}
			else
				this.socket = new TCP(options) as Socket;
		}
		catch (error) {
			this.fail(generation, new MqttError(ErrorCode.CONNECTION_REFUSED, `cannot connect to ${host}:${port}: ${(error as Error).message}`));
		}
	}

	read(buffer: Uint8Array, offset: number, length: number): number {
		const socket = this.socket;
		if (!socket) return 0;
		let want = length < this.readable ? length : this.readable;
		let done = 0;
		while (want > 0) {
			const view = this.views[stageIndex(want)]!;
			const got = socket.read(view);
			const n = typeof got === "number" ? got : view.length;
			if (n <= 0) break;
			buffer.set(n === view.length ? view : view.subarray(0, n), offset + done);
			done += n;
			want -= n;
		}
		this.readable -= done;
		return done;
	}

	/**
	 * Writes up to `length` bytes (as many as the socket has room for) in one socket write, or one
	 * per MAX_WRITE bytes beyond that. The socket's write takes an ArrayBuffer or a byte view and
	 * copies from it before returning (TCP into its send buffer, TLS into a record), so it is given
	 * the caller's bytes themselves, with no per-byte work: the buffer when they are all of it, else
	 * a view of them. The view is kept: a write of the same place next time (same buffer, offset and
	 * length: a client writes its packets from the start of its drained outbox, and a QoS 0 header
	 * from beside its topic cache) reuses it, and a write of another place costs one new view.
	 */
	write(buffer: Uint8Array, offset: number, length: number): number {
		const socket = this.socket;
		if (!socket || !this.opened) return 0;
		const writable = this.writable;
		const n = length < writable ? length : writable;
		if (n <= 0) return 0;
		if (n > MAX_WRITE) {
			const first = this.write(buffer, offset, MAX_WRITE);
			return first < MAX_WRITE ? first : first + this.write(buffer, offset + MAX_WRITE, length - MAX_WRITE);
		}
		let bytes = buffer;
		if (offset !== 0 || n !== buffer.length) {
			if (buffer === this.writtenSource && offset === this.writtenOffset && n === this.writtenLength) bytes = this.written!;
			else {
				bytes = this.written = new Uint8Array(buffer.buffer, buffer.byteOffset + offset, n);
				this.writtenSource = buffer;
				this.writtenOffset = offset;
				this.writtenLength = n;
			}
		}
		const room = socket.write(bytes);
		this.writable = typeof room === "number" ? room : writable - n;
		return n;
	}

	close(): void {
		this.generation++;
		const socket = this.socket;
		this.socket = undefined;
		this.handler = undefined;
		this.readable = this.writable = 0;
		this.opened = false;
		this.written = this.writtenSource = undefined;
		try {
			socket?.close();
		}
		catch {
			// already closed by the other side
		}
	}

	private fail(generation: number, error: MqttError): void {
		const handler = this.handler;
		this.close();
		if (generation + 1 === this.generation) handler?.onClose(error);
	}
}

/** The SDK's TCP socket class, with what its readiness callbacks throw caught and given to `failed`. */
function guardedTCP(failed: (error: unknown) => void): typeof TCP {
	type Callback = (this: TCP, count: number) => void;
	function guard(callback: Callback | undefined): Callback | undefined {
		if (!callback) return undefined;
		return function (this: TCP, count: number): void {
			try {
				callback.call(this, count);
			}
			catch (error) {
				failed(error);
			}
		};
	}
	return class {
		constructor(options: TcpOptions) {
			// A constructor may return another object: the TLS socket gets a plain SDK socket.
			return new TCP({ ...options, onReadable: guard(options.onReadable), onWritable: guard(options.onWritable) } as TcpOptions);
		}
	} as unknown as typeof TCP;
}

/** Why the SDK's TLS refused the connection, in words ("certificate: auth err" is its only word for a bad certificate). */
function tlsProblem(error: unknown): string {
	const message = (error as Error | undefined)?.message ?? String(error);
	if (message.indexOf("certificate") >= 0 && message.indexOf("auth err") >= 0)
		return `the broker's certificate was refused: not signed by the CA in mqttCa, not for this name, or out of its dates (${message})`;
	return message;
}

/** The index of the largest staging view no longer than `n` (n >= 1). */
function stageIndex(n: number): number {
	let k = 0;
	while (k < 9 && (2 << k) <= n) k++;
	return k;
}

function isAddress(host: string): boolean {
	const parts = host.split(".");
	if (parts.length !== 4) return false;
	for (const p of parts) if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return false;
	return true;
}
