// XS side: a Clock whose timer lives in the Node parent; time is the parent's clock as stamped on
// the latest event (XS runs each event to completion, so time does not move within one).

import type { Clock } from "../../modules/mqtt/host.js";
import { EVENT_TIMER, listen, now, Request, request, text } from "./bridge.js";

let nextId = 1;
const clocks: XsClock[] = [];

listen((kind, payload) => {
	if (kind !== EVENT_TIMER) return;
	const id = Number(text(payload));
	for (let i = 0; i < clocks.length; i++) if (clocks[i]!.id === id) clocks[i]!.fire();
});

export class XsClock implements Clock {
	readonly id = nextId++;
	private callback: (() => void) | undefined;
	private armed = false;

	constructor() {
		clocks.push(this);
	}

	now(): number {
		return now();
	}

	arm(delay: number, callback: () => void): void {
		this.callback = callback;
		this.armed = true;
		request(Request.ARM, `${this.id},${delay < 0 ? 0 : Math.ceil(delay)}`);
	}

	disarm(): void {
		if (!this.armed) return;
		this.armed = false;
		request(Request.DISARM, String(this.id));
	}

	fire(): void {
		if (!this.armed) return;
		this.armed = false;
		this.callback?.();
	}
}
