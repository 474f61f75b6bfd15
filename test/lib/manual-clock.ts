// Hand-driven time: a ManualClock is the client's Clock seam for tests that control every
// millisecond. Each clock lives on a TimeBase, a time line it may share with other clocks (the device
// and its client each take their own): advancing it fires the due timers of every clock in deadline
// order. A clock made alone gets a time line of its own. Platform-free, so XS runs it; the time line
// allocates nothing as it moves.

import type { Clock } from "../../modules/mqtt/host.js";

/** Callbacks run before a run of the time line gives up: a timer that re-arms itself at 0 ms forever. */
const RUNAWAY = 1_000_000;

export class TimeBase {
	time: number;
	readonly clocks: ManualClock[] = [];
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
	clock(): ManualClock {
		return new ManualClock(this);
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
		this.advance(0);
	}

	/**
	 * Moves time forward by `ms`, firing every timer that falls due (in deadline order, ties in arming
	 * order); deferred work runs first at each moment. Timer callbacks are called from this frame
	 * directly, which keeps short the stack that an error made in one records.
	 */
	advance(ms: number): void {
		if (!(ms >= 0)) throw new Error(`time only moves forward (advance ${ms})`);
		const end = this.time + ms;
		for (let steps = 0; ; steps++) {
			if (steps > RUNAWAY) throw new Error(`the time line ran ${RUNAWAY} callbacks without settling (a timer re-arming at 0 ms?)`);
			if (this.deferred.length > 0) {
				this.deferred.shift()!();
				continue;
			}
			const c = this.earliest(end);
			if (!c) break;
			if (c.deadline > this.time) this.time = c.deadline;
			c.take()();
		}
		this.time = end;
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
		this.advance(passed);
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

	private earliest(end: number): ManualClock | undefined {
		let best: ManualClock | undefined;
		const clocks = this.clocks;
		for (let i = 0; i < clocks.length; i++) {
			const c = clocks[i]!;
			if (c.deadline < 0 || c.deadline > end) continue;
			if (!best || c.deadline < best.deadline || (c.deadline === best.deadline && c.ticket < best.ticket)) best = c;
		}
		return best;
	}
}

/** A Clock whose time moves only when told: one re-armable timer, as the Clock interface asks. */
export class ManualClock implements Clock {
	/** Absolute time the timer falls due, or -1 when disarmed. */
	deadline = -1;
	ticket = 0;
	/** Times armed, and times the timer fired. */
	arms = 0;
	fired = 0;
	private callback: (() => void) | undefined;

	/** A clock on `base`, shared with the other clocks on it; by default on a time line of its own. */
	constructor(readonly base: TimeBase = new TimeBase()) {
		base.clocks.push(this);
	}

	now(): number {
		return this.base.time;
	}

	/** The time line's current time. */
	get time(): number {
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

	/** Moves the time line forward by `ms`, firing every timer that falls due (this one may re-arm). */
	advance(ms: number): void {
		this.base.advance(ms);
	}

	/** Moves the time line to this clock's deadline, firing what falls due; returns the time that passed (0 when disarmed). */
	fireNext(): number {
		if (this.deadline < 0) return 0;
		const passed = Math.max(0, this.deadline - this.base.time);
		this.base.advance(passed);
		return passed;
	}

	/** @internal The timer falls due: disarms it and returns its callback, for the TimeBase to call. */
	take(): () => void {
		const cb = this.callback!;
		this.deadline = -1;
		this.callback = undefined;
		this.fired++;
		return cb;
	}
}
