// The firmware end to end on the XS engine from npm (no SDK needed, so it runs everywhere): the same
// compiled main.ts and modules as the Moddable build, against mosquitto, checked by a second client.

import * as assert from "node:assert/strict";
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
