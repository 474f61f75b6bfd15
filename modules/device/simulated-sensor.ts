// A temperature/humidity sensor for the simulator and the XS host: values drift plausibly (a slow
// daily swing, a random walk, a little noise), deterministic for a given seed.

import type { Reading, Sensor } from "./host.js";

export class SimulatedSensor implements Sensor {
	readonly name = "simulated";
	private state: number;
	private drift = 0;
	/** Set to make the next reads fail, as a disconnected part would. */
	failing = false;

	constructor(private readonly uptime: () => number, seed = 0x2545F491) {
		this.state = seed >>> 0 || 1;
	}

	read(): Reading {
		if (this.failing) throw new Error("the simulated sensor does not answer");
		const hours = this.uptime() / 3_600_000;
		this.drift = Math.max(-2, Math.min(2, this.drift + (this.random() - 0.5) * 0.2));
		const temperature = 21 + 2.5 * Math.sin((hours / 24) * 2 * Math.PI) + this.drift + (this.random() - 0.5) * 0.1;
		const humidity = 45 - 1.5 * this.drift - 4 * Math.sin((hours / 24) * 2 * Math.PI) + (this.random() - 0.5) * 0.5;
		return { temperature: round(temperature, 2), humidity: round(Math.max(0, Math.min(100, humidity)), 1) };
	}

	private random(): number {
		let x = this.state;
		x ^= x << 13; x >>>= 0;
		x ^= x >>> 17;
		x ^= x << 5; x >>>= 0;
		this.state = x;
		return x / 4294967296;
	}
}

function round(value: number, places: number): number {
	const f = Math.pow(10, places);
	return Math.round(value * f) / f;
}
