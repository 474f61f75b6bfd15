// Our client beside the Moddable SDK's own MQTT client in the same XS engine (compute and heap per
// publish), and our client's footprint: fixed buffer bytes, and live heap slots once connected.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "../modules/mqtt/client.js";
import type { PacketReader } from "../modules/mqtt/reader.js";
import { HEADER_ROOM, TOPIC_CACHE_BYTES } from "../modules/mqtt/session.js";
import type { Transmit } from "../modules/mqtt/transmit.js";
import { XsWorker } from "../hosts/xs/worker.js";
import { LoopbackBroker } from "../test/lib/xs/loopback.js";
import { findSdk } from "../test/lib/moddable.js";
import { measure } from "../test/lib/xs-meter.js";
import type { XsFigures } from "../test/lib/xs-meter.js";
import { ManualClock } from "../test/lib/manual-clock.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const SDK_MQTT = path.join("modules", "network", "mqtt", "mqtt.js");
/** Ours must take at most this fraction of the SDK client's compute per publish. */
const COMPUTE_TARGET = 0.5;

interface Section {
	lines: string[];
	failures: string[];
}

/**
 * A worker whose cwd is a staging directory where mqtt.js's bare imports ("socket", "timer",
 * "time", "websocket") resolve to our stubs, with mqtt.js imported from the SDK as it is, and the
 * SDK workloads (ours too, and the footprint calls) registered.
 */
async function startSdkWorker(mqtt: string): Promise<{ worker: XsWorker; cleanup: () => void }> {
	const stage = mkdtempSync(path.join(os.tmpdir(), "xs-mqtt-sdk-"));
	const cleanup = (): void => rmSync(stage, { recursive: true, force: true });
	try {
		const stubs = path.join(here, "xs", "sdk-stubs");
		const stub = (name: string): string => JSON.stringify(path.join(stubs, `${name}.js`));
		// Files named exactly as the specifiers, re-exporting the compiled stubs.
		writeFileSync(path.join(stage, "socket"), `export * from ${stub("socket")};\n`);
		writeFileSync(path.join(stage, "websocket"), `export * from ${stub("websocket")};\n`);
		writeFileSync(path.join(stage, "timer"), `export * from ${stub("timer")};\nexport { default } from ${stub("timer")};\n`);
		writeFileSync(path.join(stage, "time"), `export * from ${stub("time")};\nexport { default } from ${stub("time")};\n`);
		writeFileSync(path.join(stage, "sdk-entry.js"), [
			`import { nativeExtensions } from ${stub("xs-extensions")};`,
			`import Client from ${JSON.stringify(mqtt)};`,
			"globalThis.SdkMqttClient = Client;",
			"globalThis.sdkNativeExtensions = nativeExtensions;",
			"",
		].join("\n"));
	}
	catch (error) {
		cleanup();
		throw error;
	}
	let stderr = "";
	const worker = new XsWorker({ cwd: stage, onStderr: (t) => { stderr += t; } });
	try {
		await worker.importModule(path.join(stage, "sdk-entry.js"));
		await worker.importModule(path.join(here, "xs", "sdk-workloads.js"));
		const ready = await worker.evaluate(`globalThis.sdkWorkloadsReady === true && typeof footprint === "object" ? new TextEncoder().encode("ready").buffer : undefined`);
		if (ready.text !== "ready") throw new Error(`the SDK's mqtt.js did not load inside XS${stderr ? `: ${stderr.trim()}` : ""}`);
	}
	catch (error) {
		await worker.close();
		cleanup();
		throw error;
	}
	return { worker, cleanup };
}

async function startFootprintWorker(): Promise<XsWorker> {
	let stderr = "";
	const worker = new XsWorker({ onStderr: (t) => { stderr += t; } });
	await worker.importModule(path.join(here, "..", "test", "lib", "xs", "footprint.js"));
	const ready = await worker.evaluate(`globalThis.footprintReady === true ? new TextEncoder().encode("ready").buffer : undefined`);
	if (ready.text !== "ready") {
		await worker.close();
		throw new Error(`test/lib/xs/footprint did not load inside XS${stderr ? `: ${stderr.trim()}` : ""}`);
	}
	return worker;
}

/**
 * Heap slots allocated per operation, counted over a few operations only: the collector would run
 * inside a long crank of an allocating workload and hide what it freed. Two sizes must agree.
 */
async function slotsPerOp(worker: XsWorker, name: string): Promise<number | undefined> {
	const small = await measure(worker, name, 20);
	const large = await measure(worker, name, 40);
	if (large.allocatedSlots !== 2 * small.allocatedSlots) return undefined;
	return small.allocatedSlots / 20;
}

/** `dir` with the home directory written as ~. */
function homeRelative(dir: string): string {
	const home = os.homedir();
	return dir === home || dir.startsWith(home + path.sep) ? "~" + dir.slice(home.length) : dir;
}

function fixed(n: number): string {
	return n.toFixed(1);
}

function ratio(ours: number, theirs: number): string {
	return theirs > 0 ? (ours / theirs).toFixed(2) : "n/a";
}

/** Our client against the SDK's mqtt.js: compute and heap per publish, same message, same meter. */
export async function sdkSection(quick: boolean): Promise<Section> {
	const count = quick ? 200 : 10_000;
	const lines = ["## Against the Moddable SDK's MQTT client", ""];
	const failures: string[] = [];
	const { sdk, reason } = findSdk();
	if (!sdk?.mqtt) {
		lines.push(`Skipped: ${sdk ? `the Moddable SDK in ${homeRelative(sdk.root)} has no \`${SDK_MQTT}\`` : reason}.`);
		return { lines, failures };
	}
	let started: { worker: XsWorker; cleanup: () => void };
	try {
		started = await startSdkWorker(sdk.mqtt);
	}
	catch (error) {
		lines.push(`Not measured: ${(error as Error).message}.`);
		failures.push(`the SDK comparison could not run: ${(error as Error).message}`);
		return { lines, failures };
	}
	const { worker, cleanup } = started;
	try {
		const native = (await worker.evaluate(`globalThis.sdkNativeExtensions === true ? new TextEncoder().encode("native").buffer : undefined`)).text === "native";
		const pairs = [
			{ label: "publish QoS 0 (to the transport)", ours: "clientPublishQos0", counting: "countingPublishQos0", sdk: "sdkPublishQos0" },
			{ label: "publish QoS 1 → PUBACK", ours: "clientPublishQos1", counting: "countingPublishQos1", sdk: "sdkPublishQos1" },
		] as const;
		const variants = [
			{ label: "SDK, QoS 0, topic already UTF-8 in an ArrayBuffer", name: "sdkPublishQos0TopicBuffer" },
			{ label: "SDK, QoS 0, payload as a string", name: "sdkPublishQos0TextPayload" },
		] as const;
		const figures = new Map<string, XsFigures>();
		const perOp = new Map<string, number | undefined>();
		for (const name of [...pairs.flatMap((p) => [p.ours, p.counting, p.sdk]), ...variants.map((v) => v.name)]) {
			figures.set(name, await measure(worker, name, count));
			perOp.set(name, await slotsPerOp(worker, name));
		}
		const slots = (name: string): string => {
			const s = perOp.get(name);
			return s === undefined ? "varies" : fixed(s);
		};
		const compute = (name: string): number => figures.get(name)!.computePerOp;

		lines.push(
			`The SDK's \`${SDK_MQTT}\` (${homeRelative(sdk.root)}), loaded unmodified into the same XS engine`,
			"(@agoric/xsnap) as ours, its imports served by stubs (`bench/xs/sdk-stubs/`). Same message",
			`(topic 24 bytes as a string, payload 64 bytes), same meter and method, ${count.toLocaleString("en")} publishes each.`,
			"**Target: ours at most half the SDK's compute per publish, and zero heap growth.**",
			"",
			"Like for like, both clients write to a transport that only counts bytes (the SDK's stub socket does that);",
			"the second column gives ours over the loopback broker, which also parses every packet it is given (~140 units).",
			"",
			"| Publish | Ours / SDK compute (both over a byte-counting transport) | Ours over the loopback broker / SDK | Target | Met |",
			"| --- | ---: | ---: | ---: | :---: |",
		);
		for (const p of pairs) {
			const o = figures.get(p.ours)!;
			const c = figures.get(p.counting)!;
			const s = compute(p.sdk);
			const met = c.computePerOp <= COMPUTE_TARGET * s;
			lines.push(`| ${p.label} | ${ratio(c.computePerOp, s)} | ${ratio(o.computePerOp, s)} | ≤ ${COMPUTE_TARGET.toFixed(2)} | ${met ? "yes" : "**no**"} |`);
			if (!met) failures.push(`${p.label}: ours ${fixed(c.computePerOp)} compute vs the SDK's ${fixed(s)} over byte-counting transports (ratio ${ratio(c.computePerOp, s)}; ${ratio(o.computePerOp, s)} over the loopback broker; target ≤ ${COMPUTE_TARGET})`);
			for (const f of [o, c])
				if (f.heapGrowth !== 0 || f.allocatedSlots !== 0) failures.push(`${p.label}: ours allocated ${f.allocatedSlots} slots, growth ${f.heapGrowth}`);
		}
		lines.push(
			"",
			"| Publish | Client | Compute per publish | Slots allocated per publish | Heap growth |",
			"| --- | --- | ---: | ---: | ---: |",
		);
		for (const p of pairs) {
			for (const [who, name] of [["ours (loopback broker)", p.ours], ["ours (counting transport)", p.counting], ["SDK", p.sdk]] as const) {
				const f = figures.get(name)!;
				lines.push(`| ${p.label} | ${who} | ${fixed(f.computePerOp)} | ${slots(name)} | ${f.heapGrowth} |`);
			}
		}
		lines.push(
			"",
			"Other forms of the same QoS 0 publish for the SDK client (its best payload form, the ArrayBuffer, is used above):",
			"",
			"| Variant | Compute | Slots allocated per publish | Ours / it |",
			"| --- | ---: | ---: | ---: |",
		);
		for (const v of variants)
			lines.push(`| ${v.label} | ${fixed(compute(v.name))} | ${slots(v.name)} | ${ratio(compute("clientPublishQos0"), compute(v.name))} |`);
		lines.push(
			"",
			"- Ours: `client.publish(topic, Uint8Array, qos, false)`, over the loopback broker of the codec",
			"  benchmarks (`test/lib/xs/loopback.ts`, which parses every packet written to it, its cost counted as",
			"  ours), and over a transport that only counts the bytes written, as the SDK's socket stub does.",
			"- SDK: `client.publish(topic, ArrayBuffer, flags)`. An ArrayBuffer payload it uses as it is; a",
			"  string goes through `ArrayBuffer.fromString`; a Uint8Array it does not accept.",
			"- QoS 1 for the SDK client sets the QoS bits and a packet identifier; the stub then hands it the",
			"  PUBACK, which it parses and drops: it keeps no message for re-sending and reports no delivery.",
			"  Ours keeps the message in its pool until the PUBACK, then reports it delivered.",
			"- The stub's `read(ArrayBuffer)` hands back one reused buffer; the SDK's own socket allocates one per",
			"  read, not counted here. The meter counts bytecodes and native work, but no garbage collection:",
			"  the SDK's per-publish garbage costs it more on a device than its compute here shows.",
			`- \`ArrayBuffer.fromString\` (string topics and payloads) is ${native ? "the engine's own" : "not in xsnap's XS: a shim on xsnap's native TextEncoder stands in (one JS call more than Moddable's native one; the topic-as-ArrayBuffer row avoids it altogether)"}.`,
			"- Slots allocated per publish are counted over 20 and 40 publishes (they must agree): over",
			"  longer runs the collector runs inside the crank. \"varies\" means they did not agree.",
		);
	}
	finally {
		await worker.close();
		cleanup();
	}
	return { lines, failures };
}

/** The typed arrays a Client allocates once, as its options ask for them. */
interface Buffers {
	rows: Array<{ what: string; option: string; expected: number; actual: number }>;
}

interface SessionInternals {
	inboundIds: Uint16Array;
}

function clientBuffers(): Buffers {
	// Default options: only what a client cannot do without.
	const client = new Client({ host: "loopback", transport: new LoopbackBroker(), clock: new ManualClock() });
	const reader = (client as unknown as { reader: PacketReader }).reader;
	const transmit = (client as unknown as { tx: Transmit }).tx;
	const session = client.session;
	const pool = session.pool;
	const inboundIds = (session as unknown as SessionInternals).inboundIds;
	client.close();
	// The defaults, as documented in ClientOptions and SessionOptions.
	const rx = 1024, tx = 1024, queue = 4096, messages = 32, qos2 = 64;
	const poolTables = pool.ids.byteLength + pool.states.byteLength + pool.qos.byteLength + pool.offsets.byteLength + pool.lengths.byteLength + pool.strikes.byteLength;
	return {
		rows: [
			{ what: "receive buffer", option: `rxBufferSize ${rx}`, expected: rx, actual: reader.buffer.byteLength },
			{ what: "transmit buffer (what the transport has not taken yet)", option: `txBufferSize ${tx}`, expected: tx, actual: transmit.mem.byteLength },
			{ what: "message pool (QoS 1/2 awaiting acknowledgement, queued QoS 0)", option: `queueBytes ${queue}`, expected: queue, actual: pool.size },
			{ what: "pool entry tables (ids 2, state 1, QoS 1, offset 4, length 4, closes met 1 bytes)", option: `maxMessages ${messages}`, expected: messages * (2 + 1 + 1 + 4 + 4 + 1), actual: poolTables },
			{ what: "packet identifier → entry table (2 × 2 bytes a slot, twice the entries, a power of two)", option: `maxMessages ${messages}`, expected: 64 * 4, actual: pool.index.bytes },
			{ what: "inbound QoS 2 identifiers awaiting PUBREL", option: `maxInboundQos2 ${qos2}`, expected: qos2 * 2, actual: inboundIds.byteLength },
			{ what: "last published topic, encoded, with room for a PUBLISH header before it", option: "fixed", expected: HEADER_ROOM + TOPIC_CACHE_BYTES, actual: pool.mem.byteLength - pool.size },
		],
	};
}

/** Live heap slots a crank leaves behind: gc() before and after. */
async function liveSlotsAround(worker: XsWorker, code: string): Promise<number> {
	const before = (await worker.evaluate("gc()")).meter.currentHeapCount;
	await worker.evaluate(code);
	const after = (await worker.evaluate("gc()")).meter.currentHeapCount;
	return after - before;
}

/** Bytes of the fixed buffers of a default Client, and live heap slots of a connected one. */
export async function footprintSection(_quick: boolean): Promise<Section> {
	const failures: string[] = [];
	const buffers = clientBuffers();
	const total = buffers.rows.reduce((n, r) => n + r.actual, 0);
	for (const r of buffers.rows)
		if (r.actual !== r.expected) failures.push(`footprint: ${r.what} is ${r.actual} bytes, the options say ${r.expected}`);

	const sdkMqtt = findSdk().sdk?.mqtt;
	let worker: XsWorker;
	let cleanup = (): void => {};
	if (sdkMqtt) ({ worker, cleanup } = await startSdkWorker(sdkMqtt));
	else worker = await startFootprintWorker();
	let ours: number[];
	let oursHost: number;
	let sdkClient: number[] | undefined;
	let sdkSocket: number | undefined;
	try {
		const base = await liveSlotsAround(worker, "footprint.nothing(0)");
		const slots = async (call: string): Promise<number> => (await liveSlotsAround(worker, call)) - base;
		oursHost = await slots("footprint.oursHost(0)");
		ours = [await slots("footprint.ours(0)")];
		await slots("footprint.oursHost(1)");
		ours.push(await slots("footprint.ours(1)"));
		if (sdkMqtt) {
			sdkClient = [await slots("footprint.sdk(2)"), await slots("footprint.sdk(3)")];
			sdkSocket = await slots("footprint.sdkSocket(4)");
		}
	}
	finally {
		await worker.close();
		cleanup();
	}

	const lines = [
		"## Footprint",
		"",
	];
	const oursSlots = ours[1]!;
	if (sdkClient && sdkSocket !== undefined) {
		const sdkSlots = sdkClient[1]! - sdkSocket;
		lines.push(
			`Live heap slots of a connected client, ours / the SDK's: **${ratio(oursSlots, sdkSlots)}** (${oursSlots} / ${sdkSlots});`,
			`ours also holds **${total.toLocaleString("en")} bytes** of fixed buffers, allocated once, where the SDK's allocates per message.`,
		);
	}
	else
		lines.push(`Ours: **${oursSlots} live heap slots** once connected, and **${total.toLocaleString("en")} bytes** of fixed buffers allocated once. (No Moddable SDK here: its client was not measured.)`);
	lines.push(
		"",
		"Fixed buffers of a `Client` with default options, read from the typed arrays it allocated:",
		"",
		"| Buffer | Option (default) | Bytes |",
		"| --- | --- | ---: |",
		...buffers.rows.map((r) => `| ${r.what} | ${r.option} | ${r.actual.toLocaleString("en")} |`),
		`| **total** | | **${total.toLocaleString("en")}** |`,
		"",
		"The pool and the topic are one allocation (with a store, the snapshot's room too), the transmit buffer",
		"another. Each subscription adds its filter's UTF-8 bytes. Nothing else is allocated for buffers: the",
		"CONNECT is validated in the transmit buffer itself.",
		"",
		"Heap slots in the XS engine, live after gc(), a client created and connected (CONNACK) minus before:",
		"",
		"| Client | Live heap slots once connected |",
		"| --- | ---: |",
		`| ours (default options, client id "bench"; loopback transport and clock made beforehand, ${oursHost} slots) | ${oursSlots} |`,
	);
	if (ours[0] !== ours[1]) lines.push(`| ours, the first one made in the engine | ${ours[0]} |`);
	if (sdkClient && sdkSocket !== undefined) {
		lines.push(
			`| SDK mqtt.js (id "bench"), its stub socket (${sdkSocket} slots) subtracted | ${sdkClient[1]! - sdkSocket} |`,
			`| SDK mqtt.js with its stub socket | ${sdkClient[1]} |`,
		);
		if (sdkClient[0] !== sdkClient[1]) lines.push(`| SDK mqtt.js, the first one made in the engine, with its stub socket | ${sdkClient[0]} |`);
	}
	lines.push(
		"",
		"Slots are the engine's fixed-size cells (objects, properties, closures, array elements). Buffer",
		"bytes are not slots: XS keeps them in its chunk heap.",
	);
	return { lines, failures };
}
