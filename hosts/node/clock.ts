// Clock over Node: monotonic milliseconds from performance.now(), one re-armable setTimeout.

import { performance } from "node:perf_hooks";
import type { Clock } from "../../modules/mqtt/host.js";

export class NodeClock implements Clock {
	private timer: NodeJS.Timeout | undefined;

	now(): number {
		return Math.floor(performance.now());
	}

	arm(delay: number, callback: () => void): void {
		if (this.timer) clearTimeout(this.timer);
		this.timer = setTimeout(() => {
			this.timer = undefined;
			callback();
		}, delay);
	}

	disarm(): void {
		if (this.timer) clearTimeout(this.timer);
		this.timer = undefined;
	}
}
