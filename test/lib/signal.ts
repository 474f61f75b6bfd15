// Waiting on events with a deadline: whoever records something calls notify(), and each waiter
// re-checks its condition then, so tests wait for what they need instead of sleeping. State that no
// event announces is polled with waitFor.

export class TimeoutError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "TimeoutError";
	}
}

/** What a wait is for, in its timeout message: text, or a function that says it when the time is up. */
export type What = string | (() => string);

function say(what: What): string {
	return typeof what === "string" ? what : what();
}

interface Waiter {
	condition: () => boolean;
	resolve: () => void;
	reject: (error: Error) => void;
}

export class Signal {
	private readonly waiters = new Set<Waiter>();
	private failure: Error | undefined;

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
	 * What is waited for can no longer come (a connection failed): every wait, pending or later,
	 * whose condition does not already hold rejects with `error`. The first failure is the one kept.
	 */
	fail(error: Error): void {
		if (this.failure) return;
		this.failure = error;
		this.waiters.forEach((w) => {
			this.waiters.delete(w);
			w.reject(error);
		});
	}

	/**
	 * Resolves when `condition()` holds (checked now and at each notify); rejects after `timeout` ms
	 * naming `what`, or at `fail`. `pollEvery` (ms) also checks on a timer, for state that no event
	 * announces (counters such as client.stats).
	 */
	until(condition: () => boolean, timeout: number, what: What, pollEvery = 0): Promise<void> {
		if (condition()) return Promise.resolve();
		if (this.failure) return Promise.reject(this.failure);
		return new Promise<void>((resolve, reject) => {
			const poll = pollEvery > 0 ? setInterval(() => this.notify(), pollEvery) : undefined;
			const settle = (): void => {
				clearTimeout(timer);
				clearInterval(poll);
			};
			const waiter: Waiter = {
				condition,
				resolve: () => {
					settle();
					resolve();
				},
				reject: (error) => {
					settle();
					reject(error);
				},
			};
			const timer = setTimeout(() => {
				this.waiters.delete(waiter);
				clearInterval(poll);
				reject(new TimeoutError(`timed out after ${timeout} ms waiting for ${say(what)}`));
			}, timeout);
			this.waiters.add(waiter);
		});
	}
}

/**
 * Polls `condition` every `every` ms until it holds; rejects after `timeout` ms naming `what` (a
 * TimeoutError), or with what the condition threw. For state that no event announces (a file, a
 * process's memory). The condition may be async; it is never checked twice at once.
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeout: number, what: What, every = 20): Promise<void> {
	const deadline = performance.now() + timeout;
	while (!(await condition())) {
		if (performance.now() > deadline) throw new TimeoutError(`timed out after ${timeout} ms waiting for ${say(what)}`);
		await new Promise((resolve) => setTimeout(resolve, every));
	}
}

/**
 * A fixed pause: only where time must pass on purpose (to show that something does NOT happen
 * within a window, or to keep a broker down for a while), never to wait for something to happen.
 */
export function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}
