// Power loss with real processes: a client killed with SIGKILL before any acknowledgement, then a
// new process on the same store file; and the XS firmware killed and started again on its store.

import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { XsDevice } from "../../hosts/xs/device-runner.js";
import { FileStore } from "../../hosts/node/store.js";
import type { Store } from "../../modules/mqtt/host.js";
import { Session } from "../../modules/mqtt/session.js";
import { Persistence } from "../../modules/mqtt/snapshot.js";
import { Transmit } from "../../modules/mqtt/transmit.js";
import { startBroker } from "../lib/broker.js";
import type { Broker } from "../lib/broker.js";
import { createClient } from "../../hosts/node/index.js";
import type { Client } from "../../modules/mqtt/client.js";
import { closeAll, codeOf, Ours, Peer, track, unique } from "../lib/peers.js";
import { Proxy } from "../lib/proxy.js";
import { Signal, sleep, waitFor } from "../lib/signal.js";

const CHILD = fileURLToPath(new URL("../lib/power-loss-child.js", import.meta.url));

interface ChildEvent {
	event: string;
	id?: number;
	pending?: number;
	code?: string;
	message?: string;
	sessionPresent?: boolean;
}

/** A client process (test/lib/power-loss-child.ts) and the events it printed. */
class ClientProcess {
	readonly events: ChildEvent[] = [];
	readonly signal = new Signal();
	readonly exited: Promise<void>;
	private output = "";

	private constructor(readonly child: ChildProcess) {
		child.stdout!.setEncoding("utf8");
		child.stdout!.on("data", (chunk: string) => {
			this.output += chunk;
			let newline: number;
			while ((newline = this.output.indexOf("\n")) >= 0) {
				const line = this.output.slice(0, newline);
				this.output = this.output.slice(newline + 1);
				if (line.trim() !== "") this.events.push(JSON.parse(line) as ChildEvent);
			}
			this.signal.notify();
		});
		this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
	}

	static start(port: number, clientId: string, storeFile: string): ClientProcess {
		const child = spawn(process.execPath, [CHILD, String(port), clientId, storeFile], { stdio: ["pipe", "pipe", "inherit"] });
		const started = new ClientProcess(child);
		running.add(started);
		return started;
	}

	send(line: string): void {
		this.child.stdin!.write(`${line}\n`);
	}

	until(condition: (events: ChildEvent[]) => boolean, what: string, timeout = 5000): Promise<void> {
		return this.signal.until(() => condition(this.events), timeout, what);
	}

	of(name: string): ChildEvent[] {
		return this.events.filter((e) => e.event === name);
	}

	async kill(): Promise<void> {
		if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
		await this.exited;
		running.delete(this);
	}
}

const running = new Set<ClientProcess>();

/** What client `clientId` made now on `store` would restore: its pending messages, and any store error. */
function restored(store: Store, clientId: string): { pending: number; errors: string[] } {
	const errors: string[] = [];
	const session = new Session({ clientId, cleanSession: false, snapshots: true }, {
		failed: () => {}, connected: () => {}, message: () => {}, oversize: () => {},
		delivered: () => {}, subscribed: () => {}, unsubscribed: () => {}, writable: () => {}, rejected: () => {},
		persist: () => {}, auth: () => undefined, problem: () => {},
	}, new Transmit(new Uint8Array(1024)));
	const error = new Persistence(store).restore(session);
	if (error) errors.push(error.code);
	return { pending: session.pending, errors };
}

/** The XS runner's store file: the client's session is kept base64 under "mqtt.session". */
function xsStore(file: string): Store {
	return {
		load: () => {
			if (!existsSync(file)) return undefined;
			const value = (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>)["mqtt.session"];
			return typeof value === "string" ? new Uint8Array(Buffer.from(value, "base64")) : undefined;
		},
		save: () => { throw new Error("read only"); },
	};
}

describe("integration: power loss", function () {
	this.timeout(30_000);
	let broker: Broker;
	let dir = "";

	before(async () => {
		broker = await startBroker();
		dir = mkdtempSync(join(tmpdir(), "xs-mqtt-power-"));
	});
	afterEach(async () => {
		await Promise.all([...running].map((c) => c.kill()));
		await closeAll();
	});
	after(async () => {
		await broker?.stop();
		if (dir) rmSync(dir, { recursive: true, force: true });
	});

	/** Leaves no persistent session behind on the broker. */
	async function forget(clientId: string): Promise<void> {
		const clean = new Ours({ port: broker.port, clientId, cleanSession: true });
		await clean.connected();
		clean.client.close();
	}

	it("the client: a stored session is restored when it is made (pending), a corrupt one reported to onError once the client is whole", async () => {
		const file = join(dir, "client.session");
		const topic = unique("client-store");
		const peer = await Peer.connect(broker.port);
		await peer.subscribe(`${topic}/#`, 1);
		const first = createClient({ host: "127.0.0.1", port: 1, reconnect: false, clientId: "power-client", store: new FileStore(file) });
		first.publish(`${topic}/a`, "stored", 1); // port 1 refuses: it stays in the pool, and in the file
		first.close();
		const errors: Array<{ code: string | undefined; pending: number }> = [];
		let delivered = 0;
		const second = createClient({
			host: "127.0.0.1", port: broker.port, clientId: "power-client", store: new FileStore(file),
			onError(this: Client, error) { errors.push({ code: codeOf(error), pending: this.pending }); },
			onDelivered() { delivered++; },
		});
		track({ close: async () => second.close() });
		assert.equal(second.pending, 1, "restored from the file");
		await peer.until(() => peer.on(`${topic}/a`).length === 1, 3000, "the stored message at the subscriber");
		await waitFor(() => delivered === 1, 3000, "onDelivered");
		assert.deepEqual(errors, []);
		second.close();

		const bytes = readFileSync(file);
		bytes[bytes.length - 1] ^= 0xFF;
		const corrupt: Store = { load: () => new Uint8Array(bytes), save: () => {} };
		const reported: Array<{ code: string | undefined; pending: number }> = [];
		const third = createClient({
			host: "127.0.0.1", port: 1, reconnect: false, clientId: "power-client", store: corrupt,
			onError(this: Client, error) { reported.push({ code: codeOf(error), pending: this.pending }); },
		});
		third.close();
		assert.deepEqual(reported[0], { code: "STORE_CORRUPT", pending: 0 }, "reported with the client usable (this.pending)");
		assert.equal(reported.filter((r) => r.code === "STORE_CORRUPT").length, 1, "once");
	});

	for (const direction of ["both", "down"] as const) {
		const title = direction === "both"
			? "killed (SIGKILL) while its PUBLISHes sat in a stalled path: a new process on the same store file delivers QoS 1 at least once, QoS 2 exactly once; the store ends empty"
			: "killed (SIGKILL) after the broker got its PUBLISHes but before any acknowledgement reached it: the re-sends after the restart complete them, QoS 2 exactly once";
		it(title, async () => {
			const topic = unique(`power-${direction}`);
			const clientId = `it-power-${direction}-${process.pid}`;
			const file = join(dir, `${direction}.session`);
			const peer = await Peer.connect(broker.port);
			assert.equal(await peer.subscribe(`${topic}/#`, 2), 2);
			const proxy = track(await Proxy.start(broker.port));

			const first = ClientProcess.start(proxy.port, clientId, file);
			await first.until((e) => e.some((x) => x.event === "connected"), "the first process connected");
			proxy.stall(direction);
			first.send(`publish ${topic}/q1 1 one`);
			first.send(`publish ${topic}/q2 2 two`);
			await first.until((e) => e.filter((x) => x.event === "published").length === 2, "both published");
			const ids = first.of("published").map((e) => e.id!);
			assert.ok(ids.every((id) => id > 0), `identifiers ${ids.join(", ")}`);
			assert.equal(first.of("published")[1]!.pending, 2);
			if (direction === "down")
				await peer.until(() => peer.on(`${topic}/q1`).length === 1, 3000, "the broker forwarded the QoS 1 message");
			await sleep(100); // a window for what must not come: an acknowledgement through the stalled path
			await first.kill();
			assert.equal(first.of("delivered").length, 0, "no acknowledgement reached the first process");
			if (direction === "both") assert.equal(peer.messages.length, 0, "nothing got through the stalled path");
			assert.deepEqual(restored(new FileStore(file), clientId), { pending: 2, errors: [] }, "the store file holds both messages");
			proxy.cut();
			proxy.resume();

			const second = ClientProcess.start(proxy.port, clientId, file);
			await second.until((e) => e.some((x) => x.event === "started"), "the second process started");
			assert.equal(second.of("started")[0]!.pending, 2, "restored from the store file");
			await second.until((e) => e.some((x) => x.event === "delivered" && x.pending === 0), "both messages completed");
			assert.deepEqual(second.of("delivered").map((e) => e.id).sort(), [...ids].sort(), "the same identifiers");
			await peer.until(() => peer.on(`${topic}/q1`).length >= 1 && peer.on(`${topic}/q2`).length >= 1, 3000, "both at the subscriber");
			await sleep(200); // a window for what must not come: a second copy of the QoS 2 message
			assert.deepEqual(peer.on(`${topic}/q2`).map((m) => m.payload.toString()), ["two"], "QoS 2 exactly once");
			const q1 = peer.on(`${topic}/q1`).map((m) => m.payload.toString());
			assert.ok(q1.length >= 1 && q1.every((p) => p === "one"), `QoS 1 at least once: ${q1.join(", ")}`);
			assert.deepEqual(second.of("error"), [], "no store error");
			second.send("close");
			await second.exited;
			assert.deepEqual(restored(new FileStore(file), clientId), { pending: 0, errors: [] }, "the store ends empty");
			await forget(clientId);
		});
	}

	for (const variant of ["a new runner on its store file", "the same runner, its store in memory"] as const) {
		it(`the XS firmware killed with a response unacknowledged, then started again (${variant}): the response arrives, the command is not run again`, async () => {
			const deviceId = `power-${variant.startsWith("a new") ? "file" : "memory"}-${process.pid}`;
			const base = `devices/${deviceId}`;
			const file = join(dir, `${deviceId}.json`);
			const storeFile = variant.startsWith("a new") ? file : undefined;
			const proxy = track(await Proxy.start(broker.port));
			const watcher = await Peer.connect(broker.port);
			assert.equal(await watcher.subscribe(`${base}/#`, 1), 1);
			const config = {
				mqttHost: "127.0.0.1", mqttPort: proxy.port, mqttTls: false, deviceId, topicPrefix: "devices",
				telemetryInterval: 3_600_000, keepAlive: 30,
			};
			// What each boot traced: before the kill, after it.
			const traces: string[][] = [[], []];
			let run = 0;
			const boot = (): XsDevice => new XsDevice({
				config, storeFile,
				onTrace: (line) => traces[run]!.push(line),
				onError: (text) => traces[run]!.push(`[error] ${text}`),
			});
			let device = boot();
			try {
				await device.start();
				await watcher.until(() => watcher.on(`${base}/status`).some((m) => m.payload.toString() === "online"), 10_000, "online");
				proxy.stall("up"); // commands reach the device; nothing it sends reaches the broker
				await watcher.publish(`${base}/commands/led`, "on", { qos: 0 }); // QoS 0: the broker never sends it again
				await waitFor(() => traces[0]!.some((l) => l.startsWith("command led: ok")), 5000, "the command at the device");
				// The response was saved (the client saves a QoS 1 message before sending it) in the same
				// crank as the command ran: over once an evaluation queued after it answers.
				await device.evaluate("0");
				const stored = storeFile ? xsStore(storeFile) : undefined;
				if (stored) await waitFor(() => restored(stored, deviceId).pending >= 1, 5000, "the response in the store file");
				await device.kill();
				assert.equal(watcher.on(`${base}/responses/led`).length, 0, "the response did not get out");
				proxy.cut();
				proxy.resume();

				run = 1;
				if (storeFile) device = boot(); // a new runner: only the file remains
				await device.start();
				await watcher.until(() => watcher.on(`${base}/responses/led`).length >= 1, 10_000, "the response after the restart");
				assert.deepEqual(JSON.parse(watcher.on(`${base}/responses/led`)[0]!.payload.toString()), { ok: true, led: "on" });
				assert.ok(!traces[1]!.some((l) => l.startsWith("command led")), `the command did not run again:\n${traces[1]!.join("\n")}`);
				assert.ok(!traces[1]!.some((l) => l.includes("STORE_")), `no store error:\n${traces[1]!.join("\n")}`);
				if (stored) await waitFor(() => restored(stored, deviceId).pending === 0, 5000, "an empty store once acknowledged");
			}
			finally {
				await device.stop();
			}
			await forget(deviceId);
		});
	}
});
