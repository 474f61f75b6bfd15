// Local MQTT brokers for the tests, benchmarks and `npm start`: mosquitto 2 started from a config
// file in a temp dir, or, when mosquitto is not installed (or MQTT_TEST_BROKER=aedes), aedes in-process.

import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Aedes } from "aedes";
import { reportBroker } from "./output.js";

export const HOST = "127.0.0.1";

export interface BrokerOptions {
	/** A fixed port (default: a free one). */
	port?: number;
	/** mosquitto: `persistence true` in the temp dir, saved at stop (default false). aedes keeps memory only. */
	persistence?: boolean;
	/**
	 * mosquitto with persistence: also save after this many changes (autosave_on_changes: sessions,
	 * subscriptions, queued and completed messages), so that a SIGKILL loses little; default: at stop only.
	 */
	autosaveChanges?: number;
	/** mosquitto: lines of an acl_file (anonymous clients). aedes: ignored; a test that needs it skips. */
	acl?: string[];
	/** Filters whose SUBSCRIBE the broker refuses with return code 0x80 (mosquitto: dynamic-security plugin; aedes: authorizeSubscribe). */
	refuseSubscriptions?: string[];
	/**
	 * Topics (filters) anonymous clients may not publish to. mosquitto (dynamic-security plugin): the
	 * message is acknowledged and dropped (3.1.1 has no way to say no). aedes (authorizePublish): the
	 * connection is closed, as RabbitMQ does.
	 */
	refusePublishes?: string[];
	/** mosquitto: max_inflight_messages (outbound QoS 1/2 per client, and inbound QoS 2 awaiting PUBREL). */
	maxInflight?: number;
	/** mosquitto: max_packet_size (it drops the connection of a client that sends a larger packet). aedes: ignored. */
	maxPacketSize?: number;
	/** mosquitto: max_queued_messages per client (0: no limit); past it, QoS 0 to a client that lags is dropped. aedes: ignored. */
	maxQueuedMessages?: number;
	/** mosquitto: the listener speaks TLS with these PEM files (cafile: the CA that signed certfile). aedes: not supported. */
	tls?: { certfile: string; keyfile: string; cafile?: string };
	/** mosquitto: password_file (made with mosquitto_passwd) and allow_anonymous false. aedes: not supported. */
	passwordFile?: string;
	/**
	 * mosquitto (dynamic-security plugin): anonymous clients may also send it commands on
	 * $CONTROL/dynamic-security/v1 (setAnonymousGroup disconnects every anonymous client: DISCONNECT
	 * 0x98 Administrative action to an MQTT 5.0 client). aedes: not supported.
	 */
	administrable?: boolean;
	/**
	 * mosquitto: more lines for its config, after the listener's, so that listener settings (max_qos,
	 * max_topic_alias) apply to it: "retain_available false", "max_keepalive 30", ... aedes: not supported.
	 */
	config?: string[];
	/** Which broker; default: MQTT_TEST_BROKER, else mosquitto when installed, else aedes. */
	kind?: "mosquitto" | "aedes";
}

export interface Broker {
	readonly kind: "mosquitto" | "aedes";
	readonly host: typeof HOST;
	readonly port: number;
	/** "mosquitto 2.0.11", "aedes 1.2.0". */
	readonly version: string;
	/** mosquitto: its process id while it runs (to read its CPU time); aedes runs in this process: undefined. */
	readonly pid: number | undefined;
	/** Stops it for good and removes its files. */
	stop(): Promise<void>;
	/** Ends it abruptly: mosquitto gets `signal` (default SIGKILL); aedes drops every connection and closes. */
	kill(signal?: NodeJS.Signals): Promise<void>;
	/** Starts it again on the same port (after kill, or stopping it first). State survives only with mosquitto persistence. */
	restart(): Promise<void>;
	/** mosquitto: its log so far (notices and above: "Expiring client ... due to timeout."); aedes: "". */
	log(): string;
}

const START_TIMEOUT = 5000;
const STOP_TIMEOUT = 3000;

/** mosquitto processes still running, killed when the test process exits whatever happened. */
const live = new Set<ChildProcess>();
process.on("exit", () => {
	live.forEach((child) => {
		try {
			child.kill("SIGKILL");
		}
		catch {
			// already gone
		}
	});
});

export function findMosquitto(): string | undefined {
	const dirs = (process.env.PATH ?? "").split(":").filter((d) => d !== "");
	dirs.push("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin");
	for (let i = 0; i < dirs.length; i++) {
		const candidate = join(dirs[i]!, "mosquitto");
		if (existsSync(candidate)) return candidate;
	}
	return undefined;
}

/** A mosquitto client tool (mosquitto_pub, mosquitto_sub) on PATH or beside the usual places, or undefined. */
export function findTool(name: string): string | undefined {
	const dirs = (process.env.PATH ?? "").split(":").filter((d) => d !== "");
	dirs.push("/usr/bin", "/usr/local/bin", "/opt/homebrew/bin");
	for (let i = 0; i < dirs.length; i++) {
		const candidate = join(dirs[i]!, name);
		if (existsSync(candidate)) return candidate;
	}
	return undefined;
}

function findDynsecPlugin(): string | undefined {
	const roots = ["/usr/lib", "/usr/local/lib", "/usr/lib64"];
	for (let i = 0; i < roots.length; i++) {
		const root = roots[i]!;
		if (!existsSync(root)) continue;
		const direct = join(root, "mosquitto_dynamic_security.so");
		if (existsSync(direct)) return direct;
		const entries = readdirSync(root);
		for (let j = 0; j < entries.length; j++) {
			const nested = join(root, entries[j]!, "mosquitto_dynamic_security.so");
			if (existsSync(nested)) return nested;
		}
	}
	return undefined;
}

/** A port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once("error", reject);
		server.listen(0, HOST, () => {
			const address = server.address() as net.AddressInfo;
			server.close(() => resolve(address.port));
		});
	});
}

/** Does something already listen on `port` (on HOST, or on every address)? */
export function portInUse(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const server = net.createServer();
		server.once("error", () => resolve(true));
		server.listen(port, HOST, () => server.close(() => resolve(false)));
	});
}

/** Resolves once `port` accepts a TCP connection; rejects after `timeout` ms or when `gone()` says the server died. */
export async function waitForPort(port: number, timeout: number, gone: () => string | undefined): Promise<void> {
	const deadline = Date.now() + timeout;
	for (;;) {
		const reason = gone();
		if (reason !== undefined) throw new Error(reason);
		const accepted = await new Promise<boolean>((resolve) => {
			const socket = net.connect({ host: HOST, port });
			socket.once("connect", () => {
				socket.destroy();
				resolve(true);
			});
			socket.once("error", () => resolve(false));
		});
		if (accepted) return;
		if (Date.now() > deadline) throw new Error(`nothing accepted connections on ${HOST}:${port} within ${timeout} ms`);
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}

function chooseKind(options: BrokerOptions): { kind: "mosquitto" | "aedes"; why: string; binary?: string } {
	const wanted = options.kind ?? process.env.MQTT_TEST_BROKER;
	const binary = findMosquitto();
	if (wanted === "aedes") return { kind: "aedes", why: options.kind ? "" : "MQTT_TEST_BROKER=aedes" };
	if (wanted === "mosquitto") {
		if (!binary) throw new Error("MQTT_TEST_BROKER=mosquitto, but mosquitto is not installed");
		return { kind: "mosquitto", why: "", binary };
	}
	if (wanted !== undefined && wanted !== "") throw new Error(`MQTT_TEST_BROKER must be "mosquitto" or "aedes", not ${JSON.stringify(wanted)}`);
	if (!binary) return { kind: "aedes", why: "mosquitto not installed" };
	if ((options.refuseSubscriptions?.length || options.refusePublishes?.length || options.administrable) && !findDynsecPlugin())
		return { kind: "aedes", why: "mosquitto has no dynamic-security plugin to refuse subscriptions or publishes" };
	return { kind: "mosquitto", why: "", binary };
}

export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
	const choice = chooseKind(options);
	// An aedes without them would be an open, plaintext broker, or one without the limits asked for: fail rather than pretend.
	if (choice.kind === "aedes" && (options.tls || options.passwordFile || options.administrable || options.config?.length))
		throw new Error(`tls, passwordFile, administrable and config need mosquitto, and the broker would be aedes${choice.why ? ` (${choice.why})` : ""}`);
	const broker = choice.kind === "mosquitto"
		? await Mosquitto.start(choice.binary!, options)
		: await AedesBroker.start(options);
	reportBroker(broker.version, broker.host, broker.port, choice.why);
	return broker;
}

// ---- mosquitto -----------------------------------------------------------------------------

function mosquittoVersion(binary: string): string {
	const r = spawnSync(binary, ["-h"], { encoding: "utf8", timeout: 3000 });
	const m = /mosquitto version (\S+)/.exec(`${r.stdout ?? ""}${r.stderr ?? ""}`);
	return m ? `mosquitto ${m[1]}` : "mosquitto (version unknown)";
}

/**
 * dynamic-security JSON: anonymous clients may do everything except subscribe to `refused` and publish
 * to `unwritable`; `administrable`: they may send the plugin commands too.
 */
function dynsecConfig(refused: string[], unwritable: string[], administrable: boolean): string {
	const acls = [
		...refused.map((topic) => ({ acltype: "subscribePattern", topic, allow: false, priority: 0 })),
		...unwritable.map((topic) => ({ acltype: "publishClientSend", topic, allow: false, priority: 0 })),
		// $CONTROL topics are never open by default: they are granted explicitly.
		...(administrable ? [{ acltype: "publishClientSend", topic: "$CONTROL/dynamic-security/#", allow: true, priority: 0 }] : []),
	];
	return JSON.stringify({
		defaultACLAccess: { publishClientSend: true, publishClientReceive: true, subscribe: true, unsubscribe: true },
		clients: [],
		groups: [{ groupname: "anonymous", roles: [{ rolename: "anonymous" }] }],
		roles: [{ rolename: "anonymous", acls }],
		anonymousGroup: "anonymous",
	}, null, 2);
}

class Mosquitto implements Broker {
	readonly kind = "mosquitto" as const;
	readonly host = HOST;
	private child: ChildProcess | undefined;
	private exited: Promise<void> = Promise.resolve();
	private exitReason: string | undefined;

	get pid(): number | undefined {
		return this.child?.pid;
	}

	private constructor(
		private readonly binary: string,
		readonly version: string,
		readonly port: number,
		private readonly dir: string,
		private readonly configFile: string,
	) {}

	static async start(binary: string, options: BrokerOptions): Promise<Mosquitto> {
		const version = mosquittoVersion(binary);
		// mosquitto that cannot bind exits, but something else answers on the port: refuse instead of
		// pointing the clients at whatever that is.
		if (options.port !== undefined && await portInUse(options.port))
			throw new Error(`port ${options.port} on ${HOST} is already in use`);
		let lastError: unknown;
		// A free port can be taken between asking and binding: try a few.
		for (let attempt = 0; attempt < 3; attempt++) {
			const port = options.port ?? await freePort();
			const dir = mkdtempSync(join(tmpdir(), "mqtt-it-mosquitto-"));
			const configFile = join(dir, "mosquitto.conf");
			const lines = [
				`listener ${port} ${HOST}`,
				`allow_anonymous ${options.passwordFile ? "false" : "true"}`,
				`log_dest file ${join(dir, "mosquitto.log")}`,
				"log_type error",
				"log_type warning",
				"log_type notice",
				"log_type information",
			];
			// As root, mosquitto would switch to the "mosquitto" user, which cannot write into our temp dir.
			if (process.getuid && process.getuid() === 0) lines.push("user root");
			if (options.persistence) {
				lines.push("persistence true", `persistence_location ${dir}/`);
				if (options.autosaveChanges) lines.push(`autosave_interval ${options.autosaveChanges}`, "autosave_on_changes true");
				else lines.push("autosave_interval 0");
			}
			else lines.push("persistence false");
			if (options.maxInflight !== undefined) lines.push(`max_inflight_messages ${options.maxInflight}`);
			if (options.maxPacketSize !== undefined) lines.push(`max_packet_size ${options.maxPacketSize}`);
			if (options.maxQueuedMessages !== undefined) lines.push(`max_queued_messages ${options.maxQueuedMessages}`);
			if (options.tls) {
				if (options.tls.cafile) lines.push(`cafile ${options.tls.cafile}`);
				lines.push(`certfile ${options.tls.certfile}`, `keyfile ${options.tls.keyfile}`);
			}
			if (options.passwordFile) lines.push(`password_file ${options.passwordFile}`);
			if (options.acl) {
				const aclFile = join(dir, "acl");
				writeFileSync(aclFile, options.acl.join("\n") + "\n");
				lines.push(`acl_file ${aclFile}`);
			}
			if (options.refuseSubscriptions?.length || options.refusePublishes?.length || options.administrable) {
				const plugin = findDynsecPlugin();
				if (!plugin) throw new Error("refuseSubscriptions, refusePublishes and administrable need mosquitto's dynamic-security plugin");
				const dynsec = join(dir, "dynamic-security.json");
				writeFileSync(dynsec, dynsecConfig(options.refuseSubscriptions ?? [], options.refusePublishes ?? [], options.administrable === true));
				lines.push(`plugin ${plugin}`, `plugin_opt_config_file ${dynsec}`);
			}
			if (options.config) lines.push(...options.config);
			writeFileSync(configFile, lines.join("\n") + "\n");
			const broker = new Mosquitto(binary, version, port, dir, configFile);
			try {
				await broker.launch();
				return broker;
			}
			catch (error) {
				lastError = error;
				await broker.stop();
				if (options.port !== undefined) break;
			}
		}
		throw lastError;
	}

	private async launch(): Promise<void> {
		this.exitReason = undefined;
		// Its own process group: a terminal's Ctrl-C must not stop the broker before the clients
		// that use it have said goodbye (`npm start` stops it last).
		const child = spawn(this.binary, ["-c", this.configFile], { stdio: ["ignore", "ignore", "pipe"], detached: true });
		let stderr = "";
		child.stderr!.setEncoding("utf8");
		child.stderr!.on("data", (text: string) => {
			if (stderr.length < 4000) stderr += text;
		});
		this.child = child;
		live.add(child);
		this.exited = new Promise((resolve) => {
			child.once("exit", (code, signal) => {
				live.delete(child);
				this.exitReason = `mosquitto exited (${signal ?? `code ${code}`}): ${stderr.trim()} ${this.log().split("\n").slice(-10).join("\n")}`.trim();
				resolve();
			});
			child.once("error", (error) => {
				live.delete(child);
				this.exitReason = `mosquitto could not start: ${error.message}`;
				resolve();
			});
		});
		await waitForPort(this.port, START_TIMEOUT, () => this.exitReason);
	}

	log(): string {
		const file = join(this.dir, "mosquitto.log");
		return existsSync(file) ? readFileSync(file, "utf8") : "";
	}

	async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
		const child = this.child;
		if (!child || child.exitCode !== null || child.signalCode !== null) return;
		child.kill(signal);
		const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT);
		await this.exited;
		clearTimeout(timer);
		this.child = undefined;
	}

	async restart(): Promise<void> {
		await this.kill("SIGTERM");
		await this.launch();
	}

	async stop(): Promise<void> {
		await this.kill("SIGTERM");
		rmSync(this.dir, { recursive: true, force: true });
	}
}

// ---- aedes ---------------------------------------------------------------------------------

function aedesVersion(): string {
	try {
		const url = new URL("../../../node_modules/aedes/package.json", import.meta.url);
		const json = JSON.parse(readFileSync(url, "utf8")) as { version?: string };
		return `aedes ${json.version ?? "(version unknown)"}`;
	}
	catch {
		return "aedes";
	}
}

/** Does the MQTT filter `filter` match the subscription filter `pattern` (wildcards in `pattern` only)? */
function filterMatches(pattern: string, filter: string): boolean {
	const p = pattern.split("/");
	const f = filter.split("/");
	for (let i = 0; i < p.length; i++) {
		if (p[i] === "#") return true;
		if (i >= f.length) return false;
		if (p[i] !== "+" && p[i] !== f[i]) return false;
	}
	return p.length === f.length;
}

class AedesBroker implements Broker {
	readonly kind = "aedes" as const;
	readonly host = HOST;
	readonly version = aedesVersion();
	readonly pid = undefined;
	private aedes: Aedes | undefined;
	private server: net.Server | undefined;
	private readonly sockets = new Set<net.Socket>();

	private constructor(readonly port: number, private readonly options: BrokerOptions) {}

	static async start(options: BrokerOptions): Promise<AedesBroker> {
		const broker = new AedesBroker(options.port ?? await freePort(), options);
		await broker.launch();
		return broker;
	}

	private async launch(): Promise<void> {
		const refused = this.options.refuseSubscriptions ?? [];
		const aedes = await Aedes.createBroker({ heartbeatInterval: 3_600_000 });
		aedes.authorizeSubscribe = (_client, subscription, callback) => {
			// null negates the subscription: SUBACK carries 0x80 for it.
			for (let i = 0; i < refused.length; i++)
				if (filterMatches(refused[i]!, subscription.topic)) return callback(null, null);
			callback(null, subscription);
		};
		const unwritable = this.options.refusePublishes ?? [];
		aedes.authorizePublish = (_client, packet, callback) => {
			// An error closes the client's connection.
			for (let i = 0; i < unwritable.length; i++)
				if (filterMatches(unwritable[i]!, packet.topic)) return callback(new Error(`publishing to ${packet.topic} is not allowed`));
			callback(null);
		};
		const server = net.createServer((socket) => {
			this.sockets.add(socket);
			socket.once("close", () => this.sockets.delete(socket));
			aedes.handle(socket);
		});
		server.maxConnections = 256;
		await new Promise<void>((resolve, reject) => {
			server.once("error", reject);
			server.listen(this.port, HOST, () => resolve());
		});
		this.aedes = aedes;
		this.server = server;
	}

	async kill(): Promise<void> {
		const server = this.server;
		const aedes = this.aedes;
		this.server = undefined;
		this.aedes = undefined;
		this.sockets.forEach((socket) => socket.destroy());
		this.sockets.clear();
		if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
		if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
	}

	async restart(): Promise<void> {
		await this.kill();
		await this.launch();
	}

	async stop(): Promise<void> {
		await this.kill();
	}

	log(): string {
		return "";
	}
}
