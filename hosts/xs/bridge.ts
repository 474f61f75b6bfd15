// XS side of the bridge to the Node parent: requests go out through xsnap's synchronous
// issueCommand; events come in through the global handleCommand, each stamped with the time.

/** Parent → XS events (first byte), followed by the time (float64) and a payload. */
export const EVENT_OPEN = 0x4F;      // 'O' serial
export const EVENT_READABLE = 0x52;  // 'R' serial
export const EVENT_WRITABLE = 0x57;  // 'W' serial
export const EVENT_CLOSED = 0x43;    // 'C' serial, code, message
export const EVENT_TIMER = 0x54;     // 'T' timer id
export const EVENT_SHUTDOWN = 0x53;  // 'S'
export const EVENT_TIME = 0x4E;      // 'N' (only the time)

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The parent's clock at the latest event: XS runs synchronously within one event. */
let time = (globalThis as { xsBootTime?: number }).xsBootTime ?? 0;

export function now(): number {
	return time;
}

/** Sends a request: one letter and a text or bytes; returns the answer's bytes. */
export function request(op: string, body: string | Uint8Array = ""): Uint8Array {
	const payload = typeof body === "string" ? encoder.encode(body) : body;
	const message = new Uint8Array(1 + payload.length);
	message[0] = op.charCodeAt(0);
	message.set(payload, 1);
	return new Uint8Array(issueCommand(message.buffer));
}

export function requestText(op: string, body: string | Uint8Array = ""): string {
	return decoder.decode(request(op, body));
}

export type EventHandler = (kind: number, payload: Uint8Array) => void;
const handlers: EventHandler[] = [];

/** Registers a listener for parent events. */
export function listen(handler: EventHandler): void {
	handlers.push(handler);
}

export function text(bytes: Uint8Array): string {
	return decoder.decode(bytes);
}

(globalThis as unknown as { handleCommand: (message: ArrayBuffer) => ArrayBuffer }).handleCommand = (message: ArrayBuffer): ArrayBuffer => {
	const bytes = new Uint8Array(message);
	time = new DataView(message).getFloat64(1, true);
	const payload = bytes.subarray(9);
	for (let i = 0; i < handlers.length; i++) handlers[i]!(bytes[0]!, payload);
	return new ArrayBuffer(0);
};
