// Stand-in for the Moddable SDK's `timer` module: timers are recorded, never run by themselves;
// the driver fires the one-shot ones (mqtt.js defers its callbacks, onReady among them, to one).

export type TimerCallback = (id: TimerId) => void;

export class TimerId {
	cleared = false;
	constructor(public callback: TimerCallback, public interval: number) {}
}

const pending: TimerId[] = [];

export default class Timer {
	static set(callback: TimerCallback, _delay = 0, repeat = 0): TimerId {
		const id = new TimerId(callback, repeat);
		pending.push(id);
		return id;
	}

	static repeat(callback: TimerCallback, interval: number): TimerId {
		const id = new TimerId(callback, interval);
		pending.push(id);
		return id;
	}

	static schedule(id: TimerId, _delay: number, repeat = 0): void {
		id.interval = repeat;
		if (pending.indexOf(id) < 0) pending.push(id);
	}

	static clear(id: TimerId | undefined): void {
		if (!id) return;
		id.cleared = true;
		const i = pending.indexOf(id);
		if (i >= 0) pending.splice(i, 1);
	}

	static delay(_ms: number): void {}
}

/** Runs the pending one-shot timers once (repeating ones stay recorded); returns how many ran. */
export function fireTimers(): number {
	let ran = 0;
	for (let i = 0; i < pending.length; ) {
		const id = pending[i]!;
		if (id.interval > 0) {
			i++;
			continue;
		}
		pending.splice(i, 1);
		id.callback(id);
		ran++;
	}
	return ran;
}

/** Timers recorded and not cleared (repeating ones included). */
export function pendingTimers(): number {
	return pending.length;
}
