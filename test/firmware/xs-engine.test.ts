// The firmware end to end on the XS engine from npm (no SDK needed, so it runs everywhere): the same
// compiled main.ts and modules as the Moddable build, against mosquitto, checked by a second client.

import * as assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIRMWARE_VERSION } from "../../modules/device/discovery.js";
import type { FirmwareConfig, FirmwareLauncher, RunningFirmware } from "../lib/firmware-scenario.js";
import { firmwareScenario } from "../lib/firmware-scenario.js";
import { XsDevice } from "../../hosts/xs/device-runner.js";
import { missingEjabberd, missingRabbitMq, startEjabberd, startRabbitMq } from "../lib/erlang-brokers.js";
import { HOST, startBroker } from "../lib/broker.js";
import type { Broker } from "../lib/broker.js";
import { missingFields, templateFields } from "../lib/ha-discovery.js";
import { Peer } from "../lib/peers.js";
import type { PeerMessage } from "../lib/peers.js";
import { sleep } from "../lib/signal.js";

const launcher: FirmwareLauncher = {
	name: "the XS engine from npm (hosts/xs)",
	async start(config: FirmwareConfig): Promise<RunningFirmware> {
		let output = "";
		const device = new XsDevice({
			config: { ...config, mqttTls: false },
			onTrace: (line) => { output += `${line}\n`; },
			onError: (text) => { output += `[error] ${text}`; },
		});
		await device.start();
		let ended = false;
		return {
			stop: async () => {
				if (ended) return;
				ended = true;
				await device.stop();
			},
			kill: async () => {
				if (ended) return;
				ended = true;
				await device.kill();
			},
			output: () => output,
		};
	},
};

describe("firmware end to end on the XS engine", () => {
	firmwareScenario(launcher, { startTimeout: 30_000 });
	// mqttVersion 5: answers on a dashboard's Response Topic, telemetry properties and alias, session expiry.
	firmwareScenario(launcher, { startTimeout: 30_000, mqttVersion: 5 });
	it("a configuration with mqttVersion or sessionExpiry out of range is refused before the engine starts, naming them", () => {
		const config = { deviceId: "bad", topicPrefix: "devices", mqttHost: "127.0.0.1", mqttPort: 1883, mqttTls: false, telemetryInterval: 1000 };
		assert.throws(() => new XsDevice({ config: { ...config, mqttVersion: 3 as unknown as 5 } }), /mqttVersion must be 4 \(MQTT 3\.1\.1\) or 5 \(MQTT 5\.0\), not 3/);
		assert.throws(() => new XsDevice({ config: { ...config, mqttVersion: 5, sessionExpiry: -1 } }), /sessionExpiry must be whole seconds, 0\.\.4294967295, not -1/);
	});
	// The same scenario on the other brokers of the matrix (test/integration/broker-matrix.test.ts).
	firmwareScenario(launcher, {
		startTimeout: 60_000,
		broker: {
			name: "RabbitMQ", missing: missingRabbitMq,
			async start() {
				const b = await startRabbitMq();
				return { version: b.version, port: b.port, login: b.anonymous, stop: () => b.stop() };
			},
		},
	});
	firmwareScenario(launcher, {
		startTimeout: 60_000,
		broker: {
			name: "ejabberd", missing: missingEjabberd,
			async start() {
				const b = await startEjabberd();
				return { version: b.version, port: b.port, login: b.anonymous, stop: () => b.stop() };
			},
		},
	});
});

/** Home Assistant's side of MQTT discovery, played by MQTT.js: what it sees under homeassistant/# and the device's topics. */
describe("Home Assistant MQTT discovery, end to end on the XS engine", function () {
	this.timeout(30_000);
	let broker: Broker | undefined;
	let ha: Peer | undefined;
	const devices: XsDevice[] = [];
	const stamp = `${process.pid}-${Date.now().toString(36)}`;
	const deviceId = `ha-${stamp}`;
	const base = `devices/${deviceId}`;
	let output = "";

	/** Starts a device on the XS engine with 1 s telemetry; `discoveryPrefix` as given (absent: the default). */
	async function startDevice(id: string, discoveryPrefix?: string): Promise<void> {
		const device = new XsDevice({
			config: { deviceId: id, topicPrefix: "devices", mqttHost: HOST, mqttPort: broker!.port, mqttTls: false, telemetryInterval: 1000, keepAlive: 5, discoveryPrefix },
			onTrace: (line) => { output += `${line}\n`; },
			onError: (text) => { output += `[error] ${text}`; },
		});
		devices.push(device);
		await device.start();
	}

	/** The config messages HA got for `id` (its node id), in arrival order. */
	function configs(id: string): PeerMessage[] {
		return ha!.messages.filter((m) => m.topic.startsWith("homeassistant/") && m.topic.split("/")[2] === id && m.topic.endsWith("/config"));
	}

	function until(condition: () => boolean, timeout: number, what: string): Promise<void> {
		return ha!.until(condition, timeout, what).catch((error: Error) => {
			throw new Error(`${error.message}\n--- firmware output ---\n${output.trimEnd().split("\n").slice(-30).join("\n")}`);
		});
	}

	before(async function () {
		this.timeout(60_000);
		broker = await startBroker();
		ha = await Peer.connect(broker.port);
		await ha.subscribe("homeassistant/#", 1);
		await ha.subscribe(`devices/+/#`, 1);
		await startDevice(deviceId);
	});

	after(async function () {
		this.timeout(20_000);
		for (const d of devices) await d.stop();
		await ha?.close();
		await broker?.stop();
	});

	it("on connect the device publishes a retained config for temperature, humidity, the LED switch and the sensor problem, each with the fields its component requires", async () => {
		await until(() => new Set(configs(deviceId).map((m) => m.topic)).size >= 4, 20_000, "four config messages");
		const list = configs(deviceId).slice(0, 4);
		assert.deepEqual(list.map((m) => m.topic.split("/").slice(1, 2).concat(m.topic.split("/").slice(3, 4)).join("/")),
			["sensor/temperature", "sensor/humidity", "switch/led", "binary_sensor/sensor_problem"]);
		const bodies = list.map((m) => JSON.parse(m.payload.toString("utf8")) as Record<string, unknown>);
		bodies.forEach((b, i) => assert.deepEqual(missingFields(list[i]!.topic.split("/")[1]!, b), [], `${list[i]!.topic}: required fields`));
		for (const b of bodies) {
			assert.deepEqual(b.device, bodies[0]!.device, "one device block");
			assert.equal(b.availability_topic, `${base}/status`);
		}
		assert.deepEqual((bodies[0]!.device as Record<string, unknown>).identifiers, [deviceId]);
		// A Home Assistant that starts later gets them from the broker.
		const late = await Peer.connect(broker!.port);
		try {
			await late.subscribe(`homeassistant/+/${deviceId}/+/config`, 1);
			await late.until(() => late.messages.length >= 4, 3000, "the retained configs");
			assert.ok(late.messages.every((m) => m.retain), "retained");
		}
		finally {
			await late.close();
		}
		// The sensors' templates read what the telemetry carries.
		await until(() => ha!.on(`${base}/telemetry`).length > 0, 5000, "telemetry");
		const telemetry = JSON.parse(ha!.on(`${base}/telemetry`)[0]!.payload.toString("utf8")) as Record<string, unknown>;
		for (const b of bodies.slice(0, 2)) for (const f of templateFields(b.value_template)) assert.equal(typeof telemetry[f], "number", `telemetry field ${f}`);
	});

	it("HA's switch: ON and OFF on its command topic turn the LED on and off, and the retained state topic follows", async () => {
		const sw = JSON.parse(configs(deviceId).find((m) => m.topic.includes("/switch/"))!.payload.toString("utf8")) as Record<string, string | number>;
		const state = String(sw.state_topic);
		await until(() => ha!.on(state).length > 0, 5000, "the LED state on connect");
		assert.equal(ha!.on(state)[0]!.payload.toString(), "OFF");
		for (const payload of ["ON", "OFF", "ON"]) {
			const before = ha!.on(state).length;
			await ha!.publish(String(sw.command_topic), payload, { qos: sw.qos as 0 | 1 });
			await until(() => ha!.on(state).length > before, 5000, `the state after ${payload}`);
			assert.equal(ha!.on(state)[before]!.payload.toString(), payload === "ON" ? sw.state_on : sw.state_off);
		}
	});

	it("forget: the device empties every config (retained), answers ok, and a later subscriber finds none", async () => {
		const topics = [...new Set(configs(deviceId).map((m) => m.topic))];
		const before = ha!.messages.length;
		await ha!.publish(`${base}/commands/forget`, "", { qos: 1 });
		await until(() => ha!.messages.slice(before).some((m) => m.topic === `${base}/responses/forget`), 5000, "the answer to forget");
		const answer = JSON.parse(ha!.messages.slice(before).find((m) => m.topic === `${base}/responses/forget`)!.payload.toString()) as Record<string, unknown>;
		assert.equal(answer.ok, true);
		const empties = (): string[] => ha!.messages.slice(before).filter((m) => topics.includes(m.topic) && m.payload.length === 0).map((m) => m.topic);
		await until(() => empties().length >= topics.length, 5000, "an empty config per topic");
		assert.deepEqual(empties().sort(), [...topics].sort());
		const late = await Peer.connect(broker!.port);
		try {
			await late.subscribe(`homeassistant/+/${deviceId}/+/config`, 1);
			await sleep(500);
			assert.deepEqual(late.messages.map((m) => m.topic), [], "no retained config left");
		}
		finally {
			await late.close();
		}
	});

	it("discoveryPrefix \"\": a device publishes no config, and runs as before", async () => {
		const quiet = `ha-off-${stamp}`;
		await startDevice(quiet, "");
		await until(() => ha!.on(`devices/${quiet}/status`).some((m) => m.payload.toString() === "online"), 20_000, "the quiet device online");
		await until(() => ha!.on(`devices/${quiet}/telemetry`).length >= 2, 5000, "its telemetry");
		assert.deepEqual(ha!.messages.filter((m) => m.topic.startsWith("homeassistant/") && m.topic.includes(quiet)).map((m) => m.topic), []);
	});
});

/** Settings that survive a restart: `config` saves the interval, the device restarts, and keeps it. */
describe("settings that survive a restart, end to end on the XS engine", function () {
	this.timeout(60_000);
	let broker: Broker | undefined;
	let peer: Peer | undefined;
	const devices: XsDevice[] = [];
	const dir = mkdtempSync(join(tmpdir(), "xs-mqtt-settings-"));
	const deviceId = `cfg-${process.pid}-${Date.now().toString(36)}`;
	const base = `devices/${deviceId}`;
	let output = "";

	function startDevice(options: { storeFile?: string; settingsFile?: string; telemetryInterval?: number }): XsDevice {
		const device = new XsDevice({
			config: { deviceId, topicPrefix: "devices", mqttHost: HOST, mqttPort: broker!.port, mqttTls: false, telemetryInterval: options.telemetryInterval ?? 5000, keepAlive: 5 },
			storeFile: options.storeFile,
			settingsFile: options.settingsFile,
			onTrace: (line) => { output += `${line}\n`; },
			onError: (text) => { output += `[error] ${text}`; },
		});
		devices.push(device);
		return device;
	}

	function until(condition: () => boolean, timeout: number, what: string): Promise<void> {
		return peer!.until(condition, timeout, what).catch((error: Error) => {
			throw new Error(`${error.message}\n--- firmware output ---\n${output.trimEnd().split("\n").slice(-30).join("\n")}`);
		});
	}

	/** Sends `config` (QoS 1) and returns its answer. */
	async function config(payload: string): Promise<Record<string, unknown>> {
		const topic = `${base}/responses/config`;
		const before = peer!.on(topic).length;
		await peer!.publish(`${base}/commands/config`, payload, { qos: 1 });
		await until(() => peer!.on(topic).length > before, 10_000, `the answer to config ${payload}`);
		return JSON.parse(peer!.on(topic)[before]!.payload.toString("utf8")) as Record<string, unknown>;
	}

	/** The gaps between the telemetry messages that arrived after index `from`. */
	function gaps(from: number): number[] {
		const times = peer!.on(`${base}/telemetry`).slice(from).map((m) => (JSON.parse(m.payload.toString("utf8")) as { uptime: number }).uptime);
		return times.slice(1).map((t, i) => t - times[i]!);
	}

	before(async function () {
		broker = await startBroker();
		peer = await Peer.connect(broker.port);
		await peer.subscribe(`${base}/#`, 1);
	});

	after(async function () {
		this.timeout(20_000);
		for (const d of devices) await d.stop();
		await peer?.close();
		await broker?.stop();
		rmSync(dir, { recursive: true, force: true });
	});

	it("config {\"telemetryInterval\":1000} applies at once and is saved; after the restart command the device keeps it (config answer and telemetry spacing); a new run on the same store file too", async () => {
		const storeFile = join(dir, "store.json");
		const device = startDevice({ storeFile });
		await device.start();
		await until(() => peer!.on(`${base}/status`).some((m) => m.payload.toString() === "online"), 20_000, "online");
		const answer = await config("{\"telemetryInterval\":1000}");
		assert.equal(answer.ok, true, JSON.stringify(answer));
		assert.equal(answer.saved, true);
		assert.deepEqual(answer.settings, { telemetryInterval: 1000 });
		assert.match(readFileSync(storeFile, "utf8"), /telemetryInterval/, "in the store file");
		// Restart: a fresh engine boots the firmware with the configuration's 5000 ms, and the saved 1000 ms wins.
		await peer!.publish(`${base}/commands/restart`, "", { qos: 1 });
		await until(() => device.boots === 2, 20_000, "the restart");
		const onlines = (): number => peer!.on(`${base}/status`).filter((m) => m.payload.toString() === "online").length;
		await until(() => onlines() >= 2, 20_000, "online after the restart");
		const from = peer!.on(`${base}/telemetry`).length;
		assert.deepEqual((await config("")).settings, { telemetryInterval: 1000 }, "the config answer after the restart");
		await until(() => peer!.on(`${base}/telemetry`).length >= from + 4, 10_000, "telemetry after the restart");
		for (const gap of gaps(from)) assert.ok(gap >= 800 && gap <= 1600, `telemetry every second, not every 5: ${gaps(from).join(", ")} ms`);
		await device.stop();
		// Another run (a new process) on the same store file.
		const again = startDevice({ storeFile });
		await again.start();
		await until(() => onlines() >= 3, 20_000, "online in the new run");
		assert.deepEqual((await config("")).settings, { telemetryInterval: 1000 }, "kept in the store file");
		await again.stop();
	});

	it("info: retained on every connect with the firmware version, the XS engine and memory; bad saved settings are ignored and reported there", async () => {
		const settingsFile = join(dir, "settings.json");
		writeFileSync(settingsFile, "{\"telemetryInterval\":5,\"mqttHost\":\"elsewhere\"}");
		const device = startDevice({ settingsFile, telemetryInterval: 2000 });
		const before = peer!.on(`${base}/info`).length;
		await device.start();
		await until(() => peer!.on(`${base}/info`).length > before, 20_000, "info");
		const message = peer!.on(`${base}/info`)[before]!;
		const info = JSON.parse(message.payload.toString("utf8")) as Record<string, unknown>;
		assert.equal(info.firmware, FIRMWARE_VERSION);
		assert.match(String(info.platform), /^XS engine \(@agoric\/xsnap [^)]+\) on Node v/);
		assert.equal(typeof info.heapUsed, "number");
		assert.deepEqual(info.settings, { telemetryInterval: 2000 }, "the configuration's interval");
		assert.match(String(info.settingsError), /saved settings ignored.*mqttHost/);
		assert.match(output, /saved settings ignored/, "traced");
		// A later subscriber gets it from the broker.
		const late = await Peer.connect(broker!.port);
		try {
			await late.subscribe(`${base}/info`, 1);
			await late.until(() => late.messages.length > 0, 3000, "the retained info");
			assert.equal(late.messages[0]!.retain, true);
		}
		finally {
			await late.close();
		}
		// config fixes it, and the settings file holds the good settings.
		assert.equal((await config("{\"telemetryInterval\":3000}")).saved, true);
		assert.deepEqual(JSON.parse(readFileSync(settingsFile, "utf8")), { telemetryInterval: 3000 });
		await device.stop();
	});
});
