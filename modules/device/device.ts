// The device firmware's logic, platform-free: status with a last will, QoS 0 telemetry on a
// schedule, and QoS 1 commands answered on a response topic. main.ts gives it a host. With
// `mqttVersion` 5 it speaks MQTT 5.0: a session that expires, telemetry that expires and goes as a
// topic alias, JSON marked as such, and commands answered where their Response Topic says. With a
// `discoveryPrefix` (by default) it announces itself to Home Assistant (MQTT discovery) on connect.
// The `config` and `interval` commands save the runtime settings (host.settings), which override the
// configuration at the next boot; a retained `info` message tells what runs where, on every connect.

import { Client } from "../mqtt/client.js";
import type { Message, ServerOptions } from "../mqtt/client.js";
import type { Clock } from "../mqtt/host.js";
import type { QoS } from "../mqtt/packet.js";
import { Property } from "../mqtt/properties.js";
import type { PropertyValues } from "../mqtt/properties.js";
import { validateTopicName } from "../mqtt/topic.js";
import { discoveryConfigs, FIRMWARE_VERSION, LED_PAYLOADS, parseDiscoveryPrefix } from "./discovery.js";
import type { DiscoveryConfig } from "./discovery.js";
import type { DeviceHost, HostInfo, Reading } from "./host.js";

/** Bounds of the `interval` command, in milliseconds. */
export const MIN_INTERVAL = 1_000;
export const MAX_INTERVAL = 3_600_000;
/** How long a shutdown waits for `offline` (and the last responses) to be acknowledged. */
export const SHUTDOWN_GRACE = 5_000;
/** Key of the persistent flag set while a command-ordered restart is under way. */
export const RESTART_FLAG = "restarting";
/**
 * Responses kept while the client has no room for them: with the client's pool (32 messages), a burst
 * of 64 commands is answered in full, such as those a broker queued while the device was away.
 */
export const BACKLOG = 32;
/** MQTT 5.0: seconds the broker keeps a device's session after it goes, unless `sessionExpiry` says otherwise (a day). */
export const SESSION_EXPIRY = 86_400;
/** MQTT 5.0: what telemetry and responses say they are (Content Type). */
export const JSON_CONTENT_TYPE = "application/json";

/**
 * The settings a `config` command changes while the device runs, and saves. Only these: the others
 * (the broker, the device id, the topic prefix, the discovery prefix...) name where the device is and
 * what it is called, and changing them at run time would strand retained messages and sessions.
 */
export interface Settings {
	/** Milliseconds between telemetry readings (MIN_INTERVAL..MAX_INTERVAL). */
	telemetryInterval: number;
}
export const SETTINGS_KEYS: readonly string[] = ["telemetryInterval"];

interface Outgoing {
	topic: string;
	payload: string;
	qos: QoS;
	retain: boolean;
	/** MQTT 5.0 message properties (undefined with 3.1.1, and for status). */
	properties: PropertyValues | undefined;
}

type Answer = Record<string, unknown>;

export class Device {
	readonly client: Client;
	readonly topics: { status: string; telemetry: string; commands: string; responses: string; led: string; info: string };
	/** Home Assistant discovery's topic prefix ("": discovery off). */
	readonly discoveryPrefix: string;
	/** After a `forget` command: no config messages until the next boot. */
	forgotten = false;
	/** Telemetry readings taken so far (the `seq` of the last one). */
	seq = 0;
	interval: number;
	/** Why the saved settings were ignored at boot (undefined: none saved, or they were used). */
	readonly settingsError: string | undefined;
	/** 4 (MQTT 3.1.1) or 5 (MQTT 5.0), from `mqttVersion`. */
	readonly mqttVersion: 4 | 5;
	/**
	 * MQTT 5.0 (undefined with 3.1.1): the properties of every telemetry message, one object whose
	 * Message Expiry follows the interval, and those of a JSON response without Correlation Data.
	 */
	readonly telemetryProperties: PropertyValues | undefined;
	private readonly jsonProperties: PropertyValues | undefined;
	private ledOn = false;
	private readonly ticker: Clock;
	private readonly grace: Clock;
	private readonly backlog: Outgoing[] = [];
	/** Retained messages (discovery configs, the LED state) still to publish: the latest per topic, after the backlog. */
	private readonly retained: Outgoing[] = [];
	private shuttingDown: (() => void) | undefined;
	/** The packet identifier of the shutdown's `offline`, once published, and whether it was acknowledged. */
	offlineId = -1;
	offlineDelivered = false;
	/** The first connection after a command-ordered restart: a re-sent restart must not run again. */
	private afterRestart: boolean;
	private readonly onTick = (): void => this.telemetry();

	constructor(readonly host: DeviceHost) {
		const c = host.config;
		const base = `${c.topicPrefix}/${c.deviceId}`;
		this.topics = { status: `${base}/status`, telemetry: `${base}/telemetry`, commands: `${base}/commands/`, responses: `${base}/responses/`, led: `${base}/led`, info: `${base}/info` };
		this.discoveryPrefix = parseDiscoveryPrefix(c.discoveryPrefix);
		this.interval = clampInterval(c.telemetryInterval);
		// Saved settings override the configuration; bad ones are reported and left unused.
		this.settingsError = this.loadSettings();
		this.mqttVersion = parseMqttVersion(c.mqttVersion);
		const v5 = this.mqttVersion === 5;
		const sessionExpiry = parseSessionExpiry(c.sessionExpiry);
		if (v5) {
			this.jsonProperties = { contentType: JSON_CONTENT_TYPE, payloadFormatIndicator: 1 };
			this.telemetryProperties = { contentType: JSON_CONTENT_TYPE, payloadFormatIndicator: 1, messageExpiryInterval: expiryFor(this.interval) };
		}
		// Cleared only when the window closes: a second reboot before connecting keeps the guard.
		this.afterRestart = host.system.load(RESTART_FLAG) === 1;
		this.ticker = host.clock();
		this.grace = host.clock();
		const device = this;
		this.client = new Client({
			servers: parseServers(c.mqttHost, c.mqttPort, c.mqttTls ? { ca: c.mqttCa } : undefined),
			clientId: c.deviceId,
			cleanSession: false,
			protocolVersion: this.mqttVersion,
			sessionExpiry: v5 ? sessionExpiry : undefined,
			keepAlive: c.keepAlive ?? 30,
			username: c.mqttUser || undefined,
			password: c.mqttUser ? c.mqttPassword : undefined,
			will: { topic: this.topics.status, payload: "offline", qos: 1, retain: true },
			transport: host.transport,
			clock: host.clock(),
			// Each device its own jitter, so that a fleet that lost its broker together does not retry together.
			random: host.random,
			store: host.store,
			onConnect(sessionPresent) {
				// The server it is on: with several (mqttHost "a,b:1884"), the one it moved to.
				device.trace(`connected to ${this.server}${sessionPresent ? " (session resumed)" : ""}`);
				// While shutting down, `offline` (re-sent or in the backlog) must stay the last status.
				if (!device.shuttingDown) {
					device.send(device.topics.status, "online", 1, true);
					device.announce();
					device.retain(device.topics.led, device.ledOn ? LED_PAYLOADS.on : LED_PAYLOADS.off);
					device.retain(device.topics.info, JSON.stringify(device.info()));
				}
				device.flushBacklog();
			},
			onClose(error) {
				device.trace(error ? `connection lost: ${error.message}` : "disconnected");
			},
			onError(error) {
				device.trace(`error: ${error.message}`);
			},
			onSubscribe(filter, code) {
				// 0x80, or another code of 0x80 and above (ejabberd sends MQTT 5 reason codes to 3.1.1 clients).
				if (code >= 0x80) device.trace(`the broker refused the subscription to ${filter} (return code 0x${code.toString(16)})`);
			},
			onWritable() {
				device.flushBacklog();
			},
			onDelivered(packetId, _qos, reasonCode) {
				// MQTT 5.0: taken but refused (0x87 Not authorized: a response topic outside the device's ACL, say).
				if (reasonCode >= 0x80) device.trace(`the broker refused message ${packetId} (reason code 0x${reasonCode.toString(16)})`);
				if (packetId === device.offlineId) device.offlineDelivered = true;
				device.checkShutdown();
			},
			onOversize(message) {
				device.trace(`dropped a ${message.payloadLength}-byte message: larger than the receive buffer`);
				device.oversize(message);
			},
		});
		this.client.subscribe(`${this.topics.commands}+`, 1, (message) => this.command(message));
		host.system.onShutdown?.((done) => this.shutdown(done));
		this.ticker.arm(this.interval, this.onTick);
		const protocol = v5 ? `MQTT 5.0, session expiry ${sessionExpiry} s` : "MQTT 3.1.1";
		const discovery = this.discoveryPrefix === "" ? "Home Assistant discovery off" : `Home Assistant discovery under ${this.discoveryPrefix}/`;
		this.trace(`device ${c.deviceId}: telemetry every ${this.interval} ms on ${this.topics.telemetry}, sensor ${host.sensor.name}, ${protocol}, ${discovery}`);
	}

	/**
	 * Takes a reading and publishes it as QoS 0 telemetry; schedules the next. MQTT 5.0: with the
	 * one telemetry properties object (JSON, expiring after two intervals); the client sends the topic
	 * as its alias after the first message of each connection.
	 */
	telemetry(): void {
		// An `interval` command during a shutdown re-arms the ticker; the client may be closed by now.
		if (this.shuttingDown) return;
		this.ticker.arm(this.interval, this.onTick);
		// What a broker re-sends arrives right after CONNACK; by the first reading it is over.
		if (this.afterRestart && this.client.connected) {
			this.afterRestart = false;
			this.host.system.save(RESTART_FLAG, undefined);
		}
		const body = this.reading(true);
		this.client.publish(this.topics.telemetry, JSON.stringify(body), 0, false, this.telemetryProperties);
	}

	/**
	 * A reading as JSON fields: uptime, sensor values or the error, and for telemetry the next
	 * sequence number (a `read` command does not take one, so gaps in `seq` mean lost telemetry).
	 */
	reading(telemetry: boolean): Answer {
		const body: Answer = {};
		if (telemetry) body.seq = ++this.seq;
		body.uptime = this.host.system.uptime();
		body.sensor = this.host.sensor.name;
		try {
			const r: Reading = this.host.sensor.read();
			if (r.temperature !== undefined) body.temperature = r.temperature;
			if (r.humidity !== undefined) body.humidity = r.humidity;
			if (r.temperature === undefined && r.humidity === undefined) body.error = "the sensor gave no values";
		}
		catch (error) {
			body.error = `sensor read failed: ${(error as Error)?.message ?? String(error)}`;
		}
		return body;
	}

	/**
	 * Ends gracefully: `offline` (retained) goes out, the wait for its acknowledgement is at most
	 * SHUTDOWN_GRACE, then DISCONNECT (so the broker discards the will) and `then`. If `offline` was
	 * not acknowledged by then, the connection ends without DISCONNECT: the will says it instead.
	 */
	shutdown(then: () => void): void {
		if (this.shuttingDown) return;
		this.shuttingDown = then;
		this.ticker.disarm();
		// Announcements still waiting do not hold the shutdown up; a `forget`'s clearing does.
		for (let i = this.retained.length - 1; i >= 0; i--) if (this.retained[i]!.payload !== "") this.retained.splice(i, 1);
		this.offlineId = this.send(this.topics.status, "offline", 1, true);
		this.grace.arm(SHUTDOWN_GRACE, () => this.finishShutdown());
		this.checkShutdown();
	}

	private checkShutdown(): void {
		if (this.shuttingDown && this.client.pending === 0 && this.backlog.length === 0 && this.retained.length === 0) this.finishShutdown();
	}

	private finishShutdown(): void {
		const then = this.shuttingDown;
		if (!then) return;
		this.shuttingDown = () => {};
		this.grace.disarm();
		this.client.close(this.offlineDelivered);
		then();
	}

	// ---- commands --------------------------------------------------------------------------

	private command(message: Message): void {
		const topic = message.topic();
		const name = topic.slice(this.topics.commands.length);
		// MQTT 5.0: a requester (a dashboard) that names a Response Topic gets the answer there.
		const properties = message.properties;
		const responseTopic = properties?.string(Property.RESPONSE_TOPIC);
		const correlationData = properties?.bytes(Property.CORRELATION_DATA);
		let answer: Answer;
		try {
			if (message.retain)
				answer = { ok: false, error: "retained commands are not run (publish commands without retain)" };
			else
				answer = this.run(name, message.payloadText(), message.dup);
		}
		catch (error) {
			answer = { ok: false, error: `command failed: ${(error as Error)?.message ?? String(error)}` };
		}
		this.trace(`command ${name}: ${answer.ok ? "ok" : answer.error}`);
		this.answer(name, answer, responseTopic, correlationData);
		if (answer.restarting) this.restart();
	}

	/**
	 * Publishes an answer (QoS 1): on `responseTopic` with `correlationData` when the command named
	 * one (MQTT 5.0), else, or when no answer can go there (not a topic name, or too large with it),
	 * on responses/<name>.
	 */
	private answer(name: string, body: Answer, responseTopic?: string, correlationData?: Uint8Array): void {
		const payload = JSON.stringify(body);
		const properties = correlationData === undefined ? this.jsonProperties : { ...this.jsonProperties, correlationData };
		const fallback = this.topics.responses + name;
		if (responseTopic !== undefined) {
			try {
				validateTopicName(responseTopic);
				this.send(responseTopic, payload, 1, false, properties);
				return;
			}
			catch (error) {
				this.trace(`command ${name}: no answer on its response topic (${(error as Error).message}): answered on ${fallback}`);
			}
		}
		this.send(fallback, payload, 1, false, properties);
	}

	/** Runs one command; returns the response body. Throws nothing the caller cannot report. */
	run(name: string, payload: string, duplicate: boolean): Answer {
		switch (name) {
			case "interval": {
				const value = parseInterval(payload);
				if (typeof value === "string") return { ok: false, error: value };
				this.setInterval(value);
				return { ok: true, interval: value, saved: this.saveSettings() };
			}
			case "config": {
				// No payload: the settings as they are.
				if (payload.trim() === "") return this.settingsAnswer();
				let value: unknown;
				try {
					value = JSON.parse(payload);
				}
				catch {
					return { ok: false, error: `config takes a JSON object of settings (${SETTINGS_KEYS.join(", ")}), not ${JSON.stringify(payload.slice(0, 40))}` };
				}
				const settings = parseSettings(value);
				if (typeof settings === "string") return { ok: false, error: settings };
				if (settings.telemetryInterval === undefined) return this.settingsAnswer();
				this.setInterval(settings.telemetryInterval);
				return { ...this.settingsAnswer(), saved: this.saveSettings() };
			}
			case "read": {
				const body = this.reading(false);
				return { ok: body.error === undefined, ...body };
			}
			case "led": {
				const on = parseSwitch(payload);
				if (on === undefined) return { ok: false, error: `led takes "on" or "off", not ${JSON.stringify(payload.slice(0, 40))}` };
				this.host.led.set(on);
				this.ledOn = on;
				this.retain(this.topics.led, on ? LED_PAYLOADS.on : LED_PAYLOADS.off);
				this.trace(`LED ${on ? "on" : "off"}`);
				return { ok: true, led: on ? "on" : "off" };
			}
			case "ping":
				return { ok: true, uptime: this.host.system.uptime(), memory: this.host.system.memory(), seq: this.seq, led: this.ledOn ? "on" : "off" };
			case "restart":
				if (duplicate && this.afterRestart)
					return { ok: false, error: "a re-sent restart after a restart was ignored" };
				if (this.shuttingDown) return { ok: false, error: "already shutting down" };
				return { ok: true, restarting: true };
			case "forget": {
				if (this.discoveryPrefix === "") return { ok: false, error: "Home Assistant discovery is off (discoveryPrefix is empty)" };
				this.forgotten = true;
				const topics = this.discoveryConfigs().map((d) => d.topic);
				// An empty retained payload removes the entity from Home Assistant and the config from the broker.
				for (const topic of topics) this.retain(topic, "");
				return { ok: true, forgotten: topics };
			}
			case "":
				return { ok: false, error: "no command name" };
			default:
				return { ok: false, error: `unknown command "${name.slice(0, 40)}" (interval config read led ping restart forget)` };
		}
	}

	/** A command too large for the receive buffer was drained unread: it still gets an answer. */
	private oversize(message: Message): void {
		const topic = message.topicEnd > message.topicStart ? message.topic() : "";
		if (!topic.startsWith(this.topics.commands)) return;
		const name = topic.slice(this.topics.commands.length);
		if (name.indexOf("/") >= 0) return;
		const error = `the command's ${message.payloadLength}-byte payload is too large`;
		this.answer(name, { ok: false, error });
	}

	// ---- settings and info -----------------------------------------------------------------

	/** Applies a new telemetry interval at once: the next reading comes one interval from now. */
	private setInterval(value: number): void {
		this.interval = value;
		if (this.telemetryProperties) this.telemetryProperties.messageExpiryInterval = expiryFor(value);
		this.ticker.arm(value, this.onTick);
		// expire_after follows the interval.
		this.announce();
	}

	/** The runtime settings as they are now. */
	settings(): Settings {
		return { telemetryInterval: this.interval };
	}

	/** Saves the runtime settings; false (and a trace) where there is no store or it failed. */
	private saveSettings(): boolean {
		const store = this.host.settings;
		if (!store) return false;
		try {
			store.save(JSON.stringify(this.settings()));
			return true;
		}
		catch (error) {
			this.trace(`the settings were not saved: ${(error as Error)?.message ?? String(error)}`);
			return false;
		}
	}

	/** Applies the saved settings, if any; returns why they were ignored (undefined when used, or none). */
	private loadSettings(): string | undefined {
		let problem: string;
		try {
			const text = this.host.settings?.load();
			if (text === undefined) return undefined;
			let value: unknown;
			try {
				value = JSON.parse(text);
			}
			catch {
				value = text;
			}
			const settings = parseSettings(value);
			if (typeof settings !== "string") {
				if (settings.telemetryInterval !== undefined) this.interval = settings.telemetryInterval;
				return undefined;
			}
			problem = settings;
		}
		catch (error) {
			problem = `they could not be read: ${(error as Error)?.message ?? String(error)}`;
		}
		const report = `saved settings ignored (${problem})`;
		this.trace(`${report}: the configuration's are used`);
		return report;
	}

	/** The `config` command's answer: the runtime settings and the rest of the configuration, without the login. */
	private settingsAnswer(): Answer {
		const c = this.host.config;
		const config: Answer = {
			deviceId: c.deviceId, topicPrefix: c.topicPrefix, mqttHost: c.mqttHost, mqttPort: c.mqttPort, mqttTls: c.mqttTls,
			mqttLogin: Boolean(c.mqttUser), mqttVersion: this.mqttVersion, keepAlive: c.keepAlive ?? 30, discoveryPrefix: this.discoveryPrefix,
		};
		if (this.mqttVersion === 5) config.sessionExpiry = parseSessionExpiry(c.sessionExpiry);
		const answer: Answer = { ok: true, settings: this.settings(), config };
		if (this.settingsError !== undefined) answer.settingsError = this.settingsError;
		return answer;
	}

	/** The retained `info` message's body: firmware, platform, network, memory, reset reason, where known. */
	info(): Answer {
		const body: Answer = { firmware: FIRMWARE_VERSION, deviceId: this.host.config.deviceId };
		let host: HostInfo | undefined;
		try {
			host = this.host.system.info?.();
		}
		catch (error) {
			this.trace(`no platform info: ${(error as Error)?.message ?? String(error)}`);
		}
		body.platform = host?.platform ?? "unknown";
		if (host?.ip !== undefined) body.ip = host.ip;
		if (host?.rssi !== undefined) body.rssi = host.rssi;
		const memory = this.host.system.memory();
		if (memory.free !== undefined) body.freeMemory = memory.free;
		if (memory.used !== undefined) body.heapUsed = memory.used;
		if (host?.resetReason !== undefined) body.resetReason = host.resetReason;
		body.mqttVersion = this.mqttVersion === 5 ? "5.0" : "3.1.1";
		body.settings = this.settings();
		if (this.settingsError !== undefined) body.settingsError = this.settingsError;
		return body;
	}

	private restart(): void {
		this.host.system.save(RESTART_FLAG, 1);
		this.shutdown(() => {
			this.trace("restarting");
			this.host.system.restart();
		});
	}

	// ---- Home Assistant discovery ----------------------------------------------------------

	/** The discovery config messages for the current interval (an empty list with discovery off). */
	discoveryConfigs(): DiscoveryConfig[] {
		if (this.discoveryPrefix === "") return [];
		const t = this.topics;
		return discoveryConfigs({
			prefix: this.discoveryPrefix,
			deviceId: this.host.config.deviceId,
			sensorName: this.host.sensor.name,
			interval: this.interval,
			topics: { status: t.status, telemetry: t.telemetry, led: t.led, ledCommand: `${t.commands}led` },
		});
	}

	/** Publishes the config messages (retained), unless discovery is off or forgotten. */
	private announce(): void {
		if (this.forgotten) return;
		for (const d of this.discoveryConfigs()) this.retain(d.topic, JSON.stringify(d.body));
	}

	/** Publishes a retained QoS 1 message as soon as there is room; a later one to the same topic replaces it. */
	private retain(topic: string, payload: string): void {
		for (let i = this.retained.length - 1; i >= 0; i--) if (this.retained[i]!.topic === topic) this.retained.splice(i, 1);
		this.retained.push({ topic, payload, qos: 1, retain: true, properties: undefined });
		if (this.client.connected) this.flushBacklog();
	}

	// ---- publishing that loses nothing -----------------------------------------------------

	/**
	 * Publishes; a QoS 1 message the client cannot take now waits in a small backlog. A status
	 * message is never dropped: it replaces any older status waiting there (only the latest counts).
	 */
	private send(topic: string, payload: string, qos: QoS, retain: boolean, properties?: PropertyValues): number {
		if (this.backlog.length === 0) {
			const id = this.client.publish(topic, payload, qos, retain, properties);
			if (id >= 0) return id;
		}
		if (qos === 0) return -1;
		const status = topic === this.topics.status;
		if (status) {
			for (let i = this.backlog.length - 1; i >= 0; i--) if (this.backlog[i]!.topic === topic) this.backlog.splice(i, 1);
		}
		else if (this.backlog.length >= BACKLOG) {
			this.trace(`no room for a message to ${topic}: dropped`);
			return -1;
		}
		this.backlog.push({ topic, payload, qos, retain, properties });
		return -1;
	}

	private flushBacklog(): void {
		// Responses and status first, then retained announcements.
		if (this.drain(this.backlog) && this.drain(this.retained)) this.checkShutdown();
	}

	/** Publishes what `queue` holds, in order, while the client takes it; false when it ran out of room. */
	private drain(queue: Outgoing[]): boolean {
		while (queue.length > 0) {
			const m = queue[0]!;
			let id: number;
			try {
				id = this.client.publish(m.topic, m.payload, m.qos, m.retain, m.properties);
			}
			catch (error) {
				// One the client can never send (larger than the broker takes): it must not hold up the rest.
				this.trace(`dropped a message to ${m.topic}: ${(error as Error).message}`);
				queue.shift();
				continue;
			}
			if (id < 0) return false;
			queue.shift();
			if (this.shuttingDown && m.topic === this.topics.status) this.offlineId = id;
		}
		return true;
	}

	private trace(line: string): void {
		this.host.system.trace(line);
	}
}

/** MQTT 5.0: a reading older than two intervals is not worth delivering (Message Expiry, whole seconds). */
function expiryFor(interval: number): number {
	return Math.ceil((2 * interval) / 1000);
}

/** A configured value as given (a number, or text from a command line or the environment): undefined when absent or empty. */
function configured(value: unknown): unknown {
	if (value === undefined || value === null || value === "") return undefined;
	return typeof value === "string" ? Number(value.trim()) : value;
}

/**
 * `mqttHost`: one broker or several, separated by commas, each `host`, `host:port` or `[v6]:port`
 * (else the port is `port`), all with `tls`; an empty entry or a bad port throws, naming it.
 */
export function parseServers(mqttHost: string, port: number, tls: ServerOptions["tls"], name = "mqttHost"): ServerOptions[] {
	const out: ServerOptions[] = [];
	const entries = mqttHost.split(",");
	for (let i = 0; i < entries.length; i++) {
		const entry = entries[i]!.trim();
		let host = entry;
		let portText: string | undefined;
		if (entry.startsWith("[")) {
			const close = entry.indexOf("]");
			const rest = close < 0 ? "?" : entry.slice(close + 1);
			if (rest !== "" && !rest.startsWith(":")) throw new Error(`${name}: ${JSON.stringify(entry)} is not host, host:port or [v6]:port`);
			host = entry.slice(1, close);
			if (rest !== "") portText = rest.slice(1);
		}
		else {
			const colon = entry.indexOf(":");
			// One colon: host:port; more is an IPv6 address without brackets (no port).
			if (colon >= 0 && colon === entry.lastIndexOf(":")) {
				host = entry.slice(0, colon);
				portText = entry.slice(colon + 1);
			}
		}
		const p = portText === undefined ? port : /^[0-9]+$/.test(portText) ? Number(portText) : NaN;
		if (host === "") throw new Error(`${name}: ${JSON.stringify(mqttHost)} has an empty host (expected host or host:port, separated by commas)`);
		if (!(Number.isInteger(p) && p > 0 && p < 65_536)) throw new Error(`${name}: ${JSON.stringify(entry)} has a bad port (1..65535)`);
		out.push({ host, port: p, tls });
	}
	return out;
}

/** `mqttVersion`: 4 (MQTT 3.1.1, also when absent) or 5 (MQTT 5.0); anything else throws, naming it (as `name`). */
export function parseMqttVersion(value: unknown, name = "mqttVersion"): 4 | 5 {
	const n = configured(value);
	if (n === undefined || n === 4) return 4;
	if (n === 5) return 5;
	throw new Error(`${name} must be 4 (MQTT 3.1.1) or 5 (MQTT 5.0), not ${JSON.stringify(value)}`);
}

/** `sessionExpiry`: whole seconds, 0..4294967295 (that one: never), SESSION_EXPIRY when absent; anything else throws. */
export function parseSessionExpiry(value: unknown, name = "sessionExpiry"): number {
	const n = configured(value);
	if (n === undefined) return SESSION_EXPIRY;
	if (typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 4_294_967_295) return n;
	throw new Error(`${name} must be whole seconds, 0..4294967295, not ${JSON.stringify(value)}`);
}

function clampInterval(value: number): number {
	if (!(value >= MIN_INTERVAL)) return MIN_INTERVAL;
	return value > MAX_INTERVAL ? MAX_INTERVAL : Math.floor(value);
}

/** An interval in milliseconds: an integer in MIN_INTERVAL..MAX_INTERVAL, or the error text (naming it as `name`). */
export function checkInterval(value: unknown, name = "interval"): number | string {
	if (typeof value !== "number" || !Number.isInteger(value))
		return `${name} takes an integer number of milliseconds`;
	if (value < MIN_INTERVAL || value > MAX_INTERVAL)
		return `${name} must be ${MIN_INTERVAL}..${MAX_INTERVAL} ms, not ${value}`;
	return value;
}

/**
 * Settings as JSON gives them (a `config` command's payload, or what was saved): the keys it sets,
 * checked, or the error naming the unknown keys or the bad value (then nothing is to change).
 */
export function parseSettings(value: unknown): Partial<Settings> | string {
	if (!value || typeof value !== "object" || Array.isArray(value))
		return `settings are a JSON object of ${SETTINGS_KEYS.join(", ")}, not ${JSON.stringify(value)?.slice(0, 40) ?? String(value)}`;
	const o = value as Record<string, unknown>;
	const unknown = Object.keys(o).filter((key) => SETTINGS_KEYS.indexOf(key) < 0);
	if (unknown.length > 0) {
		const names = unknown.slice(0, 5).map((key) => JSON.stringify(key.slice(0, 40))).join(", ");
		return `unknown or not changeable at run time: ${names}${unknown.length > 5 ? ", ..." : ""} (settings: ${SETTINGS_KEYS.join(", ")})`;
	}
	const result: Partial<Settings> = {};
	if (o.telemetryInterval !== undefined) {
		const interval = checkInterval(o.telemetryInterval, "telemetryInterval");
		if (typeof interval === "string") return interval;
		result.telemetryInterval = interval;
	}
	return result;
}

/** `5000`, `"5000"`, `{"interval":5000}` or `{"ms":5000}`: an integer in range, or the error text. */
export function parseInterval(payload: string): number | string {
	let value: unknown;
	try {
		value = JSON.parse(payload);
	}
	catch {
		return `interval takes a number of milliseconds, not ${JSON.stringify(payload.slice(0, 40))}`;
	}
	if (typeof value === "string" && value.trim() !== "") value = Number(value);
	if (value && typeof value === "object") {
		const o = value as Record<string, unknown>;
		value = o.interval ?? o.ms;
	}
	return checkInterval(value);
}

/** "on"/"off", true/false, 1/0, as text or JSON (also {"state":"on"}); undefined otherwise. */
export function parseSwitch(payload: string): boolean | undefined {
	let value: unknown = payload.trim();
	try {
		value = JSON.parse(payload);
	}
	catch {
		// plain text
	}
	if (value && typeof value === "object") value = (value as Record<string, unknown>).state;
	if (value === true || value === 1 || value === "on" || value === "ON" || value === "1" || value === "true") return true;
	if (value === false || value === 0 || value === "off" || value === "OFF" || value === "0" || value === "false") return false;
	return undefined;
}
