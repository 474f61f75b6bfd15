// Stand-in for the Moddable SDK's `time` module: a tick count the driver sets, so that runs are
// deterministic, and `delta` as the SDK defines it.

let now = 1_000;

export default class Time {
	static get ticks(): number {
		return now;
	}

	static delta(start: number, end: number = now): number {
		return end - start;
	}
}

export function setTicks(ticks: number): void {
	now = ticks;
}
