// XS side: a Transport whose socket lives in the Node parent. Opening, reading and writing are
// synchronous requests; readiness, room and closing arrive as events for the current socket only.

import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import type { ErrorCode as Code } from "../../modules/mqtt/errors.js";
import type { TlsOptions, Transport, TransportHandler } from "../../modules/mqtt/host.js";
import { EVENT_CLOSED, EVENT_OPEN, EVENT_READABLE, EVENT_WRITABLE, listen, Request, request, requestText, text } from "./bridge.js";

export class XsTransport implements Transport {
	private serial = -1;
	private handler: TransportHandler | undefined;

	constructor() {
		listen((kind, payload) => this.event(kind, payload));
	}

	open(host: string, port: number, tls: TlsOptions | undefined, handler: TransportHandler): void {
		this.handler = handler;
		this.serial = Number(requestText(Request.OPEN, JSON.stringify({ host, port, tls: tls ?? null })));
	}

	read(buffer: Uint8Array, offset: number, length: number): number {
		if (this.serial < 0 || length <= 0) return 0;
		const bytes = request(Request.READ, String(length));
		buffer.set(bytes, offset);
		return bytes.length;
	}

	write(buffer: Uint8Array, offset: number, length: number): number {
		if (this.serial < 0) return 0;
		return Number(requestText(Request.WRITE, buffer.subarray(offset, offset + length)));
	}

	close(): void {
		if (this.serial >= 0) request(Request.CLOSE);
		this.serial = -1;
		this.handler = undefined;
	}

	private event(kind: number, payload: Uint8Array): void {
		if (kind !== EVENT_OPEN && kind !== EVENT_READABLE && kind !== EVENT_WRITABLE && kind !== EVENT_CLOSED) return;
		const fields = text(payload).split("\n");
		if (Number(fields[0]) !== this.serial) return;
		const handler = this.handler;
		if (!handler) return;
		if (kind === EVENT_OPEN) handler.onOpen();
		else if (kind === EVENT_READABLE) handler.onReadable();
		else if (kind === EVENT_WRITABLE) handler.onWritable();
		else {
			this.serial = -1;
			this.handler = undefined;
			const code = (fields[1] || ErrorCode.CONNECTION_LOST) as Code;
			handler.onClose(new MqttError(code, fields.slice(2).join("\n")));
		}
	}
}
