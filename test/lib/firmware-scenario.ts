// The device firmware's end-to-end scenario against a real broker, for any host that can run it (a
// "launcher"): online status, telemetry rate and fields, interval and read commands, the will.

import * as assert from "node:assert/strict";
import { startBroker, HOST } from "./broker.js";
import type { Broker } from "./broker.js";
import { Peer } from "./peers.js";
import { Signal, TimeoutError } from "./signal.js";

/** What the firmware is started with (manifest config keys; a launcher passes them all on). */
export interface FirmwareConfig {
	mqttHost: string;
	mqttPort: number;
	deviceId: string;
	topicPrefix: string;
	telemetryInterval: number;
	keepAlive: number;
	mqttUser?: string;
	mqttPassword?: string;
}

/** MQTT credentials (none: anonymous). */
export interface Login {
	username?: string;
	password?: string;
}

/** A broker the scenario runs against, other than the default (mosquitto, else aedes). */
export interface ScenarioBroker {
	/** "RabbitMQ 3.10.8" */
	readonly version: string;
	readonly port: number;
	/** What the device and the watching clients log in with. */
	readonly login: Login;
	stop(): Promise<void>;
}

export interface RunningFirmware {
	/** Ends it the ordinary way and releases everything it used; safe to call again, and after kill(). */
	stop(): Promise<void>;
	/** Ends it abruptly (SIGKILL): no DISCONNECT, so the broker must publish the will. */
	kill(): Promise<void>;
	/** Everything it printed so far. */
	output(): string;
}

export interface FirmwareLauncher {
	/** Says where the firmware runs ("the Moddable simulator (mcsim)"). */
	readonly name: string;
	/** Builds (when needed) and starts the firmware; resolves once it runs, not once it is connected. */
	start(config: FirmwareConfig): Promise<RunningFirmware>;
}

export interface ScenarioOptions {
	/** Time for start(), a build included (default 150 s). */
	startTimeout?: number;
	/** Time from start() to the status "online" (default 30 s). */
	onlineTimeout?: number;
	/** The sensor name the host's board reports (default "simulated"). */
	sensor?: string;
	/** The broker (default: startBroker(), mosquitto or aedes); a launch that says why it cannot run skips the suite. */
	broker?: { name: string; missing(): string | undefined; start(): Promise<ScenarioBroker> };
}

const INTERVAL = 1000;
const NEW_INTERVAL = 2500;
const KEEPALIVE = 2;
/** Rates are measured on message arrival: each gap within this fraction of the interval. */
const TOLERANCE = 0.4;
/** How long the will may take after the kill: 1.5 x keepAlive (the broker's limit) plus slack. */
const WILL_WITHIN = 1.5 * KEEPALIVE * 1000 + 1500;

interface Arrival {
	topic: string;
	text: string;
	retain: boolean;
	qos: number;
	at: number;
}

/** A subscriber to everything under the device's topics, with arrival times. */
class Watcher {
	readonly arrivals: Arrival[] = [];
	readonly signal = new Signal();
	private constructor(readonly peer: Peer) {
		peer.client.on("message", (topic, payload, packet) => {
			this.arrivals.push({ topic, text: payload.toString("utf8"), retain: packet.retain, qos: packet.qos, at: performance.now() });
			this.signal.notify();
		});
	}

	static async open(port: number, filter: string, login: Login = {}): Promise<Watcher> {
		const watcher = new Watcher(await Peer.connect(port, login));
		const granted = await watcher.peer.subscribe(filter, 1);
		assert.equal(granted, 1, `the broker refused the subscription to ${filter}`);
		return watcher;
	}

	on(topic: string, after = -Infinity): Arrival[] {
		return this.arrivals.filter((a) => a.topic === topic && a.at > after);
	}

	until(condition: () => boolean, timeout: number, what: string): Promise<void> {
		return this.signal.until(condition, timeout, what);
	}

	close(): Promise<void> {
		return this.peer.close();
	}
}

/** The first message a new subscriber to `topic` gets (the retained one, if any) within `timeout`. */
async function retained(port: number, topic: string, timeout: number, login: Login): Promise<Arrival> {
	const late = await Watcher.open(port, topic, login);
	try {
		await late.until(() => late.arrivals.length > 0, timeout, `a retained message on ${topic}`);
		return late.arrivals[0]!;
	}
	finally {
		await late.close();
	}
}

interface Telemetry {
	/** Telemetry only (a `read` answer need not carry one). */
	seq: number;
	uptime: number;
	sensor: string;
	temperature: number;
	humidity: number;
}

function isNumber(value: unknown): value is number {
	return typeof value === "number" && Number.isFinite(value);
}

/** Parses a telemetry body (or, without `seq`, a `read` answer) and checks its fields. */
function reading(text: string, sensor: string, seq = true): Telemetry {
	let body: Record<string, unknown>;
	try {
		body = JSON.parse(text) as Record<string, unknown>;
	}
	catch {
		assert.fail(`not JSON: ${text}`);
	}
	if (seq) assert.ok(Number.isInteger(body.seq) && (body.seq as number) >= 1, `seq in ${text}`);
	assert.ok(isNumber(body.uptime) && body.uptime >= 0, `uptime in ${text}`);
	assert.equal(body.sensor, sensor, `sensor in ${text}`);
	assert.equal(body.error, undefined, `the reading reports an error: ${text}`);
	assert.ok(isNumber(body.temperature) && body.temperature > -40 && body.temperature < 85, `temperature in ${text}`);
	assert.ok(isNumber(body.humidity) && body.humidity >= 0 && body.humidity <= 100, `humidity in ${text}`);
	return body as unknown as Telemetry;
}

function assertGaps(gaps: number[], interval: number, what: string): void {
	const low = interval * (1 - TOLERANCE);
	const high = interval * (1 + TOLERANCE);
	const shown = gaps.map((g) => Math.round(g)).join(", ");
	for (const gap of gaps) assert.ok(gap >= low && gap <= high, `${what}: gaps of ${shown} ms, expected ${interval} ms ±${TOLERANCE * 100}%`);
}

function tail(text: string, lines = 40): string {
	return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * Registers the scenario as a mocha suite: a broker, a watching client, the firmware from
 * `launcher` with a 1 s telemetry interval and a 2 s keepalive; all stopped in after() hooks.
 */
export function firmwareScenario(launcher: FirmwareLauncher, options: ScenarioOptions = {}): void {
	const sensor = options.sensor ?? "simulated";
	const onlineTimeout = options.onlineTimeout ?? 30_000;

	describe(`device scenario on ${launcher.name}${options.broker ? ` with ${options.broker.name}` : ""}`, function () {
		this.timeout(30_000);
		let broker: Broker | ScenarioBroker | undefined;
		let login: Login = {};
		let watcher: Watcher | undefined;
		let firmware: RunningFirmware | undefined;
		const deviceId = `fw-${process.pid}-${Date.now().toString(36)}`;
		const base = `devices/${deviceId}`;
		const topics = {
			status: `${base}/status`,
			telemetry: `${base}/telemetry`,
			command: (name: string) => `${base}/commands/${name}`,
			response: (name: string) => `${base}/responses/${name}`,
		};

		/** Waits on the watcher; a timeout names what the firmware printed. */
		async function expect(condition: () => boolean, timeout: number, what: string): Promise<void> {
			try {
				await watcher!.until(condition, timeout, what);
			}
			catch (error) {
				if (error instanceof TimeoutError) throw new TimeoutError(`${error.message}\n--- firmware output (last lines) ---\n${tail(firmware?.output() ?? "")}`);
				throw error;
			}
		}

		/** Publishes a QoS 1 command and returns the parsed answer, when it was sent and when answered. */
		async function command(name: string, payload: string): Promise<{ body: Record<string, unknown>; sent: number; at: number }> {
			const sent = performance.now();
			await watcher!.peer.publish(topics.command(name), payload, { qos: 1 });
			await expect(() => watcher!.on(topics.response(name), sent).length > 0, 5000, `the answer to "${name}"`);
			const answer = watcher!.on(topics.response(name), sent)[0]!;
			return { body: JSON.parse(answer.text) as Record<string, unknown>, sent, at: answer.at };
		}

		before(async function () {
			this.timeout(options.startTimeout ?? 150_000);
			if (options.broker) {
				const why = options.broker.missing();
				if (why) {
					process.stdout.write(`    [skipped] the device scenario with ${options.broker.name}: ${why}\n`);
					return this.skip();
				}
				const b = await options.broker.start();
				broker = b;
				login = b.login;
			}
			else broker = await startBroker();
			watcher = await Watcher.open(broker.port, `${base}/#`, login);
			const config: FirmwareConfig = {
				mqttHost: HOST, mqttPort: broker.port, deviceId, topicPrefix: "devices",
				telemetryInterval: INTERVAL, keepAlive: KEEPALIVE, mqttUser: login.username, mqttPassword: login.password,
			};
			const started = performance.now();
			firmware = await launcher.start(config);
			process.stdout.write(`    firmware: ${launcher.name}, device ${deviceId}, started in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
		});

		afterEach(function () {
			if (this.currentTest?.state === "failed" && firmware)
				process.stdout.write(`--- firmware output (last lines) ---\n${tail(firmware.output())}\n---\n`);
		});

		after(async function () {
			this.timeout(20_000);
			await firmware?.stop();
			await watcher?.close();
			await broker?.stop();
		});

		it(`connects and publishes the status "online", retained for later subscribers`, async () => {
			await expect(() => watcher!.on(topics.status).some((a) => a.text === "online"), onlineTimeout, `"online" on ${topics.status}`);
			const late = await retained(broker!.port, topics.status, 3000, login);
			assert.equal(late.text, "online");
			assert.equal(late.retain, true, "a subscriber that joins later gets the status with retain set");
			assert.equal(late.qos, 1);
		});

		it(`publishes telemetry every ${INTERVAL} ms: seq counting up, uptime, sensor "${sensor}", temperature, humidity`, async () => {
			const count = 5;
			await expect(() => watcher!.on(topics.telemetry).length >= count, count * INTERVAL * (1 + TOLERANCE) + 3000, `${count} telemetry messages`);
			const got = watcher!.on(topics.telemetry).slice(-count);
			const bodies = got.map((a) => reading(a.text, sensor));
			for (let i = 1; i < bodies.length; i++) {
				assert.equal(bodies[i]!.seq, bodies[i - 1]!.seq + 1, `seq: ${bodies.map((b) => b.seq).join(", ")}`);
				assert.ok(bodies[i]!.uptime > bodies[i - 1]!.uptime, `uptime: ${bodies.map((b) => b.uptime).join(", ")}`);
			}
			for (const a of got) assert.equal(a.qos, 0, "telemetry is QoS 0");
			assertGaps(got.slice(1).map((a, i) => a.at - got[i]!.at), INTERVAL, "arrivals");
			assertGaps(bodies.slice(1).map((b, i) => b.uptime - bodies[i]!.uptime), INTERVAL, "uptime steps");
		});

		it(`answers an interval command with {"ok":true,"interval":${NEW_INTERVAL}} and publishes at the new rate`, async () => {
			// Sent right after a reading: at the old rate the next would come one old interval later.
			const answer = await command("interval", String(NEW_INTERVAL));
			assert.deepEqual(answer.body, { ok: true, interval: NEW_INTERVAL });
			const count = 3;
			await expect(() => watcher!.on(topics.telemetry, answer.sent).length >= count, count * NEW_INTERVAL * (1 + TOLERANCE) + 2000, `${count} telemetry messages after the interval command`);
			const after = watcher!.on(topics.telemetry, answer.sent).slice(0, count);
			const times = [answer.sent, ...after.map((a) => a.at)];
			const timeline = `command sent at 0 ms, answered at ${Math.round(answer.at - answer.sent)} ms, readings at ${after.map((a) => Math.round(a.at - answer.sent)).join(", ")} ms`;
			// The command re-arms the timer: the first reading comes one new interval after the command.
			assertGaps(times.slice(1).map((t, i) => t - times[i]!), NEW_INTERVAL, `from the command, then between readings (${timeline})`);
		});

		it(`answers a read command with ok and a fresh reading`, async () => {
			const lastUptime = Math.max(0, ...watcher!.on(topics.telemetry).map((a) => (JSON.parse(a.text) as Telemetry).uptime));
			const answer = await command("read", "");
			assert.equal(answer.body.ok, true, JSON.stringify(answer.body));
			const body = reading(JSON.stringify(answer.body), sensor, false);
			assert.ok(body.uptime > lastUptime, `the read's uptime ${body.uptime} is after the last telemetry's ${lastUptime}`);
		});

		it(`once killed, the broker publishes its will: "offline", retained (keepAlive ${KEEPALIVE} s)`, async function () {
			this.timeout(WILL_WITHIN + 10_000);
			const killed = performance.now();
			await firmware!.kill();
			await expect(() => watcher!.on(topics.status, killed).some((a) => a.text === "offline"), WILL_WITHIN, `the will "offline" within ${WILL_WITHIN} ms of the kill`);
			const will = watcher!.on(topics.status, killed).find((a) => a.text === "offline")!;
			process.stdout.write(`    will published ${Math.round(will.at - killed)} ms after the kill\n`);
			const late = await retained(broker!.port, topics.status, 3000, login);
			assert.equal(late.text, "offline");
			assert.equal(late.retain, true, "a subscriber that joins later gets the will with retain set");
		});
	});
}
