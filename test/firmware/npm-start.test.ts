// `npm start` as people use it: node build/hosts/xs/start.js as a child process, with its env vars
// and its stdin, on brokers of 127.0.0.1 only. Each run is bounded in time and killed if it overruns.

import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "../../hosts/node/index.js";
import { findTool, freePort, HOST, portInUse, startBroker } from "../lib/mosquitto.js";
import type { Broker } from "../lib/mosquitto.js";

const START = join(dirname(fileURLToPath(import.meta.url)), "../../hosts/xs/start.js");

interface Run {
	child: ChildProcess;
	/** stdout so far. */
	out(): string;
	err(): string;
	/** Resolves with stdout once `pattern` shows in it; rejects after `timeout` ms or when the process ends first. */
	waitFor(pattern: RegExp, timeout?: number): Promise<RegExpExecArray>;
	/** The exit code (or signal name), within `timeout` ms, else the process is killed and this rejects. */
	exited(timeout?: number): Promise<number | string>;
	/** Its own temp dir (TMPDIR): the broker's and the engine's folders go there. */
	tmp: string;
}

const runs = new Set<Run>();

function run(env: Record<string, string>): Run {
	const tmp = mkdtempSync(join(tmpdir(), "npm-start-test-"));
	const child = spawn(process.execPath, [START], {
		env: { ...process.env, BROKER_PORT: "", MQTT_URL: "", TELEMETRY_INTERVAL: "", NO_COLOR: "", TMPDIR: tmp, ...env },
		stdio: ["pipe", "pipe", "pipe"],
	});
	return wrap(child, tmp);
}

/** Output, waits and the bounded exit of a child, killed and cleaned up after each test. */
function wrap(child: ChildProcess, tmp: string): Run {
	let out = "";
	let err = "";
	child.stdout!.setEncoding("utf8");
	child.stderr!.setEncoding("utf8");
	child.stdout!.on("data", (text: string) => { out += text; });
	child.stderr!.on("data", (text: string) => { err += text; });
	child.stdin!.on("error", () => undefined);
	const end = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "?")));
	const r: Run = {
		child,
		tmp,
		out: () => out,
		err: () => err,
		async waitFor(pattern, timeout = 15000) {
			const deadline = Date.now() + timeout;
			for (;;) {
				const m = pattern.exec(out);
				if (m) return m;
				if (child.exitCode !== null || child.signalCode !== null)
					throw new Error(`npm start ended before ${pattern}:\n${out}\n${err}`);
				if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeout} ms:\n${out}\n${err}`);
				await new Promise((resolve) => setTimeout(resolve, 50));
			}
		},
		async exited(timeout = 15000) {
			let timer: NodeJS.Timeout | undefined;
			const late = new Promise<never>((_, reject) => {
				timer = setTimeout(() => {
					child.kill("SIGKILL");
					reject(new Error(`npm start did not end within ${timeout} ms:\n${out}\n${err}`));
				}, timeout);
			});
			try {
				return await Promise.race([end, late]);
			}
			finally {
				clearTimeout(timer);
			}
		},
	};
	runs.add(r);
	return r;
}

/** The port of the broker npm start started or was given, from its output. */
async function connectedPort(r: Run): Promise<number> {
	const m = await r.waitFor(/\[device\] connected to 127\.0\.0\.1:(\d+)/);
	return Number(m[1]);
}

/** The retained status on `port`, read by a client of our own. */
function retainedStatus(port: number): Promise<string> {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => { client.close(); reject(new Error("no retained status within 5 s")); }, 5000);
		const client = createClient({
			host: HOST, port, keepAlive: 30, reconnect: false,
			onMessage(message) {
				clearTimeout(timer);
				client.close();
				resolve(message.payloadText());
			},
		});
		client.subscribe("devices/xs-demo/status", 1);
	});
}

/** A plain TCP server on a free port that accepts and stays silent (`answer`: or writes that). */
async function plainServer(answer?: string): Promise<{ port: number; close(): Promise<void> }> {
	const sockets = new Set<net.Socket>();
	const server = net.createServer((socket) => {
		sockets.add(socket);
		socket.on("error", () => undefined);
		socket.once("close", () => sockets.delete(socket));
		if (answer !== undefined) socket.once("data", () => socket.write(answer));
	});
	await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()));
	const port = (server.address() as net.AddressInfo).port;
	return {
		port,
		close: () => new Promise<void>((resolve) => {
			sockets.forEach((s) => s.destroy());
			server.close(() => resolve());
		}),
	};
}

describe("npm start (hosts/xs/start.ts)", function () {
	this.timeout(40000);

	afterEach(async () => {
		for (const r of runs) {
			if (r.child.exitCode === null && r.child.signalCode === null) {
				r.child.kill("SIGTERM");
				await r.exited(10000).catch(() => undefined);
			}
			rmSync(r.tmp, { recursive: true, force: true });
		}
		runs.clear();
	});

	it("mosquitto.ts refuses a fixed port that something else listens on", async () => {
		const other = await plainServer();
		try {
			assert.equal(await portInUse(other.port), true);
			await assert.rejects(startBroker({ port: other.port }), /already in use/);
		}
		finally {
			await other.close();
		}
	});

	it("a port taken by a listener that is not MQTT: says what is there, starts its broker on a free port, no CONNECT_TIMEOUT", async () => {
		const other = await plainServer("HTTP/1.0 400 Bad Request\r\n\r\n");
		try {
			const r = run({ BROKER_PORT: String(other.port) });
			const port = await connectedPort(r);
			assert.notEqual(port, other.port);
			assert.match(r.out(), new RegExp(`port ${other.port} is taken by something that is not an MQTT broker \\(it answered "HTTP/1.0 400`));
			assert.match(r.out(), new RegExp(`broker: \\S+ \\S+ on 127\\.0\\.0\\.1:${port}`));
			r.child.stdin!.write("quit\n");
			assert.equal(await r.exited(), 0);
			assert.doesNotMatch(r.out() + r.err(), /CONNECT_TIMEOUT/);
		}
		finally {
			await other.close();
		}
	});

	it("a port taken by another MQTT broker: says so and talks to its own broker on a free port, not to the other", async () => {
		const other = await startBroker();
		try {
			const r = run({ BROKER_PORT: String(other.port) });
			const port = await connectedPort(r);
			assert.notEqual(port, other.port);
			assert.match(r.out(), new RegExp(`port ${other.port} is taken by another MQTT broker: starting a broker on a free port instead`));
			r.child.kill("SIGINT");
			assert.equal(await r.exited(), 0);
		}
		finally {
			await other.stop();
		}
	});

	it("the reader of its output goes away, then Ctrl-C: no EPIPE crash, the broker stopped, temp folders removed, exit 0", async () => {
		const port = await freePort();
		const r = run({ BROKER_PORT: String(port) });
		assert.equal(await connectedPort(r), port);
		assert.notDeepEqual(readdirSync(r.tmp), []);
		r.child.stdout!.destroy(); // as `| tee log` when Ctrl-C ends tee
		await new Promise((resolve) => setTimeout(resolve, 200));
		r.child.kill("SIGINT");
		assert.equal(await r.exited(), 0, r.err());
		assert.doesNotMatch(r.err(), /EPIPE|Error/);
		assert.deepEqual(readdirSync(r.tmp), []);
		assert.equal(await portInUse(port), false, "the broker still listens");
	});

	it("the reader goes away, then Ctrl-C: \"offline\" is published before the exit", async () => {
		const broker: Broker = await startBroker();
		try {
			const r = run({ MQTT_URL: `mqtt://127.0.0.1:${broker.port}` });
			await r.waitFor(/\[status\] online/);
			r.child.stdout!.destroy();
			await new Promise((resolve) => setTimeout(resolve, 200));
			r.child.kill("SIGINT");
			assert.equal(await r.exited(), 0, r.err());
			assert.equal(await retainedStatus(broker.port), "offline");
		}
		finally {
			await broker.stop();
		}
	});

	it("help is local, exit stops the device and is not sent to it", async () => {
		const r = run({ BROKER_PORT: String(await freePort()) });
		await r.waitFor(/\[status\] online/);
		r.child.stdin!.write("help\n");
		await r.waitFor(/here only: help \(this\), quit or exit/);
		r.child.stdin!.write("ping\n");
		await r.waitFor(/\[response ping\]/);
		assert.doesNotMatch(r.out(), /command help/);
		r.child.stdin!.write("exit\n");
		assert.equal(await r.exited(), 0);
		assert.match(r.out(), /\[status\] offline/);
		assert.doesNotMatch(r.out(), /command exit/);
	});

	it("end of piped input: says the device runs on, and it does; Ctrl-C still stops it", async () => {
		const r = run({ BROKER_PORT: String(await freePort()) });
		await r.waitFor(/\[status\] online/);
		r.child.stdin!.end();
		await r.waitFor(/end of input: no more commands from stdin; the device runs on \(Ctrl-C or SIGTERM stops it\)/);
		await new Promise((resolve) => setTimeout(resolve, 500));
		assert.equal(r.child.exitCode, null);
		r.child.kill("SIGINT");
		assert.equal(await r.exited(), 0);
		assert.match(r.out(), /\[status\] offline/);
	});

	it("at a terminal: Ctrl-D stops the device and says so; the live view is in colour", async function () {
		const script = findTool("script");
		if (!script) return this.skip(); // util-linux's script gives the child a terminal
		const port = await freePort();
		const tmp = mkdtempSync(join(tmpdir(), "npm-start-test-"));
		const child = spawn(script, ["-qfec", `${JSON.stringify(process.execPath)} ${JSON.stringify(START)}`, "/dev/null"], {
			env: { ...process.env, BROKER_PORT: String(port), MQTT_URL: "", NO_COLOR: "", TMPDIR: tmp },
			stdio: ["pipe", "pipe", "pipe"],
		});
		const r: Run = wrap(child, tmp);
		await r.waitFor(/\[status\S* online/);
		child.stdin!.write("\x04"); // Ctrl-D at the start of a line
		assert.equal(await r.exited(), 0, r.out());
		assert.match(r.out(), /end of input \(Ctrl-D\): stopping the device/);
		assert.match(r.out(), /offline/);
		assert.match(r.out(), /\x1b\[35m\[status\]\x1b\[0m online/);
	});

	it("live view: one line per LED change, timestamps, no colour codes when piped; TELEMETRY_INTERVAL clamped with a word", async () => {
		const r = run({ BROKER_PORT: String(await freePort()), TELEMETRY_INTERVAL: "500" });
		await r.waitFor(/\[status\] online/);
		r.child.stdin!.write("led on\n");
		await r.waitFor(/\[response led\]/);
		await r.waitFor(/\[telemetry\] #1 /);
		r.child.kill("SIGINT");
		assert.equal(await r.exited(), 0);
		const out = r.out();
		assert.match(out, /TELEMETRY_INTERVAL=500 is below the firmware's minimum: telemetry every 1000 ms instead/);
		assert.match(out, /telemetry every 1000 ms/);
		assert.equal(out.split("\n").filter((line) => /LED on/.test(line)).length, 1, out);
		assert.match(out, /^\d\d:\d\d:\d\d\.\d\d\d \[telemetry\] #1 /m);
		assert.match(out, /^\d\d:\d\d:\d\d\.\d\d\d \[status\] online/m);
		assert.doesNotMatch(out + r.err(), /\x1b\[/);
	});

	it("errors name their code once and say when the next attempt comes; commands typed while disconnected get a word", async () => {
		const closed = await freePort();
		const r = run({ MQTT_URL: `mqtt://127.0.0.1:${closed}` });
		await r.waitFor(/next attempt within 2 s/);
		r.child.stdin!.write("read\n");
		await r.waitFor(/not connected to the broker: read will be sent once connected/);
		r.child.kill("SIGINT");
		assert.equal(await r.exited(), 0);
		const out = r.out();
		assert.match(out, /\[device\] error: CONNECTION_REFUSED: 127\.0\.0\.1:\d+ refused the connection; next attempt within 1 s/);
		assert.doesNotMatch(out, /\b([A-Z_]{4,}): \1:/);
		assert.match(out, new RegExp(`warning: 127\\.0\\.0\\.1:${closed} has nothing that accepts connections`));
	});

	it("MQTT_URL takes a list: a broker that refuses is left for the next, and the device says which it is on", async () => {
		const closed = await freePort();
		const broker: Broker = await startBroker();
		try {
			const r = run({ MQTT_URL: `mqtt://127.0.0.1:${closed},mqtt://127.0.0.1:${broker.port}` });
			await r.waitFor(new RegExp(`\\[device\\] connected to 127\\.0\\.0\\.1:${broker.port}`), 20_000);
			await r.waitFor(/\[status\] online/);
			r.child.kill("SIGINT");
			assert.equal(await r.exited(), 0, r.err());
			assert.match(r.out(), new RegExp(`127\\.0\\.0\\.1:${closed}`), "the first server was tried");
			assert.equal(await retainedStatus(broker.port), "offline");
		}
		finally {
			await broker.stop();
		}
	});

	it("MQTT_URL mistakes name the value and the expected form", async () => {
		for (const value of ["broker.local:1883", "http://broker.local"]) {
			const r = run({ MQTT_URL: value });
			assert.equal(await r.exited(), 1);
			assert.match(r.err(), new RegExp(`MQTT_URL=${JSON.stringify(value).replace(/[.]/g, "\\.")} .*expected mqtt://host:port or mqtts://host:port`));
			assert.doesNotMatch(r.err(), /^npm start: Invalid URL$/m);
		}
	});
});
