// One manual time line shared by several clocks (the device and its client each take their own):
// advancing it fires the due timers of every clock in deadline order. Platform-free, so XS runs it.

import type { Clock } from "../../modules/mqtt/host.js";

/** Callbacks run before a run of the time line gives up: a timer that re-arms itself at 0 ms forever. */
const RUNAWAY = 1_000_000;

export class TimeBase {
	time: number;
	readonly clocks: SharedClock[] = [];
	/** Work due "now" (a fake network's deliveries): runs before any later timer fires. */
	private readonly deferred: Array<() => void> = [];
	private sequence = 0;

	constructor(start = 1_000) {
		this.time = start;
	}

	now(): number {
		return this.time;
	}

	/** A new clock on this time line. */
	clock(): SharedClock {
		const c = new SharedClock(this);
		this.clocks.push(c);
		return c;
	}

	/** Queues `work` to run at the current time, after what is running now (like a network event). */
	defer(work: () => void): void {
		this.deferred.push(work);
	}

	/** Deferred work still queued. */
	get queued(): number {
		return this.deferred.length;
	}

	/** Runs deferred work and the timers due at the current time, until nothing is left to run now. */
	settle(): void {
		this.runUntil(this.time);
	}

	/** Moves time forward by `ms`, firing every timer that falls due (in deadline order, ties in arming order). */
	advance(ms: number): void {
		if (!(ms >= 0)) throw new Error(`time only moves forward (advance ${ms})`);
		this.runUntil(this.time + ms);
	}

	/** Moves time to `at` (absolute), firing what falls due. */
	advanceTo(at: number): void {
		this.advance(at - this.time);
	}

	/** Moves time to the earliest armed deadline and runs it (and what follows at that moment); returns the time that passed, or -1 when nothing is armed. */
	next(): number {
		this.settle();
		const c = this.earliest(Infinity);
		if (!c) return -1;
		const passed = c.deadline - this.time;
		this.runUntil(c.deadline);
		return passed;
	}

	/** The earliest armed deadline of any clock, or -1. */
	nextDeadline(): number {
		const c = this.earliest(Infinity);
		return c ? c.deadline : -1;
	}

	/** @internal An arming order number, so that timers due at the same time fire in the order armed. */
	ticket(): number {
		return ++this.sequence;
	}

	private earliest(end: number): SharedClock | undefined {
		let best: SharedClock | undefined;
		for (const c of this.clocks) {
			if (c.deadline < 0 || c.deadline > end) continue;
			if (!best || c.deadline < best.deadline || (c.deadline === best.deadline && c.ticket < best.ticket)) best = c;
		}
		return best;
	}

	private runUntil(end: number): void {
		for (let steps = 0; ; steps++) {
			if (steps > RUNAWAY) throw new Error(`the time line ran ${RUNAWAY} callbacks without settling (a timer re-arming at 0 ms?)`);
			if (this.deferred.length > 0) {
				this.deferred.shift()!();
				continue;
			}
			const c = this.earliest(end);
			if (!c) break;
			if (c.deadline > this.time) this.time = c.deadline;
			c.fire();
		}
		this.time = end;
	}
}

/** A Clock on a shared TimeBase: one re-armable timer, as the Clock interface asks. */
export class SharedClock implements Clock {
	/** Absolute time the timer falls due, or -1 when disarmed. */
	deadline = -1;
	ticket = 0;
	/** Times armed, and times the timer fired. */
	arms = 0;
	fired = 0;
	private callback: (() => void) | undefined;

	constructor(readonly base: TimeBase) {}

	now(): number {
		return this.base.time;
	}

	arm(delay: number, callback: () => void): void {
		if (!(delay >= 0)) throw new Error(`a clock armed with delay ${delay}`);
		this.deadline = this.base.time + delay;
		this.ticket = this.base.ticket();
		this.callback = callback;
		this.arms++;
	}

	disarm(): void {
		this.deadline = -1;
		this.callback = undefined;
	}

	get armed(): boolean {
		return this.deadline >= 0;
	}

	/** @internal Fires the timer now (the TimeBase calls this when it falls due). */
	fire(): void {
		const cb = this.callback!;
		this.deadline = -1;
		this.callback = undefined;
		this.fired++;
		cb();
	}
}
