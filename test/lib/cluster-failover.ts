// The firmware on the XS engine against a RabbitMQ cluster started here (test/lib/erlang-brokers.ts):
// connected to the first node with every node in `mqttHost`, the first node is killed (SIGKILL) while a
// dashboard on the last node keeps sending commands; then the first node is started again while the
// commands go on. Used by test/integration/cluster.test.ts (which asserts) and bench/cluster.ts
// (which writes the figures down).
//
// Commands are `interval` commands, each with a value of its own (1001 ms, 1002 ms, ...): the answer
// names the value, so each answer is matched to its command, and lost ones and duplicates are counted.
// RabbitMQ 3.10 speaks MQTT 3.1.1 only, so there is no correlation data to do it with.

import { XsDevice } from "../../hosts/xs/device-runner.js";
import { RECONNECT_DEFAULTS } from "../../modules/mqtt/client.js";
import { startRabbitMqCluster } from "./erlang-brokers.js";
import type { ErlangBroker, RabbitMqCluster } from "./erlang-brokers.js";
import { HOST } from "./mosquitto.js";
import { Peer } from "./peers.js";
import { sleep } from "./signal.js";

/** The device's first two reconnect delays at most (the client's defaults; jitter only shortens them). */
export const FIRST_DELAYS = [RECONNECT_DEFAULTS.initialDelay, RECONNECT_DEFAULTS.initialDelay * RECONNECT_DEFAULTS.factor];

export interface CommandCount {
	/** Commands the dashboard published (each acknowledged by the broker, PUBACK). */
	sent: number;
	/** Of those, the ones answered. */
	answered: number;
	/** Sent and never answered. */
	lost: number;
	/** Answers beyond the first to one command (QoS 1 is at least once). */
	duplicates: number;
	/** Publishes the broker refused or did not acknowledge within 10 s (not counted as sent). */
	notAccepted: number;
}

export interface FailoverFigures {
	/** "RabbitMQ 3.10.8", and the node count. */
	version: string;
	nodes: number;
	/** The servers the device said it connected to, in order ("127.0.0.1:port"), with "+session" when resumed. */
	connections: string[];
	/** From the kill to the device's CONNACK from another node (its trace), ms. */
	moved: number;
	/** The node it moved to (index into the cluster's nodes). */
	movedTo: number;
	/** The session (its subscription and what was queued for it) was found on the new node. */
	sessionResumed: boolean;
	/** From the kill to the first answer, and to the last, of the commands sent during the switch, ms. */
	firstAnswer: number;
	lastAnswer: number;
	/**
	 * From the kill to the first telemetry reading published on the new node arriving, ms. Each
	 * `interval` command starts the schedule again, so it comes one interval after the last command.
	 */
	telemetryResumed: number;
	/** Telemetry `seq` numbers missing from what the dashboard received, across the switch. */
	telemetryMissing: number;
	/** Commands sent from the kill until all were answered. */
	during: CommandCount;
	/** How long the first node took to start again, or undefined when it had not within `restartWithin`. */
	nodeBack: number | undefined;
	/** Why it did not come back, when it did not: the error and its log's last lines. */
	nodeBackError: string | undefined;
	/** Commands sent while the first node was coming back, and after. */
	afterReturn: CommandCount;
	/** Telemetry readings that arrived while the first node was coming back, and after. */
	telemetryAfterReturn: number;
	/** Connections the device lost after it moved (0: nothing broke when the node came back). */
	lostAfterMove: number;
	/** Everything the firmware printed. */
	output: string;
}

export interface FailoverOptions {
	/** Nodes in the cluster (default 2). */
	nodes?: number;
	/** Commands sent from the moment of the kill, one every `commandGap` ms (default 20, 150 ms apart). */
	commands?: number;
	commandGap?: number;
	/** How long the first node may take to start again (default 20 s). */
	restartWithin?: number;
	/** Commands sent while it comes back, and after (default 10, 500 ms apart). */
	commandsAfter?: number;
}

const INTERVAL = 1000;

interface Answer {
	value: number;
	at: number;
}

/** Runs the scenario; rejects only when something it needs fails (the cluster, the device, the dashboard). */
export async function clusterFailover(options: FailoverOptions = {}): Promise<FailoverFigures> {
	const count = options.nodes ?? 2;
	const commands = options.commands ?? 20;
	const gap = options.commandGap ?? 150;
	const restartWithin = options.restartWithin ?? 20_000;
	const commandsAfter = options.commandsAfter ?? 10;
	const cluster: RabbitMqCluster = await startRabbitMqCluster(count);
	const nodes: ErlangBroker[] = cluster.nodes;
	const servers = nodes.map((n) => `${HOST}:${n.port}`);
	const deviceId = `cluster-${process.pid}-${Date.now().toString(36)}`;
	const base = `devices/${deviceId}`;
	let output = "";
	const connections: Array<{ server: string; resumed: boolean; at: number }> = [];
	const losses: number[] = [];
	let device: XsDevice | undefined;
	let dashboard: Peer | undefined;
	try {
		// The dashboard on the last node, which stays up throughout.
		dashboard = await Peer.connect(nodes[count - 1]!.port, { clientId: `dashboard-${deviceId}` });
		const dash = dashboard;
		await dash.subscribe(`${base}/#`, 1);
		const answers: Answer[] = [];
		const telemetry: Array<{ seq: number; at: number }> = [];
		dash.client.on("message", (topic, payload) => {
			const at = performance.now();
			if (topic === `${base}/responses/interval`) {
				const body = JSON.parse(payload.toString("utf8")) as { ok: boolean; interval?: number };
				if (body.ok && typeof body.interval === "number") answers.push({ value: body.interval, at });
			}
			else if (topic === `${base}/telemetry`) {
				const body = JSON.parse(payload.toString("utf8")) as { seq: number };
				telemetry.push({ seq: body.seq, at });
			}
		});

		device = new XsDevice({
			config: {
				deviceId, topicPrefix: "devices", mqttHost: servers.join(","), mqttPort: nodes[0]!.port, mqttTls: false,
				telemetryInterval: INTERVAL, keepAlive: 5, discoveryPrefix: "",
			},
			onTrace: (line) => {
				output += `${line}\n`;
				const connected = /connected to (\S+?)( \(session resumed\))?$/.exec(line);
				if (connected) connections.push({ server: connected[1]!, resumed: connected[2] !== undefined, at: performance.now() });
				if (/connection lost/.test(line)) losses.push(performance.now());
			},
			onError: (text) => { output += `[error] ${text}`; },
		});
		await device.start();
		const fail = (error: Error): never => {
			throw new Error(`${error.message}\n--- firmware output ---\n${output.trimEnd().split("\n").slice(-25).join("\n")}`);
		};
		await dash.until(() => dash.on(`${base}/status`).some((m) => m.payload.toString() === "online"), 30_000, "the device online").catch(fail);
		if (connections[0]?.server !== servers[0]) throw new Error(`the device connected to ${connections[0]?.server}, not the first node ${servers[0]}`);
		// Its commands subscription works on the first node, and telemetry flows.
		await dash.publish(`${base}/commands/interval`, String(INTERVAL), { qos: 1 });
		await dash.until(() => answers.some((a) => a.value === INTERVAL), 10_000, "the answer to a command on the first node").catch(fail);
		await dash.until(() => telemetry.length >= 2, 10_000, "telemetry on the first node").catch(fail);

		/** Sends `n` commands `spacing` ms apart with values from `first`; resolves with what the broker took. */
		const send = async (first: number, n: number, spacing: number): Promise<{ values: number[]; notAccepted: number }> => {
			const values: number[] = [];
			let notAccepted = 0;
			const pending: Promise<void>[] = [];
			for (let i = 0; i < n; i++) {
				const value = first + i;
				// Refused, or not acknowledged within 10 s: not taken.
				const acknowledged = dash.publish(`${base}/commands/interval`, String(value), { qos: 1 }).then(() => true, () => false);
				pending.push(Promise.race([acknowledged, sleep(10_000).then(() => false)]).then((taken) => {
					if (taken) values.push(value);
					else notAccepted++;
				}));
				await sleep(spacing);
			}
			await Promise.all(pending);
			return { values, notAccepted };
		};
		const tally = (sent: { values: number[]; notAccepted: number }, after: number): CommandCount => {
			let answered = 0;
			let duplicates = 0;
			for (const value of sent.values) {
				const n = answers.filter((a) => a.value === value && a.at > after).length;
				if (n > 0) answered++;
				if (n > 1) duplicates += n - 1;
			}
			return { sent: sent.values.length, answered, lost: sent.values.length - answered, duplicates, notAccepted: sent.notAccepted };
		};
		const allAnswered = (values: number[], after: number): boolean => values.every((v) => answers.some((a) => a.value === v && a.at > after));

		// ---- the first node killed, commands sent through the switch --------------------------------
		const lastSeqBefore = telemetry[telemetry.length - 1]!.seq;
		const killedAt = performance.now();
		const killed = nodes[0]!.kill("SIGKILL");
		const during = await send(INTERVAL + 1, commands, gap);
		await killed;
		await dash.until(() => connections.length >= 2, 20_000, "the device connected to another node").catch(fail);
		const move = connections[1]!;
		await dash.until(() => allAnswered(during.values, killedAt), 20_000, "answers to the commands sent during the switch").catch(() => undefined);
		await dash.until(() => telemetry.some((t) => t.at > move.at), 10_000, "telemetry after the move").catch(() => undefined);
		const duringAnswers = answers.filter((a) => a.at > killedAt && during.values.includes(a.value));
		const resumedTelemetry = telemetry.find((t) => t.at > move.at);
		const seqs = new Set(telemetry.map((t) => t.seq));
		const maxSeq = Math.max(...telemetry.map((t) => t.seq));
		let telemetryMissing = 0;
		for (let s = lastSeqBefore; s <= maxSeq; s++) if (!seqs.has(s)) telemetryMissing++;

		// ---- the first node started again, commands going on ----------------------------------------
		const lossesBefore = losses.length;
		const restartAt = performance.now();
		let nodeBack: number | undefined;
		let nodeBackError: string | undefined;
		const restarted = nodes[0]!.restart(restartWithin).then(
			() => { nodeBack = performance.now() - restartAt; },
			(error: Error) => { nodeBackError = error.message.split("\n").slice(0, 6).join("\n"); },
		);
		const telemetryBefore = telemetry.length;
		const after = await send(INTERVAL + 1 + commands, commandsAfter, 500);
		await restarted;
		// And once it is up again (or given up on), a few more.
		const last = await send(INTERVAL + 1 + commands + commandsAfter, 3, 100);
		const afterValues = { values: [...after.values, ...last.values], notAccepted: after.notAccepted + last.notAccepted };
		await dash.until(() => allAnswered(afterValues.values, restartAt), 10_000, "answers after the node's return").catch(() => undefined);
		// Each `interval` command starts the telemetry schedule again: readings follow the last one.
		const quietFrom = performance.now();
		await dash.until(() => telemetry.filter((t) => t.at > quietFrom).length >= 2, 5 * INTERVAL, "telemetry after the node's return").catch(() => undefined);

		return {
			version: nodes[0]!.version,
			nodes: count,
			connections: connections.map((c) => `${c.server}${c.resumed ? "+session" : ""}`),
			moved: move.at - killedAt,
			movedTo: servers.indexOf(move.server),
			sessionResumed: move.resumed,
			firstAnswer: duringAnswers.length ? Math.min(...duringAnswers.map((a) => a.at)) - killedAt : NaN,
			lastAnswer: duringAnswers.length ? Math.max(...duringAnswers.map((a) => a.at)) - killedAt : NaN,
			telemetryResumed: resumedTelemetry ? resumedTelemetry.at - killedAt : NaN,
			telemetryMissing,
			during: tally(during, killedAt),
			nodeBack,
			nodeBackError,
			afterReturn: tally(afterValues, restartAt),
			telemetryAfterReturn: telemetry.length - telemetryBefore,
			lostAfterMove: losses.length - lossesBefore,
			output,
		};
	}
	finally {
		await device?.stop().catch(() => undefined);
		await dashboard?.close();
		await cluster.stop();
	}
}
