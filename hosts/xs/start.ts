// `npm start`: the device firmware running inside the XS engine from npm, with no board and no
// SDK. It starts a local broker (unless MQTT_URL names one), shows what the device publishes,
// and sends the commands typed in the terminal. Ctrl-C stops the device gracefully.

import { readFileSync } from "node:fs";
import * as readline from "node:readline";
import { parseMqttVersion, parseSessionExpiry } from "../../modules/device/device.js";
import { parseDiscoveryPrefix } from "../../modules/device/discovery.js";
import type { DeviceConfig } from "../../modules/device/host.js";
import type { Client } from "../../modules/mqtt/client.js";
import { startBroker } from "../../test/lib/mosquitto.js";
import type { Broker } from "../../test/lib/mosquitto.js";
import { createClient } from "../node/index.js";
import { XsDevice } from "./device-runner.js";

const COMMANDS = "interval <ms> | read | led on|off | ping | restart | forget";

function say(line: string): void {
	process.stdout.write(`${line}\n`);
}

async function localBroker(): Promise<Broker> {
	try {
		return await startBroker({ port: 1883 });
	}
	catch {
		return startBroker(); // 1883 is taken: any free port
	}
}

function parseUrl(text: string): { host: string; port: number; tls: boolean; user?: string; password?: string } {
	const url = new URL(text);
	if (url.protocol !== "mqtt:" && url.protocol !== "mqtts:")
		throw new Error(`MQTT_URL must start with mqtt:// or mqtts://, not ${url.protocol}//`);
	const tls = url.protocol === "mqtts:";
	return {
		host: url.hostname,
		port: url.port ? Number(url.port) : tls ? 8883 : 1883,
		tls,
		user: url.username ? decodeURIComponent(url.username) : undefined,
		password: url.password ? decodeURIComponent(url.password) : undefined,
	};
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

async function main(): Promise<void> {
	// Checked before anything starts.
	const mqttVersion = parseMqttVersion(process.env.MQTT_VERSION, "MQTT_VERSION");
	const sessionExpiry = parseSessionExpiry(process.env.SESSION_EXPIRY, "SESSION_EXPIRY");
	// Unset: homeassistant; set and empty: discovery off.
	const discoveryPrefix = parseDiscoveryPrefix(process.env.DISCOVERY_PREFIX, "DISCOVERY_PREFIX");
	const external = process.env.MQTT_URL;
	let broker: Broker | undefined;
	let target: ReturnType<typeof parseUrl>;
	if (external) {
		target = parseUrl(external);
		say(`broker: ${target.tls ? "mqtts" : "mqtt"}://${target.host}:${target.port} (MQTT_URL)`);
	}
	else {
		broker = await localBroker();
		target = { host: broker.host, port: broker.port, tls: false };
	}
	const ca = process.env.MQTT_CA ? readFileSync(process.env.MQTT_CA, "utf8") : undefined;
	const config: DeviceConfig = {
		deviceId: process.env.DEVICE_ID || "xs-demo",
		topicPrefix: process.env.TOPIC_PREFIX || "devices",
		mqttHost: target.host,
		mqttPort: target.port,
		mqttUser: target.user,
		mqttPassword: target.password,
		mqttTls: target.tls,
		mqttCa: ca,
		telemetryInterval: Number(process.env.TELEMETRY_INTERVAL) || 5000,
		keepAlive: 30,
		mqttVersion,
		sessionExpiry,
		discoveryPrefix,
	};
	const base = `${config.topicPrefix}/${config.deviceId}`;
	const options = `-h ${target.host} -p ${target.port}${target.tls ? " --cafile <ca.pem>" : ""}`;
	const pub = `mosquitto_pub ${options} -q 1 -t ${base}/commands/led -m on`;
	say(`device: ${config.deviceId}, MQTT ${config.mqttVersion === 5 ? "5.0" : "3.1.1"}, topics ${base}/{status,telemetry,commands/<name>,responses/<name>}`);
	say(`  type a command and Enter: ${COMMANDS}`);
	say(`  or from another terminal: ${pub}`);
	if (discoveryPrefix) say(`  Home Assistant: discovery configs under ${discoveryPrefix}/ (DISCOVERY_PREFIX= turns them off; the forget command clears them)`);
	if (config.mqttVersion === 5) say(`  or ask and get your own answer: mosquitto_rr ${options} -q 1 -t ${base}/commands/ping -e dashboards/me/answers -m ""`);
	say("  Ctrl-C stops the device: it publishes \"offline\" and disconnects.");

	// A watcher on the same broker, to show what the device publishes.
	const watcher: Client = createClient({
		host: target.host, port: target.port, tls: target.tls ? { ca } : undefined,
		username: target.user, password: target.password, keepAlive: 30,
		reconnect: { initialDelay: 500, maxDelay: 5000 },
		onMessage(message) {
			const topic = message.topic();
			const text = message.payloadText();
			const name = topic.slice(base.length + 1);
			if (name === "status") say(`[status] ${text}${message.retain ? " (retained)" : ""}`);
			else if (name === "telemetry") say(`[telemetry] ${describeTelemetry(text)}`);
			else if (name.startsWith("responses/")) say(`[response ${name.slice(10)}] ${text}`);
		},
	});
	watcher.subscribe(`${base}/status`, 1);
	watcher.subscribe(`${base}/telemetry`, 0);
	watcher.subscribe(`${base}/responses/+`, 1);

	const device = new XsDevice({
		config,
		onTrace: (line) => say(`[device] ${line}`),
		onError: (text) => process.stderr.write(`[device error] ${text}`),
		onRestart: () => say("[device] restarted: a fresh XS engine boots the firmware"),
	});
	await device.start();

	const input = process.stdin.isTTY ? readline.createInterface({ input: process.stdin }) : undefined;
	input?.on("line", (line) => {
		const [name, ...rest] = line.trim().split(/\s+/);
		if (!name) return;
		if (!/^[A-Za-z0-9_-]+$/.test(name)) return say(`  commands: ${COMMANDS}`);
		watcher.publish(`${base}/commands/${name}`, rest.join(" "), 1);
	});

	let stopping = false;
	const stop = async (): Promise<void> => {
		if (stopping) process.exit(1); // a second Ctrl-C: leave now
		stopping = true;
		say("stopping the device...");
		input?.close();
		await device.stop();
		await new Promise((resolve) => setTimeout(resolve, 300));
		watcher.close();
		await broker?.stop();
		process.exit(0);
	};
	process.on("SIGINT", () => void stop());
	process.on("SIGTERM", () => void stop());
}

main().catch((error: Error) => {
	process.stderr.write(`npm start: ${error.message}\n`);
	process.exit(1);
});
