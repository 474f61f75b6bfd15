// A scripted transport: the client's network seam, for tests that must control every byte (with a
// ManualClock for every millisecond). Platform-free, so the same tests run inside XS.

import type { MqttError } from "../../modules/mqtt/errors.js";
import type { Clock, TlsOptions, Transport, TransportHandler } from "../../modules/mqtt/host.js";
import { bytes, hex } from "./check.js";

export class FakeTransport implements Transport {
	handler: TransportHandler | undefined;
	opens: Array<{ host: string; port: number; tls: TlsOptions | undefined; at: number }> = [];
	written: number[] = [];
	closes = 0;
	/** Bytes the next writes may take in total (Infinity: all). */
	writeRoom = Infinity;
	private incoming: number[] = [];
	constructor(private readonly clock: Clock) {}

	open(host: string, port: number, tls: TlsOptions | undefined, handler: TransportHandler): void {
		this.handler = handler;
		this.incoming = [];
		this.opens.push({ host, port, tls, at: this.clock.now() });
	}
	read(buffer: Uint8Array, offset: number, length: number): number {
		const n = Math.min(length, this.incoming.length);
		for (let i = 0; i < n; i++) buffer[offset + i] = this.incoming[i]!;
		this.incoming.splice(0, n);
		return n;
	}
	write(buffer: Uint8Array, offset: number, length: number): number {
		const n = Math.min(length, this.writeRoom);
		for (let i = 0; i < n; i++) this.written.push(buffer[offset + i]!);
		this.writeRoom -= n;
		return n;
	}
	close(): void {
		this.closes++;
		this.handler = undefined;
	}

	// ---- the test's side ----
	accept(): void {
		this.handler!.onOpen();
	}
	deliverHex(text: string): void {
		const b = bytes(text);
		for (let i = 0; i < b.length; i++) this.incoming.push(b[i]!);
		this.handler!.onReadable();
	}
	/** The other side is gone. */
	lose(error: MqttError): void {
		const h = this.handler!;
		this.handler = undefined;
		h.onClose(error);
	}
	/** Room again after backpressure. */
	unblock(room = Infinity): void {
		this.writeRoom = room;
		this.handler!.onWritable();
	}
	/** Everything written since the last call, as hex. */
	sent(): string {
		const text = hex(Uint8Array.from(this.written));
		this.written = [];
		return text;
	}
	get unread(): number {
		return this.incoming.length;
	}
}
