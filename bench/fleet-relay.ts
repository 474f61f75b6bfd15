// The fleet benchmark's relay (bench/fleet.ts), in a process of its own: it listens for the fleet in
// front of mosquitto, counts each connection it accepts and pipes it on. Apart from the fleet's process,
// its accept times are not held up by thousands of clients' timers and parsing on one event loop.
// Driven over IPC by RelayProcess: "up" (listen, backlog 100 as mosquitto's; accept times from now),
// "down" (stop listening, drop every connection), "accepts" (the times, ms after the last "up").

import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import * as net from "node:net";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const HOST = "127.0.0.1";

type Command = "up" | "down" | "accepts";
interface Reply {
	ok: boolean;
	error?: string;
	accepts?: number[];
}

/** Counts accepted connections and relays them to mosquitto; listens only while up. */
class Relay {
	private server: net.Server | undefined;
	private readonly sockets = new Set<net.Socket>();
	private upAt = 0;
	/** ms after the last up() of each accepted connection. */
	accepts: number[] = [];

	constructor(private readonly port: number, private readonly target: number) {}

	up(): Promise<void> {
		const server = net.createServer({ noDelay: true }, (socket) => {
			this.accepts.push(performance.now() - this.upAt);
			const upstream = net.connect({ host: HOST, port: this.target, noDelay: true });
			this.sockets.add(socket);
			this.sockets.add(upstream);
			const end = () => {
				socket.destroy();
				upstream.destroy();
				this.sockets.delete(socket);
				this.sockets.delete(upstream);
			};
			socket.on("error", end);
			upstream.on("error", end);
			socket.on("close", end);
			upstream.on("close", end);
			socket.pipe(upstream);
			upstream.pipe(socket);
		});
		this.server = server;
		this.accepts = [];
		this.upAt = performance.now();
		return new Promise((resolve, reject) => {
			server.once("error", reject);
			server.listen({ host: HOST, port: this.port, backlog: 100 }, () => resolve());
		});
	}

	down(): Promise<void> {
		const server = this.server;
		this.server = undefined;
		this.sockets.forEach((s) => s.destroy());
		this.sockets.clear();
		if (!server) return Promise.resolve();
		return new Promise((resolve) => server.close(() => resolve()));
	}
}

/** The relay process, seen from the fleet's. */
export class RelayProcess {
	private readonly waiting: Array<(reply: Reply) => void> = [];
	private exited: string | undefined;

	private constructor(readonly port: number, private readonly child: ChildProcess) {
		child.on("message", (reply: Reply) => this.waiting.shift()?.(reply));
		child.once("exit", (code, signal) => {
			this.exited = `the relay process exited (${signal ?? `code ${code}`})`;
			this.waiting.splice(0).forEach((w) => w({ ok: false, error: this.exited }));
		});
	}

	/** Starts the process; it listens on `port` (on up()) and relays to `target`. */
	static start(port: number, target: number): Promise<RelayProcess> {
		const child = fork(fileURLToPath(import.meta.url), [String(port), String(target)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
		return new Promise((resolve, reject) => {
			child.once("message", () => resolve(new RelayProcess(port, child)));
			child.once("error", reject);
			child.once("exit", (code) => reject(new Error(`the relay process exited at start (code ${code})`)));
		});
	}

	private ask(command: Command): Promise<Reply> {
		if (this.exited) return Promise.reject(new Error(this.exited));
		return new Promise((resolve, reject) => {
			this.waiting.push((reply) => reply.ok ? resolve(reply) : reject(new Error(`relay ${command}: ${reply.error}`)));
			this.child.send(command);
		});
	}

	async up(): Promise<void> {
		await this.ask("up");
	}

	async down(): Promise<void> {
		await this.ask("down");
	}

	/** When each connection was accepted, ms after the last up(). */
	async accepts(): Promise<number[]> {
		return (await this.ask("accepts")).accepts ?? [];
	}

	/** Drops its connections and ends the process. */
	async stop(): Promise<void> {
		if (this.exited) return;
		await this.down().catch(() => undefined);
		const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
		this.child.kill("SIGTERM");
		await gone;
	}
}

// The process itself.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.send) {
	const relay = new Relay(Number(process.argv[2]), Number(process.argv[3]));
	const send = (reply: Reply): void => {
		process.send!(reply);
	};
	process.on("message", (command: Command) => {
		const done = (promise: Promise<unknown>, extra: Partial<Reply> = {}): void => {
			promise.then(() => send({ ok: true, ...extra }), (error: Error) => send({ ok: false, error: error.message }));
		};
		if (command === "up") done(relay.up());
		else if (command === "down") done(relay.down());
		else if (command === "accepts") send({ ok: true, accepts: relay.accepts });
		else send({ ok: false, error: `unknown command ${String(command)}` });
	});
	// The parent gone: so is the relay.
	process.on("disconnect", () => process.exit(0));
	send({ ok: true });
}
