// Stand-in for the Moddable SDK's `socket` module, enough for its mqtt.js: the callback protocol
// (1 connected, 2 data received) and write/read of ArrayBuffers, allocating nothing per packet.

export interface SocketDictionary {
	host?: string;
	address?: string;
	port?: number;
}

/** The last socket constructed, for the driver (mqtt.js keeps its own in a private place). */
export const sockets: { last: Socket | undefined } = { last: undefined };

export class Socket {
	/** Set by mqtt.js: (1) connected, (2, bytes) data received, (3) sent, < 0 error. */
	callback: ((state: number, value?: number) => void) | undefined;
	readonly host: string;
	readonly port: number;
	bytesWritten = 0;
	writes = 0;
	closed = false;
	/** Bytes waiting to be read: their own whole ArrayBuffer, handed to mqtt.js as is. */
	private staged: ArrayBuffer | undefined;

	constructor(dictionary: SocketDictionary) {
		this.host = dictionary.host ?? dictionary.address ?? "";
		this.port = dictionary.port ?? 0;
		sockets.last = this;
	}

	/** Takes what mqtt.js writes (one ArrayBuffer per packet); returns the room left, as the SDK's does. */
	write(data: ArrayBuffer): number {
		this.bytesWritten += data.byteLength;
		this.writes++;
		return 4096;
	}

	/** read(ArrayBuffer): everything waiting. The SDK's socket allocates a new buffer here; this one reuses the staged one. */
	read(type: ArrayBufferConstructor): ArrayBuffer | undefined {
		if (type !== ArrayBuffer) throw new Error("socket stub: only read(ArrayBuffer) is implemented");
		const staged = this.staged;
		this.staged = undefined;
		return staged;
	}

	close(): void {
		this.closed = true;
	}

	// ---- the driver's side ---------------------------------------------------------------

	/** The connection is up: mqtt.js sends CONNECT. */
	open(): void {
		this.callback!(1);
	}

	/** Hands `bytes` (an ArrayBuffer holding exactly one or more whole packets) to mqtt.js. */
	receive(bytes: ArrayBuffer): void {
		this.staged = bytes;
		this.callback!(2, bytes.byteLength);
	}
}
