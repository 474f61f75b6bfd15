// Transport over node:net and node:tls: received chunks wait in a queue until the client reads
// them into its own buffer; writes report backpressure until the socket drains.

import * as net from "node:net";
import * as tls from "node:tls";
import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import type { TlsOptions, Transport, TransportHandler } from "../../modules/mqtt/host.js";

/** Above this many unread bytes the socket is paused (TCP flow control does the rest). */
const HIGH_WATER = 256 * 1024;

export class NodeTransport implements Transport {
	private socket: net.Socket | undefined;
	private chunks: Buffer[] = [];
	private offset = 0;
	private buffered = 0;
	private paused = false;
	private blocked = false;
	private generation = 0;

	open(host: string, port: number, options: TlsOptions | undefined, handler: TransportHandler): void {
		this.reset();
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

	write(buffer: Uint8Array, offset: number, length: number): number {
		const socket = this.socket;
		if (!socket || this.blocked || socket.destroyed) return 0;
		// The client reuses its buffer at once, so the socket gets a copy.
		if (!socket.write(Buffer.from(buffer.subarray(offset, offset + length)))) this.blocked = true;
		return length;
	}

	close(): void {
		this.generation++;
		const socket = this.socket;
		this.socket = undefined;
		this.reset();
		if (!socket) return;
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
	}
}

/** A socket failure as a typed error. */
export function transportError(error: Error | undefined, host: string, port: number): MqttError {
	const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "";
	const where = `${host}:${port}`;
	if (!error) return new MqttError(ErrorCode.CONNECTION_LOST, `the connection to ${where} was closed by the other side`);
	if (code === "ECONNREFUSED") return new MqttError(ErrorCode.CONNECTION_REFUSED, `${where} refused the connection`);
	if (code === "ENOTFOUND" || code === "EAI_AGAIN") return new MqttError(ErrorCode.HOST_NOT_FOUND, `no address for ${host}`);
	if (/CERT|SSL|TLS|SELF_SIGNED|VERIFY|ALTNAME/.test(code) || /certificate|tls|ssl/i.test(error.message))
		return new MqttError(ErrorCode.TLS_ERROR, `TLS with ${where} failed: ${error.message}`);
	return new MqttError(ErrorCode.CONNECTION_LOST, `the connection to ${where} failed: ${error.message}`);
}
