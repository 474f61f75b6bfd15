// Throughput on Node without a broker in the way: our client, MQTT.js 5 and a raw writer publish to
// a child process that answers every packet at once (bench/answerer.ts), on loopback. Measures
// messages per second and this process's CPU per message for QoS 0, 1 and 2; used by bench/run.ts,
// and runnable alone: `node build/bench/node-answerer.js [--quick]` prints the section (`--only`: one
// publisher's trials, see `only`).

import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { AnswererCounts, AnswererReport, AnswererRequest } from "./answerer.js";
import {
	DIGITS, MqttJsPublisher, OursPublisher, PAYLOAD_BYTES, QOS1_WINDOW, QOS2_WINDOW, RAW_CHUNK,
	median, mqttJsVersion, oursOptions, windowFor, within, writeChunks,
} from "./node-throughput.js";
import type { Publisher } from "./node-throughput.js";
import { Signal } from "../test/lib/signal.js";

type QoS = 0 | 1 | 2;
type Kind = "ours" | "mqttjs" | "raw";
const KINDS: Kind[] = ["ours", "mqttjs", "raw"];
const LABELS: Record<Kind, string> = { ours: "ours", mqttjs: "MQTT.js", raw: "raw writer" };
const HOST = "127.0.0.1";
/** The answerer exits by itself after this long, whatever happens to this process. */
const ANSWERER_LIFETIME = 20 * 60_000;

/** Targets: ours ÷ MQTT.js messages/s at each QoS, and ours ÷ the raw writer at QoS 0. */
const TARGET_VS_MQTTJS: Record<QoS, number> = { 0: 10, 1: 20, 2: 10 };
const TARGET_VS_RAW_QOS0 = 0.3;

interface Trial {
	/** Messages per second, first publish to last completion. */
	rate: number;
	/** This process's CPU time (user + system) per message, µs. */
	cpu: number;
	/** The answerer's CPU time from just before the first publish to the last completion, as a fraction of the span. */
	answererBusy: number;
}

// ---- packets, encoded here ------------------------------------------------------------------------

const CONNACK = 2;
const PUBACK = 4;
const PUBREC = 5;
const PUBCOMP = 7;
const PUBREL_HEADER = 0x62;

/** CONNECT, MQTT 3.1.1, clean session, no keepalive. */
function connectPacket(clientId: string): Buffer {
	const id = Buffer.from(clientId, "utf8");
	const remaining = 10 + 2 + id.length;
	if (remaining > 127) throw new Error("client id too long for this CONNECT");
	return Buffer.concat([
		Buffer.from([0x10, remaining, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x00, id.length >> 8, id.length & 0xFF]),
		id,
	]);
}

/** Writes a PUBLISH at `at` (identifier `id` for QoS 1/2); returns its length. */
function writePublish(out: Buffer, at: number, topic: Buffer, payload: Buffer, qos: QoS, id: number): number {
	let remaining = 2 + topic.length + (qos > 0 ? 2 : 0) + payload.length;
	let o = at;
	out[o++] = 0x30 | (qos << 1);
	do {
		out[o++] = (remaining & 0x7F) | (remaining > 0x7F ? 0x80 : 0);
		remaining >>= 7;
	} while (remaining > 0);
	out[o++] = topic.length >> 8;
	out[o++] = topic.length & 0xFF;
	o += topic.copy(out, o);
	if (qos > 0) {
		out[o++] = id >> 8;
		out[o++] = id & 0xFF;
	}
	o += payload.copy(out, o);
	return o - at;
}

// ---- the answering process --------------------------------------------------------------------

/** The child process, its port, and its reports. */
class Answerer {
	/** The latest report of each kind, until `take` takes it or a request forgets it. */
	private readonly reports = new Map<AnswererReport["op"], AnswererReport>();
	/** Notified at each report; failed when the child fails. */
	private readonly signal = new Signal();
	/** The trial under way (see `watch`). */
	private trial: Signal | undefined;
	private failure: Error | undefined;
	private readonly killOnExit = (): void => void this.child.kill("SIGKILL");
	port = 0;

	private constructor(private readonly child: ChildProcess) {
		child.on("message", (report: AnswererReport) => {
			if (report.op === "error") return this.fail(new Error(report.message));
			this.reports.set(report.op, report);
			this.signal.notify();
			this.trial?.notify();
		});
		child.on("error", (error) => this.fail(error));
		child.on("exit", (code, signal) => this.fail(new Error(`the answerer exited (${signal ?? `code ${code}`})`)));
		process.once("exit", this.killOnExit);
	}

	static async start(): Promise<Answerer> {
		const script = fileURLToPath(new URL("./answerer.js", import.meta.url));
		// No execArgv: flags of this process (--cpu-prof, say) are not the child's.
		const child = fork(script, [String(ANSWERER_LIFETIME)], { execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
		const answerer = new Answerer(child);
		try {
			const listening = await answerer.take("listening", 10_000);
			if (listening.op !== "listening" || !listening.port) throw new Error("the answerer reported no port");
			answerer.port = listening.port;
			return answerer;
		}
		catch (error) {
			await answerer.stop();
			throw error;
		}
	}

	/**
	 * A trial's signal: from now on it is notified at each report and fails when the child does (at
	 * once if it already has), as well as the answerer's own.
	 */
	watch(signal: Signal): void {
		this.trial = signal;
		if (this.failure) signal.fail(this.failure);
	}

	/**
	 * Takes the report `op` that came since the last one was taken or forgotten, waiting for it on
	 * `signal` (the answerer's own unless given): rejects after `ms`, or when that signal fails.
	 */
	async take(op: AnswererReport["op"], ms: number, signal = this.signal): Promise<AnswererReport> {
		await signal.until(() => this.reports.has(op), ms, `the answerer's "${op}"`);
		const report = this.reports.get(op)!;
		this.reports.delete(op);
		return report;
	}

	private fail(error: Error): void {
		this.failure ??= error;
		this.signal.fail(error);
		this.trial?.fail(error);
	}

	/** Sends `request` and takes its answer, the next report `op`. */
	private ask(request: AnswererRequest, op: AnswererReport["op"], ms: number): Promise<AnswererReport> {
		this.reports.delete(op);
		this.child.send(request);
		return this.take(op, ms);
	}

	/**
	 * Clears the counts and returns the answerer's CPU time then (µs). With `qos0Bytes`, the report
	 * `reached` comes when that many bytes of QoS 0 PUBLISHes have arrived (`take` it).
	 */
	async reset(qos0Bytes: number): Promise<number> {
		this.reports.delete("reached");
		const report = await this.ask({ op: "reset", qos0Bytes }, "reset", 5000);
		return report.op === "reset" ? report.cpu : NaN;
	}

	async counts(): Promise<AnswererCounts> {
		const report = await this.ask({ op: "counts" }, "counts", 5000);
		if (report.op !== "counts") throw new Error("the answerer sent no counts");
		return report.counts;
	}

	/** Ends the child: SIGTERM, then SIGKILL if it has not exited within two seconds. */
	async stop(): Promise<void> {
		process.removeListener("exit", this.killOnExit);
		const child = this.child;
		if (child.exitCode !== null || child.signalCode !== null) return;
		const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
		child.kill("SIGTERM");
		await within(exited, 2000, "the answerer stopping").catch(() => {
			child.kill("SIGKILL");
		});
	}
}

// ---- the raw writer ---------------------------------------------------------------------------

/**
 * The ceiling: PUBLISH packets encoded beforehand into one buffer, written RAW_CHUNK bytes at a time
 * (the next at 'drain'). QoS 1/2 keep `window` messages in flight: the acknowledgements of each
 * received chunk (PUBACK, PUBCOMP) release the next packets, and PUBRECs get their PUBRELs, all
 * written after that chunk as one write.
 */
class RawWriter implements Publisher {
	private prepared = Buffer.alloc(0);
	private size = 0;
	private readonly batch = Buffer.allocUnsafe(RAW_CHUNK);
	private batched = 0;
	private rest: Buffer | undefined;
	private onPacket: (type: number, data: Buffer, start: number) => void = () => undefined;

	/** Notifies the trial's `signal` of its progress, and fails it when its connection fails. */
	private constructor(private readonly socket: net.Socket, private readonly window: number, private readonly signal: Signal) {
		socket.on("error", (error) => signal.fail(error));
		socket.on("close", () => signal.fail(new Error("raw writer: the connection closed")));
	}

	static async open(port: number, host: string, clientId: string, window: number, signal: Signal): Promise<RawWriter> {
		let writer: RawWriter | undefined;
		// Reads land in one reused buffer, without stream 'data' events.
		const socket = net.connect({
			host, port,
			onread: {
				buffer: Buffer.allocUnsafe(64 * 1024),
				callback: (n: number, buffer: Uint8Array): boolean => {
					writer?.received(buffer as Buffer, n);
					return true;
				},
			},
		});
		socket.setNoDelay(true);
		writer = new RawWriter(socket, window, signal);
		try {
			let accepted = false;
			writer.onPacket = (type, data, start) => {
				if (accepted) return;
				if (type !== CONNACK || data[start + 1] !== 0) signal.fail(new Error(`raw writer: packet type ${type} where CONNACK was due`));
				else {
					accepted = true;
					signal.notify();
				}
			};
			let connected = false;
			socket.once("connect", () => {
				connected = true;
				signal.notify();
			});
			await signal.until(() => connected, 5000, "raw writer connecting");
			socket.write(connectPacket(clientId));
			await signal.until(() => accepted, 5000, "raw writer: CONNACK");
			return writer;
		}
		catch (error) {
			writer.destroy();
			throw error;
		}
	}

	prepare(topics: string[], payload: Buffer, qos: QoS): void {
		const size = writePublish(Buffer.alloc(512), 0, Buffer.from(topics[0]!), payload, qos, 1);
		const bytes = Buffer.alloc(size * topics.length);
		for (let i = 0; i < topics.length; i++) {
			// Identifiers 1..65535, then again from 1: a window never holds two alike.
			if (writePublish(bytes, i * size, Buffer.from(topics[i]!), payload, qos, (i % 65535) + 1) !== size)
				throw new Error("raw writer: the topics differ in length");
		}
		this.prepared = bytes;
		this.size = size;
	}

	async run(topics: string[], _payload: Buffer, qos: QoS, qos0Done: () => Promise<void>, ms: number): Promise<void> {
		const { prepared, size, socket, signal } = this;
		const count = topics.length;
		const first = qos === 0 ? count : Math.min(this.window, count);
		let next = first;
		let completed = 0;
		this.onPacket = (type, data, start) => {
			if (type === (qos === 1 ? PUBACK : PUBCOMP)) {
				if (++completed === count) signal.notify();
				if (next < count) this.append(prepared, next++ * size, size);
			}
			else if (type === PUBREC && qos === 2) {
				if (this.batched + 4 > this.batch.length) this.flush();
				const b = this.batch;
				b[this.batched] = PUBREL_HEADER;
				b[this.batched + 1] = 2;
				b[this.batched + 2] = data[start]!;
				b[this.batched + 3] = data[start + 1]!;
				this.batched += 4;
			}
			else if (completed < count) signal.fail(new Error(`raw writer: unexpected packet type ${type}`));
		};
		await writeChunks(socket, prepared, first * size, signal, ms, "raw writer");
		if (qos === 0) await qos0Done();
		else await signal.until(() => completed === count, ms, "raw writer");
	}

	private received(chunk: Buffer, count: number): void {
		let data = chunk;
		let length = count;
		if (this.rest) {
			data = Buffer.concat([this.rest, chunk.subarray(0, count)]);
			length = data.length;
			this.rest = undefined;
		}
		let at = 0;
		// Everything the answerer sends is at most 127 bytes long: a remaining length of one byte.
		while (length - at >= 2) {
			if (data[at + 1]! & 0x80) return this.signal.fail(new Error("raw writer: a packet longer than expected"));
			const end = at + 2 + data[at + 1]!;
			if (end > length) break;
			this.onPacket(data[at]! >> 4, data, at + 2);
			at = end;
		}
		// The read buffer is reused: a partial packet is kept as a copy.
		if (at < length) this.rest = Buffer.from(data.subarray(at, length));
		this.flush();
	}

	private append(from: Buffer, at: number, length: number): void {
		if (this.batched + length > this.batch.length) this.flush();
		from.copy(this.batch, this.batched, at, at + length);
		this.batched += length;
	}

	private flush(): void {
		if (this.batched === 0) return;
		this.socket.write(Buffer.from(this.batch.subarray(0, this.batched)));
		this.batched = 0;
	}

	private destroy(): void {
		this.socket.removeAllListeners("close");
		this.socket.destroy();
	}

	async close(): Promise<void> {
		this.destroy();
	}
}

// ---- a trial and the section -------------------------------------------------------------------

let runs = 0;

/**
 * One publisher of `kind` sends `count` messages at `qos` to the answerer, at most `window` of them
 * awaiting completion (QoS 1/2). The answerer's counts must show each message exactly once.
 */
async function trial(answerer: Answerer, kind: Kind, qos: QoS, count: number, window: number, ms: number): Promise<Trial> {
	const run = `a${String(++runs % 1000).padStart(3, "0")}`;
	const topics = new Array<string>(count);
	for (let i = 0; i < count; i++) topics[i] = `bench/${run}/${String(i).padStart(DIGITS, "0")}`;
	const payload = Buffer.alloc(PAYLOAD_BYTES, 0x5A);
	const w = Math.min(window, count);
	const what = `${LABELS[kind]}, QoS ${qos}, ${count} messages, window ${w}, to the answerer`;
	const clientId = `bench-${kind}-${run}`;
	// Every connection of the trial, and the answerer, notify this of their progress and fail it when they fail.
	const signal = new Signal();
	answerer.watch(signal);
	let publisher: Publisher | undefined;
	try {
		publisher = kind === "ours" ? await OursPublisher.open(answerer.port, HOST, clientId, w, signal)
			: kind === "mqttjs" ? await MqttJsPublisher.open(answerer.port, HOST, clientId, w, signal)
			: await RawWriter.open(answerer.port, HOST, clientId, w, signal);
		publisher.prepare?.(topics, payload, qos);
		const qos0Bytes = qos === 0 ? count * writePublish(Buffer.alloc(512), 0, Buffer.from(topics[0]!), payload, 0, 0) : 0;
		const answererBefore = await answerer.reset(qos0Bytes);
		let answererAfter = NaN;
		const qos0Done = async (): Promise<void> => {
			const report = await answerer.take("reached", ms, signal);
			if (report.op === "reached") answererAfter = report.counts.cpu;
		};
		const cpuBefore = process.cpuUsage();
		const started = performance.now();
		await publisher.run(topics, payload, qos, qos0Done, ms).catch(async (error: Error) => {
			const c = await answerer.counts().then((counts) => JSON.stringify(counts), () => "unknown");
			throw new Error(`${what}: ${error.message} (the answerer's counts: ${c})`);
		});
		const elapsed = performance.now() - started;
		const cpu = process.cpuUsage(cpuBefore);
		const c = await answerer.counts();
		if (qos > 0) answererAfter = c.cpu;
		const seen = qos === 0 ? c.qos0 : qos === 1 ? c.qos1 : c.qos2;
		if (seen !== count || c.unexpected > 0 || (qos === 2 && c.pubrel !== count))
			throw new Error(`${what}: the answerer counted ${seen} PUBLISHes at QoS ${qos}${qos === 2 ? `, ${c.pubrel} PUBRELs` : ""}, ${c.unexpected} unexpected packets`);
		return { rate: count / (elapsed / 1000), cpu: (cpu.user + cpu.system) / count, answererBusy: (answererAfter - answererBefore) / 1000 / elapsed };
	}
	finally {
		await publisher?.close();
	}
}

function rate(n: number): string {
	return Math.round(n).toLocaleString("en");
}

function percent(n: number): string {
	return Number.isNaN(n) ? "?" : `${Math.round(n * 100)}%`;
}

/** A row of the table: `checked` rows carry the targets; the others are for reading alongside. */
interface Row {
	qos: QoS;
	messages: number;
	window: number;
	checked: boolean;
}

const TITLE = "### Against a process that answers at once, not a broker";

/**
 * The markdown subsection (it follows "Throughput on Node against MQTT.js 5") and the targets
 * missed (not checked in quick mode). Starts the answerer and stops it whatever happens; a trial
 * that breaks throws.
 */
export async function answererSection(quick: boolean): Promise<{ lines: string[]; failures: string[] }> {
	const scale = quick ? 0.02 : 1;
	const plan: Row[] = [
		{ qos: 0, messages: 200_000 * scale, window: windowFor(0), checked: true },
		{ qos: 1, messages: 100_000 * scale, window: windowFor(1), checked: true },
		{ qos: 2, messages: 100_000 * scale, window: windowFor(2), checked: true },
		// Without mosquitto's limit of 20 (the answerer has none): what QoS 2 costs when round trips do not set the pace.
		{ qos: 2, messages: 100_000 * scale, window: QOS1_WINDOW, checked: false },
	];
	const rounds = quick ? 1 : 7;
	/** Raw writer runs at QoS 0 before anything is measured: the answerer's JIT and the loopback path. */
	const answererWarmUp = quick ? 0 : 10;
	const ms = quick ? 10_000 : 60_000;
	const key = (kind: Kind, row: Row): string => `${kind}/${row.qos}/${row.window}`;
	const results = new Map<string, Trial[]>();
	const loadBefore = os.loadavg()[0]!;
	const answerer = await Answerer.start();
	try {
		for (let i = 0; i < answererWarmUp; i++) await trial(answerer, "raw", 0, plan[0]!.messages, 0, ms);
		for (const row of plan) {
			// Warm-up (not counted): one full run of each publisher.
			if (!quick) for (const kind of KINDS) await trial(answerer, kind, row.qos, row.messages, row.window, ms);
			for (let r = 0; r < rounds; r++) {
				for (const kind of KINDS) {
					const t = await trial(answerer, kind, row.qos, row.messages, row.window, ms);
					results.set(key(kind, row), [...(results.get(key(kind, row)) ?? []), t]);
				}
			}
		}
	}
	finally {
		await answerer.stop();
	}
	const loadAfter = os.loadavg()[0]!;

	const mid = (kind: Kind, row: Row, field: keyof Trial): number => median(results.get(key(kind, row))!.map((t) => t[field]));
	const failures: string[] = [];
	const lines = [
		TITLE,
		"",
		"The same publishers (ours and MQTT.js as above) and a raw writer, each alone, to a child process on 127.0.0.1",
		"(`bench/answerer.ts`) that frames what it receives and answers at once: CONNACK, PUBACK, PUBREC, PUBCOMP,",
		"SUBACK, PINGRESP from fixed bytes with the packet identifier copied in; QoS 0 PUBLISHes it only counts.",
		`${PAYLOAD_BYTES}-byte payloads, ${"bench/".length + 4 + 1 + DIGITS}-byte topics; ${rounds} round${rounds > 1 ? "s" : ""} alternating ours, MQTT.js and the raw writer${quick ? "" : ", after a warm-up (below)"}; medians.`,
		"A rate runs from the first publish to the last completion: for QoS 0 the answerer's report that it has",
		"counted every byte, for QoS 1/2 the last onDelivered (ours), publish callback (MQTT.js), PUBACK or PUBCOMP (raw).",
		"CPU is this process's (user + system, `process.cpuUsage()`) per message: the publisher's alone. The answerer",
		"measures its own, reported as a share of the same span (\"busy\"). On a machine shared with other work the",
		"rates move with what else runs (see each round's figures below); the CPU per message moves much less.",
		"**Targets: ours at least 10× MQTT.js at QoS 0, 20× at QoS 1, 10× at QoS 2, and at least 0.3× the raw writer at QoS 0.**",
		...(quick ? ["", "*Quick mode: small counts, one cold round: a check that the benchmark works, not figures to read (the targets are not checked).*"] : []),
		"",
		"| QoS | Messages | Window | ours msg/s | MQTT.js msg/s | raw writer msg/s | ours ÷ MQTT.js | ours ÷ raw | CPU µs/msg ours / MQTT.js / raw | MQTT.js CPU ÷ ours | answerer busy ours / MQTT.js / raw |",
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
	];
	for (const row of plan) {
		const [ours, theirs, raw] = KINDS.map((k) => mid(k, row, "rate")) as [number, number, number];
		const cpu = KINDS.map((k) => mid(k, row, "cpu").toFixed(2)).join(" / ");
		const cpuRatio = mid("mqttjs", row, "cpu") / mid("ours", row, "cpu");
		const busy = KINDS.map((k) => percent(mid(k, row, "answererBusy"))).join(" / ");
		const qos = row.checked ? `${row.qos}` : `${row.qos}*`;
		const window = row.qos === 0 ? "–" : row.window.toLocaleString("en");
		lines.push(`| ${qos} | ${row.messages.toLocaleString("en")} | ${window} | ${rate(ours)} | ${rate(theirs)} | ${rate(raw)} | **${(ours / theirs).toFixed(2)}×** | ${(ours / raw).toFixed(2)}× | ${cpu} | ${cpuRatio.toFixed(2)}× | ${busy} |`);
	}
	lines.push(
		"",
		`\\* Not a target row: QoS 2 with the window of QoS 1 (${QOS1_WINDOW.toLocaleString("en")}), which a mosquitto at its defaults would refuse;`,
		`  with ${QOS2_WINDOW} in flight every publisher waits on round trips.`,
		"",
		"| Target | Measured | Met |",
		"| --- | ---: | :---: |",
	);
	const check = (label: string, measured: number, target: number): void => {
		const met = measured >= target;
		lines.push(`| ${label} | ${measured.toFixed(2)}× | ${quick ? "not checked" : met ? "met" : "**missed**"} |`);
		if (!met && !quick) failures.push(`answerer, ${label}: ${measured.toFixed(2)}×`);
	};
	for (const row of plan.filter((r) => r.checked))
		check(`ours ≥ ${TARGET_VS_MQTTJS[row.qos]}× MQTT.js msg/s, QoS ${row.qos}`, mid("ours", row, "rate") / mid("mqttjs", row, "rate"), TARGET_VS_MQTTJS[row.qos]);
	check(`ours ≥ ${TARGET_VS_RAW_QOS0}× the raw writer's msg/s, QoS 0`, mid("ours", plan[0]!, "rate") / mid("raw", plan[0]!, "rate"), TARGET_VS_RAW_QOS0);

	lines.push("", "Each round's msg/s:", "");
	for (const row of plan) {
		const per = KINDS.map((k) => `${LABELS[k]} ${results.get(key(k, row))!.map((t) => rate(t.rate)).join(", ")}`);
		lines.push(`- QoS ${row.qos}${row.qos > 0 ? `, window ${row.window.toLocaleString("en")}` : ""}: ${per.join("; ")}`);
	}
	const o = oursOptions(QOS1_WINDOW);
	lines.push(
		"",
		`- **Ours and MQTT.js ${mqttJsVersion()}:** the publishers of the mosquitto table, with its options and windows`,
		`  (${QOS1_WINDOW.toLocaleString("en")} awaiting PUBACK, ${QOS2_WINDOW} awaiting PUBCOMP; ours with txBufferSize ${o.txBufferSize.toLocaleString("en")}, maxInflight = maxMessages = the window).`,
		`- **Raw writer:** one net.Socket writing PUBLISH packets encoded beforehand into one buffer, ${RAW_CHUNK / 1024} KiB per write,`,
		"  the next at 'drain'; QoS 1/2 with the same windows, refilled (and PUBRELs written) once per received chunk.",
		"  It does no per-message work at QoS 0: its rate is what the answerer and loopback take, and it varies",
		"  from run to run more than the clients' rates do (a 200,000-message run lasts tens of milliseconds).",
		"- **Answerer:** a Node process (`fork`, started for the section, stopped at its end); one `data` event per",
		"  received chunk, its answers in one write per chunk. Its busy share near 100% means it, not the publisher,",
		"  set the rate. After each trial its counts must show every message once (and every PUBREL at QoS 2).",
		...(quick ? [] : [
			`- **Warm-up, not counted:** ${answererWarmUp} raw writer runs at QoS 0 first (the answerer's JIT), then before each row`,
			"  one full run of each publisher.",
		]),
		`- ${os.cpus()[0]?.model ?? "unknown CPU"} (${os.cpus().length} cores): the answerer and this process share them. Load average`,
		`  (1 min, the benchmark's own processes included): ${loadBefore.toFixed(2)} before the section, ${loadAfter.toFixed(2)} after.`,
	);
	return { lines, failures };
}

/**
 * `--only <ours|mqttjs|raw> --qos <0|1|2> [--window n] [--messages n] [--rounds n]`: one publisher's
 * trials, each printed (for profiling with `node --cpu-prof`; the answerer is not profiled).
 */
async function only(kind: Kind, qos: QoS, window: number, messages: number, rounds: number): Promise<void> {
	const answerer = await Answerer.start();
	try {
		for (let r = 0; r < rounds; r++) {
			const t = await trial(answerer, kind, qos, messages, window, 60_000);
			process.stdout.write(`${LABELS[kind]} QoS ${qos}: ${rate(t.rate)} msg/s, ${t.cpu.toFixed(2)} µs CPU/msg, answerer busy ${percent(t.answererBusy)}\n`);
		}
	}
	finally {
		await answerer.stop();
	}
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const argv = process.argv;
	const option = (name: string): string | undefined => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
	const kind = option("--only");
	if (kind !== undefined) {
		if (!(KINDS as string[]).includes(kind)) throw new Error(`--only: one of ${KINDS.join(", ")}`);
		const qos = Number(option("--qos") ?? 0);
		if (qos !== 0 && qos !== 1 && qos !== 2) throw new Error("--qos: 0, 1 or 2");
		const messages = Number(option("--messages") ?? (qos === 0 ? 200_000 : 100_000));
		await only(kind as Kind, qos, Number(option("--window") ?? windowFor(qos)), messages, Number(option("--rounds") ?? 5));
	}
	else {
		const section = await answererSection(argv.includes("--quick"));
		process.stdout.write(section.lines.join("\n") + "\n");
		if (section.failures.length) process.stdout.write(`targets missed:\n  ${section.failures.join("\n  ")}\n`);
	}
}
