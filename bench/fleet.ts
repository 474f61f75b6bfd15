// A fleet in one process: N clients (ours with default options, or MQTT.js 5 with its defaults), each
// with a persistent session and a will, against a mosquitto this benchmark starts. The broker is
// killed (SIGKILL) and started again on the same port after a fixed downtime; measured: how the fleet
// comes back. Used by bench/run.ts; also runs alone: `node build/bench/fleet.js [--quick] [--sizes 1000,2000]`.
//
// - The clients reach mosquitto through a TCP relay in a process of its own (bench/fleet-relay.ts) that
//   counts each connection it accepts: the connection attempts the broker sees, per 100 ms, on a clock
//   the fleet's own work does not hold up. While the broker is down the relay does not listen either
//   (attempts are refused, as by a dead broker); its listen backlog is 100, mosquitto's own.
// - mosquitto runs with persistence: the in-memory database is written (SIGUSR1) once the fleet is
//   connected, so that the sessions survive the SIGKILL; without that a SIGKILL loses them all.
// - Wills: a subscriber on fleet/+/status, connected to mosquitto directly (not through the relay),
//   before the kill and again as soon as the broker is back, counts every will published.

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { connect as mqttConnect } from "mqtt";
import type { MqttClient } from "mqtt";
import { createClient } from "../hosts/node/index.js";
import { RECONNECT_DEFAULTS } from "../modules/mqtt/client.js";
import type { Client } from "../modules/mqtt/client.js";
import { freePort, HOST, startBroker } from "../test/lib/mosquitto.js";
import type { Broker } from "../test/lib/mosquitto.js";
import { RelayProcess } from "./fleet-relay.js";
import { writeSection } from "./results-file.js";

export type FleetKind = "ours" | "mqttjs";

export interface FleetOptions {
	kind: FleetKind;
	clients: number;
	/** ms between the kill and the restart. */
	downtime: number;
	/** Ours: the reconnect jitter (undefined: the default). */
	jitter?: number;
	/** Longest wait for the whole fleet to be back, ms after the broker is. */
	recoverWithin?: number;
}

export interface FleetFigures {
	kind: FleetKind;
	clients: number;
	jitter: number | undefined;
	downtime: number;
	/** Connections the broker accepted per 100 ms from the moment it was back. */
	buckets: number[];
	peak: number;
	/** Connections accepted after the restart in all (more than `clients`: some were tried again). */
	accepted: number;
	/** ms from the broker back to 99% / 100% of the fleet connected; undefined: not within recoverWithin. */
	back99: number | undefined;
	back100: number | undefined;
	/** Connected when the wait ended. */
	connectedAtEnd: number;
	/** Wills the subscriber received (none should be: no client lost its connection while the broker lived). */
	wills: number;
	/** Reconnections whose CONNACK said session present. */
	sessionsResumed: number;
	/** ms to connect the fleet at first. */
	connectTime: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Member {
	close(): void;
}

function willSubscriber(port: number, onWill: () => void): Promise<MqttClient> {
	return new Promise((resolve, reject) => {
		const sub = mqttConnect({ host: HOST, port, clean: true, reconnectPeriod: 0, connectTimeout: 5000 });
		sub.on("message", () => onWill());
		sub.once("error", reject);
		sub.once("connect", () => {
			sub.subscribe("fleet/+/status", { qos: 1 }, (error) => error ? reject(error) : resolve(sub));
		});
	});
}

async function waitFor(test: () => boolean, ms: number, what: string): Promise<void> {
	const deadline = performance.now() + ms;
	while (!test()) {
		if (performance.now() > deadline) throw new Error(`fleet: ${what} not within ${ms} ms`);
		await sleep(10);
	}
}

/** Writes mosquitto's database (SIGUSR1) and waits for its log to say so. */
async function saveDatabase(broker: Broker): Promise<void> {
	const before = (broker.log().match(/Saving in-memory database/g) ?? []).length;
	process.kill(broker.pid!, "SIGUSR1");
	await waitFor(() => (broker.log().match(/Saving in-memory database/g) ?? []).length > before, 10_000, "mosquitto saving its database");
	// The line is logged as the write starts.
	await sleep(300);
}

export async function runFleet(options: FleetOptions): Promise<FleetFigures> {
	const { kind, clients: n, downtime } = options;
	const recoverWithin = options.recoverWithin ?? 90_000;
	const broker = await startBroker({ kind: "mosquitto", persistence: true });
	const relay = await RelayProcess.start(await freePort(), broker.port);
	await relay.up();
	const members: Member[] = [];
	const connected = new Uint8Array(n);
	let count = 0;
	let recovering = false;
	let backAt = -1;
	let at99 = -1;
	let at100 = -1;
	let sessionsResumed = 0;
	const need99 = Math.ceil(n * 0.99);
	const up = (i: number, sessionPresent: boolean) => {
		if (connected[i]) return;
		connected[i] = 1;
		count++;
		if (!recovering) return;
		if (sessionPresent) sessionsResumed++;
		if (count >= need99 && at99 < 0) at99 = performance.now() - backAt;
		if (count === n && at100 < 0) at100 = performance.now() - backAt;
	};
	const down = (i: number) => {
		if (!connected[i]) return;
		connected[i] = 0;
		count--;
	};
	let wills = 0;
	let sub: MqttClient | undefined;
	try {
		sub = await willSubscriber(broker.port, () => wills++);
		const started = performance.now();
		// In batches, so that the first connect is not itself a herd at the backlog.
		const BATCH = 250;
		for (let from = 0; from < n; from += BATCH) {
			const to = Math.min(n, from + BATCH);
			for (let i = from; i < to; i++) {
				const clientId = `fleet-${i}`;
				const topic = `fleet/${i}/status`;
				if (kind === "ours") {
					const c: Client = createClient({
						host: HOST, port: relay.port, clientId, cleanSession: false,
						will: { topic, payload: "offline", qos: 1, retain: false },
						...(options.jitter !== undefined ? { reconnect: { jitter: options.jitter } } : {}),
						onConnect: (present) => up(i, present),
						onClose: () => down(i),
						onError: () => {},
					});
					members.push({ close: () => c.close() });
				}
				else {
					const c = mqttConnect({
						host: HOST, port: relay.port, clientId, clean: false,
						will: { topic, payload: Buffer.from("offline"), qos: 1, retain: false },
					});
					c.on("connect", (connack) => up(i, connack.sessionPresent));
					c.on("close", () => down(i));
					c.on("error", () => {});
					members.push({ close: () => c.end(true) });
				}
			}
			await waitFor(() => count === to, 60_000, `the first ${to} clients connecting`);
		}
		const connectTime = performance.now() - started;
		await saveDatabase(broker);
		sub.end(true);
		sub = undefined;

		await broker.kill("SIGKILL");
		await relay.down();
		const killedAt = performance.now();
		await broker.restart();
		sub = await willSubscriber(broker.port, () => wills++);
		const rest = downtime - (performance.now() - killedAt);
		if (rest > 0) await sleep(rest);
		recovering = true;
		backAt = performance.now();
		// Its accepts are counted from the moment it listens again, on its own clock.
		await relay.up();
		const deadline = backAt + recoverWithin;
		while (at100 < 0 && performance.now() < deadline) await sleep(10);
		// Stragglers' attempts and any late will.
		await sleep(1000);
		const connectedAtEnd = count;
		const accepts = await relay.accepts();
		const buckets: number[] = [];
		for (const t of accepts) {
			const b = Math.max(0, Math.floor(t / 100));
			while (buckets.length <= b) buckets.push(0);
			buckets[b]!++;
		}
		return {
			kind, clients: n, jitter: kind === "ours" ? options.jitter ?? 0.5 : undefined, downtime, buckets,
			peak: Math.max(0, ...buckets), accepted: accepts.length,
			back99: at99 < 0 ? undefined : at99, back100: at100 < 0 ? undefined : at100,
			connectedAtEnd, wills, sessionsResumed, connectTime,
		};
	}
	finally {
		members.forEach((m) => m.close());
		sub?.end(true);
		await sleep(200);
		await relay.stop();
		await broker.stop();
	}
}

// ---- the section -------------------------------------------------------------------------------

const LABEL: Record<FleetKind, string> = { ours: "ours", mqttjs: "MQTT.js" };

function label(f: FleetFigures): string {
	if (f.kind === "mqttjs") return "MQTT.js, defaults (reconnectPeriod 1000)";
	return f.jitter === 0.5 ? "ours, defaults (jitter 0.5)" : `ours, jitter ${f.jitter}`;
}

const ms = (v: number | undefined) => v === undefined ? "—" : `${Math.round(v).toLocaleString("en")}`;

/** Targets: the herd spread (no 100 ms sees more than a tenth of the fleet), all back within 10 s, no wills. */
function targets(f: FleetFigures): { spread: boolean; back: boolean; wills: boolean } {
	return { spread: f.peak <= Math.ceil(f.clients / 10), back: f.back100 !== undefined && f.back100 <= 10_000, wills: f.wills === 0 };
}

function row(f: FleetFigures): string {
	const t = targets(f);
	const yes = (ok: boolean) => ok ? "met" : "**missed**";
	return `| ${f.clients.toLocaleString("en")} | ${label(f)} | ${f.peak} (${yes(t.spread)}) | ${f.accepted.toLocaleString("en")} | ${ms(f.back99)} | ${ms(f.back100)} (${yes(t.back)}) | ${f.wills} (${yes(t.wills)}) | ${f.sessionsResumed.toLocaleString("en")} | ${ms(f.connectTime)} |`;
}

function spark(f: FleetFigures, upTo: number): string {
	return f.buckets.slice(0, upTo).join(" ");
}

/** The soft limit of open files of this process (Linux), or undefined where it cannot be read. */
function openFileLimit(): number | undefined {
	try {
		const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
		return m ? Number(m[1]) : undefined;
	}
	catch {
		return undefined;
	}
}

export interface FleetPlan {
	/** [kind, clients, jitter] */
	runs: [FleetKind, number, number | undefined][];
	downtime: number;
}

export function plan(quick: boolean, sizes?: number[]): FleetPlan {
	if (quick) return { downtime: 500, runs: [["ours", 50, undefined], ["mqttjs", 50, undefined]] };
	const runs: FleetPlan["runs"] = [
		["ours", 1000, undefined], ["mqttjs", 1000, undefined], ["ours", 1000, 0], ["ours", 1000, 1],
	];
	for (const size of sizes ?? [2000, 5000, 9000]) runs.push(["ours", size, undefined], ["mqttjs", size, undefined], ["ours", size, 1]);
	return { downtime: 2000, runs };
}

export async function fleetSection(quick: boolean, sizes?: number[]): Promise<{ lines: string[]; failures: string[] }> {
	const p = plan(quick, sizes);
	const failures: string[] = [];
	const results: FleetFigures[] = [];
	const stopped: string[] = [];
	for (const [kind, clients, jitter] of p.runs) {
		try {
			const f = await runFleet({ kind, clients, downtime: p.downtime, jitter });
			results.push(f);
			process.stderr.write(`fleet: ${label(f)} ×${clients}: peak ${f.peak}/100 ms, 99% ${ms(f.back99)} ms, 100% ${ms(f.back100)} ms, wills ${f.wills}\n`);
			const t = targets(f);
			const name = `fleet of ${clients.toLocaleString("en")}, ${label(f)}`;
			if (!t.spread) failures.push(`${name}: ${f.peak} connection attempts in one 100 ms (target ≤ ${Math.ceil(clients / 10)})`);
			if (!t.back) failures.push(`${name}: all back in ${ms(f.back100)} ms (target ≤ 10,000; ${f.connectedAtEnd} of ${clients} at the end)`);
			if (!t.wills) failures.push(`${name}: ${f.wills} wills published (target 0)`);
		}
		catch (error) {
			// A fleet this machine cannot hold: said, not a broken measurement, for sizes past the first.
			if (clients <= 1000) throw error;
			stopped.push(`${clients.toLocaleString("en")} clients (${LABEL[kind]}): ${(error as Error).message}`);
		}
	}
	const lines = [
		"## A fleet: the broker killed and restarted",
		"",
		`N clients in one Node process, each with a persistent session (client id fleet-i, clean session off)`,
		`and a will (fleet/i/status, QoS 1), connect to mosquitto (persistence on; the database written with`,
		`SIGUSR1 once all are connected, so the sessions survive). mosquitto is killed (SIGKILL) and started`,
		`again on the same port ${p.downtime.toLocaleString("en")} ms later. The clients reach it through a relay, in a process of its own,`,
		"that counts each connection it accepts (backlog 100, mosquitto's) and, like the broker, listens only while it is up.",
		"Times are from the moment the broker is back. Wills are counted by a subscriber on fleet/+/status.",
		`Ours: \`createClient\` with default options (reconnect initialDelay ${RECONNECT_DEFAULTS.initialDelay}, maxDelay ${RECONNECT_DEFAULTS.maxDelay}, factor ${RECONNECT_DEFAULTS.factor};`,
		"jitter as said); MQTT.js 5: its defaults (reconnectPeriod 1000, no jitter).",
		"**Targets: no 100 ms sees more than a tenth of the fleet's attempts; all back within 10 s; no wills.**",
		"",
		"| Clients | Client | Peak attempts per 100 ms | Attempts after restart | 99% back, ms | 100% back, ms | Wills | Sessions resumed | First connect, ms |",
		"| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
		...results.map(row),
		"",
		"Connections accepted per 100 ms after the restart (the first 40 intervals):",
		"",
		...results.map((f) => `- ${f.clients.toLocaleString("en")}, ${label(f)}: ${spark(f, 40)}`),
	];
	if (stopped.length) lines.push("", "Not measured:", "", ...stopped.map((s) => `- ${s}`));
	const files = openFileLimit();
	if (!quick && files !== undefined)
		lines.push("", `Where it stops: the relay holds two descriptors per client (its end and mosquitto's), so ${Math.floor(files / 2).toLocaleString("en")} clients`,
			`would need all of this machine's limit of ${files.toLocaleString("en")} open files per process (\`ulimit -n\`) and more.`);
	return { lines, failures };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
	const at = process.argv.indexOf("--sizes");
	const sizes = at > 0 ? process.argv[at + 1]!.split(",").map(Number) : undefined;
	const section = await fleetSection(process.argv.includes("--quick"), sizes);
	process.stdout.write(section.lines.join("\n") + "\n");
	// `--write`: this section of bench/RESULTS.md replaced (or added), the others left as they are.
	if (process.argv.includes("--write")) writeSection(section.lines);
	if (section.failures.length) process.stdout.write(`targets missed:\n  ${section.failures.join("\n  ")}\n`);
	process.exit(0);
}
