// `npm start`: the device firmware running inside the XS engine from npm, with no board and no
// SDK. It starts a local broker (unless MQTT_URL names one), shows what the device publishes,
// and sends the commands typed in the terminal. Ctrl-C stops the device gracefully.

import { readFileSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { MAX_INTERVAL, MIN_INTERVAL, parseMqttVersion, parseServers, parseSessionExpiry } from "../../modules/device/device.js";
import { parseDiscoveryPrefix } from "../../modules/device/discovery.js";
import type { DeviceConfig } from "../../modules/device/host.js";
import type { Client } from "../../modules/mqtt/client.js";
import { portInUse, startBroker } from "../../test/lib/mosquitto.js";
import type { Broker } from "../../test/lib/mosquitto.js";
import { createClient } from "../node/index.js";
import { XsDevice } from "./device-runner.js";

const COMMANDS = "interval <ms> | config [{\"telemetryInterval\":<ms>}] | read | led on|off | ping | restart | forget";
const LOCAL = "help | quit | exit (or Ctrl-D at a terminal)";

// A reader that went away (`npm start | tee log`, then Ctrl-C) must not stop the shutdown: EPIPE
// and other output errors silence that stream, and the device still says goodbye.
let stdoutGone = false;
let stderrGone = false;
process.stdout.on("error", () => { stdoutGone = true; });
process.stderr.on("error", () => { stderrGone = true; });

/** Colour only for a terminal (and not with NO_COLOR): a pipe or a file gets plain text. */
const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
const COLOURS: Record<string, string> = { status: "35", telemetry: "36", response: "32", device: "33", error: "31", note: "2" };

function paint(kind: string, text: string): string {
	const code = COLOURS[kind];
	return colour && code ? `\x1b[${code}m${text}\x1b[0m` : text;
}

function clock(): string {
	const d = new Date();
	const two = (n: number): string => String(n).padStart(2, "0");
	return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

function say(line: string): void {
	if (stdoutGone) return;
	try {
		process.stdout.write(`${line}\n`);
	}
	catch {
		stdoutGone = true;
	}
}

/** A line of the live view: the time, then the tag in colour on a terminal. */
function show(kind: string, tag: string, text: string): void {
	say(`${paint("note", clock())} ${paint(kind, tag)} ${text}`);
}

function complain(text: string): void {
	if (stderrGone) return;
	try {
		process.stderr.write(text);
	}
	catch {
		stderrGone = true;
	}
}

/**
 * What listens on `port`: an MQTT broker (it answers a CONNECT with a CONNACK), or something else,
 * described by what it did within a second.
 */
function identify(host: string, port: number): Promise<string> {
	return new Promise((resolve) => {
		const socket = net.connect({ host, port });
		const done = (what: string): void => {
			clearTimeout(timer);
			socket.destroy();
			resolve(what);
		};
		const timer = setTimeout(() => done("something that is not an MQTT broker (it accepted the connection and did not answer an MQTT CONNECT within 1 s)"), 1000);
		socket.once("connect", () => {
			// CONNECT, MQTT 3.1.1, clean session, keep alive 10 s, client id "npm-start-probe".
			const id = Buffer.from("npm-start-probe");
			const body = Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 10, 0, id.length]), id]);
			socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
		});
		socket.once("data", (data: Buffer) => {
			if (data[0] === 0x20) {
				socket.write(Buffer.from([0xe0, 0])); // DISCONNECT
				return done("another MQTT broker");
			}
			const text = data.subarray(0, 40).toString("latin1").replace(/[^\x20-\x7e]/g, ".");
			done(`something that is not an MQTT broker (it answered ${JSON.stringify(text)})`);
		});
		socket.once("end", () => done("something that is not an MQTT broker (it closed the connection on an MQTT CONNECT)"));
		socket.once("error", (error) => done(`nothing that accepts connections (${error.message})`));
	});
}

/** The port of the local broker: BROKER_PORT, default 1883. */
function brokerPort(): number {
	const text = process.env.BROKER_PORT;
	if (text === undefined || text === "") return 1883;
	const port = Number(text);
	if (!Number.isInteger(port) || port < 1 || port > 65535)
		throw new Error(`BROKER_PORT must be a port number, 1..65535, not ${JSON.stringify(text)}`);
	return port;
}

async function localBroker(port: number): Promise<Broker> {
	if (await portInUse(port)) {
		const what = await identify("127.0.0.1", port);
		say(`port ${port} is taken by ${what}: starting a broker on a free port instead`);
		return startBroker();
	}
	try {
		return await startBroker({ port });
	}
	catch (error) {
		say(`could not start a broker on port ${port} (${(error as Error).message.split("\n")[0]}): starting one on a free port instead`);
		return startBroker();
	}
}

const URL_FORM = "mqtt://host:port or mqtts://host:port, with user:password@ before the host if the broker asks for them";

function parseUrl(text: string): { host: string; port: number; tls: boolean; user?: string; password?: string } {
	let url: URL;
	try {
		url = new URL(text);
	}
	catch {
		throw new Error(`MQTT_URL=${JSON.stringify(text)} is not a URL: expected ${URL_FORM}`);
	}
	if (url.protocol !== "mqtt:" && url.protocol !== "mqtts:")
		throw new Error(`MQTT_URL=${JSON.stringify(text)} starts with ${url.protocol}//: expected ${URL_FORM}`);
	if (!url.hostname)
		throw new Error(`MQTT_URL=${JSON.stringify(text)} names no host: expected ${URL_FORM}`);
	const tls = url.protocol === "mqtts:";
	return {
		host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
		port: url.port ? Number(url.port) : tls ? 8883 : 1883,
		tls,
		user: url.username ? decodeURIComponent(url.username) : undefined,
		password: url.password ? decodeURIComponent(url.password) : undefined,
	};
}

/**
 * MQTT_URL: one URL or several separated by commas (brokers to go round). They share the scheme
 * (the device has one TLS setting) and the credentials (given once, or the same on each).
 */
function parseUrls(text: string): Array<ReturnType<typeof parseUrl>> {
	const list = text.split(",").map((part) => part.trim()).filter((part) => part !== "").map(parseUrl);
	if (list.length === 0) throw new Error(`MQTT_URL=${JSON.stringify(text)} names no broker: expected ${URL_FORM}, or several separated by commas`);
	const first = list[0]!;
	for (const u of list) {
		if (u.tls !== first.tls) throw new Error(`MQTT_URL=${JSON.stringify(text)} mixes mqtt:// and mqtts://: the device has one TLS setting, give all the same`);
		if ((u.user !== undefined && u.user !== first.user) || (u.password !== undefined && u.password !== first.password))
			throw new Error(`MQTT_URL=${JSON.stringify(text)} gives different credentials: the device has one user and password, give them once (on the first URL) or the same on each`);
	}
	return list;
}

/** TELEMETRY_INTERVAL in ms (default 5000), brought into the firmware's range with a word when it is out of it. */
function telemetryInterval(): number {
	const text = process.env.TELEMETRY_INTERVAL;
	if (text === undefined || text === "") return 5000;
	const value = Number(text);
	if (!Number.isFinite(value)) throw new Error(`TELEMETRY_INTERVAL must be milliseconds, ${MIN_INTERVAL}..${MAX_INTERVAL}, not ${JSON.stringify(text)}`);
	if (value < MIN_INTERVAL) {
		say(`TELEMETRY_INTERVAL=${text} is below the firmware's minimum: telemetry every ${MIN_INTERVAL} ms instead`);
		return MIN_INTERVAL;
	}
	if (value > MAX_INTERVAL) {
		say(`TELEMETRY_INTERVAL=${text} is above the firmware's maximum: telemetry every ${MAX_INTERVAL} ms instead`);
		return MAX_INTERVAL;
	}
	return Math.floor(value);
}

function describeTelemetry(text: string): string {
	try {
		const t = JSON.parse(text) as { seq?: number; uptime?: number; temperature?: number; humidity?: number; error?: string };
		const values = t.error ? `sensor error: ${t.error}` : `${t.temperature} °C, ${t.humidity} %RH`;
		return `#${t.seq} ${values} (uptime ${((t.uptime ?? 0) / 1000).toFixed(1)} s)`;
	}
	catch {
		return text;
	}
}

/**
 * Where the settings the config and interval commands save go: SETTINGS_FILE, else a file per device
 * id in the temp folder (so they outlive npm start, too); SETTINGS_FILE set and empty: in memory only.
 */
function settingsFile(deviceId: string): string | undefined {
	const text = process.env.SETTINGS_FILE;
	if (text === "") return undefined;
	return text ?? path.join(os.tmpdir(), "xs-mqtt-settings", `${deviceId.replace(/[^A-Za-z0-9_.-]/g, "_")}.json`);
}

/** The broker this process started, stopped (and its folder removed) also when the start fails. */
let started: Broker | undefined;

/** The nominal upper bound of the client's n-th reconnect delay (1 s doubling up to 60 s, jittered below it). */
function retryWithin(n: number): number {
	return Math.min(60, Math.pow(2, n));
}

async function main(): Promise<void> {
	// Checked before anything starts.
	const mqttVersion = parseMqttVersion(process.env.MQTT_VERSION, "MQTT_VERSION");
	const sessionExpiry = parseSessionExpiry(process.env.SESSION_EXPIRY, "SESSION_EXPIRY");
	// Unset: homeassistant; set and empty: discovery off.
	const discoveryPrefix = parseDiscoveryPrefix(process.env.DISCOVERY_PREFIX, "DISCOVERY_PREFIX");
	const external = process.env.MQTT_URL;
	const targets = external ? parseUrls(external) : undefined;
	const target = targets?.[0];
	const port = target ? 0 : brokerPort();
	const interval = telemetryInterval();
	let broker: Broker | undefined;
	let host: string;
	let mqttPort: number;
	// The device's mqttHost: one broker, or several separated by commas ("a:1883,b:1884").
	let mqttHost: string;
	if (targets && target) {
		host = target.host;
		mqttPort = target.port;
		mqttHost = targets.map((t) => `${t.host.includes(":") ? `[${t.host}]` : t.host}:${t.port}`).join(",");
		for (const t of targets) {
			say(`broker: ${t.tls ? "mqtts" : "mqtt"}://${t.host}:${t.port} (MQTT_URL)`);
			if (!t.tls) {
				const what = await identify(t.host, t.port);
				if (what !== "another MQTT broker") say(`warning: ${t.host}:${t.port} has ${what}; the device keeps trying`);
			}
		}
		if (targets.length > 1) say("  on a failed or lost connection the device moves to the next broker; \"connected to\" names the one it is on");
	}
	else {
		broker = await localBroker(port);
		started = broker;
		host = broker.host;
		mqttPort = broker.port;
		mqttHost = host;
	}
	const tls = target?.tls ?? false;
	const ca = process.env.MQTT_CA ? readFileSync(process.env.MQTT_CA, "utf8") : undefined;
	const config: DeviceConfig = {
		deviceId: process.env.DEVICE_ID || "xs-demo",
		topicPrefix: process.env.TOPIC_PREFIX || "devices",
		mqttHost,
		mqttPort,
		mqttUser: target?.user,
		mqttPassword: target?.password,
		mqttTls: tls,
		mqttCa: ca,
		telemetryInterval: interval,
		keepAlive: 30,
		mqttVersion,
		sessionExpiry,
		discoveryPrefix,
	};
	const base = `${config.topicPrefix}/${config.deviceId}`;
	const options = `-h ${host} -p ${mqttPort}${tls ? " --cafile <ca.pem>" : ""}`;
	const pub = `mosquitto_pub ${options} -q 1 -t ${base}/commands/led -m on`;
	say(`device: ${config.deviceId}, MQTT ${config.mqttVersion === 5 ? "5.0" : "3.1.1"}, telemetry every ${interval / 1000} s, topics ${base}/{status,telemetry,commands/<name>,responses/<name>}`);
	say(`  type a command and Enter: ${COMMANDS}; here only: ${LOCAL}`);
	say(`  or from another terminal: ${pub}`);
	if (discoveryPrefix) say(`  Home Assistant: discovery configs under ${discoveryPrefix}/ (DISCOVERY_PREFIX= turns them off; the forget command clears them)`);
	if (config.mqttVersion === 5) say(`  or ask and get your own answer: mosquitto_rr ${options} -q 1 -t ${base}/commands/ping -e dashboards/me/answers -m ""`);
	const settings = settingsFile(config.deviceId);
	say(`  settings saved by config and interval: ${settings ?? "in memory (SETTINGS_FILE is empty)"}; they override TELEMETRY_INTERVAL`);
	say("  Ctrl-C, quit or exit stops the device: it publishes \"offline\" and disconnects.");

	// A watcher on the same broker, to show what the device publishes and to send the typed commands.
	let watcherConnected = false;
	const watcher: Client = createClient({
		servers: parseServers(mqttHost, mqttPort, tls ? { ca } : undefined, "MQTT_URL"),
		username: target?.user, password: target?.password, keepAlive: 30,
		reconnect: { initialDelay: 500, maxDelay: 5000 },
		onConnect() {
			watcherConnected = true;
		},
		onClose() {
			watcherConnected = false;
		},
		onMessage(message) {
			const topic = message.topic();
			const text = message.payloadText();
			const name = topic.slice(base.length + 1);
			if (name === "status") show("status", "[status]", `${text}${message.retain ? " (retained)" : ""}`);
			else if (name === "telemetry") show("telemetry", "[telemetry]", describeTelemetry(text));
			else if (name.startsWith("responses/")) show("response", `[response ${name.slice(10)}]`, text);
			else if (name === "info") show("note", "[info]", text);
		},
	});
	watcher.subscribe(`${base}/status`, 1);
	watcher.subscribe(`${base}/telemetry`, 0);
	watcher.subscribe(`${base}/responses/+`, 1);
	watcher.subscribe(`${base}/info`, 1);

	let stopping = false;
	// Failed attempts since the last connection: the client waits up to 1 s, 2 s, 4 s... 60 s before the next.
	let failures = 0;
	const device = new XsDevice({
		config,
		settingsFile: settings,
		onTrace: (line) => {
			if (line.startsWith("connected to ")) failures = 0;
			else if (!stopping && (line.startsWith("error: ") || line.startsWith("connection lost: "))) {
				show("error", "[device]", `${line}; next attempt within ${retryWithin(failures++)} s`);
				return;
			}
			show("device", "[device]", line);
		},
		onError: (text) => complain(`${clock()} [device error] ${text}`),
		onRestart: () => show("device", "[device]", "restarted: a fresh XS engine boots the firmware"),
	});

	const stop = async (why: string): Promise<void> => {
		if (stopping) {
			say("stopping already; a second Ctrl-C left at once");
			process.exit(1);
		}
		stopping = true;
		say(`${why}stopping the device...`);
		input.close();
		let code = 0;
		try {
			await device.stop();
			await new Promise((resolve) => setTimeout(resolve, 300));
		}
		catch (error) {
			complain(`npm start: the device did not stop cleanly: ${(error as Error).message}\n`);
			code = 1;
		}
		watcher.close();
		await broker?.stop();
		process.exit(code);
	};
	process.on("SIGINT", () => void stop(""));
	process.on("SIGTERM", () => void stop(""));
	process.on("SIGHUP", () => void stop(""));

	const input = readline.createInterface({ input: process.stdin });
	// Ctrl-D at the terminal stops the device as quit does. Input from elsewhere (a file, /dev/null in a
	// container) may end while the device is meant to run on: it does, and says how to stop it.
	const terminal = process.stdin.isTTY === true;
	input.on("close", () => {
		if (stopping) return;
		if (terminal) return void stop("end of input (Ctrl-D): ");
		say("end of input: no more commands from stdin; the device runs on (Ctrl-C or SIGTERM stops it)");
	});
	input.on("line", (line) => {
		const [name, ...rest] = line.trim().split(/\s+/);
		if (!name) return;
		if (name === "help") {
			say(`  device commands: ${COMMANDS}`);
			say(`  here only: help (this), quit or exit (stop the device, as Ctrl-C), Ctrl-D at a terminal (the same)`);
			return;
		}
		if (name === "quit" || name === "exit") return void stop("");
		if (stopping) return say(`  the device is stopping: ${name} not sent`);
		if (!/^[A-Za-z0-9_-]+$/.test(name)) return say(`  not a command: ${JSON.stringify(name)}; commands: ${COMMANDS}; here only: ${LOCAL}`);
		if (!watcherConnected) say(`  not connected to the broker: ${name} will be sent once connected`);
		watcher.publish(`${base}/commands/${name}`, rest.join(" "), 1);
	});
	input.pause();
	await device.start();
	if (!stopping) input.resume();
}

main().catch(async (error: Error) => {
	complain(`npm start: ${error.message}\n`);
	await started?.stop().catch(() => undefined);
	process.exit(1);
});
