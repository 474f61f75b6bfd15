// The seam between the client and a platform: a Transport for bytes, a Clock for time, and an
// optional Store for state that must outlive a reboot. Hosts (hosts/<platform>/) implement these.

import type { MqttError } from "./errors.js";

/** TLS options; hosts map them to their platform (Moddable: a CA resource; Node: PEM text). */
export interface TlsOptions {
	/** Trusted CA certificate(s): PEM text (Node) or a resource name (Moddable). */
	ca?: string | Uint8Array;
	/** The name the certificate must carry; defaults to the host. */
	serverName?: string;
	/** Skip certificate checks (tests only; never in the field). */
	insecure?: boolean;
}

/** What a transport tells the client. Every callback comes from the host's event loop. */
export interface TransportHandler {
	/** The connection is up (TCP, and TLS when asked, complete). */
	onOpen(): void;
	/** Bytes are waiting: call `read` until it returns 0. */
	onReadable(): void;
	/** Room to write again after `write` accepted less than it was given. */
	onWritable(): void;
	/** The connection failed or was lost. Not called after `close()`. */
	onClose(error: MqttError): void;
}

export interface Transport {
	/** Starts connecting; the handler hears `onOpen` or `onClose`. */
	open(host: string, port: number, tls: TlsOptions | undefined, handler: TransportHandler): void;
	/** Copies up to `length` received bytes into `buffer` at `offset`; returns the count (0: none now). */
	read(buffer: Uint8Array, offset: number, length: number): number;
	/** Takes up to `length` bytes from `buffer` at `offset`; returns how many it took (0: wait for onWritable). */
	write(buffer: Uint8Array, offset: number, length: number): number;
	/** Closes now; no callback follows. */
	close(): void;
}

/** Monotonic milliseconds and one re-armable timer. */
export interface Clock {
	now(): number;
	/** Calls `callback` once, `delay` ms from now, replacing any earlier arming. */
	arm(delay: number, callback: () => void): void;
	disarm(): void;
}

/**
 * A small fixed-size persistent area (Moddable: preferences or flash; Node: a file; tests: memory)
 * that holds the in-flight QoS 1/2 state, so that a reboot loses nothing.
 */
export interface Store {
	/** The bytes saved last, or undefined when there are none. */
	load(): Uint8Array | undefined;
	/**
	 * Replaces what is saved with bytes [0, length) of `data`, whole or not at all where the medium
	 * allows. `data` is the client's own buffer, written again for the next save: copy what you keep.
	 * Called synchronously from the client (on each QoS 1/2 publish and completion); it may throw.
	 */
	save(data: Uint8Array, length: number): void;
}
