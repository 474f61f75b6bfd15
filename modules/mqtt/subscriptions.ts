// The client's subscriptions, and the SUBSCRIBE and UNSUBSCRIBE requests that wait to be sent or
// acknowledged (MQTT 3.1.1 §3.8-3.11). Which subscription a received topic goes to is decided here,
// on the topic's bytes, without making a string.

import type { QoS } from "./packet.js";
import { Property } from "./properties.js";
import type { Properties } from "./properties.js";
import { topicMatchesBytes } from "./topic.js";
import { utf8Length, writeUtf8 } from "./utf8.js";

/**
 * MQTT 5.0 subscription options (5.0 §3.8.3.1) and SUBSCRIBE properties (§3.8.2.1): `noLocal`, not to
 * be sent one's own messages; `retainAsPublished`, forwarded with the retain flag they were published
 * with; `retainHandling` 0, retained messages at subscribe, 1, only for a new subscription, 2, never;
 * `subscriptionIdentifier`, a number (1..268,435,455) the broker puts in each message it forwards
 * for this subscription (`message.properties`).
 */
export interface SubscribeOptions {
	noLocal?: boolean;
	retainAsPublished?: boolean;
	retainHandling?: 0 | 1 | 2;
	subscriptionIdentifier?: number;
	userProperties?: ReadonlyArray<readonly [string, string]>;
}

/** One subscription: the filter (as string and UTF-8), its QoS, and what the client hangs on it. */
export class SubscriptionEntry<H> {
	/** The latest SUBACK return code for it, or -1 before one came. */
	granted = -1;
	/**
	 * `bytes`: what a topic is matched against, the UTF-8 of the filter; for a shared subscription
	 * (`$share/<name>/<filter>`, MQTT 5.0 §4.8.2, also mosquitto's in 3.1.1), of `<filter>` alone.
	 */
	constructor(readonly filter: string, readonly bytes: Uint8Array, public qos: QoS, public handler: H | undefined, public options: SubscribeOptions | undefined) {}
}

/** Where the filter proper starts in a shared subscription's `$share/<name>/<filter>`, else 0. */
export function sharedFilterStart(filter: string): number {
	if (!filter.startsWith("$share/")) return 0;
	const slash = filter.indexOf("/", 7);
	return slash < 0 ? 0 : slash + 1;
}

/** A SUBSCRIBE or an UNSUBSCRIBE for one filter, until its acknowledgement. */
export interface Request {
	readonly kind: "subscribe" | "unsubscribe";
	readonly filter: string;
	/** The QoS asked for (a subscribe; 0 for an unsubscribe). */
	readonly qos: QoS;
	/** MQTT 5.0 options of a subscribe (dropped if the session falls back to 3.1.1). */
	options: SubscribeOptions | undefined;
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
	subscribe(filter: string, qos: QoS, handler: H | undefined, options: SubscribeOptions | undefined = undefined): SubscriptionEntry<H> {
		let entry: SubscriptionEntry<H> | undefined;
		const entries = this.entries;
		for (let i = 0; i < entries.length; i++) if (entries[i]!.filter === filter) entry = entries[i];
		if (entry) {
			entry.qos = qos;
			entry.handler = handler;
			entry.options = options;
		}
		else {
			const matched = filter.slice(sharedFilterStart(filter));
			const bytes = new Uint8Array(utf8Length(matched, true));
			writeUtf8(matched, bytes, 0);
			entry = new SubscriptionEntry<H>(filter, bytes, qos, handler, options);
			entries.push(entry);
		}
		this.requests.push({ kind: "subscribe", filter, qos, options, packetId: 0, sent: false, strikes: 0 });
		return entry;
	}

	/** Removes the subscription now (its handler is not called again) and queues the UNSUBSCRIBE. */
	unsubscribe(filter: string): void {
		this.forget(filter);
		this.requests.push({ kind: "unsubscribe", filter, qos: 0, options: undefined, packetId: 0, sent: false, strikes: 0 });
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
			const request: Request = { kind: "subscribe", filter, qos: entries[i]!.qos, options: entries[i]!.options, packetId: 0, sent: false, strikes: 0 };
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

	/**
	 * MQTT 5.0: may subscription `i`, whose filter matches, take a message with `properties`? One with
	 * a subscription identifier takes only the messages that carry it (5.0 §3.3.4: a message forwarded
	 * for a subscription carries its identifier, MQTT-3.3.4-3): mosquitto sends a 5.0 client one copy
	 * per matching subscription, each with its own identifier, and each copy is for that handler alone.
	 * One without an identifier takes every message. The client asks only for 5.0 messages (3.1.1 ones carry no properties).
	 */
	takes(i: number, properties: Properties): boolean {
		const id = this.entries[i]!.options?.subscriptionIdentifier;
		return id === undefined || properties.includes(Property.SUBSCRIPTION_IDENTIFIER, id);
	}
}
