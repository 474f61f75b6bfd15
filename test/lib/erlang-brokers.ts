// RabbitMQ (with its MQTT plugin) and ejabberd (with mod_mqtt), started by the tests themselves: each
// in a temp dir of its own (config, data, logs, HOME for the Erlang cookie), its MQTT listener, its
// Erlang distribution and a private epmd all on 127.0.0.1 and free ports. The packages' own services
// are not used (and must not be running). Modelled on mosquitto.ts.
//
// Start and stop, measured on a 2-core machine (RabbitMQ 3.10.8 and ejabberd 23.01 on Erlang/OTP 25):
//   RabbitMQ: start 3.4-4.2 s, restart 4.5-5.1 s (its stop included), stop 1.1 s; with its stock boot,
//             start 10.7-12.8 s (first boot of a data dir), restart 6.9 s.
//   ejabberd: start 1.4-2.0 s, restart 2.2-2.3 s, stop 1.1 s.
// Of each stop, ≈ 1 s is the Erlang VM's own init:stop(), whatever the application.
//
// Two things make RabbitMQ's boot short, without changing what it does as a broker (see RABBIT_BOOT):
// it loads every module of its applications up front, in parallel (its boot reads the attributes of all
// of them one by one: ≈ 4 s on one core, ≈ 2 s on two), and its MQTT plugin's Raft member, which on
// a first boot waits 3.3-6.3 s for cluster peers that a single node never gets, waits 0 ms.
//
// What each broker does with ErlangBrokerOptions: see there. What they do as MQTT 3.1.1 brokers:
// see the behaviour notes at startRabbitMq and startEjabberd.

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { freePort, HOST, waitForPort } from "./mosquitto.js";
import { reportBroker } from "./output.js";

export interface ErlangBrokerOptions {
	/**
	 * Users with a password, besides anonymous clients (see ErlangBroker.anonymous). Unrestricted
	 * unless `restricted` (then `forbidden` applies to them as to anonymous clients).
	 * RabbitMQ: users of the vhost "/" with every permission (configure, write, read). ejabberd:
	 * registered users of the host "localhost" (internal auth, in mnesia); an MQTT client logs in with
	 * the name alone or name@localhost.
	 */
	users?: { name: string; password: string; restricted?: boolean }[];
	/**
	 * MQTT topic filters that restricted clients (anonymous ones and users marked `restricted`) may
	 * neither publish to nor subscribe to; everything else stays allowed. Default: nothing forbidden.
	 * RabbitMQ: topic permissions on amq.topic for those users, write and read, as a regular expression
	 * on routing keys (MQTT "/" is AMQP "."): a PUBLISH to a topic a forbidden filter matches, or a
	 * SUBSCRIBE to a filter inside one (forbidden/#, forbidden/x, forbidden/+/y; not a wider one such as #
	 * or +/x, which then also receives forbidden topics), makes RabbitMQ close the connection.
	 * ejabberd: mod_mqtt access_publish / access_subscribe. Its rules are allow-lists (a topic is allowed
	 * when some rule filter that matches it allows the user; a topic no rule filter matches is denied), so
	 * "everything but forbidden/#" cannot be said: restricted clients may use the filters in `allowed`
	 * only, unrestricted users everything ("#"). A refused SUBSCRIBE gets SUBACK 0x8F, a refused PUBLISH
	 * is dropped (QoS 0) or acknowledged and dropped (PUBACK; PUBREC then PUBCOMP); $-topics are never
	 * publishable on ejabberd, whatever the rules.
	 */
	forbidden?: string[];
	/**
	 * ejabberd only, with `forbidden`: the filters restricted clients may publish to and subscribe to
	 * (default ["it/#"], where test/lib/peers.ts unique() puts its topics). One that overlaps a forbidden
	 * filter is an error. RabbitMQ: ignored (everything outside `forbidden` is allowed).
	 */
	allowed?: string[];
	/**
	 * The largest packet (fixed header included) the broker accepts from a client.
	 * ejabberd: the mod_mqtt listener's max_payload_size, which bounds the remaining length (it refuses
	 * remaining length >= max_payload_size; set here so that exactly packets of at most maxPacketSize
	 * bytes pass); a larger packet closes the connection, with nothing sent first.
	 * RabbitMQ 3.10 has no such setting (packets of 70 kB and more pass): an error, unless its MQTT plugin
	 * knows max_packet_size_authenticated (3.13 and later; set then, not tried here).
	 */
	maxPacketSize?: number;
}

/** The Broker interface of mosquitto.ts, with `kind` naming an Erlang broker. */
export interface ErlangBroker {
	readonly kind: "rabbitmq" | "ejabberd";
	readonly host: typeof HOST;
	readonly port: number;
	/** "RabbitMQ 3.10.8", "ejabberd 23.01". */
	readonly version: string;
	/** The Erlang VM's (beam.smp) process id while it runs. */
	readonly pid: number | undefined;
	/**
	 * MQTT credentials that log in as an anonymous (restricted, with `forbidden`) client. RabbitMQ: none
	 * (no user name: mqtt.default_user). ejabberd: a user name of its own and a password (anonymous
	 * login_anon auth); ejabberd 23.01 refuses every CONNECT without a password (CONNACK 5).
	 */
	readonly anonymous: { username?: string; password?: string };
	/** The temp dir: conf/, data/, log/, home/. Removed by stop(). */
	readonly dir: string;
	/** The last lines of its log files and output, for an assertion message. */
	logTail(lines?: number): string;
	/** Stops it (gracefully: SIGTERM, SIGKILL after 15 s), stops its epmd and removes its temp dir. */
	stop(): Promise<void>;
	/**
	 * Ends the VM with `signal` (default SIGKILL, to its whole process group) and waits for it to be
	 * gone (SIGKILL after 15 s); its epmd stays up for restart().
	 */
	kill(signal?: NodeJS.Signals): Promise<void>;
	/**
	 * Starts it again (after kill(), or stopping it gracefully first) on the same ports with the same
	 * data folder. What survives a graceful restart:
	 * RabbitMQ: users and permissions (re-imported anyway), persistent sessions (clean=false) with their
	 * QoS 1 subscriptions (durable queues) and the messages queued for those, and retained messages
	 * (a DETS file, synced every 2 s and at stop); not QoS 0 subscriptions nor what was queued for them.
	 * ejabberd: users and retained messages (mnesia disc tables); sessions, subscriptions and queued
	 * messages are kept in memory only and are lost (a clean=false client gets session present 0).
	 * After kill() (SIGKILL): the same less what was not on disk yet (both lost a retained message
	 * published 0.3 s before).
	 * `timeout` (default 60 s): rejects when it has not started by then, and leaves it starting (a
	 * node of a cluster may wait for the others: see startRabbitMqCluster).
	 */
	restart(timeout?: number): Promise<void>;
}

const START_TIMEOUT = 60_000;
const STOP_TIMEOUT = 15_000;
const PROBE_TIMEOUT = 10_000;

/** Erlang VMs and epmds still running, killed (with their process groups) when the test process exits. */
const live = new Set<ChildProcess>();
/** Temp dirs not yet removed by stop(), removed at exit too. */
const dirs = new Set<string>();
process.on("exit", () => {
	live.forEach((child) => {
		try {
			if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
		}
		catch {
			// already gone
		}
	});
	dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
});

// ---- finding them --------------------------------------------------------------------------

function pathDirs(...extra: string[]): string[] {
	return [...(process.env.PATH ?? "").split(":").filter((d) => d !== ""), ...extra];
}

function onPath(name: string, ...extra: string[]): string | undefined {
	const all = pathDirs(...extra);
	for (let i = 0; i < all.length; i++) {
		const candidate = join(all[i]!, name);
		if (existsSync(candidate)) return candidate;
	}
	return undefined;
}

/** The entry of `dir` named `prefix` + a version (a digit first), highest version last wins; or undefined. */
function versioned(dir: string, prefix: string): string | undefined {
	if (!existsSync(dir)) return undefined;
	const names = readdirSync(dir).filter((n) => n.startsWith(prefix) && /^\d/.test(n.slice(prefix.length)));
	names.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
	return names.length > 0 ? join(dir, names[names.length - 1]!) : undefined;
}

function appVersion(appFile: string): string | undefined {
	try {
		return /\{vsn,\s*"([^"]+)"\}/.exec(readFileSync(appFile, "utf8"))?.[1];
	}
	catch {
		return undefined;
	}
}

interface RabbitInstall {
	/** RabbitMQ's own rabbitmq-server script (not Debian's /usr/sbin wrapper, which su's to rabbitmq). */
	script: string;
	home: string;
	version: string;
	mqttPlugin: string;
	erl: string;
	epmd: string;
}

function findRabbitInstall(): RabbitInstall | string {
	const candidates: string[] = [];
	if (process.env.RABBITMQ_HOME) candidates.push(join(process.env.RABBITMQ_HOME, "sbin", "rabbitmq-server"));
	candidates.push("/usr/lib/rabbitmq/bin/rabbitmq-server");
	const lib = versioned("/usr/lib/rabbitmq/lib", "rabbitmq_server-");
	if (lib) candidates.push(join(lib, "sbin", "rabbitmq-server"));
	candidates.push("/opt/homebrew/opt/rabbitmq/sbin/rabbitmq-server", "/usr/local/opt/rabbitmq/sbin/rabbitmq-server");
	const onpath = onPath("rabbitmq-server");
	if (onpath) candidates.push(onpath);
	let script: string | undefined;
	for (let i = 0; i < candidates.length && !script; i++) {
		if (!existsSync(candidates[i]!)) continue;
		const real = realpathSync(candidates[i]!);
		// The real script has rabbitmq-env beside it; Debian's /usr/sbin one is a wrapper.
		if (existsSync(join(dirname(real), "rabbitmq-env"))) script = candidates[i]!;
	}
	if (!script) return "RabbitMQ is not installed (no rabbitmq-server script beside its rabbitmq-env)";
	const home = dirname(dirname(realpathSync(script)));
	const plugins = join(home, "plugins");
	const rabbit = versioned(plugins, "rabbit-");
	const version = (rabbit && appVersion(join(rabbit, "ebin", "rabbit.app"))) ?? rabbit?.replace(/^.*rabbit-/, "");
	const mqttPlugin = versioned(plugins, "rabbitmq_mqtt-");
	if (!mqttPlugin) return `RabbitMQ ${version ?? ""} has no MQTT plugin in ${plugins}`;
	const erl = onPath("erl");
	if (!erl) return "RabbitMQ is installed, but erl (Erlang) is not on PATH";
	const epmd = onPath("epmd", dirname(realpathSync(erl)), "/usr/lib/erlang/bin");
	if (!epmd) return "RabbitMQ is installed, but epmd is not found";
	return { script, home, version: `RabbitMQ ${version ?? "(version unknown)"}`, mqttPlugin, erl, epmd };
}

interface EjabberdInstall {
	ctl: string;
	erl: string;
	epmd: string;
	/** ERL_LIBS under which its ejabberd-<version> application dir is. */
	libs: string;
	version: string;
}

function findEjabberdInstall(): EjabberdInstall | string {
	const ctl = onPath("ejabberdctl", "/usr/sbin", "/usr/local/sbin", "/opt/ejabberd/bin", "/opt/homebrew/sbin", "/usr/local/bin");
	if (!ctl) return "ejabberd is not installed (no ejabberdctl)";
	let text = "";
	try {
		text = readFileSync(ctl, "utf8");
	}
	catch {
		// unreadable: guess below
	}
	const fromCtl = (name: string): string | undefined => {
		const m = new RegExp(`^\\s*${name}=["']?([^"'\\s]+)["']?\\s*$`, "m").exec(text);
		return m && !m[1]!.includes("{{") && !m[1]!.includes("$") ? m[1] : undefined;
	};
	const erl = [fromCtl("ERL"), onPath("erl")].find((e) => e !== undefined && existsSync(e));
	if (!erl) return "ejabberd is installed, but erl (Erlang) is not found";
	const libCandidates = [fromCtl("ERL_LIBS"), "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib/erlang/lib", "/usr/local/lib/erlang/lib"]
		.filter((d): d is string => d !== undefined);
	let libs: string | undefined;
	let app: string | undefined;
	for (let i = 0; i < libCandidates.length && !app; i++) {
		const dir = versioned(libCandidates[i]!, "ejabberd-");
		if (dir && existsSync(join(dir, "ebin", "ejabberd.app"))) {
			libs = libCandidates[i]!;
			app = join(dir, "ebin", "ejabberd.app");
		}
	}
	if (!libs || !app) return `ejabberd is installed (${ctl}), but its Erlang application is not found`;
	if (!existsSync(join(dirname(app), "mod_mqtt.beam"))) return "ejabberd has no mod_mqtt";
	const epmd = onPath("epmd", "/usr/lib/erlang/bin");
	if (!epmd) return "ejabberd is installed, but epmd is not found";
	// "23.01-1" in Debian's package: its revision dropped.
	const version = (appVersion(app) ?? "(version unknown)").replace(/-\d+$/, "");
	return { ctl, erl, epmd, libs, version: `ejabberd ${version}` };
}

/** The rabbitmq-server script that starts RabbitMQ (with an MQTT plugin beside it), or undefined. */
export function findRabbitMq(): string | undefined {
	const found = findRabbitInstall();
	return typeof found === "string" ? undefined : found.script;
}

/** Why RabbitMQ cannot be started here (for a skip message), or undefined when it can. */
export function missingRabbitMq(): string | undefined {
	const found = findRabbitInstall();
	return typeof found === "string" ? found : undefined;
}

/** ejabberdctl of an ejabberd with mod_mqtt (its erl and ERL_LIBS are read from it), or undefined. */
export function findEjabberd(): string | undefined {
	const found = findEjabberdInstall();
	return typeof found === "string" ? undefined : found.ctl;
}

/** Why ejabberd cannot be started here (for a skip message), or undefined when it can. */
export function missingEjabberd(): string | undefined {
	const found = findEjabberdInstall();
	return typeof found === "string" ? found : undefined;
}

// ---- MQTT helpers --------------------------------------------------------------------------

function utf8Field(text: string): Buffer {
	const bytes = Buffer.from(text, "utf8");
	const length = Buffer.alloc(2);
	length.writeUInt16BE(bytes.length);
	return Buffer.concat([length, bytes]);
}

function remainingLength(length: number): Buffer {
	const out: number[] = [];
	do {
		let byte = length % 128;
		length = Math.floor(length / 128);
		if (length > 0) byte |= 128;
		out.push(byte);
	} while (length > 0);
	return Buffer.from(out);
}

/** An MQTT 3.1.1 CONNECT, clean session, keepalive 10 s. */
function connectPacket(clientId: string, login: { username?: string; password?: string }): Buffer {
	let flags = 0x02;
	const fields = [utf8Field(clientId)];
	if (login.username !== undefined) {
		flags |= 0x80;
		fields.push(utf8Field(login.username));
	}
	if (login.password !== undefined) {
		flags |= 0x40;
		fields.push(utf8Field(login.password));
	}
	const body = Buffer.concat([utf8Field("MQTT"), Buffer.from([4, flags, 0, 10]), ...fields]);
	return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

/** One CONNECT: resolves with the CONNACK return code, or rejects (refused, closed, no answer in 2 s). */
function mqttConnect(port: number, login: { username?: string; password?: string }): Promise<number> {
	return new Promise((resolve, reject) => {
		const socket = net.connect({ host: HOST, port });
		let received = Buffer.alloc(0);
		const timer = setTimeout(() => finish(new Error("no CONNACK within 2 s")), 2000);
		const finish = (result: number | Error): void => {
			clearTimeout(timer);
			if (typeof result === "number") socket.end(Buffer.from([0xe0, 0x00])); // DISCONNECT
			else socket.destroy();
			if (typeof result === "number") resolve(result);
			else reject(result);
		};
		socket.once("connect", () => socket.write(connectPacket(`xs-mqtt-probe-${process.pid}-${Date.now()}`, login)));
		socket.on("data", (data: Buffer) => {
			received = Buffer.concat([received, data]);
			if (received.length >= 4) {
				if (received[0] === 0x20) finish(received[3]!);
				else finish(new Error(`not a CONNACK: ${received.subarray(0, 4).toString("hex")}`));
			}
		});
		socket.once("error", (error) => finish(error));
		socket.once("close", () => finish(new Error("closed before CONNACK")));
	});
}

/** The largest remaining length whose whole packet (1 + its length bytes + it) fits `maxPacket` bytes. */
function largestRemainingLength(maxPacket: number): number {
	let best = -1;
	for (let bytes = 1; bytes <= 4; bytes++) {
		const candidate = maxPacket - 1 - bytes;
		if (candidate >= 0 && remainingLength(candidate).length === bytes) best = Math.max(best, candidate);
	}
	if (best < 0) throw new Error(`maxPacketSize ${maxPacket} is smaller than any packet`);
	return best;
}

/** Can some topic match both filters? */
function filtersOverlap(a: string, b: string): boolean {
	const x = a.split("/");
	const y = b.split("/");
	for (let i = 0; ; i++) {
		if (i === x.length && i === y.length) return true;
		if (i === x.length) return y[i] === "#";
		if (i === y.length) return x[i] === "#";
		if (x[i] === "#" || y[i] === "#") return true;
		if (x[i] !== "+" && y[i] !== "+" && x[i] !== y[i]) return false;
	}
}

// ---- the common part: a VM with a private epmd ---------------------------------------------

interface Launch {
	command: string;
	args: string[];
	env: Record<string, string>;
	/** A line of its output that says it has booted. */
	ready: RegExp;
}

/** The parent's environment without what would reach into an Erlang VM or a broker script. */
function cleanEnv(): Record<string, string> {
	const env: Record<string, string> = {};
	for (const [key, value] of Object.entries(process.env)) {
		if (value === undefined) continue;
		if (/^(ERL_|RABBITMQ_|EJABBERD_|CONTRIB_MODULES)/.test(key) || key === "NOTIFY_SOCKET" || key === "detached") continue;
		env[key] = value;
	}
	return env;
}

abstract class ErlangVm implements ErlangBroker {
	abstract readonly kind: "rabbitmq" | "ejabberd";
	readonly host = HOST;
	abstract readonly anonymous: { username?: string; password?: string };
	private child: ChildProcess | undefined;
	private exited: Promise<void> = Promise.resolve();
	private exitReason: string | undefined;
	private output = "";
	private epmd: ChildProcess | undefined;
	/** False for the second and later nodes of a cluster: they use the first node's epmd. */
	protected ownsEpmd = true;
	protected readonly conf: string;
	protected readonly data: string;
	protected readonly logs: string;
	protected readonly home: string;

	get pid(): number | undefined {
		return this.child?.pid;
	}

	protected constructor(
		readonly version: string,
		protected readonly epmdBinary: string,
		readonly dir: string,
		readonly port: number,
		protected readonly epmdPort: number,
		protected readonly distPort: number,
	) {
		this.conf = join(dir, "conf");
		this.data = join(dir, "data");
		this.logs = join(dir, "log");
		this.home = join(dir, "home");
		for (const d of [this.conf, this.data, this.logs, this.home]) mkdirSync(d, { recursive: true });
	}

	/** What to spawn; called at each launch. */
	protected abstract launchSpec(): Launch;
	/** The log files whose tails logTail() shows. */
	protected abstract logFiles(): string[];

	/** The environment every Erlang program of this broker needs: its epmd, its HOME (cookie). */
	protected erlangEnv(): Record<string, string> {
		return {
			...cleanEnv(),
			HOME: this.home,
			ERL_EPMD_ADDRESS: HOST,
			ERL_EPMD_PORT: String(this.epmdPort),
			ERL_CRASH_DUMP: join(this.logs, "erl_crash.dump"),
			ERL_CRASH_DUMP_BYTES: "0",
		};
	}

	private async startEpmd(): Promise<void> {
		if (this.epmd && this.epmd.exitCode === null && this.epmd.signalCode === null) return;
		// Foreground (no -daemon): ours to kill by pid. It listens on 127.0.0.1 (and ::1, which epmd adds).
		const epmd = spawn(this.epmdBinary, ["-port", String(this.epmdPort)], {
			env: { ...cleanEnv(), ERL_EPMD_ADDRESS: HOST },
			stdio: "ignore",
			detached: true,
		});
		this.epmd = epmd;
		live.add(epmd);
		let gone: string | undefined;
		epmd.once("exit", (code, signal) => {
			live.delete(epmd);
			gone = `epmd exited (${signal ?? `code ${code}`})`;
		});
		epmd.once("error", (error) => {
			live.delete(epmd);
			gone = `epmd could not start: ${error.message}`;
		});
		await waitForPort(this.epmdPort, 5000, () => gone);
	}

	private async stopEpmd(): Promise<void> {
		const epmd = this.epmd;
		this.epmd = undefined;
		if (!epmd || epmd.exitCode !== null || epmd.signalCode !== null) return;
		const gone = new Promise<void>((resolve) => epmd.once("exit", () => resolve()));
		epmd.kill("SIGTERM");
		const timer = setTimeout(() => epmd.kill("SIGKILL"), 2000);
		await gone;
		clearTimeout(timer);
	}

	protected async launch(timeout = START_TIMEOUT): Promise<void> {
		if (this.ownsEpmd) await this.startEpmd();
		this.exitReason = undefined;
		this.output = "";
		const spec = this.launchSpec();
		// Its own process group (as mosquitto's): a terminal's Ctrl-C reaches the tests, not the broker,
		// and kill() can end the VM with its port programs (erl_child_setup, inet_gethost, memsup).
		const child = spawn(spec.command, spec.args, { env: spec.env, cwd: this.dir, stdio: ["ignore", "pipe", "pipe"], detached: true });
		this.child = child;
		live.add(child);
		let sawReady = false;
		const onOutput = (text: string): void => {
			this.output = (this.output + text).slice(-16_000);
			if (!sawReady && spec.ready.test(this.output)) sawReady = true;
		};
		child.stdout!.setEncoding("utf8");
		child.stderr!.setEncoding("utf8");
		child.stdout!.on("data", onOutput);
		child.stderr!.on("data", onOutput);
		this.exited = new Promise((resolve) => {
			child.once("exit", (code, signal) => {
				live.delete(child);
				this.exitReason = `${this.version} exited (${signal ?? `code ${code}`}) while starting:\n${this.logTail(15)}`;
				resolve();
			});
			child.once("error", (error) => {
				live.delete(child);
				this.exitReason = `${this.version} could not start: ${error.message}`;
				resolve();
			});
		});
		const deadline = Date.now() + timeout;
		const gone = (): string | undefined => this.exitReason;
		while (!sawReady) {
			const reason = gone();
			if (reason !== undefined) throw new Error(reason);
			if (Date.now() > deadline) throw new Error(`${this.version} did not say it had started within ${timeout} ms:\n${this.logTail(15)}`);
			await new Promise((resolve) => setTimeout(resolve, 25));
		}
		await waitForPort(this.port, Math.max(1000, deadline - Date.now()), gone);
		// The listener can accept before users and permissions are in place: a CONNECT must be answered.
		let lastError: unknown;
		const probeDeadline = Date.now() + PROBE_TIMEOUT;
		for (;;) {
			const reason = gone();
			if (reason !== undefined) throw new Error(reason);
			try {
				const code = await mqttConnect(this.port, this.anonymous);
				if (code === 0) return;
				lastError = new Error(`CONNACK return code ${code}`);
			}
			catch (error) {
				lastError = error;
			}
			if (Date.now() > probeDeadline)
				throw new Error(`${this.version}: an MQTT CONNECT got no CONNACK 0 within ${PROBE_TIMEOUT} ms (${(lastError as Error).message}):\n${this.logTail(15)}`);
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
	}

	logTail(lines = 20): string {
		const parts: string[] = [];
		for (const file of this.logFiles()) {
			if (!existsSync(file)) continue;
			const text = readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
			if (text) parts.push(`--- ${file}\n${text}`);
		}
		const output = this.output.trimEnd().split("\n").slice(-lines).join("\n");
		if (output) parts.push(`--- output\n${output}`);
		return parts.join("\n");
	}

	async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
		const child = this.child;
		if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
		const pid = child.pid;
		const group = (sig: NodeJS.Signals): void => {
			try {
				process.kill(-pid, sig);
			}
			catch {
				// gone
			}
		};
		// SIGTERM to the VM alone (it stops gracefully and takes its port programs with it); SIGKILL
		// to the whole group, else erl_child_setup and inet_gethost would outlive it for a while.
		if (signal === "SIGKILL") group("SIGKILL");
		else child.kill(signal);
		const timer = setTimeout(() => group("SIGKILL"), STOP_TIMEOUT);
		await this.exited;
		clearTimeout(timer);
		this.child = undefined;
	}

	async restart(timeout = START_TIMEOUT): Promise<void> {
		await this.kill("SIGTERM");
		await this.launch(timeout);
	}

	async stop(): Promise<void> {
		await this.kill("SIGTERM");
		if (this.ownsEpmd) await this.stopEpmd();
		rmSync(this.dir, { recursive: true, force: true });
		dirs.delete(this.dir);
	}

	/** Picks free ports and a temp dir, and launches; a port taken meanwhile: tries again (3 times). */
	protected static async startWith<T extends ErlangVm>(prefix: string, make: (dir: string, port: number, epmdPort: number, distPort: number) => T): Promise<T> {
		let lastError: unknown;
		for (let attempt = 0; attempt < 3; attempt++) {
			const dir = mkdtempSync(join(tmpdir(), prefix));
			dirs.add(dir);
			let broker: T | undefined;
			try {
				const [port, epmdPort, distPort] = await distinctFreePorts(3);
				broker = make(dir, port!, epmdPort!, distPort!);
				await broker.launch();
				reportBroker(broker.version, HOST, broker.port);
				return broker;
			}
			catch (error) {
				lastError = error;
				if (broker) await broker.stop();
				else {
					// Options it cannot do: no use trying again.
					rmSync(dir, { recursive: true, force: true });
					dirs.delete(dir);
					throw error;
				}
			}
		}
		throw lastError;
	}
}

async function distinctFreePorts(count: number): Promise<number[]> {
	const ports: number[] = [];
	while (ports.length < count) {
		const port = await freePort();
		if (!ports.includes(port)) ports.push(port);
	}
	return ports;
}

// ---- RabbitMQ ------------------------------------------------------------------------------

/**
 * Evaluated (file:script) by the RabbitMQ VM in place of `-s rabbit boot` (RABBITMQ_NODE_ONLY): loads
 * the modules of every application RabbitMQ will load, in parallel (code:ensure_modules_loaded; its
 * boot then finds them loaded instead of loading ≈ 1000 one at a time), recompiles the MQTT plugin's
 * mqtt_node so that its wait for cluster peers, which only a first boot does (11-20 rounds), sleeps
 * 0 ms a round instead of 300, then boots RabbitMQ. Both steps are skipped if they fail; the broker is
 * the same either way.
 */
const RABBIT_BOOT = String.raw`
AppProps = fun(App) ->
    case code:where_is_file(atom_to_list(App) ++ ".app") of
        non_existing -> [];
        File -> case file:consult(File) of {ok, [{application, _, Props}]} -> Props; _ -> [] end
    end
end,
Closure = fun Loop([], Seen) -> Seen;
              Loop([App | Rest], Seen) ->
                  case lists:member(App, Seen) of
                      true -> Loop(Rest, Seen);
                      false ->
                          Props = AppProps(App),
                          Loop(proplists:get_value(applications, Props, []) ++ proplists:get_value(included_applications, Props, []) ++ Rest, [App | Seen])
                  end
          end,
try
    Apps = Closure([rabbitmq_mqtt, rabbit, rabbitmq_prelaunch, rabbit_common, sasl, os_mon, mnesia], []),
    Modules = lists:append([proplists:get_value(modules, AppProps(A), []) || A <- Apps]),
    code:ensure_modules_loaded([M || M <- Modules, M =/= mqtt_node, not erlang:module_loaded(M)])
catch _:_ -> ok
end,
try
    Beam = code:which(mqtt_node),
    {ok, {mqtt_node, [{abstract_code, {raw_abstract_v1, Forms}}]}} = beam_lib:chunks(Beam, [abstract_code]),
    NoWait = fun({call, L, {atom, _, start} = F, [{integer, IL, 300}, Reps]}) -> {call, L, F, [{integer, IL, 0}, Reps]};
                (Other) -> Other
             end,
    Patched = [case Form of
                   {function, L, start, 0, [{clause, CL, [], [], Body}]} ->
                       {function, L, start, 0, [{clause, CL, [], [], [NoWait(E) || E <- Body]}]};
                   _ -> Form
               end || Form <- Forms],
    true = Patched =/= Forms,
    {ok, mqtt_node, Bin} = compile:forms(Patched, []),
    {module, mqtt_node} = code:load_binary(mqtt_node, Beam, Bin)
catch _:_ -> ok
end,
rabbit:boot().
`;

/** MQTT filter → regular expression on the AMQP routing and binding keys it covers ("/" is "."). */
function routingKeyPattern(filter: string): string {
	const levels = filter.split("/");
	let out = "";
	for (let i = 0; i < levels.length; i++) {
		const level = levels[i]!;
		if (level === "#") return i === 0 ? ".*" : `${out}(\\..*)?`;
		const part = level === "+" ? "[^.]*" : level.replace(/[\\^$.|?*+()[\]{}]/g, "\\$&");
		out += i === 0 ? part : `\\.${part}`;
	}
	return out;
}

/** Erlang string literal. */
function erlString(text: string): string {
	return JSON.stringify(text);
}

/** What a node of a RabbitMQ cluster shares with the others (see startRabbitMqCluster). */
interface RabbitMembership {
	/** This node's name, "rabbit-a@localhost". */
	node: string;
	/** Every node's name, this one's included. */
	nodes: string[];
	/** The Erlang cookie they all have. */
	cookie: string;
	/** The anonymous user's password: users live in the cluster's shared database. */
	anonymousPassword: string;
	/** The first node starts the cluster's epmd; the others use it. */
	first: boolean;
}

class RabbitMq extends ErlangVm {
	readonly kind = "rabbitmq" as const;
	readonly anonymous = {};
	private readonly configFile: string;
	private readonly fastBoot: boolean;
	private readonly node: string;

	constructor(private readonly install: RabbitInstall, dir: string, port: number, epmdPort: number, distPort: number, options: ErlangBrokerOptions, membership?: RabbitMembership) {
		super(install.version, install.epmd, dir, port, epmdPort, distPort);
		this.node = membership?.node ?? "rabbit@localhost";
		if (membership) {
			this.ownsEpmd = membership.first;
			writeFileSync(join(this.home, ".erlang.cookie"), membership.cookie, { mode: 0o400 });
		}
		const anonymousUser = "xs-mqtt-anonymous";
		const anonymousPassword = membership?.anonymousPassword ?? randomBytes(12).toString("hex");
		const users = [{ name: anonymousUser, password: anonymousPassword, restricted: true }, ...(options.users ?? [])];
		const forbidden = options.forbidden ?? [];
		const allow = forbidden.length > 0 ? `^(?!(${forbidden.map(routingKeyPattern).join("|")})$)` : undefined;
		const definitions = {
			users: users.map((u) => ({ name: u.name, password: u.password, tags: [] })),
			vhosts: [{ name: "/" }],
			permissions: users.map((u) => ({ user: u.name, vhost: "/", configure: ".*", write: ".*", read: ".*" })),
			topic_permissions: allow === undefined ? [] : users.filter((u) => u.restricted)
				.map((u) => ({ user: u.name, vhost: "/", exchange: "amq.topic", write: allow, read: allow })),
			// A cluster: the queues of persistent MQTT sessions (QoS 1 subscriptions) mirrored on every
			// node, so that a session and what was queued for it outlive the node it was made on.
			policies: membership === undefined ? [] : [{
				vhost: "/", name: "xs-mqtt-sessions", pattern: "^mqtt-subscription-", "apply-to": "queues", priority: 0,
				definition: { "ha-mode": "all", "ha-sync-mode": "automatic" },
			}],
		};
		const definitionsFile = join(this.conf, "definitions.json");
		writeFileSync(definitionsFile, JSON.stringify(definitions, null, 2));
		const mqtt = [
			`{tcp_listeners, [{${erlString(HOST)}, ${port}}]}`,
			"{allow_anonymous, true}",
			`{default_user, <<${erlString(anonymousUser)}>>}`,
			`{default_pass, <<${erlString(anonymousPassword)}>>}`,
			"{vhost, <<\"/\">>}",
			"{exchange, <<\"amq.topic\">>}",
		];
		if (options.maxPacketSize !== undefined) {
			const schema = join(install.mqttPlugin, "priv", "schema", "rabbitmq_mqtt.schema");
			if (!existsSync(schema) || !readFileSync(schema, "utf8").includes("max_packet_size_authenticated"))
				throw new Error(`${install.version}'s MQTT plugin has no maximum packet size setting (maxPacketSize)`);
			mqtt.push(`{max_packet_size_authenticated, ${options.maxPacketSize}}`);
		}
		// Erlang-term config (no cuttlefish translation); no AMQP listener. XS_MQTT_RABBIT_LOG=info (or
		// debug) logs more, to see what a node was doing when a test failed.
		this.configFile = join(this.conf, "rabbitmq.config");
		writeFileSync(this.configFile, [
			"[",
			" {rabbit, [",
			"   {tcp_listeners, []},",
			"   {loopback_users, []},",
			`   {load_definitions, ${erlString(definitionsFile)}},`,
			`   {log, [{console, [{enabled, false}]}, {file, [{level, ${process.env.XS_MQTT_RABBIT_LOG ?? "notice"}}]}]}` + (membership === undefined ? "" : ","),
			// The nodes started before this one (none for the first: it would wait 5 s for the others).
			...(membership === undefined ? [] : [`   {cluster_nodes, {[${membership.nodes.slice(0, membership.nodes.indexOf(membership.node)).map((n) => `'${n}'`).join(", ")}], disc}}`]),
			" ]},",
			` {rabbitmq_mqtt, [${mqtt.join(", ")}]}`,
			"].",
			"",
		].join("\n"));
		writeFileSync(join(this.conf, "enabled_plugins"), "[rabbitmq_mqtt].\n");
		writeFileSync(join(this.conf, "boot.erl"), RABBIT_BOOT);
		// The boot script goes through the server script's word splitting: no spaces in its path.
		this.fastBoot = !/\s|"|\\/.test(this.conf);
	}

	protected launchSpec(): Launch {
		const erlArgs = ["-start_epmd false", `-kernel inet_dist_use_interface {127,0,0,1}`];
		const env: Record<string, string> = {
			...this.erlangEnv(),
			RABBITMQ_CONF_ENV_FILE: join(this.conf, "rabbitmq-env.conf"), // none: not /etc/rabbitmq's
			RABBITMQ_CONFIG_FILE: this.configFile,
			RABBITMQ_ADVANCED_CONFIG_FILE: join(this.conf, "advanced.config"), // none
			RABBITMQ_ENABLED_PLUGINS_FILE: join(this.conf, "enabled_plugins"),
			RABBITMQ_MNESIA_BASE: this.data,
			RABBITMQ_LOG_BASE: this.logs,
			RABBITMQ_NODENAME: this.node,
			RABBITMQ_NODE_IP_ADDRESS: HOST,
			RABBITMQ_DIST_PORT: String(this.distPort),
			// The server script then execs erl (beam.smp keeps the pid) instead of waiting on it.
			detached: "true",
		};
		if (this.fastBoot) {
			env.RABBITMQ_NODE_ONLY = "true";
			erlArgs.push(`-eval {ok,_}=file:script(${erlString(join(this.conf, "boot.erl"))})`);
		}
		env.RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS = erlArgs.join(" ");
		return { command: this.install.script, args: [], env, ready: /completed with \d+ plugins?/ };
	}

	protected logFiles(): string[] {
		return [join(this.logs, `${this.node}.log`)];
	}

	static start(install: RabbitInstall, options: ErlangBrokerOptions): Promise<RabbitMq> {
		return ErlangVm.startWith("xs-mqtt-rabbitmq-", (dir, port, epmdPort, distPort) => new RabbitMq(install, dir, port, epmdPort, distPort, options));
	}

	/** Starts `count` nodes one after the other, each joining the ones before; the first owns the epmd. */
	static async startCluster(install: RabbitInstall, count: number, options: ErlangBrokerOptions): Promise<RabbitMq[]> {
		const letters = "abcdefgh".slice(0, count).split("");
		const names = letters.map((l) => `rabbit-${l}@localhost`);
		const cookie = randomBytes(16).toString("hex").toUpperCase();
		const anonymousPassword = randomBytes(12).toString("hex");
		const ports = await distinctFreePorts(1 + 2 * count);
		const nodes: RabbitMq[] = [];
		try {
			for (let i = 0; i < count; i++) {
				const dir = mkdtempSync(join(tmpdir(), `xs-mqtt-rabbitmq-${letters[i]}-`));
				dirs.add(dir);
				const node = new RabbitMq(install, dir, ports[1 + 2 * i]!, ports[0]!, ports[2 + 2 * i]!, options,
					{ node: names[i]!, nodes: names, cookie, anonymousPassword, first: i === 0 });
				nodes.push(node);
				await node.launch();
				reportBroker(`${node.version} cluster node ${names[i]}`, HOST, node.port);
			}
			return nodes;
		}
		catch (error) {
			for (let i = nodes.length - 1; i >= 0; i--) await nodes[i]!.stop();
			throw error;
		}
	}
}

/**
 * Starts RabbitMQ with its MQTT plugin (no AMQP listener, no management plugin) in a temp dir.
 * Rejects, saying why, when it is not installed (missingRabbitMq()).
 *
 * How RabbitMQ 3.10.8 behaves towards an MQTT 3.1.1 client (MQTT topics are routing keys on amq.topic):
 * - SUBSCRIBE QoS 2 is granted QoS 1; a QoS 2 PUBLISH is answered with PUBACK (no PUBREC), delivered
 *   at QoS 1, and a DUP re-send of it is delivered again: QoS 2 is at-least-once.
 * - A refused SUBSCRIBE or PUBLISH (topic permissions), at any QoS, closes the connection at once:
 *   no SUBACK, no PUBACK; the message is not delivered.
 * - CONNECT without user name: the anonymous user; a user name without password, or a wrong one:
 *   CONNACK 4, then closed.
 * - Retained messages: stored and delivered (retain flag set) to a new subscription only when its filter
 *   is the exact topic, not through wildcards; an empty retained PUBLISH clears and is delivered as an
 *   empty message to current subscribers.
 * - The will: published after an abrupt close, not after DISCONNECT.
 * - clean=false: session present 1 on return if the session has a QoS 1 subscription (a durable
 *   queue), with what was published meanwhile to those (QoS 0 publishes too); with QoS 0 subscriptions
 *   only, session present 0 and nothing kept. clean=true ends it. An empty client id with clean=false:
 *   CONNACK 2. A second connection with the same client id closes the first.
 * - A message matching several subscriptions of one client arrives once per QoS among them (one queue
 *   for QoS 0, one for QoS 1), not once per subscription.
 * - "#" also matches topics beginning with "$"; $SYS/# is granted but carries nothing.
 * - A filter "a/#" matches "a" too. "." in a topic is a level separator too: a PUBLISH to a/b.c
 *   reaches a subscriber of a/b/c (and arrives as topic a/b/c), and a/b.c subscribed receives a/b/c.
 * - Up to 10 QoS 1 messages in flight to a client (mqtt.prefetch); QoS 0 ones are not held behind them.
 * - $share/... is an ordinary topic. Topic depth is not limited (10 levels passed), nor packet size
 *   (70 kB passed).
 */
export async function startRabbitMq(options: ErlangBrokerOptions = {}): Promise<ErlangBroker> {
	const install = findRabbitInstall();
	if (typeof install === "string") throw new Error(install);
	return RabbitMq.start(install, options);
}

/** RabbitMQ nodes clustered together (see startRabbitMqCluster). */
export interface RabbitMqCluster {
	/**
	 * The nodes, in the order they started ("rabbit-a@localhost", "rabbit-b@localhost", ...), each with
	 * its own MQTT port. kill() and restart() act on one node; its stop() is not for a member (the first
	 * node's stops the epmd they share): use the cluster's.
	 */
	readonly nodes: ErlangBroker[];
	/** Stops every node, the last started first, and removes their temp dirs. */
	stop(): Promise<void>;
}

/**
 * Starts a RabbitMQ cluster of `count` nodes on loopback, each as startRabbitMq does (its own temp dir,
 * MQTT port and Erlang distribution port on 127.0.0.1) and all on one private epmd with one cookie.
 * The nodes start one after the other and each joins the ones before (classic config peer discovery:
 * rabbit's cluster_nodes). A policy mirrors the queues of persistent MQTT sessions on every node
 * (classic mirrored queues, ha-mode all), so a session made on one node is found on the others after
 * that node goes down, with what was queued for it.
 *
 * RabbitMQ 3.10's MQTT plugin tracks client ids in a Raft cluster of every node (its mqtt_node). With
 * one node of two killed, the other still accepts MQTT connections (a session made on the dead one
 * included, thanks to the mirror), but the killed node does not finish starting again: its plugin waits
 * to rejoin that Raft cluster before restarting its own member, and the cluster has no leader without
 * it (a majority of two). With three nodes it starts again in about 4 s.
 */
export async function startRabbitMqCluster(count = 2, options: ErlangBrokerOptions = {}): Promise<RabbitMqCluster> {
	const install = findRabbitInstall();
	if (typeof install === "string") throw new Error(install);
	if (count < 2 || count > 8) throw new Error(`a cluster of 2 to 8 nodes, not ${count}`);
	const nodes = await RabbitMq.startCluster(install, count, options);
	return {
		nodes,
		async stop() {
			for (let i = nodes.length - 1; i >= 0; i--) await nodes[i]!.stop();
		},
	};
}

// ---- ejabberd ------------------------------------------------------------------------------

class Ejabberd extends ErlangVm {
	readonly kind = "ejabberd" as const;
	readonly anonymous: { username: string; password: string };
	private readonly configFile: string;
	private readonly bootFile: string;

	constructor(private readonly install: EjabberdInstall, dir: string, port: number, epmdPort: number, distPort: number, options: ErlangBrokerOptions) {
		super(install.version, install.epmd, dir, port, epmdPort, distPort);
		this.anonymous = { username: `anonymous-${randomBytes(4).toString("hex")}`, password: "anonymous" };
		const users = options.users ?? [];
		const forbidden = options.forbidden ?? [];
		const listener: Record<string, unknown> = { port, ip: HOST, module: "mod_mqtt", backlog: 128 };
		if (options.maxPacketSize !== undefined) listener.max_payload_size = largestRemainingLength(options.maxPacketSize) + 1;
		const mqtt: Record<string, unknown> = {};
		const config: Record<string, unknown> = {
			hosts: ["localhost"],
			loglevel: "notice",
			hide_sensitive_log_data: false,
			certfiles: [],
			listen: [listener],
			// internal: the users registered at boot; anonymous (login_anon): any other name, with a password.
			auth_method: ["internal", "anonymous"],
			anonymous_protocol: "login_anon",
			modules: { mod_mqtt: mqtt },
		};
		if (forbidden.length > 0) {
			const allowed = options.allowed ?? ["it/#"];
			for (const a of allowed)
				for (const f of forbidden)
					if (filtersOverlap(a, f)) throw new Error(`ejabberd: allowed filter ${a} overlaps forbidden filter ${f}`);
			const unrestricted = users.filter((u) => !u.restricted).map((u) => u.name);
			config.acl = unrestricted.length > 0 ? { xs_unrestricted: { user: unrestricted } } : {};
			config.access_rules = {
				xs_unrestricted: unrestricted.length > 0 ? { allow: "xs_unrestricted" } : { deny: "all" },
				xs_everyone: { allow: "all" },
			};
			const rules: Record<string, string> = { "#": "xs_unrestricted" };
			for (const a of allowed) rules[a] = "xs_everyone";
			mqtt.access_publish = rules;
			mqtt.access_subscribe = rules;
		}
		// YAML is a superset of JSON.
		this.configFile = join(this.conf, "ejabberd.yml");
		writeFileSync(this.configFile, JSON.stringify(config, null, 2) + "\n");
		const binary = (text: string): string => `<<${erlString(text)}/utf8>>`;
		const registrations = users.map((u) => `ejabberd_auth:try_register(${binary(u.name)}, <<"localhost">>, ${binary(u.password)})`);
		// Evaluated (file:script) by the VM: starts ejabberd, registers the users (again after a restart:
		// {error, exists}), says so on stdout; a failed start halts the VM.
		this.bootFile = join(this.conf, "boot.erl");
		writeFileSync(this.bootFile, [
			"case ejabberd:start() of",
			"    {ok, _} ->",
			`        Registered = [${registrations.join(", ")}],`,
			"        io:format(\"xs-mqtt: ejabberd started, users: ~p~n\", [Registered]);",
			"    Error ->",
			"        io:format(\"xs-mqtt: ejabberd did not start: ~p~n\", [Error]),",
			"        timer:sleep(100),",
			"        halt(1)",
			"end.",
			"",
		].join("\n"));
	}

	protected launchSpec(): Launch {
		const args = [
			"-sname", "ejabberd@localhost",
			"-noinput",
			"-start_epmd", "false",
			"-kernel", "inet_dist_use_interface", "{127,0,0,1}",
			"-kernel", "inet_dist_listen_min", String(this.distPort),
			"-kernel", "inet_dist_listen_max", String(this.distPort),
			"-mnesia", "dir", erlString(this.data),
			"-eval", `{ok,_}=file:script(${erlString(this.bootFile)})`,
		];
		const env = {
			...this.erlangEnv(),
			EJABBERD_CONFIG_PATH: this.configFile,
			EJABBERD_LOG_PATH: join(this.logs, "ejabberd.log"),
			CONTRIB_MODULES_PATH: join(this.home, "ejabberd-modules"),
			ERL_LIBS: this.install.libs,
		};
		return { command: this.install.erl, args, env, ready: /xs-mqtt: ejabberd started/ };
	}

	protected logFiles(): string[] {
		return [join(this.logs, "ejabberd.log"), join(this.logs, "error.log")];
	}

	static start(install: EjabberdInstall, options: ErlangBrokerOptions): Promise<Ejabberd> {
		return ErlangVm.startWith("xs-mqtt-ejabberd-", (dir, port, epmdPort, distPort) => new Ejabberd(install, dir, port, epmdPort, distPort, options));
	}
}

/**
 * Starts ejabberd with mod_mqtt on its own (no XMPP listener) in a temp dir, host "localhost".
 * Rejects, saying why, when it is not installed (missingEjabberd()).
 *
 * How ejabberd 23.01 behaves towards an MQTT 3.1.1 client:
 * - QoS 2 granted and done in full (PUBREC, PUBREL, PUBCOMP; a DUP re-send is not delivered again).
 *   It sends one QoS 1/2 message at a time to a client, the next only after the previous is
 *   acknowledged; QoS 0 messages queue behind an unacknowledged one too.
 * - A refused SUBSCRIBE: SUBACK 0x8F (MQTT 5's "topic filter invalid", which 3.1.1 does not have) for
 *   that filter, the others granted, the connection stays; also 0x8F for a filter deeper than
 *   max_topic_depth (8 levels; a 9-level filter, or 8 levels and "#"). A refused PUBLISH: QoS 0 dropped,
 *   QoS 1 PUBACK, QoS 2 PUBREC then PUBCOMP; not delivered, the connection stays.
 * - CONNECT without password (with or without a user name), or a wrong one: CONNACK 5, then closed.
 * - Retained messages: delivered (retain flag set) to wildcard subscriptions too; an empty retained
 *   PUBLISH clears and is delivered as an empty message to current subscribers.
 * - The will: published after an abrupt close, not after DISCONNECT.
 * - clean=false: session present 1 on return, with what was published meanwhile to its QoS 1/2
 *   subscriptions (not to QoS 0 ones), the first re-sent with DUP set; kept 5 minutes (session_expiry);
 *   lost on restart. An empty client id with clean=false is accepted (CONNACK 0). A second connection
 *   with the same client id closes the first.
 * - A message matching several subscriptions of one client arrives once per subscription.
 * - Publishing to a $-topic is refused (acknowledged, dropped); $SYS/# is granted but carries nothing.
 * - A filter "a/#" matches "a" too. $share/... SUBSCRIBE closes the connection. A packet larger than
 *   max_payload_size closes it. MQTT.js 5 (mqtt-packet) cannot parse a SUBACK with 0x8F: it emits
 *   "Invalid suback QoS, must be 0, 1, 2 or 128" and its subscribe() never completes.
 */
export async function startEjabberd(options: ErlangBrokerOptions = {}): Promise<ErlangBroker> {
	const install = findEjabberdInstall();
	if (typeof install === "string") throw new Error(install);
	return Ejabberd.start(install, options);
}

/** The version the broker would report, without starting it (undefined when not installed). */
export function erlangBrokerVersion(kind: "rabbitmq" | "ejabberd"): string | undefined {
	const found = kind === "rabbitmq" ? findRabbitInstall() : findEjabberdInstall();
	return typeof found === "string" ? undefined : found.version;
}
