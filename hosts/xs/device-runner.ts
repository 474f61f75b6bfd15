// Node side of the XS host: runs the compiled firmware (main.js and its modules) inside the XS
// engine from npm, and serves its socket, timers, storage and restarts over xsnap's channel.

import { randomInt } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { parseMqttVersion, parseSessionExpiry } from "../../modules/device/device.js";
import { parseDiscoveryPrefix } from "../../modules/device/discovery.js";
import type { DeviceConfig } from "../../modules/device/host.js";
import type { MqttError } from "../../modules/mqtt/errors.js";
import type { TlsOptions } from "../../modules/mqtt/host.js";
import { NodeTransport } from "../node/transport.js";
import { EVENT_CLOSED, EVENT_OPEN, EVENT_READABLE, EVENT_SHUTDOWN, EVENT_TIMER, EVENT_WRITABLE, Request } from "./protocol.js";
import { XsWorker } from "./worker.js";
import type { Reply } from "./worker.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** The compiled firmware entry and the XS device host it imports as "hosts/platform/device-host". */
const MAIN = path.join(here, "../../main.js");
const DEVICE_HOST = path.join(here, "device-host.js");


/** The key of the client's stored session (base64) in the store file, beside the persistent numbers. */
const SESSION_KEY = "mqtt.session";
/** The key of the saved settings' JSON text in the store file (without a settingsFile). */
const SETTINGS_KEY = "device.settings";
/** The XS engine's npm package, for the `info` message's platform. */
const XSNAP_VERSION = readXsnapVersion();

function readXsnapVersion(): string {
	try {
		const require = createRequire(import.meta.url);
		return (JSON.parse(readFileSync(require.resolve("@agoric/xsnap/package.json"), "utf8")) as { version?: string }).version ?? "?";
	}
	catch {
		return "?";
	}
}

export interface XsDeviceOptions {
	config: DeviceConfig;
	/** Each line the firmware traces. */
	onTrace?: (line: string) => void;
	/** The engine's error output (an uncaught exception, say). */
	onError?: (text: string) => void;
	/** The firmware restarted itself (a `restart` command); a fresh engine is booting. */
	onRestart?: () => void;
	/**
	 * A JSON file for the firmware's persistent numbers and its client's stored session (default:
	 * kept in memory, where they outlive a restart of the engine but not of this process).
	 */
	storeFile?: string;
	/**
	 * A file for the settings the `config` and `interval` commands save (their JSON text, as saved;
	 * default: kept in the store file, else in memory, where they outlive a restart of the engine).
	 */
	settingsFile?: string;
	/**
	 * A compiled module to run instead of the firmware (main.js), served the same way; like the
	 * firmware's host it sets `globalThis.xsHostReady` once loaded. Tests use it.
	 */
	entry?: string;
}

export class XsDevice {
	private worker: XsWorker | undefined;
	private readonly transport = new NodeTransport();
	private serial = 0;
	private open = -1;
	private readableSignalled = false;
	private readonly timers = new Map<number, NodeJS.Timeout>();
	private readonly storage: Record<string, number> = {};
	/** The client's stored session (its Store's bytes), or undefined. */
	private session: Uint8Array | undefined;
	/** The saved settings' JSON text, or undefined. */
	private settings: string | undefined;
	private readonly started = performance.now();
	private stage: string | undefined;
	private queue: Promise<unknown> = Promise.resolve();
	private heap = 0;
	private shutdownDone: (() => void) | undefined;
	private stopping = false;
	/** Completed boots (1 after start, +1 per restart). */
	boots = 0;

	constructor(private readonly options: XsDeviceOptions) {
		// Checked here as well: XS does not report a module that throws, so the firmware's own check would go unseen.
		parseMqttVersion(options.config.mqttVersion);
		parseSessionExpiry(options.config.sessionExpiry);
		parseDiscoveryPrefix(options.config.discoveryPrefix);
		if (options.storeFile && existsSync(options.storeFile)) {
			const saved = JSON.parse(readFileSync(options.storeFile, "utf8")) as Record<string, unknown>;
			for (const [key, value] of Object.entries(saved)) {
				if (key === SESSION_KEY && typeof value === "string") this.session = new Uint8Array(Buffer.from(value, "base64"));
				else if (key === SETTINGS_KEY && typeof value === "string" && !options.settingsFile) this.settings = value;
				else if (typeof value === "number") this.storage[key] = value;
			}
		}
		// Read as it is: the firmware checks it, and reports what it cannot use.
		if (options.settingsFile && existsSync(options.settingsFile)) this.settings = readFileSync(options.settingsFile, "utf8");
	}

	/** Boots the firmware in a fresh XS engine. */
	async start(): Promise<void> {
		if (!this.stage) {
			this.stage = mkdtempSync(path.join(os.tmpdir(), "xs-mqtt-host-"));
			mkdirSync(path.join(this.stage, "hosts", "platform"), { recursive: true });
			writeFileSync(path.join(this.stage, "hosts", "platform", "device-host"), `export * from ${JSON.stringify(DEVICE_HOST)};\n`);
		}
		const worker = new XsWorker({
			cwd: this.stage,
			onPrint: (line) => this.options.onTrace?.(line),
			onStderr: (text) => this.options.onError?.(text),
			onQuery: (request) => this.query(request),
		});
		this.worker = worker;
		const platform = `XS engine (@agoric/xsnap ${XSNAP_VERSION}) on Node ${process.version}`;
		await worker.evaluate(`globalThis.xsConfig = ${JSON.stringify(this.options.config)}; globalThis.xsBootTime = ${this.now()}; globalThis.xsSeed = ${randomInt(0x100000000)}; globalThis.xsPlatform = ${JSON.stringify(platform)};`);
		await worker.importModule(this.options.entry ?? MAIN);
		const ready = await worker.evaluate("new TextEncoder().encode(String(globalThis.xsHostReady === true)).buffer");
		if (ready.text !== "true") {
			await this.kill();
			throw new Error("the firmware did not start inside XS (see its error output)");
		}
		this.heap = ready.meter.currentHeapCount;
		this.boots++;
	}

	/** Graceful stop: the firmware publishes `offline`, disconnects, and the engine ends. */
	async stop(timeout = 8000): Promise<void> {
		if (!this.worker) return;
		this.stopping = true;
		const done = new Promise<void>((resolve) => { this.shutdownDone = resolve; });
		await this.event(EVENT_SHUTDOWN, "");
		await Promise.race([done, new Promise((resolve) => setTimeout(resolve, timeout).unref())]);
		await this.end(false);
	}

	/** Evaluates `code` in the running engine, in order with the events sent to it; the reply has the meter's figures. */
	evaluate(code: string): Promise<Reply> {
		const worker = this.worker;
		if (!worker) return Promise.reject(new Error("the XS engine is not running"));
		const result = this.queue.then(() => worker.evaluate(code));
		this.queue = result.catch(() => undefined);
		return result;
	}

	/** Abrupt stop, as a power cut: the engine dies, the socket closes without DISCONNECT. */
	async kill(): Promise<void> {
		this.stopping = true;
		await this.end(true);
	}

	private async end(abrupt: boolean): Promise<void> {
		for (const t of this.timers.values()) clearTimeout(t);
		this.timers.clear();
		const worker = this.worker;
		this.worker = undefined;
		if (abrupt) {
			worker?.kill();
			this.transport.close();
		}
		else {
			this.transport.close();
			await worker?.close();
		}
		this.open = -1;
		if (this.stage) rmSync(this.stage, { recursive: true, force: true });
		this.stage = undefined;
	}

	private now(): number {
		return Math.floor(performance.now() - this.started);
	}

	/** Sends one event to the firmware, in order with the others. */
	private event(kind: number, payload: string): Promise<unknown> {
		const worker = this.worker;
		if (!worker) return Promise.resolve();
		const body = Buffer.from(payload);
		const message = Buffer.alloc(9 + body.length);
		message[0] = kind;
		message.writeDoubleLE(this.now(), 1);
		body.copy(message, 9);
		this.queue = this.queue.then(() => worker.send(message)).then(
			(reply) => { this.heap = reply.meter.currentHeapCount; },
			(error: Error) => { if (this.worker === worker) this.options.onError?.(`${error.message}\n`); },
		);
		return this.queue;
	}

	/** Answers a request from the firmware (synchronously, while XS waits). */
	private query(request: Uint8Array): Uint8Array | string {
		const op = String.fromCharCode(request[0]!);
		const body = Buffer.from(request.subarray(1));
		switch (op) {
			case Request.OPEN: {
				const { host, port, tls } = JSON.parse(body.toString()) as { host: string; port: number; tls: TlsOptions | null };
				const serial = ++this.serial;
				this.open = serial;
				this.readableSignalled = false;
				this.transport.open(host, port, tls ?? undefined, {
					onOpen: () => { if (this.open === serial) void this.event(EVENT_OPEN, `${serial}`); },
					onReadable: () => {
						if (this.open !== serial || this.readableSignalled) return;
						this.readableSignalled = true;
						void this.event(EVENT_READABLE, `${serial}`);
					},
					onWritable: () => { if (this.open === serial) void this.event(EVENT_WRITABLE, `${serial}`); },
					onClose: (error: MqttError) => {
						if (this.open !== serial) return;
						this.open = -1;
						// The code travels apart, so the message goes without its "CODE: " prefix (the MqttError
						// made in XS adds it again: once).
						const prefix = `${error.code}: `;
						const detail = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
						void this.event(EVENT_CLOSED, `${serial}\n${error.code}\n${detail}`);
					},
				});
				return String(serial);
			}
			case Request.READ: {
				const want = Number(body.toString());
				const buffer = new Uint8Array(Math.min(want, 64 * 1024));
				const n = this.transport.read(buffer, 0, buffer.length);
				if (n < buffer.length) this.readableSignalled = false;
				return buffer.subarray(0, n);
			}
			case Request.WRITE:
				return String(this.transport.write(body, 0, body.length));
			case Request.CLOSE:
				this.open = -1;
				this.transport.close();
				return "";
			case Request.ARM: {
				const [id, delay] = body.toString().split(",").map(Number) as [number, number];
				const old = this.timers.get(id);
				if (old) clearTimeout(old);
				this.timers.set(id, setTimeout(() => {
					this.timers.delete(id);
					void this.event(EVENT_TIMER, String(id));
				}, delay));
				return "";
			}
			case Request.DISARM: {
				const id = Number(body.toString());
				const old = this.timers.get(id);
				if (old) clearTimeout(old);
				this.timers.delete(id);
				return "";
			}
			case Request.MEMORY:
				return JSON.stringify({ used: this.heap });
			case Request.LOAD: {
				const value = this.storage[body.toString()];
				return value === undefined ? "" : String(value);
			}
			case Request.SAVE: {
				const { key, value } = JSON.parse(body.toString()) as { key: string; value: number | null };
				if (value === null) delete this.storage[key];
				else this.storage[key] = value;
				this.persist();
				return "";
			}
			case Request.LOAD_SESSION:
				return this.session ?? "";
			case Request.SAVE_SESSION:
				this.session = new Uint8Array(body);
				this.persist();
				return "";
			case Request.LOAD_SETTINGS:
				return this.settings === undefined ? "" : `=${this.settings}`;
			case Request.SAVE_SETTINGS: {
				this.settings = body.toString();
				const file = this.options.settingsFile;
				if (file) {
					mkdirSync(path.dirname(file), { recursive: true });
					writeFileSync(`${file}.tmp`, this.settings);
					renameSync(`${file}.tmp`, file);
				}
				else this.persist();
				return "";
			}
			case Request.RESTART:
				setImmediate(() => void this.reboot());
				return "";
			case Request.SHUTDOWN_DONE:
				this.shutdownDone?.();
				return "";
			default:
				throw new Error(`unknown request ${JSON.stringify(op)}`);
		}
	}

	/** Writes the numbers and the session to the store file, if there is one: whole, or not at all. */
	private persist(): void {
		const file = this.options.storeFile;
		if (!file) return;
		const saved: Record<string, number | string> = { ...this.storage };
		if (this.session) saved[SESSION_KEY] = Buffer.from(this.session).toString("base64");
		if (this.settings !== undefined && !this.options.settingsFile) saved[SETTINGS_KEY] = this.settings;
		writeFileSync(`${file}.tmp`, JSON.stringify(saved));
		renameSync(`${file}.tmp`, file);
	}

	/** A restart asked by the firmware: a fresh engine, same storage. */
	private async reboot(): Promise<void> {
		if (this.stopping) return;
		await this.end(true);
		this.options.onRestart?.();
		await this.start();
	}
}
