// Broker restart: mosquitto with persistence is killed (SIGKILL) in the middle of a stream of QoS 1
// commands to the device firmware (inside the XS engine) and restarted: the session resumes, none is lost.

import * as assert from "node:assert/strict";
import { connect } from "mqtt";
import type { IClientOptions, MqttClient } from "mqtt";
import { XsDevice } from "../../hosts/xs/device-runner.js";
import { findMosquitto, HOST, startBroker } from "../lib/broker.js";
import type { Broker } from "../lib/broker.js";
import { Signal, sleep } from "../lib/signal.js";

/** Commands in the stream, one every GAP ms; the broker dies once KILL_AFTER of them are answered. */
const COMMANDS = 60;
/**
 * The device answers a burst of at most maxMessages (32) in-flight responses plus its backlog (8); the
 * rest it drops (it has no read-side backpressure yet). The commands queued for it while it is away
 * (the outage and its reconnect backoff, about 2 s) must stay below that: one every 100 ms.
 */
const GAP = 100;
const KILL_AFTER = 20;
/** How long the broker stays dead. */
const DOWN = 1000;
/** The `interval` command's value for command i (the response echoes it: each answer names its command). */
const valueOf = (i: number): number => 1000 + i;

function open(port: number, options: IClientOptions): Promise<MqttClient> {
	return new Promise((resolve, reject) => {
		const client = connect({ host: HOST, port, protocol: "mqtt", protocolVersion: 4, connectTimeout: 2000, ...options });
		client.once("error", reject);
		client.once("connect", () => {
			client.off("error", reject);
			client.on("error", () => {
				// refused while the broker is down: MQTT.js tries again (reconnectPeriod)
			});
			resolve(client);
		});
	});
}

describe("reliability: the broker killed (SIGKILL) and restarted mid-stream, the device firmware inside the XS engine", function () {
	this.timeout(60_000);
	let broker: Broker | undefined;
	let device: XsDevice | undefined;
	const clients: MqttClient[] = [];

	before(function () {
		if (!findMosquitto()) this.skip(); // aedes keeps no state across a restart
	});

	after(async () => {
		await device?.kill();
		await Promise.all(clients.map((c) => new Promise<void>((resolve) => c.end(true, () => resolve()))));
		await broker?.stop();
	});

	it("QoS 1 commands published while the broker was down, and queued for the device after the restart, all reach it; its session resumes", async () => {
		// Persistence on, saved after every change (sessions, subscriptions, queued and completed messages).
		broker = await startBroker({ kind: "mosquitto", persistence: true, autosaveChanges: 1 });
		const id = `restart-${process.pid}`;
		const prefix = `rel/${process.pid}-${Date.now().toString(36)}`;
		const base = `${prefix}/${id}`;
		const signal = new Signal();
		const started = performance.now();
		const at = (): number => Math.round(performance.now() - started);

		// The watcher: a persistent session, so that responses published while it is away wait for it.
		const answers = new Map<number, number>();
		let bad = 0;
		let pinged = false;
		const watcher = await open(broker.port, { clientId: `watch-${process.pid}`, clean: false, reconnectPeriod: 100 });
		clients.push(watcher);
		watcher.on("message", (topic, payload) => {
			if (topic === `${base}/responses/ping`) {
				pinged = true;
				signal.notify();
			}
			if (topic !== `${base}/responses/interval`) return;
			const r = JSON.parse(payload.toString()) as { ok?: boolean; interval?: number };
			if (r.ok !== true || typeof r.interval !== "number") bad++;
			else answers.set(r.interval, (answers.get(r.interval) ?? 0) + 1);
			signal.notify();
		});
		await watcher.subscribeAsync(`${base}/responses/#`, { qos: 1 });

		const trace: Array<{ at: number; line: string }> = [];
		let errors = "";
		device = new XsDevice({
			config: { deviceId: id, topicPrefix: prefix, mqttHost: HOST, mqttPort: broker.port, mqttTls: false, telemetryInterval: 60_000, keepAlive: 2 },
			onTrace: (line) => {
				trace.push({ at: at(), line });
				signal.notify();
			},
			onError: (text) => { errors += text; },
		});
		await device.start();
		const connects = (): Array<{ at: number; line: string }> => trace.filter((t) => t.line.startsWith("connected to"));
		await signal.until(() => connects().length === 1, 10_000, "the device connected");
		// Its subscription is in place (and in the broker's database: mosquitto saves after every change)
		// once it answers a command; a ping that comes before it is lost, so one goes every 100 ms.
		const ping = setInterval(() => watcher.publish(`${base}/commands/ping`, "", { qos: 1 }), 100);
		try {
			await signal.until(() => pinged, 5000, "the device's answer to a ping (its subscription in place)");
		}
		finally {
			clearInterval(ping);
		}

		// The stream: MQTT.js publishes command i every GAP ms, whatever the broker's state (MQTT.js keeps
		// what it cannot send, and sends it after reconnecting).
		let killedAt = -1;
		let restartedAt = -1;
		let brokerDown = false;
		let commanderBack = -1;
		const commander = await open(broker.port, { clientId: `cmd-${process.pid}`, clean: true, reconnectPeriod: 100 });
		clients.push(commander);
		commander.on("connect", () => {
			if (commanderBack < 0 && killedAt >= 0) commanderBack = at();
		});
		const whileDown: number[] = [];
		let sent = 0;
		const stream = setInterval(() => {
			if (sent >= COMMANDS) {
				clearInterval(stream);
				return;
			}
			const i = sent++;
			if (brokerDown) whileDown.push(i);
			commander.publish(`${base}/commands/interval`, String(valueOf(i)), { qos: 1 });
		}, GAP);
		try {
			// Mid-stream, between two commands (right after an answer), so that no command is half-way.
			await signal.until(() => answers.size >= KILL_AFTER, 10_000, `${KILL_AFTER} answers before the kill`);
			killedAt = at();
			brokerDown = true;
			await broker.kill("SIGKILL");
			await sleep(DOWN); // time passes on purpose: the broker stays down while the stream goes on
			await broker.restart();
			brokerDown = false;
			restartedAt = at();
			await signal.until(() => answers.size === COMMANDS, 20_000, `answers to all ${COMMANDS} commands`);
		}
		catch (error) {
			const missing = [];
			for (let i = 0; i < COMMANDS; i++) if (!answers.has(valueOf(i))) missing.push(i);
			console.log(`      killed at ${killedAt} ms, restarted at ${restartedAt} ms; unanswered: #${missing.join(", #")}\n      device trace:\n${trace.map((t) => `        ${t.at} ms ${t.line}`).join("\n")}`);
			throw error;
		}
		finally {
			clearInterval(stream);
		}
		await sleep(200); // a window for what must not come: a second reconnect, a dropped response

		const after = connects().filter((t) => t.at > killedAt);
		const lost = trace.find((t) => t.at >= killedAt && t.line.startsWith("connection lost"));
		const repeated = [...answers.values()].filter((n) => n > 1).length;
		console.log(`      killed at ${killedAt} ms (after ${KILL_AFTER} answers), restarted at ${restartedAt} ms; device: lost at ${lost?.at} ms, back at ${after[0]?.at} ms ("${after[0]?.line}"); MQTT.js commander back at ${commanderBack} ms`);
		console.log(`      ${COMMANDS} commands, ${whileDown.length} published while the broker was down (#${whileDown[0]}..#${whileDown.at(-1)}); all answered (${repeated} twice)`);

		assert.equal(errors, "", "the XS engine reported no error");
		assert.ok(lost, "the device saw the connection go");
		assert.equal(after.length, 1, "one reconnect after the restart");
		assert.match(after[0]!.line, /\(session resumed\)/, "session present after the restart: the broker restored the device's session from its database");
		assert.doesNotMatch(connects()[0]!.line, /session resumed/, "a fresh session at the start");
		assert.ok(whileDown.length >= 10, `commands published while the broker was down (${whileDown.length})`);
		assert.ok(commanderBack > 0 && commanderBack < after[0]!.at,
			`MQTT.js re-sent its commands (at ${commanderBack} ms) before the device was back (at ${after[0]!.at} ms): they waited in the device's session`);
		assert.equal(bad, 0, "every answer ok");
		for (let i = 0; i < COMMANDS; i++) assert.ok(answers.has(valueOf(i)), `command #${i} (interval ${valueOf(i)}) answered`);
		assert.equal(trace.filter((t) => t.line.includes("dropped")).length, 0, "the device dropped no response");
	});
});
