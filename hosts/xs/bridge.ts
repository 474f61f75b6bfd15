// XS side of the bridge to the Node parent: requests go out through xsnap's synchronous
// issueCommand; events come in through the global handleCommand, each stamped with the time.

import { ANSWER_OK } from "./protocol.js";
import type { Request } from "./protocol.js";

export { EVENT_CLOSED, EVENT_OPEN, EVENT_READABLE, EVENT_SHUTDOWN, EVENT_TIME, EVENT_TIMER, EVENT_WRITABLE, Request } from "./protocol.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The parent's clock at the latest event: XS runs synchronously within one event. */
let time = (globalThis as { xsBootTime?: number }).xsBootTime ?? 0;

export function now(): number {
	return time;
}

/**
 * Sends a request (protocol.ts) with a text or bytes; returns the answer's bytes. Throws when the
 * parent could not serve it, with the parent's reason, rather than taking the reason for an answer.
 */
export function request(op: Request, body: string | Uint8Array = ""): Uint8Array {
	const payload = typeof body === "string" ? encoder.encode(body) : body;
	const message = new Uint8Array(1 + payload.length);
	message[0] = op.charCodeAt(0);
	message.set(payload, 1);
	const answer = new Uint8Array(issueCommand(message.buffer));
	if (answer[0] !== ANSWER_OK) throw new Error(`the host could not serve request "${op}": ${decoder.decode(answer.subarray(1))}`);
	return answer.subarray(1);
}

export function requestText(op: Request, body: string | Uint8Array = ""): string {
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
