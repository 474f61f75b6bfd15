// Waiting on events with a deadline: whoever records something calls notify(), and each waiter
// re-checks its condition then, so tests wait for what they need instead of sleeping.

export class TimeoutError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "TimeoutError";
	}
}

interface Waiter {
	condition: () => boolean;
	resolve: () => void;
}

export class Signal {
	private readonly waiters = new Set<Waiter>();

	/** Something changed: resolves every waiter whose condition now holds. */
	notify(): void {
		this.waiters.forEach((w) => {
			if (w.condition()) {
				this.waiters.delete(w);
				w.resolve();
			}
		});
	}

	/**
	 * Resolves when `condition()` holds (checked now and at each notify); rejects after `timeout` ms
	 * naming `what`. `pollEvery` (ms) also checks on a timer, for state that no event announces
	 * (counters such as client.stats).
	 */
	until(condition: () => boolean, timeout: number, what: string, pollEvery = 0): Promise<void> {
		if (condition()) return Promise.resolve();
		return new Promise<void>((resolve, reject) => {
			const poll = pollEvery > 0 ? setInterval(() => this.notify(), pollEvery) : undefined;
			const waiter: Waiter = {
				condition,
				resolve: () => {
					clearTimeout(timer);
					clearInterval(poll);
					resolve();
				},
			};
			const timer = setTimeout(() => {
				this.waiters.delete(waiter);
				clearInterval(poll);
				reject(new TimeoutError(`timed out after ${timeout} ms waiting for ${what}`));
			}, timeout);
			this.waiters.add(waiter);
		});
	}
}

/** A fixed pause: only where a test must show that something does NOT happen within a window. */
export function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}
