// Transport over node:net and node:tls: received chunks wait in a queue until the client reads
// them into its own buffer; writes gather in a staging buffer whose filled part is handed to the socket,
// without a copy, once per loop turn.

import * as net from "node:net";
import * as tls from "node:tls";
import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import type { TlsOptions, Transport, TransportHandler } from "../../modules/mqtt/host.js";

/** Above this many unread bytes the socket is paused (TCP flow control does the rest). */
const HIGH_WATER = 256 * 1024;
/** Bytes gathered in one event-loop turn for the socket's one write; past that, `write` takes less. */
const STAGE_SIZE = 64 * 1024;

export class NodeTransport implements Transport {
	private socket: net.Socket | undefined;
	private chunks: Buffer[] = [];
	private offset = 0;
	private buffered = 0;
	private paused = false;
	/** Writes are refused until the stage is flushed (it was full) or the socket drains. */
	private blocked = false;
	private generation = 0;
	private handler: TransportHandler | undefined;
	/**
	 * Bytes written wait in stage[start, staged). A flush hands the socket that part as it is (no copy)
	 * and moves `start` past it; the stage is never written there again: once it has too little room
	 * left, a fresh one takes its place (the socket keeps what it was given of the old one).
	 */
	private stage = Buffer.allocUnsafe(STAGE_SIZE);
	private start = 0;
	private staged = 0;
	private flushQueued = false;
	private readonly flushStage = (): void => this.flushStaged();

	open(host: string, port: number, options: TlsOptions | undefined, handler: TransportHandler): void {
		this.reset();
		this.handler = handler;
		const generation = ++this.generation;
		const live = (): boolean => generation === this.generation;
		let failure: Error | undefined;
		const socket = options
			? tls.connect({
				host, port,
				servername: options.serverName ?? (net.isIP(host) ? undefined : host),
				ca: options.ca === undefined ? undefined : typeof options.ca === "string" ? options.ca : Buffer.from(options.ca),
				rejectUnauthorized: !options.insecure,
			})
			: net.connect({ host, port });
		this.socket = socket;
		socket.setNoDelay(true);
		socket.on(options ? "secureConnect" : "connect", () => {
			if (live()) handler.onOpen();
		});
		socket.on("data", (chunk: Buffer) => {
			if (!live()) return;
			this.chunks.push(chunk);
			this.buffered += chunk.length;
			if (this.buffered > HIGH_WATER && !this.paused) {
				this.paused = true;
				socket.pause();
			}
			handler.onReadable();
		});
		socket.on("drain", () => {
			if (!live()) return;
			this.blocked = false;
			handler.onWritable();
		});
		socket.on("error", (error) => {
			failure = error;
		});
		socket.on("close", () => {
			if (!live()) return;
			this.generation++;
			this.socket = undefined;
			handler.onClose(transportError(failure, host, port));
		});
	}

	read(buffer: Uint8Array, offset: number, length: number): number {
		let count = 0;
		while (count < length && this.chunks.length > 0) {
			const chunk = this.chunks[0]!;
			const n = Math.min(length - count, chunk.length - this.offset);
			buffer.set(chunk.subarray(this.offset, this.offset + n), offset + count);
			count += n;
			this.offset += n;
			if (this.offset === chunk.length) {
				this.chunks.shift();
				this.offset = 0;
			}
		}
		this.buffered -= count;
		if (this.paused && this.buffered < HIGH_WATER / 2) {
			this.paused = false;
			this.socket?.resume();
		}
		return count;
	}

	/**
	 * Copies into the stage (the client reuses its buffer at once). The socket gets everything staged
	 * in this event-loop turn as one write, after the turn's I/O callbacks (setImmediate): a burst of
	 * small packets costs one system call, and reading goes on between bursts.
	 */
	write(buffer: Uint8Array, offset: number, length: number): number {
		const socket = this.socket;
		if (!socket || this.blocked || socket.destroyed) return 0;
		let room = STAGE_SIZE - this.staged;
		if (room < length && this.start === this.staged && this.staged > 0) {
			this.stage = Buffer.allocUnsafe(STAGE_SIZE);
			this.start = this.staged = 0;
			room = STAGE_SIZE;
		}
		const n = length < room ? length : room;
		if (n > 0) {
			this.stage.set(buffer.subarray(offset, offset + n), this.staged);
			this.staged += n;
			if (!this.flushQueued) {
				this.flushQueued = true;
				setImmediate(this.flushStage);
			}
		}
		if (n < length) this.blocked = true; // onWritable once the stage is flushed
		return n;
	}

	private flushStaged(): void {
		this.flushQueued = false;
		const socket = this.socket;
		if (!socket || this.staged === this.start || socket.destroyed) return;
		const chunk = this.stage.subarray(this.start, this.staged);
		this.start = this.staged;
		if (!socket.write(chunk)) {
			this.blocked = true; // onWritable at 'drain'
			return;
		}
		if (this.blocked) {
			this.blocked = false;
			this.handler?.onWritable();
		}
	}

	close(): void {
		this.generation++;
		const socket = this.socket;
		const staged = this.staged > this.start ? this.stage.subarray(this.start, this.staged) : undefined;
		this.socket = undefined;
		this.reset();
		if (!socket) return;
		if (staged && !socket.destroyed) socket.write(staged);
		if (socket.writableLength > 0 && !socket.destroyed) {
			// Bytes (a DISCONNECT, say) still queued in Node: let them go out, then close.
			socket.end();
			setTimeout(() => socket.destroy(), 1000).unref();
		}
		else socket.destroy();
	}

	private reset(): void {
		this.chunks = [];
		this.offset = 0;
		this.buffered = 0;
		this.paused = false;
		this.blocked = false;
		// What was handed to a socket may still be queued there: a fresh stage, never that one again.
		if (this.staged > 0) this.stage = Buffer.allocUnsafe(STAGE_SIZE);
		this.start = this.staged = 0;
	}
}

/** OpenSSL's verify codes for a certificate chain that does not lead to a trusted CA. */
const UNTRUSTED = [
	"UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
	"SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT", "CERT_UNTRUSTED", "CERT_SIGNATURE_FAILURE",
];

/** Why a certificate was refused, in plain words ("" when the code is not a certificate check). */
function certificateProblem(code: string, error: Error): string {
	if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
		const name = (error as { host?: unknown }).host;
		return `the broker's certificate does not match the name${typeof name === "string" ? ` "${name}"` : ""} (host, or tls.serverName)`;
	}
	if (UNTRUSTED.indexOf(code) >= 0) return "the broker's certificate is not trusted: no trusted CA (tls.ca) signed it";
	if (code === "CERT_HAS_EXPIRED") return "the broker's certificate has expired";
	if (code === "CERT_NOT_YET_VALID") return "the broker's certificate is not valid yet";
	return "";
}

/** A socket failure as a typed error. */
export function transportError(error: Error | undefined, host: string, port: number): MqttError {
	const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "";
	const where = `${host}:${port}`;
	if (!error) return new MqttError(ErrorCode.CONNECTION_LOST, `the connection to ${where} was closed by the other side`);
	if (code === "ECONNREFUSED") return new MqttError(ErrorCode.CONNECTION_REFUSED, `${where} refused the connection`);
	if (code === "ENOTFOUND" || code === "EAI_AGAIN") return new MqttError(ErrorCode.HOST_NOT_FOUND, `no address for ${host}`);
	if (/CERT|SSL|TLS|SELF_SIGNED|VERIFY|ALTNAME/.test(code) || /certificate|tls|ssl/i.test(error.message)) {
		const problem = certificateProblem(code, error);
		return new MqttError(ErrorCode.TLS_ERROR, `TLS with ${where} failed: ${problem ? `${problem} (${error.message})` : error.message}`);
	}
	return new MqttError(ErrorCode.CONNECTION_LOST, `the connection to ${where} failed: ${error.message}`);
}
