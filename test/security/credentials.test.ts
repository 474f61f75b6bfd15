// Passwords never show: every onError/onClose message, every error thrown, and the firmware's trace and
// error output on the XS engine, with wrong and right credentials, are searched for the password.

import * as assert from "node:assert/strict";
import { inspect } from "node:util";
import { createClient } from "../../hosts/node/index.js";
import { XsDevice } from "../../hosts/xs/device-runner.js";
import { freePort, HOST } from "../lib/broker.js";
import { passwordBroker } from "../lib/credentials.js";
import { closeAll, codeOf, Ours, Peer, track } from "../lib/peers.js";
import { Proxy } from "../lib/proxy.js";
import { Signal } from "../lib/signal.js";

const USER = "thermo-1";
/** The right password. */
const PASSWORD = "s3cr3t-PASSWORD-123";
/** A wrong one, just as distinctive. */
const WRONG = "wr0ng-PASSWORD-456";
const WATCHER = "watcher";
const WATCHER_PASSWORD = "w4tcher-pass-789";
/** Whole passwords and fragments a truncated or split leak would still show. */
const SECRETS = [PASSWORD, WRONG, "s3cr3t", "wr0ng", "PASSWORD-123", "PASSWORD-456"];

/** Everything a user of the library could see: messages, stacks, inspected errors, trace lines. */
class Seen {
	readonly texts: Array<{ where: string; text: string }> = [];

	error(where: string, error: unknown): void {
		if (error === undefined) return;
		const e = error as Error;
		this.texts.push({ where: `${where} (message)`, text: String(e.message) });
		this.texts.push({ where: `${where} (String)`, text: String(error) });
		this.texts.push({ where: `${where} (stack)`, text: String(e.stack) });
		this.texts.push({ where: `${where} (inspect)`, text: inspect(error, { depth: 6, showHidden: true }) });
		this.texts.push({ where: `${where} (JSON)`, text: JSON.stringify(error) ?? "" });
	}

	line(where: string, text: string): void {
		this.texts.push({ where, text });
	}

	/** Records what an Ours client reported through onError and onClose. */
	client(where: string, ours: Ours): void {
		ours.errors.forEach((e, i) => this.error(`${where} onError #${i}`, e.error));
		ours.closes.forEach((c, i) => this.error(`${where} onClose #${i}`, c.error));
	}

	has(pattern: RegExp): boolean {
		return this.texts.some((t) => pattern.test(t.text));
	}

	/** Fails naming each text that holds a secret. */
	assertClean(): void {
		const leaks: string[] = [];
		for (const t of this.texts)
			for (const secret of SECRETS)
				if (t.text.includes(secret)) leaks.push(`${t.where} contains "${secret}": ${t.text.slice(0, 300)}`);
		assert.deepEqual(leaks, [], `the password leaked:\n${leaks.join("\n")}`);
	}
}

describe("security: credentials never appear in errors or traces", function () {
	this.timeout(15_000);
	const broker = passwordBroker("credential-leak tests", { [USER]: PASSWORD, [WATCHER]: WATCHER_PASSWORD });

	describe("the Node client", () => {
		it("a wrong password: the NOT_AUTHORIZED errors of repeated attempts do not hold it", async () => {
			const seen = new Seen();
			const ours = new Ours({ port: broker().port, username: USER, password: WRONG, reconnect: { initialDelay: 30, factor: 2, maxDelay: 200, jitter: 0 } });
			await ours.until(() => ours.errors.length >= 3, 5000, "three refused attempts");
			ours.client.close();
			seen.client("wrong password", ours);
			assert.ok(seen.has(/NOT_AUTHORIZED: CONNACK return code 5/), "the refusals were seen");
			seen.assertClean();
		});

		it("inspecting or serialising a connected client does not show the password (string or bytes)", async () => {
			for (const password of [PASSWORD, new TextEncoder().encode(PASSWORD)]) {
				const seen = new Seen();
				const ours = new Ours({ port: broker().port, username: USER, password });
				await ours.until(() => ours.client.connected, 5000, "connected");
				const client = ours.client;
				seen.line("inspect(client)", inspect(client, { depth: Infinity, showHidden: true, maxArrayLength: 0 }));
				const visited = new WeakSet<object>();
				seen.line("JSON.stringify(client)", JSON.stringify(client, (_key, value: unknown) => {
					if (value instanceof Uint8Array) return undefined;
					if (typeof value === "object" && value !== null) {
						if (visited.has(value)) return undefined;
						visited.add(value);
					}
					return value;
				}) ?? "");
				// Bytes would show as their numbers.
				const digits = Array.from(new TextEncoder().encode(PASSWORD)).join(",");
				const bare = (text: string): string => text.replace(/\s+/g, "");
				const shown = bare(inspect(client, { depth: Infinity, showHidden: true, maxArrayLength: Infinity }));
				const planted = bare(inspect({ password }, { maxArrayLength: Infinity }));
				assert.ok(typeof password === "string" || planted.includes(digits), "the byte check would see the password's bytes");
				assert.ok(!shown.includes(digits) || typeof password === "string", "the password's bytes are not reachable from the client");
				ours.client.close();
				seen.assertClean();
				assert.ok(seen.has(/thermo-1/), "the inspection did reach the options (the user name shows)");
			}
		});

		it("the right password as a string and as bytes: connection lost, keepalive timeout, connect timeout and close() do not show it", async function () {
			this.timeout(20_000);
			const seen = new Seen();
			for (const password of [PASSWORD, new TextEncoder().encode(PASSWORD)]) {
				const proxy = track(await Proxy.start(broker().port));
				const ours = new Ours({
					port: proxy.port, username: USER, password, keepAlive: 1, connectTimeout: 300,
					reconnect: { initialDelay: 30, factor: 1, maxDelay: 30, jitter: 0 },
				});
				await ours.connected(1);
				proxy.cut(); // CONNECTION_LOST through onClose
				await ours.connected(2);
				proxy.stall(); // KEEPALIVE_TIMEOUT through onClose, then CONNECT_TIMEOUT through onError
				await ours.until(() => ours.errors.some((e) => codeOf(e.error) === "CONNECT_TIMEOUT"), 5000, "CONNECT_TIMEOUT while stalled");
				proxy.resume();
				await ours.connected(3, 5000);
				ours.client.close(); // onClose(undefined)
				seen.client(typeof password === "string" ? "string password" : "byte password", ours);
				const codes = ours.closes.map((c) => codeOf(c.error));
				assert.deepEqual(codes.slice(0, 2), ["CONNECTION_LOST", "KEEPALIVE_TIMEOUT"], `onClose codes: ${codes.join(", ")}`);
				assert.equal(ours.closes.at(-1)!.error, undefined);
			}
			assert.ok(seen.has(/CONNECTION_LOST/) && seen.has(/KEEPALIVE_TIMEOUT/) && seen.has(/CONNECT_TIMEOUT/));
			seen.assertClean();
		});
	});

	describe("the firmware on the XS engine (mqttUser, mqttPassword)", () => {
		const devices: XsDevice[] = [];
		afterEach(async function () {
			this.timeout(20_000);
			for (const device of devices.splice(0)) await device.kill();
		});

		/** Starts the firmware; every trace line and error output goes to `seen` and wakes `signal`. */
		async function firmware(port: number, password: string, seen: Seen, lines: string[], signal: Signal): Promise<{ device: XsDevice; base: string }> {
			const deviceId = `cred-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
			const device = new XsDevice({
				config: {
					deviceId, topicPrefix: "devices", mqttHost: HOST, mqttPort: port,
					mqttUser: USER, mqttPassword: password, mqttTls: false, telemetryInterval: 1000, keepAlive: 10,
				},
				onTrace: (line) => {
					lines.push(line);
					seen.line("firmware trace", line);
					signal.notify();
				},
				onError: (text) => {
					lines.push(`[error] ${text}`);
					seen.line("firmware error output", text);
					signal.notify();
				},
			});
			devices.push(device);
			try {
				await device.start();
			}
			catch (error) {
				seen.error("XsDevice.start", error);
				throw error;
			}
			return { device, base: `devices/${deviceId}` };
		}

		it("a wrong password: the traced refusals do not hold it", async function () {
			this.timeout(20_000);
			const seen = new Seen();
			const lines: string[] = [];
			const signal = new Signal();
			await firmware(broker().port, WRONG, seen, lines, signal);
			// The firmware's default backoff: the second attempt comes 0.5..1 s after the first.
			await signal.until(() => lines.filter((l) => l.includes("NOT_AUTHORIZED")).length >= 2, 8000, "two traced refusals");
			assert.match(lines.find((l) => l.includes("NOT_AUTHORIZED"))!, /^error: NOT_AUTHORIZED: CONNACK return code 5/);
			assert.ok(!lines.some((l) => l.startsWith("connected to")), lines.join("\n"));
			seen.assertClean();
		});

		it("the right password: online, a lost connection, reconnecting and a graceful stop trace nothing of it", async function () {
			this.timeout(30_000);
			const seen = new Seen();
			const lines: string[] = [];
			const signal = new Signal();
			const proxy = track(await Proxy.start(broker().port));
			const watcher = await Peer.connect(broker().port, { username: WATCHER, password: WATCHER_PASSWORD });
			const { device, base } = await firmware(proxy.port, PASSWORD, seen, lines, signal);
			await watcher.subscribe(`${base}/#`, 1);
			const status = (): string[] => watcher.on(`${base}/status`).map((m) => m.payload.toString());
			try {
				await signal.until(() => lines.some((l) => l.startsWith("connected to")), 10_000, "the firmware's first connection");
				await watcher.until(() => status().includes("online"), 5000, `"online" from the firmware`);
				proxy.cut();
				await signal.until(() => lines.some((l) => l.startsWith("connection lost: CONNECTION_LOST")), 5000, "the traced loss");
				await signal.until(() => lines.filter((l) => l.startsWith("connected to")).length >= 2, 8000, "the firmware reconnecting");
				await device.stop();
				devices.splice(devices.indexOf(device), 1);
			}
			catch (error) {
				throw new Error(`${(error as Error).message}\n--- firmware trace ---\n${lines.join("\n")}`);
			}
			await watcher.until(() => status().includes("offline"), 5000, `"offline" from the graceful stop`);
			assert.ok(lines.includes("disconnected"), lines.join("\n"));
			seen.assertClean();
		});
	});
});

describe("security: credentials in errors that need no broker", () => {
	afterEach(closeAll);

	it("a refused port with credentials: CONNECTION_REFUSED does not show them", async () => {
		const seen = new Seen();
		const ours = new Ours({ port: await freePort(), username: USER, password: PASSWORD, reconnect: false });
		await ours.until(() => ours.errors.length >= 1, 3000, "the refusal");
		seen.client("refused port", ours);
		assert.equal(codeOf(ours.errors[0]!.error), "CONNECTION_REFUSED");
		seen.assertClean();
	});

	it("errors thrown for bad options (no user name, too long, no room, bad user name) do not hold the password", () => {
		const seen = new Seen();
		const base = { host: HOST, port: 1, reconnect: false as const };
		const cases: Array<{ what: string; code: string; options: Parameters<typeof createClient>[0] }> = [
			{ what: "a password without a user name", code: "PASSWORD_WITHOUT_USERNAME", options: { ...base, password: PASSWORD } },
			{ what: "a password over 65,535 bytes", code: "STRING_TOO_LONG", options: { ...base, username: USER, password: `${PASSWORD}-`.repeat(4000) } },
			{ what: "a CONNECT larger than the transmit buffer", code: "BUFFER_TOO_SMALL", options: { ...base, username: USER, password: PASSWORD, txBufferSize: 32 } },
			{ what: "a user name with U+0000", code: "UTF8_NULL_CHARACTER", options: { ...base, username: "thermo\u0000", password: PASSWORD } },
			{ what: "a bad keepAlive beside the credentials", code: "INVALID_ARGUMENT", options: { ...base, username: USER, password: PASSWORD, keepAlive: -1 } },
		];
		for (const c of cases) {
			let thrown: unknown;
			try {
				const client = createClient(c.options);
				client.close();
			}
			catch (error) {
				thrown = error;
			}
			assert.equal(codeOf(thrown as Error), c.code, `${c.what}: ${String(thrown)}`);
			seen.error(c.what, thrown);
		}
		seen.assertClean();
	});

	it("the leak check sees a planted leak: in a message, a stack, a property only inspect shows, a trace line", () => {
		const planted: Array<(seen: Seen) => void> = [
			(seen) => seen.error("message", new Error(`bad login ${USER}:${PASSWORD}`)),
			(seen) => seen.error("property", Object.assign(new Error("refused"), { options: { password: WRONG } })),
			(seen) => seen.error("truncated", new Error(`password starts s3cr3t-PASS`)),
			(seen) => seen.line("trace", `connecting as ${USER} with ${WRONG}`),
		];
		for (const plant of planted) {
			const seen = new Seen();
			plant(seen);
			assert.throws(() => seen.assertClean(), /the password leaked/);
		}
		const clean = new Seen();
		clean.error("clean", new Error("NOT_AUTHORIZED: CONNACK return code 5: not authorized to connect"));
		clean.assertClean();
	});
});
