// The device firmware's end-to-end scenario against a real broker, for any host that can run it (a
// "launcher"): online status, telemetry rate and fields, interval and read commands, the will; with
// `mqttVersion: 5`, also what MQTT 5.0 brings (answers on a dashboard's Response Topic, telemetry
// properties and topic alias, the session's expiry). The firmware reaches the broker through a proxy
// whose bytes are read with MQTT.js's codec (mqtt-packet), to see what it sent.

import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { IPublishPacket } from "mqtt";
import { parser } from "mqtt-packet";
import type { IConnackPacket, IConnectPacket, Packet, Parser } from "mqtt-packet";
import { startBroker, HOST } from "./broker.js";
import type { Broker } from "./broker.js";
import { reportSkip } from "./output.js";
import { Peer } from "./peers.js";
import { Proxy } from "./proxy.js";
import type { Way } from "./proxy.js";
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
	/** Absent: the default, MQTT 3.1.1. */
	mqttVersion?: 5;
	sessionExpiry?: number;
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
	/** 5: the firmware is configured with mqttVersion 5 (the broker must speak MQTT 5.0: mosquitto, not aedes). */
	mqttVersion?: 5;
}

const INTERVAL = 1000;
const NEW_INTERVAL = 2500;
const KEEPALIVE = 2;
/** Rates are measured on message arrival: each gap within this fraction of the interval. */
const TOLERANCE = 0.4;
/** How long the will may take after the kill: 1.5 x keepAlive (the broker's limit) plus slack. */
const WILL_WITHIN = 1.5 * KEEPALIVE * 1000 + 1500;
/** MQTT 5.0: the session expiry the firmware is configured with (not the default, to see it travel). */
const SESSION_EXPIRY = 3_600;
/** MQTT 5.0: what the firmware's JSON messages say they are. */
const JSON_TYPE = "application/json";

interface Arrival {
	topic: string;
	text: string;
	retain: boolean;
	qos: number;
	at: number;
	/** MQTT 5.0 (a watcher that speaks it): the properties the broker passed on. */
	properties: IPublishPacket["properties"];
}

/** A subscriber to everything under the device's topics, with arrival times; MQTT.js speaking `version`. */
class Watcher {
	readonly arrivals: Arrival[] = [];
	readonly signal = new Signal();
	private constructor(readonly peer: Peer) {
		peer.client.on("message", (topic, payload, packet) => {
			this.arrivals.push({ topic, text: payload.toString("utf8"), retain: packet.retain, qos: packet.qos, at: performance.now(), properties: packet.properties });
			this.signal.notify();
		});
	}

	static async open(port: number, filter: string, login: Login = {}, version: 4 | 5 = 4): Promise<Watcher> {
		const watcher = new Watcher(await Peer.connect(port, { ...login, protocolVersion: version }));
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

interface WirePacket {
	/** The proxy's connection (1-based). */
	connection: number;
	packet: Packet;
	at: number;
}

/** What crossed the proxy each way, read with mqtt-packet (MQTT.js's codec) for `version`. */
class Wire {
	/** Firmware to broker. */
	readonly up: WirePacket[] = [];
	/** Broker to firmware. */
	readonly down: WirePacket[] = [];
	readonly errors: string[] = [];
	readonly signal = new Signal();
	private readonly parsers = new Map<string, Parser>();
	constructor(private readonly version: 4 | 5) {}

	take(way: Way, connection: number, chunk: Buffer): void {
		const key = `${way} ${connection}`;
		let p = this.parsers.get(key);
		if (!p) {
			p = parser({ protocolVersion: this.version });
			const list = way === "up" ? this.up : this.down;
			p.on("packet", (packet: Packet) => {
				list.push({ connection, packet, at: performance.now() });
				this.signal.notify();
			});
			p.on("error", (error: Error) => this.errors.push(`${key}: ${error.message}`));
			this.parsers.set(key, p);
		}
		p.parse(chunk);
	}

	/** The PUBLISHes the firmware sent to `topic` (by name, or as its alias on the same connection), after `after`. */
	published(topic: string, after = -Infinity): Array<WirePacket & { packet: IPublishPacket }> {
		const aliases = new Map<string, string>();
		const out: Array<WirePacket & { packet: IPublishPacket }> = [];
		for (const w of this.up) {
			if (w.packet.cmd !== "publish") continue;
			const alias = w.packet.properties?.topicAlias;
			let name = w.packet.topic;
			if (alias !== undefined) {
				if (name !== "") aliases.set(`${w.connection} ${alias}`, name);
				else name = aliases.get(`${w.connection} ${alias}`) ?? "";
			}
			if (name === topic && w.at > after) out.push(w as WirePacket & { packet: IPublishPacket });
		}
		return out;
	}

	connects(): Array<WirePacket & { packet: IConnectPacket }> {
		return this.up.filter((w) => w.packet.cmd === "connect") as Array<WirePacket & { packet: IConnectPacket }>;
	}

	connacks(): Array<WirePacket & { packet: IConnackPacket }> {
		return this.down.filter((w) => w.packet.cmd === "connack") as Array<WirePacket & { packet: IConnackPacket }>;
	}
}

/**
 * Registers the scenario as a mocha suite: a broker, a watching client, the firmware from
 * `launcher` with a 1 s telemetry interval and a 2 s keepalive; all stopped in after() hooks.
 */
export function firmwareScenario(launcher: FirmwareLauncher, options: ScenarioOptions = {}): void {
	const sensor = options.sensor ?? "simulated";
	const onlineTimeout = options.onlineTimeout ?? 30_000;
	const version = options.mqttVersion ?? 4;
	const protocol = version === 5 ? "MQTT 5.0" : "MQTT 3.1.1";

	describe(`device scenario on ${launcher.name}${options.broker ? ` with ${options.broker.name}` : ""}${version === 5 ? ", mqttVersion 5" : ""}`, function () {
		this.timeout(30_000);
		let broker: Broker | ScenarioBroker | undefined;
		let login: Login = {};
		let watcher: Watcher | undefined;
		let firmware: RunningFirmware | undefined;
		let proxy: Proxy | undefined;
		const wire = new Wire(version);
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

		/** What only MQTT 5.0 does; registered after the read command and before the kill. */
		function mqtt5Tests(): void {
			it(`CONNECT: MQTT 5.0, Session Expiry Interval ${SESSION_EXPIRY} s (sessionExpiry), persistent; the will and the status as with 3.1.1, without properties`, () => {
				const connect = wire.connects()[0]!.packet;
				assert.equal(connect.protocolVersion, 5);
				assert.equal(connect.clean, false, "Clean Start 0");
				assert.equal(connect.properties?.sessionExpiryInterval, SESSION_EXPIRY, "Session Expiry Interval");
				assert.equal(connect.will?.topic, topics.status);
				assert.equal(String(connect.will?.payload), "offline");
				assert.equal(connect.will?.qos, 1);
				assert.equal(connect.will?.retain, true);
				assert.deepEqual(connect.will?.properties ?? {}, {}, "no will properties");
				const online = watcher!.on(topics.status).find((a) => a.text === "online")!;
				assert.deepEqual(online.properties ?? {}, {}, "status online without properties");
			});

			it(`telemetry says it is JSON (Content Type ${JSON_TYPE}, Payload Format Indicator 1), expires after two intervals, and goes as a topic alias`, () => {
				// Both rates have been seen: ${INTERVAL} ms (expiry 2 s), then ${NEW_INTERVAL} ms (5 s) since the interval command.
				const arrivals = watcher!.on(topics.telemetry);
				assert.ok(arrivals.length >= 8, `telemetry received: ${arrivals.length}`);
				for (const a of arrivals) {
					assert.equal(a.properties?.contentType, JSON_TYPE, "Content Type, as the subscriber gets it");
					assert.equal(a.properties?.payloadFormatIndicator, true, "Payload Format Indicator");
					// The broker passes on what is left of the expiry: the same, or a second less.
					const expiry = a.properties?.messageExpiryInterval ?? 0;
					assert.ok(expiry >= 1 && expiry <= Math.ceil((2 * NEW_INTERVAL) / 1000), `Message Expiry Interval ${expiry}`);
				}
				const sent = wire.published(topics.telemetry);
				assert.ok(sent.length >= arrivals.length, `sent ${sent.length}, received ${arrivals.length}`);
				const expiries = sent.map((w) => w.packet.properties?.messageExpiryInterval);
				const first = expiries.indexOf(5);
				assert.ok(first > 0, `expiries as sent: ${expiries.join(", ")}`);
				assert.deepEqual(expiries, [...expiries.slice(0, first).map(() => 2), ...expiries.slice(first).map(() => 5)],
					`2 s (2 x ${INTERVAL} ms), then 5 s (2 x ${NEW_INTERVAL} ms): ${expiries.join(", ")}`);
				for (const w of sent) {
					assert.equal(w.packet.properties?.contentType, JSON_TYPE);
					assert.equal(w.packet.properties?.payloadFormatIndicator, true);
					assert.equal(w.packet.qos, 0);
				}
				assert.ok(sent[0]!.packet.topic === topics.telemetry && sent[0]!.packet.properties?.topicAlias !== undefined, "the first names the topic and sets an alias");
				const aliased = sent.filter((w) => w.packet.topic === "");
				assert.equal(aliased.length, sent.length - 1, "every later one goes as the alias alone (empty topic)");
				process.stdout.write(`    telemetry sent: ${sent.length}, as its topic alias: ${aliased.length}; ${sent[1]!.packet.length} bytes against ${sent[0]!.packet.length} with the topic\n`);
			});

			it("a dashboard (MQTT.js, MQTT 5.0) that asks with a Response Topic and Correlation Data gets its own answer there; two at once get one each", async () => {
				const dashboards = await Promise.all([1, 2].map(() => Peer.connect(broker!.port, { ...login, protocolVersion: 5 })));
				const asked = performance.now();
				const requests = await Promise.all(dashboards.map(async (d, i) => {
					const topic = `dashboards/${deviceId}-${i}/answers`;
					assert.equal(await d.subscribe(topic, 1), 1);
					const correlationData = randomBytes(16);
					await d.publish(topics.command("ping"), "", { qos: 1, properties: { responseTopic: topic, correlationData } });
					return { d, topic, correlationData };
				}));
				try {
					for (const { d, topic, correlationData } of requests) {
						await d.until(() => d.on(topic).length > 0, 5000, `the answer on ${topic}`);
						const [answer, ...more] = d.on(topic);
						assert.equal(more.length, 0, "one answer");
						assert.equal(answer!.qos, 1);
						assert.deepEqual(answer!.properties?.correlationData, correlationData, "its own Correlation Data");
						assert.equal(answer!.properties?.contentType, JSON_TYPE);
						assert.equal(answer!.properties?.payloadFormatIndicator, true);
						const body = JSON.parse(answer!.payload.toString()) as Record<string, unknown>;
						assert.equal(body.ok, true, JSON.stringify(body));
						assert.ok(typeof body.uptime === "number", JSON.stringify(body));
					}
					// Commands are answered in order: an answer to a later one shows none of these went to responses/ping.
					const led = await command("led", "on");
					assert.deepEqual(led.body, { ok: true, led: "on" });
					assert.equal(watcher!.on(topics.response("ping"), asked).length, 0, "nothing on responses/ping");
				}
				finally {
					await Promise.all(dashboards.map((d) => d.close()));
				}
			});

			it("a command without a Response Topic is answered on responses/<name>, marked as JSON", async () => {
				const dashboard = await Peer.connect(broker!.port, { ...login, protocolVersion: 5 });
				try {
					const sent = performance.now();
					await dashboard.publish(topics.command("led"), "off", { qos: 1 });
					await expect(() => watcher!.on(topics.response("led"), sent).length > 0, 5000, "the answer on responses/led");
					const answer = watcher!.on(topics.response("led"), sent)[0]!;
					assert.deepEqual(JSON.parse(answer.text), { ok: true, led: "off" });
					assert.equal(answer.properties?.contentType, JSON_TYPE);
					assert.equal(answer.properties?.payloadFormatIndicator, true);
					assert.equal(answer.properties?.correlationData, undefined);
				}
				finally {
					await dashboard.close();
				}
			});

			it("the session outlives the connection: cut, the firmware reconnects and the broker still holds it (session present); the alias is set again", async function () {
				this.timeout(20_000);
				const cut = performance.now();
				const before = wire.connects().length;
				proxy!.cut();
				try {
					await wire.signal.until(() => wire.connacks().some((w) => w.at > cut), 15_000, "a CONNACK after the cut");
				}
				catch (error) {
					throw new Error(`${(error as Error).message}\n--- firmware output (last lines) ---\n${tail(firmware?.output() ?? "")}`);
				}
				const connack = wire.connacks().find((w) => w.at > cut)!;
				assert.equal(connack.packet.sessionPresent, true, "session present");
				const again = wire.connects()[before]!.packet;
				assert.equal(again.properties?.sessionExpiryInterval, SESSION_EXPIRY, "the same Session Expiry Interval");
				await expect(() => watcher!.on(topics.status, cut).some((a) => a.text === "online"), 10_000, "online again");
				const count = (): number => wire.published(topics.telemetry).filter((w) => w.connection === connack.connection).length;
				await wire.signal.until(() => count() >= 2, 3 * NEW_INTERVAL + 2000, "two readings on the new connection");
				const next = wire.published(topics.telemetry).filter((w) => w.connection === connack.connection);
				assert.equal(next[0]!.packet.topic, topics.telemetry, "the first on the new connection names the topic again");
				assert.equal(next[1]!.packet.topic, "", "then the alias");
				assert.ok(/session resumed/.test(firmware!.output()), "the firmware traced the resumed session");
			});
		}

		before(async function () {
			this.timeout(options.startTimeout ?? 150_000);
			if (options.broker) {
				const why = options.broker.missing();
				if (why) {
					reportSkip(`the device scenario with ${options.broker.name}`, why);
					return this.skip();
				}
				const b = await options.broker.start();
				broker = b;
				login = b.login;
			}
			else broker = await startBroker();
			if (version === 5 && "kind" in broker && broker.kind === "aedes") {
				reportSkip("the device scenario with mqttVersion 5", "aedes does not speak MQTT 5.0 (install mosquitto)");
				return this.skip();
			}
			proxy = await Proxy.start(broker.port, { onData: (way, connection, chunk) => wire.take(way, connection, chunk) });
			watcher = await Watcher.open(broker.port, `${base}/#`, login, version);
			const config: FirmwareConfig = {
				mqttHost: HOST, mqttPort: proxy.port, deviceId, topicPrefix: "devices",
				telemetryInterval: INTERVAL, keepAlive: KEEPALIVE, mqttUser: login.username, mqttPassword: login.password,
			};
			if (version === 5) {
				config.mqttVersion = 5;
				config.sessionExpiry = SESSION_EXPIRY;
			}
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
			await proxy?.close();
			await broker?.stop();
		});

		it(`connects (${protocol}) and publishes the status "online", retained for later subscribers`, async () => {
			await expect(() => watcher!.on(topics.status).some((a) => a.text === "online"), onlineTimeout, `"online" on ${topics.status}`);
			const late = await retained(broker!.port, topics.status, 3000, login);
			assert.equal(late.text, "online");
			assert.equal(late.retain, true, "a subscriber that joins later gets the status with retain set");
			assert.equal(late.qos, 1);
			assert.equal(wire.connects()[0]?.packet.protocolVersion, version, `the CONNECT speaks ${protocol}`);
			assert.deepEqual(wire.errors, [], "mqtt-packet read every byte the firmware sent and got");
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

		it(`answers an interval command with {"ok":true,"interval":${NEW_INTERVAL},"saved":true} and publishes at the new rate`, async () => {
			// Sent right after a reading: at the old rate the next would come one old interval later.
			const answer = await command("interval", String(NEW_INTERVAL));
			assert.deepEqual(answer.body, { ok: true, interval: NEW_INTERVAL, saved: true }, "applied and saved");
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

		if (version === 5) mqtt5Tests();

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
