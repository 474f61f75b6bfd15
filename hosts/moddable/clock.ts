// Clock over the SDK: milliseconds from Time.ticks made monotonic across its 32-bit wrap, and one
// one-shot Timer per arming. (Re-scheduling a repeating timer from inside its own callback leaves
// a second timer running on the SDK's Linux simulator; arming is rare, not per message.)

import Time from "time";
import Timer from "timer";
import type { Clock } from "../../modules/mqtt/host.js";

export class ModdableClock implements Clock {
	private timer: Timer | undefined;
	private callback: (() => void) | undefined;
	private last = Time.ticks;
	private elapsed = 0;
	private readonly fire = (): void => {
		this.timer = undefined;
		this.callback?.();
	};

	now(): number {
		const t = Time.ticks;
		this.elapsed += (t - this.last) >>> 0;
		this.last = t;
		return this.elapsed;
	}

	arm(delay: number, callback: () => void): void {
		this.callback = callback;
		if (this.timer) Timer.clear(this.timer);
		this.timer = Timer.set(this.fire, delay < 0 ? 0 : delay);
	}

	disarm(): void {
		if (this.timer) Timer.clear(this.timer);
		this.timer = undefined;
	}
}
