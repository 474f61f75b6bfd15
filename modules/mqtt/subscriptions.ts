// The client's subscriptions, and the SUBSCRIBE and UNSUBSCRIBE requests that wait to be sent or
// acknowledged (MQTT 3.1.1 §3.8-3.11). Which subscription a received topic goes to is decided here,
// on the topic's bytes, without making a string.

import type { QoS } from "./packet.js";
import { topicMatchesBytes } from "./topic.js";
import { utf8Length, writeUtf8 } from "./utf8.js";

/** One subscription: the filter (as string and UTF-8), its QoS, and what the client hangs on it. */
export class SubscriptionEntry<H> {
	/** The latest SUBACK return code for it, or -1 before one came. */
	granted = -1;
	constructor(readonly filter: string, readonly bytes: Uint8Array, public qos: QoS, public handler: H | undefined) {}
}

/** A SUBSCRIBE or an UNSUBSCRIBE for one filter, until its acknowledgement. */
export interface Request {
	readonly kind: "subscribe" | "unsubscribe";
	readonly filter: string;
	/** The QoS asked for (a subscribe; 0 for an unsubscribe). */
	readonly qos: QoS;
	/** The packet identifier it was last sent with (0: never sent). */
	packetId: number;
	/** Sent on this connection, awaiting SUBACK or UNSUBACK. */
	sent: boolean;
	/** Connections closed in a row while it was the only request in flight (see Session's maxAttempts). */
	strikes: number;
}

export class Subscriptions<H> {
	readonly entries: Array<SubscriptionEntry<H>> = [];
	/** In the order they were asked for, which is the order they go out in. */
	readonly requests: Request[] = [];

	/** Subscribes to `filter` (or changes its QoS and handler) and queues the SUBSCRIBE. */
	subscribe(filter: string, qos: QoS, handler: H | undefined): SubscriptionEntry<H> {
		let entry: SubscriptionEntry<H> | undefined;
		const entries = this.entries;
		for (let i = 0; i < entries.length; i++) if (entries[i]!.filter === filter) entry = entries[i];
		if (entry) {
			entry.qos = qos;
			entry.handler = handler;
		}
		else {
			const bytes = new Uint8Array(utf8Length(filter, true));
			writeUtf8(filter, bytes, 0);
			entry = new SubscriptionEntry<H>(filter, bytes, qos, handler);
			entries.push(entry);
		}
		this.requests.push({ kind: "subscribe", filter, qos, packetId: 0, sent: false, strikes: 0 });
		return entry;
	}

	/** Removes the subscription now (its handler is not called again) and queues the UNSUBSCRIBE. */
	unsubscribe(filter: string): void {
		this.forget(filter);
		this.requests.push({ kind: "unsubscribe", filter, qos: 0, packetId: 0, sent: false, strikes: 0 });
	}

	/** Removes the subscription to `filter`, without telling the broker. */
	forget(filter: string): void {
		const entries = this.entries;
		for (let i = entries.length - 1; i >= 0; i--) if (entries[i]!.filter === filter) entries.splice(i, 1);
	}

	/** Records a SUBACK return code for `filter`. */
	granted(filter: string, code: number): void {
		const entries = this.entries;
		for (let i = 0; i < entries.length; i++) if (entries[i]!.filter === filter) entries[i]!.granted = code;
	}

	/** The index of the sent request of `kind` with identifier `id`, or -1. */
	findSent(id: number, kind: Request["kind"]): number {
		const list = this.requests;
		for (let i = 0; i < list.length; i++) {
			const r = list[i]!;
			if (r.sent && r.packetId === id && r.kind === kind) return i;
		}
		return -1;
	}

	/** Does a sent request hold packet identifier `id`? */
	holds(id: number): boolean {
		const list = this.requests;
		for (let i = 0; i < list.length; i++) if (list[i]!.sent && list[i]!.packetId === id) return true;
		return false;
	}

	/** Takes request `r` out of the list. */
	drop(r: Request): void {
		const i = this.requests.indexOf(r);
		if (i >= 0) this.requests.splice(i, 1);
	}

	/** A connection ended: nothing is in flight; every request goes out again on the next one. */
	disconnected(): void {
		const list = this.requests;
		for (let i = 0; i < list.length; i++) list[i]!.sent = false;
	}

	/**
	 * A CONNACK without a session: the broker holds no subscription, so each is requested again (an
	 * UNSUBSCRIBE still pending has nothing left to undo). A request keeps the count of closes it met.
	 * Returns the new request for `follow` (same filter, a subscribe), or undefined.
	 */
	renew(follow: Request | undefined): Request | undefined {
		const old = this.requests.splice(0);
		let followed: Request | undefined;
		const entries = this.entries;
		for (let i = 0; i < entries.length; i++) {
			const filter = entries[i]!.filter;
			const request: Request = { kind: "subscribe", filter, qos: entries[i]!.qos, packetId: 0, sent: false, strikes: 0 };
			for (let j = 0; j < old.length; j++) {
				if (old[j]!.kind !== "subscribe" || old[j]!.filter !== filter) continue;
				request.strikes = old[j]!.strikes;
				if (old[j] === follow) followed = request;
			}
			this.requests.push(request);
		}
		return followed;
	}

	/**
	 * The index of the first subscription from `from` on with a handler whose filter matches the
	 * topic in `buffer[start, end)`, or -1.
	 */
	match(buffer: Uint8Array, start: number, end: number, from: number): number {
		const entries = this.entries;
		for (let i = from; i < entries.length; i++) {
			const s = entries[i]!;
			if (s.handler !== undefined && topicMatchesBytes(s.bytes, s.bytes.length, buffer, start, end)) return i;
		}
		return -1;
	}
}
