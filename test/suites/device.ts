// The device firmware's logic (class Device) against a scripted broker, fake host parts and one
// manual time line: status and will, telemetry, every command, restart, shutdown, backlog, reconnection.

import {
	BACKLOG, Device, JSON_CONTENT_TYPE, MAX_INTERVAL, MIN_INTERVAL, parseMqttVersion, parseServers, parseSessionExpiry, RESTART_FLAG, SESSION_EXPIRY, SHUTDOWN_GRACE,
} from "../../modules/device/device.js";
import { EXPIRE_INTERVALS, FIRMWARE_VERSION, parseDiscoveryPrefix } from "../../modules/device/discovery.js";
import type { DeviceConfig } from "../../modules/device/host.js";
import { CONNECT, DISCONNECT, PUBACK, PUBCOMP, PUBLISH, PUBREC, SUBSCRIBE } from "../../modules/mqtt/packet.js";
import type { ConnectPacket, Payload, PublishPacket, SubscribePacket } from "../../modules/mqtt/packet.js";
import type { QoS } from "../../modules/mqtt/packet.js";
import type { PropertyValues } from "../../modules/mqtt/properties.js";
import { deepEqual, equal, fail, ok, show } from "../lib/check.js";
import type { Case } from "../lib/check.js";
import { FakeBroker, payloadText } from "../lib/fake-broker.js";
import { missingFields, templateFields } from "../lib/ha-discovery.js";
import type { InjectOptions, Logged } from "../lib/fake-broker.js";
import { FakeDeviceHost, FakeStorage } from "../lib/fake-device.js";
import { TimeBase } from "../lib/manual-clock.js";

const STATUS = "devices/d1/status";
const INFO = "devices/d1/info";
const TELEMETRY = "devices/d1/telemetry";
const COMMANDS = "devices/d1/commands/+";
const cmd = (name: string): string => `devices/d1/commands/${name}`;
const resp = (name: string): string => `devices/d1/responses/${name}`;

type Body = Record<string, unknown>;

interface RigOptions {
	config?: Partial<DeviceConfig>;
	/** Shared with an earlier Rig: the same flash, broker and time line (a reboot). */
	storage?: FakeStorage;
	broker?: FakeBroker;
	time?: TimeBase;
	/** Let the connection come up before returning (default true). */
	settle?: boolean;
}

/** One device on fakes: a time line, a broker, a host, and the Device under test. */
class Rig {
	readonly time: TimeBase;
	readonly broker: FakeBroker;
	readonly storage: FakeStorage;
	readonly host: FakeDeviceHost;
	readonly device: Device;
	/** When the Device was built. */
	readonly boot: number;
	/** The broker's first connection from this device (an earlier Rig may share the broker). */
	readonly firstConnection: number;
	constructor(options: RigOptions = {}) {
		this.time = options.time ?? options.broker?.time ?? new TimeBase();
		this.broker = options.broker ?? new FakeBroker(this.time);
		this.storage = options.storage ?? new FakeStorage();
		this.host = new FakeDeviceHost(this.time, this.broker.transport(), this.storage, options.config);
		this.boot = this.time.now();
		this.firstConnection = this.broker.connections.length;
		this.device = new Device(this.host);
		if (options.settle !== false) this.time.settle();
	}
	/** Sends a command (QoS 1 unless told) and lets the exchange run; returns its packet identifier. */
	command(name: string, payload: Payload, options: InjectOptions = {}): number {
		const id = this.broker.inject(cmd(name), payload, { qos: 1, ...options });
		this.time.settle();
		return id;
	}
	/** Sends a command and returns the one response it got (fails unless exactly one came). */
	ask(name: string, payload: Payload, options: InjectOptions = {}): Body {
		return this.askOn(cmd(name), resp(name), payload, options);
	}
	askOn(topic: string, responseTopic: string, payload: Payload, options: InjectOptions = {}): Body {
		const before = this.broker.publishes(responseTopic).length;
		this.broker.inject(topic, payload, { qos: 1, ...options });
		this.time.settle();
		const after = this.broker.publishes(responseTopic);
		equal(after.length, before + 1, `responses on ${responseTopic} to ${show(typeof payload === "string" ? payload.slice(0, 60) : payload)}`);
		return json(after[after.length - 1]!);
	}
	/** What this device published to `topic`, in order. */
	published(topic: string): Logged[] {
		return this.broker.received.filter((l) => l.connection >= this.firstConnection && isPublish(l, topic));
	}
	/** Telemetry bodies published so far. */
	telemetry(): Body[] {
		return this.published(TELEMETRY).map((l) => json(l.packet as PublishPacket));
	}
	/** When each telemetry message reached the broker. */
	telemetryTimes(): number[] {
		return this.published(TELEMETRY).map((l) => l.at);
	}
	statusTexts(): string[] {
		return this.published(STATUS).map((l) => payloadText((l.packet as PublishPacket).payload));
	}
	get restarts(): number[] {
		return this.host.system.restarts;
	}
}

function json(p: PublishPacket): Body {
	const text = payloadText(p.payload);
	try {
		return JSON.parse(text) as Body;
	}
	catch {
		return fail(`not JSON on ${p.topic}: ${text}`);
	}
}

function isPublish(l: Logged, topic: string): boolean {
	return l.packet.type === PUBLISH && l.packet.topic === topic;
}

/** Index in the log of the first packet `test` picks (after `from`), or -1. */
function indexOf(log: Logged[], test: (l: Logged) => boolean, from = 0): number {
	for (let i = from; i < log.length; i++) if (test(log[i]!)) return i;
	return -1;
}

function isStatus(text: string): (l: Logged) => boolean {
	return (l) => l.packet.type === PUBLISH && l.packet.topic === STATUS && payloadText(l.packet.payload) === text;
}

function isType(type: number): (l: Logged) => boolean {
	return (l) => l.packet.type === type;
}

function expectError(body: Body, fragment: string, what: string): void {
	equal(body.ok, false, `${what}: ok`);
	if (typeof body.error !== "string" || !body.error.includes(fragment))
		fail(`${what}: expected an error containing ${show(fragment)}, got ${show(body)}`);
}

/** A fresh (non-DUP) QoS 1 restart, then acknowledgements as the broker gives them. */
function restartNow(r: Rig): Body {
	return r.ask("restart", "");
}

export const deviceCases: Case[] = [];
const add = (name: string, run: () => void): void => { deviceCases.push({ name, run }); };

// ---- connection, status and will ---------------------------------------------------------

add("CONNECT: client id = deviceId, persistent session, keepalive, will offline retained QoS 1, no credentials", () => {
	const r = new Rig();
	const c = r.broker.connections[0]!;
	equal(c.host, "broker.test", "host");
	equal(c.port, 1883, "port");
	equal(c.tls, undefined, "no TLS");
	const connect = r.broker.received[0]!.packet as ConnectPacket;
	equal(connect.type, CONNECT, "the first packet");
	equal(connect.clientId, "d1", "client id");
	equal(connect.protocolLevel, 4, "MQTT 3.1.1 unless mqttVersion says 5");
	equal(connect.properties, undefined, "no 5.0 properties");
	equal(connect.cleanSession, false, "clean session");
	equal(connect.keepAlive, 30, "keepalive");
	ok(connect.will !== undefined, "a will");
	equal(connect.will!.topic, STATUS, "will topic");
	equal(payloadText(connect.will!.payload), "offline", "will payload");
	equal(connect.will!.qos, 1, "will QoS");
	equal(connect.will!.retain, true, "will retained");
	equal(connect.username, undefined, "no user name");
	equal(connect.password, undefined, "no password");
});

add("CONNECT carries the configured credentials, keepalive and TLS", () => {
	const r = new Rig({ config: { mqttUser: "u1", mqttPassword: "secret", keepAlive: 12, mqttTls: true, mqttCa: "ca-pem", mqttPort: 8883 } });
	const connect = r.broker.received[0]!.packet as ConnectPacket;
	equal(connect.username, "u1", "user name");
	equal(payloadText(connect.password!), "secret", "password");
	equal(connect.keepAlive, 12, "keepalive");
	equal(r.broker.connections[0]!.port, 8883, "port");
	deepEqual(r.broker.connections[0]!.tls, { ca: "ca-pem" }, "TLS options");
	// An empty user name means none, and then no password either.
	const anonymous = new Rig({ config: { mqttUser: "", mqttPassword: "secret" } });
	const c2 = anonymous.broker.received[0]!.packet as ConnectPacket;
	equal(c2.username, undefined, "no user name");
	equal(c2.password, undefined, "no password without a user name");
});

add("mqttHost takes several brokers separated by commas (host or host:port, else mqttPort); a bad entry stops the start, naming it", () => {
	deepEqual(parseServers("a.test, b.test:1884,[fd00::1]:8884,fd00::2", 1883, undefined), [
		{ host: "a.test", port: 1883, tls: undefined }, { host: "b.test", port: 1884, tls: undefined },
		{ host: "fd00::1", port: 8884, tls: undefined }, { host: "fd00::2", port: 1883, tls: undefined },
	]);
	deepEqual(parseServers("a.test", 8883, { ca: "x" }), [{ host: "a.test", port: 8883, tls: { ca: "x" } }]);
	for (const bad of ["a.test,", ",a.test", "a.test:0", "a.test:x", "a.test:70000", ":1883", "[fd00::1]x"]) {
		let message = "";
		try {
			parseServers(bad, 1883, undefined);
		}
		catch (error) {
			message = (error as Error).message;
		}
		ok(message.startsWith("mqttHost"), `${bad}: ${message}`);
	}
});

add("several brokers: a refused one is left for the next; \"connected to\" names the server the device is on", () => {
	const broker = new FakeBroker(new TimeBase());
	broker.refuse = true;
	const r = new Rig({ broker, config: { mqttHost: "a.test,b.test:1884" }, settle: false });
	equal(r.broker.connections.length, 1);
	broker.refuse = false;
	r.time.settle();
	r.time.advance(2000); // the backoff delay (at most 1 s)
	deepEqual(r.broker.connections.map((c) => `${c.host}:${c.port}`), ["a.test:1883", "b.test:1884"]);
	deepEqual(r.host.system.traces.filter((t) => t.startsWith("connected to")), ["connected to b.test:1884"]);
	deepEqual(r.statusTexts(), ["online"]);
});

add("on connect: status online, retained, QoS 1; the broker keeps it", () => {
	const r = new Rig();
	const status = r.broker.publishes(STATUS);
	equal(status.length, 1, "one status message");
	equal(payloadText(status[0]!.payload), "online", "payload");
	equal(status[0]!.qos, 1, "QoS");
	equal(status[0]!.retain, true, "retained");
	equal(status[0]!.dup, false, "not a re-send");
	equal(r.broker.retained.get(STATUS)?.payload, "online", "retained at the broker");
	ok(r.device.client.connected, "connected");
	equal(r.device.client.pending, 0, "online acknowledged");
});

add("subscribes to <prefix>/<id>/commands/+ at QoS 1, once", () => {
	const r = new Rig();
	const subs = r.broker.ofType(SUBSCRIBE).map((l) => l.packet as SubscribePacket);
	equal(subs.length, 1, "one SUBSCRIBE");
	deepEqual(subs[0]!.subscriptions, [{ filter: COMMANDS, qos: 1 }], "filter and QoS");
	r.time.advance(60_000);
	equal(r.broker.ofType(SUBSCRIBE).length, 1, "not repeated while connected");
});

add("a custom prefix and device id shape every topic", () => {
	const r = new Rig({ config: { topicPrefix: "acme/site-2", deviceId: "dev-7" } });
	equal((r.broker.received[0]!.packet as ConnectPacket).clientId, "dev-7", "client id");
	equal((r.broker.received[0]!.packet as ConnectPacket).will!.topic, "acme/site-2/dev-7/status", "will topic");
	equal(r.broker.publishes("acme/site-2/dev-7/status").length, 1, "status");
	deepEqual((r.broker.ofType(SUBSCRIBE)[0]!.packet as SubscribePacket).subscriptions[0]!.filter, "acme/site-2/dev-7/commands/+", "filter");
	r.time.advance(5_000);
	equal(r.broker.publishes("acme/site-2/dev-7/telemetry").length, 1, "telemetry");
	r.broker.inject("acme/site-2/dev-7/commands/ping", "", { qos: 1 });
	r.time.settle();
	equal(r.broker.publishes("acme/site-2/dev-7/responses/ping").length, 1, "response");
});

add("while the broker does not answer CONNECT nothing is published; status online follows CONNACK", () => {
	const time = new TimeBase();
	const broker = new FakeBroker(time);
	broker.answerConnect = false;
	const r = new Rig({ broker });
	r.time.advance(4_000);
	deepEqual(broker.names(), ["CONNECT d1"], "only CONNECT so far");
	broker.answerConnect = true;
	// The connect timeout (10 s) ends the attempt; the next one gets its CONNACK.
	r.time.advance(10_000);
	equal(r.statusTexts().join(), "online", "online after the CONNACK");
	ok(r.device.client.connected, "connected");
});

// ---- telemetry -----------------------------------------------------------------------------

add("telemetry: first after one interval, then every interval; seq counts up; QoS 0, not retained", () => {
	const r = new Rig();
	r.time.advance(4_999);
	equal(r.telemetry().length, 0, "nothing before one interval");
	r.time.advance(1);
	r.time.advance(5_000);
	r.time.advance(5_000);
	deepEqual(r.telemetryTimes(), [r.boot + 5_000, r.boot + 10_000, r.boot + 15_000], "times");
	deepEqual(r.telemetry(), [
		{ seq: 1, uptime: 5_000, sensor: "fake-sht", temperature: 21.5, humidity: 40.2 },
		{ seq: 2, uptime: 10_000, sensor: "fake-sht", temperature: 21.5, humidity: 40.2 },
		{ seq: 3, uptime: 15_000, sensor: "fake-sht", temperature: 21.5, humidity: 40.2 },
	], "bodies");
	for (const p of r.broker.publishes(TELEMETRY)) {
		equal(p.qos, 0, "QoS");
		equal(p.retain, false, "retain");
	}
	equal(r.host.sensor.reads, 3, "one read per message");
});

add("telemetry carries what the sensor gives, and its values as they change", () => {
	const r = new Rig();
	r.host.sensor.reading = { temperature: -3.25 };
	r.time.advance(5_000);
	r.host.sensor.reading = { humidity: 99.9 };
	r.time.advance(5_000);
	r.host.sensor.reading = {};
	r.time.advance(5_000);
	const t = r.telemetry();
	deepEqual(t[0], { seq: 1, uptime: 5_000, sensor: "fake-sht", temperature: -3.25 }, "temperature only");
	deepEqual(t[1], { seq: 2, uptime: 10_000, sensor: "fake-sht", humidity: 99.9 }, "humidity only");
	equal(t[2]!.seq, 3, "an empty reading still counts");
	equal(t[2]!.temperature, undefined, "no temperature");
	ok(typeof t[2]!.error === "string", `an empty reading is an error: ${show(t[2])}`);
});

add("a failing sensor: telemetry with an error field, no crash, and the next reading works again", () => {
	const r = new Rig();
	r.time.advance(5_000);
	r.host.sensor.failWith = "no ACK from 0x44";
	r.time.advance(5_000);
	r.host.sensor.failWith = undefined;
	r.time.advance(5_000);
	const t = r.telemetry();
	equal(t.length, 3, "three messages");
	deepEqual(t[1], { seq: 2, uptime: 10_000, sensor: "fake-sht", error: "sensor read failed: no ACK from 0x44" }, "the failed reading");
	deepEqual(t[2], { seq: 3, uptime: 15_000, sensor: "fake-sht", temperature: 21.5, humidity: 40.2 }, "recovered");
	ok(r.device.client.connected, "still connected");
});

add("a sensor that throws something odd (not an Error) or returns nothing is still reported", () => {
	const r = new Rig();
	r.host.sensor.read = () => { throw "bus stuck"; };
	r.time.advance(5_000);
	r.host.sensor.read = () => undefined as unknown as { temperature?: number };
	r.time.advance(5_000);
	const t = r.telemetry();
	equal(t.length, 2, "both published");
	ok(String(t[0]!.error).includes("bus stuck"), `thrown string: ${show(t[0])}`);
	ok(typeof t[1]!.error === "string", `undefined reading: ${show(t[1])}`);
});

add("the telemetry interval from the configuration is kept within 1 s .. 1 h", () => {
	equal(new Rig({ config: { telemetryInterval: 10 } }).device.interval, MIN_INTERVAL, "too short");
	equal(new Rig({ config: { telemetryInterval: 10 * MAX_INTERVAL } }).device.interval, MAX_INTERVAL, "too long");
	equal(new Rig({ config: { telemetryInterval: Number.NaN } }).device.interval, MIN_INTERVAL, "NaN");
	const r = new Rig({ config: { telemetryInterval: 2_500 } });
	r.time.advance(5_000);
	deepEqual(r.telemetryTimes(), [r.boot + 2_500, r.boot + 5_000], "the configured rate");
});

add("telemetry while offline is not queued; the schedule goes on and resumes on reconnect", () => {
	const r = new Rig();
	r.time.advance(5_000);
	r.broker.refuse = true;
	r.broker.cut();
	r.time.advance(10_000);
	equal(r.telemetry().length, 1, "nothing sent while offline");
	r.broker.refuse = false;
	r.time.advance(60_000); // the backoff reaches a retry, then telemetry flows again
	ok(r.device.client.connected, "reconnected");
	const t = r.telemetry();
	ok(t.length >= 2, "telemetry again");
	ok((t[1]!.seq as number) > 2, `seq counted the readings taken offline: ${show(t[1])}`);
	equal(r.broker.ofType(PUBLISH).filter((l) => l.packet.type === PUBLISH && l.packet.topic === TELEMETRY && l.packet.dup).length, 0, "no re-sent telemetry");
});

// ---- commands: the exchange ----------------------------------------------------------------

add("a response is QoS 1, not retained, on responses/<name>; the command gets its PUBACK", () => {
	const r = new Rig();
	r.broker.take();
	const id = r.command("ping", "", { qos: 1, packetId: 77 });
	equal(id, 77, "identifier");
	const log = r.broker.take();
	const response = log.find((l) => isPublish(l, resp("ping")));
	ok(response, `a response: ${show(r.broker.names(log))}`);
	const p = response!.packet as PublishPacket;
	equal(p.qos, 1, "QoS");
	equal(p.retain, false, "retain");
	ok(log.some((l) => l.packet.type === PUBACK && l.packet.packetId === 77), `PUBACK 77: ${show(r.broker.names(log))}`);
	equal(r.device.client.pending, 0, "the response was acknowledged");
});

add("a QoS 0 command is answered (no PUBACK); a QoS 2 command runs once, with PUBREC and PUBCOMP", () => {
	const r = new Rig();
	r.broker.take();
	r.command("led", "on", { qos: 0 });
	deepEqual(r.host.led.calls, [true], "QoS 0 ran");
	equal(r.broker.publishes(resp("led")).length, 1, "QoS 0 answered");
	equal(r.broker.take().filter((l) => l.packet.type === PUBACK).length, 0, "no PUBACK for QoS 0");
	// QoS 2: the broker re-sends the PUBLISH (DUP) before PUBREL; it must not run twice.
	const before = r.broker.received.length;
	const id = r.broker.inject(cmd("led"), "off", { qos: 2 });
	r.broker.inject(cmd("led"), "off", { qos: 2, dup: true, packetId: id });
	r.time.settle();
	deepEqual(r.host.led.calls, [true, false], "QoS 2 ran once");
	equal(r.broker.publishes(resp("led")).length, 2, "answered once");
	const log = r.broker.received.slice(before);
	ok(log.some((l) => l.packet.type === PUBREC && l.packet.packetId === id), "PUBREC");
	ok(log.some((l) => l.packet.type === PUBCOMP && l.packet.packetId === id), "PUBCOMP after the broker's PUBREL");
});

add("retained commands are refused with an error and not run", () => {
	const r = new Rig();
	expectError(r.ask("led", "on", { retain: true }), "retained", "retained led");
	deepEqual(r.host.led.calls, [], "the LED was not touched");
	expectError(r.ask("interval", "2000", { retain: true }), "retained", "retained interval");
	equal(r.device.interval, 5_000, "interval unchanged");
	expectError(r.ask("restart", "", { retain: true }), "retained", "retained restart");
	r.time.advance(SHUTDOWN_GRACE * 2);
	deepEqual(r.restarts, [], "no restart");
	deepEqual(r.statusTexts(), ["online"], "no offline");
	equal(r.storage.values.get(RESTART_FLAG), undefined, "no restart flag");
	// The same command without retain runs.
	equal(r.ask("led", "on").ok, true, "not retained: runs");
	deepEqual(r.host.led.calls, [true], "LED on");
});

add("unknown commands get an error naming the command (cut to 40 characters)", () => {
	const r = new Rig();
	expectError(r.ask("reboot", "now"), "unknown command \"reboot\"", "reboot");
	expectError(r.ask("PING", ""), "unknown command", "commands are case-sensitive");
	const long = "x".repeat(300);
	const body = r.ask(long, "");
	expectError(body, `unknown command "${"x".repeat(40)}"`, "long name");
	ok(!String(body.error).includes("x".repeat(41)), "the name is cut in the message");
});

add("an empty command name (topic ending in commands/) matches commands/+ and gets an error", () => {
	// "+" matches an empty level, so a broker does deliver devices/d1/commands/ to this subscription.
	const r = new Rig();
	const body = r.askOn("devices/d1/commands/", "devices/d1/responses/", "x");
	expectError(body, "no command name", "empty name");
});

add("messages outside commands/+ (a misbehaving broker) are acknowledged and ignored", () => {
	const r = new Rig();
	r.broker.take();
	r.broker.inject("devices/d1/commands/led/extra", "on", { qos: 1, packetId: 5 });
	r.broker.inject("devices/d2/commands/led", "on", { qos: 1, packetId: 6 });
	r.time.settle();
	deepEqual(r.broker.names(r.broker.take()), ["PUBACK 5", "PUBACK 6"], "acknowledged, nothing else");
	deepEqual(r.host.led.calls, [], "not run");
});

// ---- commands: interval --------------------------------------------------------------------

add("interval accepts 5000, \"5000\", {\"interval\":…}, {\"ms\":…} and the bounds", () => {
	const r = new Rig();
	const cases: Array<[string, number]> = [
		["5000", 5_000], ["\"2000\"", 2_000], ["{\"interval\":3000}", 3_000], ["{\"ms\":4000}", 4_000],
		[" 7000 ", 7_000], ["1000", MIN_INTERVAL], ["3600000", MAX_INTERVAL], ["1e4", 10_000],
	];
	for (const [payload, value] of cases) {
		deepEqual(r.ask("interval", payload), { ok: true, interval: value, saved: true }, `interval ${payload}`);
		equal(r.device.interval, value, `interval ${payload}: applied`);
	}
});

add("interval changes the telemetry rate from the moment it is received", () => {
	const r = new Rig();
	r.time.advance(5_000); // first telemetry at boot + 5 s
	r.time.advance(1_000);
	equal(r.ask("interval", "2000").ok, true, "accepted");
	r.time.advance(6_500);
	deepEqual(r.telemetryTimes(), [r.boot + 5_000, r.boot + 8_000, r.boot + 10_000, r.boot + 12_000], "every 2 s from the command");
	equal(r.ask("interval", "{\"ms\":60000}").ok, true, "slower");
	r.time.advance(59_999);
	equal(r.telemetry().length, 4, "nothing for a minute");
	r.time.advance(1);
	equal(r.telemetry().length, 5, "then one");
});

add("interval refuses out-of-range, non-integer and garbage payloads, and changes nothing", () => {
	const r = new Rig();
	const bad: Array<[Payload, string]> = [
		["999", "1000..3600000"], ["0", "1000..3600000"], ["-5000", "1000..3600000"], ["3600001", "1000..3600000"],
		["1e12", "1000..3600000"], ["1500.5", "integer"], ["abc", "milliseconds"], ["", "milliseconds"],
		["null", "integer"], ["true", "integer"], ["[2000]", "integer"], ["{\"interval\":\"2000\"}", "integer"],
		["{\"period\":2000}", "integer"], ["\"   \"", "integer"], ["\"2s\"", "integer"], ["NaN", "milliseconds"],
		["Infinity", "milliseconds"], ["{\"interval\":5000", "milliseconds"], [new Uint8Array([0xFF, 0xFE, 0x00, 0x80]), "milliseconds"],
	];
	for (const [payload, fragment] of bad) expectError(r.ask("interval", payload), fragment, `interval ${show(payload)}`);
	equal(r.device.interval, 5_000, "unchanged");
	r.time.advance(10_000);
	deepEqual(r.telemetryTimes(), [r.boot + 5_000, r.boot + 10_000], "schedule unchanged");
});

// ---- commands: read, led, ping -------------------------------------------------------------

add("read answers a fresh reading at once", () => {
	const r = new Rig();
	r.time.advance(1_234);
	r.host.sensor.reading = { temperature: 19.75, humidity: 55 };
	const body = r.ask("read", "");
	equal(body.ok, true, "ok");
	equal(body.uptime, 1_234, "uptime");
	equal(body.sensor, "fake-sht", "sensor");
	equal(body.temperature, 19.75, "temperature");
	equal(body.humidity, 55, "humidity");
	equal(body.seq, undefined, "a read takes no telemetry sequence number");
	equal(r.host.sensor.reads, 1, "read the sensor");
	equal(r.ask("read", "anything at all").ok, true, "the payload is ignored");
});

add("read with a failing sensor answers ok:false with the error, and the device carries on", () => {
	const r = new Rig();
	r.host.sensor.failWith = "timeout";
	const body = r.ask("read", "");
	expectError(body, "sensor read failed: timeout", "failed read");
	r.host.sensor.failWith = undefined;
	equal(r.ask("read", "").ok, true, "works again");
	r.time.advance(5_000);
	equal(r.telemetry().length, 1, "telemetry unaffected");
});

add("led on/off in every accepted form calls the host LED and answers its state", () => {
	const r = new Rig();
	const on: Payload[] = ["on", "ON", "1", "true", " on\n", "\"on\"", "{\"state\":\"on\"}", "{\"state\":true}", "{\"state\":1}"];
	const off: Payload[] = ["off", "OFF", "0", "false", "\"off\"", "{\"state\":\"off\"}", "{\"state\":false}", "{\"state\":0}"];
	for (const p of on) {
		deepEqual(r.ask("led", p), { ok: true, led: "on" }, `led ${show(p)}`);
		equal(r.host.led.calls[r.host.led.calls.length - 1], true, `led ${show(p)}: host LED on`);
	}
	for (const p of off) {
		deepEqual(r.ask("led", p), { ok: true, led: "off" }, `led ${show(p)}`);
		equal(r.host.led.calls[r.host.led.calls.length - 1], false, `led ${show(p)}: host LED off`);
	}
	equal(r.host.led.calls.length, on.length + off.length, "one call per command");
});

add("led refuses anything else without touching the LED", () => {
	const r = new Rig();
	const bad: Payload[] = ["", "2", "blink", "{}", "{\"state\":\"blink\"}", "null", "[1]", "onn", "-1", new Uint8Array([0xC3, 0x28, 0x00]), "x".repeat(900)];
	for (const p of bad) {
		const body = r.ask("led", p);
		expectError(body, "led takes \"on\" or \"off\"", `led ${show(typeof p === "string" ? p.slice(0, 20) : p)}`);
		ok(String(body.error).length < 200, "the echo of the payload is cut");
	}
	deepEqual(r.host.led.calls, [], "never called");
	equal(r.ask("ping", "").led, "off", "still off");
});

add("an LED that throws gives an error response, and its state is not claimed", () => {
	const r = new Rig();
	r.host.led.failWith = "GPIO busy";
	expectError(r.ask("led", "on"), "GPIO busy", "failing LED");
	equal(r.ask("ping", "").led, "off", "ping does not claim on");
	r.host.led.failWith = undefined;
	equal(r.ask("led", "on").ok, true, "works again");
	equal(r.ask("ping", "").led, "on", "now on");
});

add("ping answers uptime, memory, seq and the LED state", () => {
	const r = new Rig();
	r.time.advance(12_345);
	r.host.system.memoryFree = 4_096;
	deepEqual(r.ask("ping", ""), { ok: true, uptime: 12_345, memory: { free: 4_096, used: 65_432 }, seq: 2, led: "off" }, "ping");
	r.command("led", "on");
	equal(r.ask("ping", "ignored payload").led, "on", "LED on");
	r.host.system.memory = () => { throw new Error("no heap info"); };
	expectError(r.ask("ping", ""), "no heap info", "memory() that throws");
});

add("huge and binary payloads: errors or drains, never a crash", () => {
	const r = new Rig();
	// Binary bytes and U+0000 (not UTF-8): commands that read the payload refuse it.
	expectError(r.ask("interval", new Uint8Array([0, 1, 2, 0xFF, 0xC0, 0xAF])), "interval", "binary interval");
	expectError(r.ask("led", new Uint8Array([0xFF, 0xFF])), "led", "binary led");
	equal(r.ask("ping", new Uint8Array([0xFF, 0x00])).ok, true, "ping ignores a binary payload");
	// Near the receive buffer (1024 bytes): kept whole and refused.
	expectError(r.ask("interval", "9".repeat(950)), "interval", "950 digits");
	// Larger than the receive buffer: drained, acknowledged, and answered with an error.
	r.broker.take();
	const id = r.command("led", "o".repeat(5_000), { packetId: 900 });
	equal(id, 900, "identifier");
	const log = r.broker.take();
	ok(log.some((l) => l.packet.type === PUBACK && l.packet.packetId === 900), `the oversize command is acknowledged: ${show(r.broker.names(log))}`);
	deepEqual(r.host.led.calls, [], "not run");
	const answers = r.broker.publishes(resp("led"));
	expectError(json(answers[answers.length - 1]!), "too large", "oversize command answered");
	// Still alive.
	equal(r.ask("led", "on").ok, true, "then a normal command");
	ok(r.device.client.connected, "connected throughout");
	equal(r.broker.connections.length, 1, "never reconnected");
});

// ---- restart -------------------------------------------------------------------------------

add("restart: ok response, offline (retained QoS 1), then DISCONNECT, then host restart", () => {
	const r = new Rig();
	r.time.advance(5_000);
	r.broker.take();
	let seenAtRestart = "";
	r.host.system.onRestart = () => { seenAtRestart = r.broker.names(r.broker.received.slice(-1))[0]!; };
	deepEqual(restartNow(r), { ok: true, restarting: true }, "response");
	const log = r.broker.take();
	const iResponse = indexOf(log, (l) => isPublish(l, resp("restart")));
	const iOffline = indexOf(log, isStatus("offline"));
	const iDisconnect = indexOf(log, isType(DISCONNECT));
	ok(iResponse >= 0 && iOffline > iResponse && iDisconnect > iOffline, `response, offline, DISCONNECT in order: ${show(r.broker.names(log))}`);
	const offline = log[iOffline]!.packet as PublishPacket;
	equal(offline.qos, 1, "offline QoS");
	equal(offline.retain, true, "offline retained");
	equal(iDisconnect, log.length - 1, "DISCONNECT last");
	deepEqual(r.restarts, [r.time.now()], "restarted once, once acknowledged");
	equal(seenAtRestart, "DISCONNECT", "the broker had DISCONNECT when restart() was called");
	equal(r.storage.values.get(RESTART_FLAG), 1, "the restart flag is set");
	equal(r.broker.retained.get(STATUS)?.payload, "offline", "retained status");
	equal(r.broker.wills.length, 0, "no will (DISCONNECT came first)");
	ok(r.device.client.connected === false, "closed");
	r.time.advance(60_000);
	equal(r.telemetry().length, 1, "no telemetry after the restart began");
	equal(r.broker.connections.length, 1, "no reconnection");
	equal(r.restarts.length, 1, "restart called once");
});

add("restart waits for the offline acknowledgement, then restarts at once", () => {
	const r = new Rig();
	r.broker.holdAcks = (p) => p.topic === STATUS;
	restartNow(r);
	r.time.advance(3_000);
	deepEqual(r.restarts, [], "no restart while offline is unacknowledged");
	equal(r.broker.ofType(DISCONNECT).length, 0, "no DISCONNECT yet");
	r.broker.holdAcks = false;
	r.broker.release();
	r.time.settle();
	deepEqual(r.restarts, [r.time.now()], "restart right after the PUBACK");
	equal(r.broker.ofType(DISCONNECT).length, 1, "DISCONNECT sent");
	const log = r.broker.received;
	ok(indexOf(log, isType(DISCONNECT)) === log.length - 1, "DISCONNECT is the last packet");
});

add("restart without any acknowledgement happens at 5 s, ending without DISCONNECT so the will says offline", () => {
	const r = new Rig();
	r.broker.holdAcks = true;
	const at = r.time.now();
	restartNow(r);
	let disconnectsAtRestart = -1;
	r.host.system.onRestart = () => { disconnectsAtRestart = r.broker.ofType(DISCONNECT).length; };
	r.time.advance(SHUTDOWN_GRACE - 1);
	deepEqual(r.restarts, [], "still waiting just before 5 s");
	equal(r.broker.ofType(DISCONNECT).length, 0, "no DISCONNECT before 5 s");
	r.time.advance(1);
	deepEqual(r.restarts, [at + SHUTDOWN_GRACE], "restart at 5 s");
	equal(disconnectsAtRestart, 0, "no DISCONNECT: `offline` was never acknowledged, so the will must stand");
	equal(r.broker.ofType(DISCONNECT).length, 0, "none after either");
	equal(r.broker.wills.length, 1, "the broker published the will");
	equal(r.statusTexts()[r.statusTexts().length - 1], "offline", "the broker's status is offline (the will)");
});

add("restart when the connection drops during the wait: no online in between, restart by 5 s", () => {
	const r = new Rig();
	r.broker.holdAcks = true;
	const at = r.time.now();
	restartNow(r);
	r.broker.holdAcks = false;
	r.broker.cut(); // the will says offline; the device reconnects within the grace period
	r.time.advance(SHUTDOWN_GRACE);
	equal(r.restarts.length, 1, "restarted");
	ok(r.restarts[0]! <= at + SHUTDOWN_GRACE, "within the grace period");
	const texts = r.statusTexts();
	equal(texts[texts.length - 1], "offline", `the last status published is offline: ${show(texts)}`);
	equal(r.broker.retained.get(STATUS)?.payload, "offline", "the broker keeps offline");
});

add("the restart flag: after a restart a re-sent (DUP) restart is refused; a new one is accepted", () => {
	const first = new Rig();
	restartNow(first);
	equal(first.restarts.length, 1, "first device restarted");
	// The board reboots: a new Device on the same flash, broker and time line.
	const second = new Rig({ storage: first.storage, broker: first.broker });
	equal(second.storage.values.get(RESTART_FLAG), 1, "the flag is kept until the guard window closes");
	expectError(second.ask("restart", "", { dup: true }), "re-sent restart", "DUP restart after a restart");
	second.time.advance(SHUTDOWN_GRACE * 2);
	deepEqual(second.restarts, [], "not restarted");
	equal(second.statusTexts().filter((s) => s === "offline").length, 0, "no offline from the second device");
	deepEqual(second.ask("restart", ""), { ok: true, restarting: true }, "a new (non-DUP) restart");
	equal(second.restarts.length, 1, "restarted");
});

add("the restart guard ends with the first telemetry while connected", () => {
	const first = new Rig();
	restartNow(first);
	const second = new Rig({ storage: first.storage, broker: first.broker });
	second.time.advance(4_999);
	expectError(second.ask("restart", "", { dup: true }), "re-sent restart", "before the first telemetry");
	second.time.advance(1);
	equal(second.telemetry().length, 1, "first telemetry");
	equal(second.storage.values.get(RESTART_FLAG), undefined, "the flag is cleared with the window");
	deepEqual(second.ask("restart", "", { dup: true }), { ok: true, restarting: true }, "a DUP restart is then accepted");
	equal(second.restarts.length, 1, "restarted");
});

add("the restart guard outlasts telemetry taken while offline", () => {
	const first = new Rig();
	restartNow(first);
	first.broker.refuse = true;
	const second = new Rig({ storage: first.storage, broker: first.broker });
	second.time.advance(12_000);
	ok(!second.device.client.connected, "offline");
	equal(second.host.sensor.reads, 2, "two readings taken offline");
	first.broker.refuse = false;
	// Run the time line only until the connection is up, before the next reading.
	while (!second.device.client.connected) if (second.time.next() < 0) fail("nothing armed");
	ok(second.host.sensor.reads >= 2, "readings were taken offline");
	equal(second.telemetry().length, 0, "none of them while connected");
	expectError(second.ask("restart", "", { dup: true }), "re-sent restart", "DUP restart right after connecting");
	second.time.advance(SHUTDOWN_GRACE);
	deepEqual(second.restarts, [], "not restarted");
});

add("a DUP restart on a device that was not restarted by command is accepted", () => {
	const r = new Rig();
	r.time.advance(1_000);
	deepEqual(r.ask("restart", "", { dup: true }), { ok: true, restarting: true }, "accepted");
	equal(r.restarts.length, 1, "restarted");
});

add("a second restart while shutting down is refused; commands still get answers", () => {
	const r = new Rig();
	r.broker.holdAcks = true;
	restartNow(r);
	r.broker.holdAcks = false;
	expectError(r.ask("restart", ""), "already shutting down", "second restart");
	equal(r.ask("ping", "").ok, true, "ping during the wait");
	r.broker.release();
	r.time.advance(SHUTDOWN_GRACE);
	equal(r.restarts.length, 1, "one restart");
});

// ---- shutdown ------------------------------------------------------------------------------

add("shutdown(): offline (retained QoS 1), its PUBACK, then DISCONNECT, then the callback once", () => {
	const r = new Rig();
	r.time.advance(5_000);
	r.broker.take();
	let done = 0;
	r.device.shutdown(() => { done++; });
	r.device.shutdown(() => { done += 100; });
	r.time.settle();
	const log = r.broker.take();
	deepEqual(r.broker.names(log), ["PUBLISH devices/d1/status q1 retain", "DISCONNECT"], "offline then DISCONNECT");
	equal(payloadText((log[0]!.packet as PublishPacket).payload), "offline", "payload");
	equal(done, 1, "the callback ran once");
	equal(r.broker.retained.get(STATUS)?.payload, "offline", "retained offline");
	equal(r.broker.wills.length, 0, "the will is discarded");
	r.time.advance(30_000);
	equal(r.telemetry().length, 1, "telemetry stopped");
	equal(r.broker.connections.length, 1, "no reconnection");
	deepEqual(r.restarts, [], "shutdown alone does not restart");
});

add("an interval command during shutdown does not bring telemetry back after it", () => {
	const r = new Rig();
	r.broker.holdAcks = true;
	let done = 0;
	r.device.shutdown(() => { done++; });
	r.broker.holdAcks = false;
	equal(r.ask("interval", "1000").ok, true, "accepted (or refused) without harm");
	r.broker.release();
	r.time.settle();
	equal(done, 1, "shut down");
	r.time.advance(10_000); // nothing may run on the closed client
	equal(r.telemetry().length, 0, "no telemetry");
});

add("when the connection is lost, the will marks the device offline; on reconnect online again and a fresh SUBSCRIBE", () => {
	const r = new Rig();
	r.broker.cut();
	equal(r.broker.wills.length, 1, "will published");
	equal(r.broker.retained.get(STATUS)?.payload, "offline", "broker: offline");
	r.time.advance(1_000); // the first retry comes within 0.5..1 s
	equal(r.broker.connections.length, 2, "reconnected");
	deepEqual(r.statusTexts(), ["online", "online"], "online on each connect");
	equal(r.broker.retained.get(STATUS)?.payload, "online", "broker: online");
	equal(r.broker.ofType(SUBSCRIBE).length, 2, "subscribed again (no session present)");
	equal(r.ask("ping", "").ok, true, "commands work");
	r.time.advance(5_000);
	ok(r.telemetry().length >= 1, "telemetry works");
});

add("reconnecting to a session that is present: online again, the SUBSCRIBE is not repeated, a re-sent command is run", () => {
	const r = new Rig();
	r.broker.sessionPresent = true;
	r.broker.cut();
	r.time.advance(1_000);
	ok(r.device.client.connected, "reconnected");
	equal(r.statusTexts().length, 2, "online again");
	equal(r.broker.ofType(SUBSCRIBE).length, 1, "no new SUBSCRIBE");
	deepEqual(r.ask("led", "on", { dup: true }), { ok: true, led: "on" }, "a re-sent command runs");
});

add("a silent broker is detected by keepalive; the device reconnects and says online", () => {
	const r = new Rig({ config: { keepAlive: 10 } });
	r.broker.answerPings = false;
	r.time.advance(15_000);
	equal(r.broker.wills.length, 1, "the dead connection was closed (will published)");
	r.broker.answerPings = true;
	r.time.advance(1_000);
	ok(r.device.client.connected, "reconnected");
	deepEqual(r.statusTexts(), ["online", "online"], "online again");
});

add("a refused CONNACK is retried with backoff; online once accepted; no crash", () => {
	const time = new TimeBase();
	const broker = new FakeBroker(time);
	broker.connackCode = 5;
	const r = new Rig({ broker });
	r.time.advance(20_000);
	ok(broker.connections.length >= 3, "retried");
	ok(broker.connections.length <= 8, `with backoff: ${broker.connections.length}`);
	equal(r.statusTexts().length, 0, "nothing published");
	broker.connackCode = 0;
	r.time.advance(60_000);
	ok(r.device.client.connected, "connected");
	deepEqual(r.statusTexts(), ["online"], "online");
	ok(r.host.system.traces.some((t) => t.includes("NOT_AUTHORIZED")), "the refusal was traced");
});

// ---- the backlog -----------------------------------------------------------------------------

/** Commands that fill the client's pool (32 messages) and the device's backlog, and one more. */
const FULL = 32 + BACKLOG + 1;

/** Fills the client's message pool (32 messages) with unacknowledged responses to commands x1.. (sent with `options(i)`). */
function fillPool(r: Rig, count: number, options: (i: number) => InjectOptions = () => ({})): void {
	r.broker.holdAcks = true;
	for (let i = 1; i <= count; i++) r.broker.inject(cmd(`x${i}`), "", { qos: 1, ...options(i) });
	r.time.settle();
}

/** Releases what the broker withheld until nothing is (each release lets the device send more). */
function releaseAll(r: Rig): void {
	r.broker.holdAcks = false;
	for (let i = 0; i < 10 && r.broker.held.length > 0; i++) {
		r.broker.release();
		r.time.settle();
	}
}

add("responses the client cannot take now wait in a backlog and go out later, in order", () => {
	const r = new Rig();
	fillPool(r, FULL);
	// 32 in the pool (8 of them sent), BACKLOG in the backlog, the next dropped.
	equal(r.device.client.pending, 32, "the pool is full");
	ok(r.host.system.traces.some((t) => t.includes(`responses/x${FULL}: dropped`)), "the one past the backlog is dropped and traced");
	releaseAll(r);
	const topics = r.broker.publishes().filter((p) => p.topic.startsWith("devices/d1/responses/")).map((p) => p.topic);
	const expected: string[] = [];
	for (let i = 1; i < FULL; i++) expected.push(resp(`x${i}`));
	deepEqual(topics, expected, `responses 1..${FULL - 1}, in order, each once`);
	equal(r.device.client.pending, 0, "all acknowledged");
	// Every command got its PUBACK.
	equal(r.broker.ofType(PUBACK).length, FULL, `${FULL} commands acknowledged`);
});

add("status online is not lost when the backlog is full at a reconnect, and is not repeated", () => {
	const r = new Rig();
	fillPool(r, FULL);
	// Two reconnections while nothing is acknowledged: each wants to say online.
	r.broker.cut();
	r.time.advance(1_000);
	ok(r.device.client.connected, "reconnected");
	r.broker.cut();
	r.broker.holdAcks = false;
	r.time.advance(1_000);
	ok(r.device.client.connected, "reconnected again");
	for (let i = 0; i < 10; i++) r.time.advance(100);
	equal(r.broker.retained.get(STATUS)?.payload, "online", `the broker has the device online: ${show(r.statusTexts())}`);
	deepEqual(r.statusTexts(), ["online", "online"], "one online for the first connect, one once there was room");
	equal(r.device.client.pending, 0, "everything acknowledged");
});

add("a congested link: the response waits and goes out whole as the link drains", () => {
	const r = new Rig();
	const link = r.broker.current!.transport;
	link.writeRoom = 0;
	const id = r.command("ping", "");
	equal(r.broker.publishes(resp("ping")).length, 0, "nothing got through");
	for (let i = 0; i < 100 && r.broker.publishes(resp("ping")).length === 0; i++) {
		link.unblock(7);
		r.time.settle();
	}
	equal(r.broker.publishes(resp("ping")).length, 1, "the response, whole");
	link.unblock();
	r.time.settle();
	ok(r.broker.ofType(PUBACK).some((l) => l.packet.type === PUBACK && l.packet.packetId === id), "the command's PUBACK");
	equal(r.device.client.pending, 0, "the response was acknowledged");
	ok(r.device.client.connected, "still connected");
});

add("shutdown with a full backlog still publishes offline before DISCONNECT", () => {
	const r = new Rig();
	fillPool(r, FULL);
	let done = 0;
	r.device.shutdown(() => { done++; });
	releaseAll(r);
	r.time.advance(SHUTDOWN_GRACE);
	equal(done, 1, "shut down");
	const log = r.broker.received;
	const iOffline = indexOf(log, isStatus("offline"));
	ok(iOffline >= 0, "offline published");
	ok(indexOf(log, isType(DISCONNECT)) > iOffline, "before DISCONNECT");
	equal(r.broker.retained.get(STATUS)?.payload, "offline", "the broker has the device offline");
});

// ---- MQTT 5.0 (mqttVersion 5) ----------------------------------------------------------------

/** A device speaking MQTT 5.0. */
function rig5(config: Partial<DeviceConfig> = {}, options: RigOptions = {}): Rig {
	return new Rig({ ...options, config: { mqttVersion: 5, ...config } });
}

const ANSWERS = "dashboards/ui-7/answers";
const JSON_PROPERTIES: PropertyValues = { contentType: JSON_CONTENT_TYPE, payloadFormatIndicator: 1 };

/** Runs `fn`, which must throw an error whose message holds `fragment`. */
function throwsMessage(fn: () => unknown, fragment: string, what: string): void {
	try {
		fn();
	}
	catch (error) {
		const message = String((error as Error)?.message ?? error);
		if (!message.includes(fragment)) fail(`${what}: expected an error containing ${show(fragment)}, got ${show(message)}`);
		return;
	}
	fail(`${what}: nothing was thrown`);
}

add("MQTT 5.0: CONNECT is level 5, a persistent session that expires a day after the device goes; the will as with 3.1.1", () => {
	const r = rig5();
	const connect = r.broker.received[0]!.packet as ConnectPacket;
	equal(connect.protocolLevel, 5, "protocol level");
	equal(connect.cleanSession, false, "Clean Start 0: the session is resumed");
	equal(SESSION_EXPIRY, 86_400, "the default is one day");
	equal(connect.properties?.sessionExpiryInterval, SESSION_EXPIRY, "Session Expiry Interval");
	const will = connect.will!;
	deepEqual([will.topic, payloadText(will.payload), will.qos, will.retain], [STATUS, "offline", 1, true], "will: offline, QoS 1, retained");
	deepEqual(will.properties, {}, "no will properties (no delay, no expiry)");
	ok(r.device.client.connected, "connected");
	ok(r.host.system.traces[0]!.includes("MQTT 5.0, session expiry 86400 s"), `the trace says so: ${show(r.host.system.traces[0])}`);
});

add("MQTT 5.0: sessionExpiry from the configuration (a number, or text as a command line gives it) goes in CONNECT; 0 ends the session with the connection", () => {
	const ten = rig5({ sessionExpiry: 600 });
	equal((ten.broker.received[0]!.packet as ConnectPacket).properties?.sessionExpiryInterval, 600, "600 s");
	const text = rig5({ mqttVersion: "5" as unknown as 5, sessionExpiry: " 3600 " as unknown as number });
	const connect = text.broker.received[0]!.packet as ConnectPacket;
	equal(connect.protocolLevel, 5, "mqttVersion \"5\"");
	equal(connect.properties?.sessionExpiryInterval, 3_600, "sessionExpiry \" 3600 \"");
	const zero = rig5({ sessionExpiry: 0 });
	equal((zero.broker.received[0]!.packet as ConnectPacket).properties?.sessionExpiryInterval, undefined, "0 is the default the property stands for: left out");
	// With 3.1.1 the key is checked but has no use: the session never expires.
	equal((new Rig({ config: { sessionExpiry: 600 } }).broker.received[0]!.packet as ConnectPacket).protocolLevel, 4, "3.1.1");
});

add("mqttVersion other than 4 or 5, and sessionExpiry other than whole seconds up to 2^32 - 1, stop the start with an error that names them", () => {
	for (const bad of [3, 6, "3.1.1", "five", true, 4.5])
		throwsMessage(() => new Rig({ config: { mqttVersion: bad as unknown as 5 } }), `mqttVersion must be 4 (MQTT 3.1.1) or 5 (MQTT 5.0), not ${JSON.stringify(bad)}`, `mqttVersion ${show(bad)}`);
	for (const bad of [-1, 1.5, "a day", 4_294_967_296, Number.NaN])
		throwsMessage(() => rig5({ sessionExpiry: bad as number }), "sessionExpiry must be whole seconds, 0..4294967295", `sessionExpiry ${show(bad)}`);
	throwsMessage(() => parseMqttVersion("3", "MQTT_VERSION"), "MQTT_VERSION must be 4 (MQTT 3.1.1) or 5 (MQTT 5.0), not \"3\"", "named as asked");
	deepEqual([undefined, "", "4", 4, "5", " 5 ", 5].map((v) => parseMqttVersion(v)), [4, 4, 4, 4, 5, 5, 5], "accepted mqttVersion values");
	deepEqual([undefined, "", "0", 0, 4_294_967_295, "60"].map((v) => parseSessionExpiry(v)), [SESSION_EXPIRY, SESSION_EXPIRY, 0, 0, 4_294_967_295, 60], "accepted sessionExpiry values");
});

add("MQTT 5.0 telemetry: QoS 0, Content Type application/json, Payload Format Indicator 1, Message Expiry two intervals; after the first, sent as its topic alias", () => {
	const r = rig5();
	r.time.advance(15_000);
	const logs = r.published(TELEMETRY);
	equal(logs.length, 3, "three readings");
	deepEqual(logs[0]!.properties, { ...JSON_PROPERTIES, messageExpiryInterval: 10, topicAlias: 1 }, "the first: with its topic, setting alias 1");
	equal(logs[0]!.asAlias, undefined, "the first carries the topic");
	for (const l of logs.slice(1)) {
		deepEqual(l.properties, { ...JSON_PROPERTIES, messageExpiryInterval: 10, topicAlias: 1 }, "then: the alias");
		equal(l.asAlias, true, "with an empty topic");
	}
	for (const l of logs) {
		const p = l.packet as PublishPacket;
		equal(p.qos, 0, "QoS");
		equal(p.retain, false, "retain");
	}
	equal(r.device.client.stats.aliased, 2, "stats.aliased");
	deepEqual(r.telemetry().map((t) => t.seq), [1, 2, 3], "the bodies as with 3.1.1");
	equal(r.telemetry()[0]!.temperature, 21.5, "temperature");
});

add("MQTT 5.0: an interval command makes the Message Expiry two new intervals (whole seconds, rounded up); one properties object serves every reading", () => {
	const r = rig5();
	const given: Array<PropertyValues | undefined> = [];
	const client = r.device.client;
	const publish = client.publish.bind(client);
	client.publish = (topic, payload, qos, retain, properties) => {
		if (topic === TELEMETRY) given.push(properties);
		return publish(topic, payload, qos, retain, properties);
	};
	r.time.advance(5_000);
	const expiries: number[] = [];
	for (const [interval, expiry] of [[2_500, 5], [1_500, 3], [1_000, 2], [MAX_INTERVAL, 7_200], [1_001, 3]] as const) {
		equal(r.ask("interval", String(interval)).ok, true, `interval ${interval}`);
		r.time.advance(interval);
		const last = r.published(TELEMETRY).at(-1)!;
		equal(last.properties?.messageExpiryInterval, expiry, `expiry after interval ${interval}`);
		expiries.push(expiry);
	}
	equal(given.length, 6, "six readings");
	ok(given.every((p) => p !== undefined && p === given[0]), "the same properties object each time");
	equal(r.device.telemetryProperties?.messageExpiryInterval, 3, "the one object holds the latest expiry");
	// A refused interval leaves it.
	expectError(r.ask("interval", "5"), "1000..3600000", "refused interval");
	equal(r.device.telemetryProperties?.messageExpiryInterval, 3, "unchanged");
});

add("MQTT 5.0: a command with a Response Topic is answered there, QoS 1, with its Correlation Data, as JSON; nothing on responses/<name>", () => {
	const r = rig5();
	const correlation = new Uint8Array([0, 1, 2, 0xFF, 0xFE, 0x80]);
	r.broker.take();
	r.broker.inject(cmd("ping"), "", { qos: 1, packetId: 9, properties: { responseTopic: ANSWERS, correlationData: correlation } });
	r.time.settle();
	const answers = r.published(ANSWERS);
	equal(answers.length, 1, "one answer on the response topic");
	const p = answers[0]!.packet as PublishPacket;
	equal(p.qos, 1, "QoS");
	equal(p.retain, false, "retain");
	deepEqual(answers[0]!.properties, { ...JSON_PROPERTIES, correlationData: correlation }, "Correlation Data, Content Type, Payload Format Indicator");
	const body = json(p);
	equal(body.ok, true, "ok");
	equal(body.led, "off", "the ping answer");
	equal(r.broker.publishes(resp("ping")).length, 0, "nothing on responses/ping");
	ok(r.broker.received.some((l) => l.packet.type === PUBACK && l.packet.packetId === 9), "the command's PUBACK");
	equal(r.device.client.pending, 0, "the answer was acknowledged");
	// The same for a command that fails, and for a restart (answered, then offline).
	r.broker.inject(cmd("led"), "blink", { qos: 1, properties: { responseTopic: ANSWERS, correlationData: new Uint8Array([7]) } });
	r.time.settle();
	const failed = r.published(ANSWERS)[1]!;
	expectError(json(failed.packet as PublishPacket), "led takes", "the error answer");
	deepEqual(failed.properties?.correlationData, new Uint8Array([7]), "its own correlation data");
	r.broker.inject(cmd("restart"), "", { qos: 1, properties: { responseTopic: ANSWERS } });
	r.time.settle();
	deepEqual(json(r.published(ANSWERS)[2]!.packet as PublishPacket), { ok: true, restarting: true }, "restart answered on the response topic");
	deepEqual(r.published(ANSWERS)[2]!.properties, JSON_PROPERTIES, "no correlation data when none came");
	deepEqual(r.statusTexts(), ["online", "offline"], "then offline");
	equal(r.restarts.length, 1, "restarted");
});

add("MQTT 5.0: a command without a Response Topic is answered on responses/<name>, as JSON; Correlation Data alone comes back with it", () => {
	const r = rig5();
	const body = r.ask("led", "on");
	deepEqual(body, { ok: true, led: "on" }, "answer");
	const answer = r.published(resp("led"))[0]!;
	deepEqual(answer.properties, JSON_PROPERTIES, "JSON, no correlation data");
	r.broker.inject(cmd("led"), "off", { qos: 1, properties: { correlationData: new Uint8Array([1, 2]) } });
	r.time.settle();
	const second = r.published(resp("led"))[1]!;
	deepEqual(second.properties, { ...JSON_PROPERTIES, correlationData: new Uint8Array([1, 2]) }, "correlation data echoed");
	deepEqual(r.host.led.calls, [true, false], "both ran");
});

add("MQTT 5.0: answers wait in the backlog with their response topics and correlation data, and go out in order", () => {
	const r = rig5();
	const topicOf = (i: number): string => (i % 2 ? `ui/${i}` : resp(`x${i}`));
	fillPool(r, FULL, (i) => ({ properties: i % 2 ? { responseTopic: topicOf(i), correlationData: new Uint8Array([i]) } : {} }));
	// The pool holds fewer answers than with 3.1.1 (their properties take room in its 4096 bytes): the last few are dropped.
	const dropped = r.host.system.traces.filter((t) => t.endsWith(": dropped")).length;
	ok(dropped >= 1 && dropped <= 8, `dropped: ${dropped}`);
	releaseAll(r);
	const expected: string[] = [];
	for (let i = 1; i <= FULL - dropped; i++) expected.push(topicOf(i));
	for (let i = FULL + 1 - dropped; i <= FULL; i++) ok(r.host.system.traces.includes(`no room for a message to ${topicOf(i)}: dropped`), `answer ${i} dropped and traced`);
	const answers = r.broker.received.filter((l) => l.packet.type === PUBLISH && (l.packet.topic.startsWith("ui/") || l.packet.topic.startsWith("devices/d1/responses/")));
	deepEqual(answers.map((l) => (l.packet as PublishPacket).topic), expected, "each where asked, in order, once");
	for (let i = 1; i <= expected.length; i += 2)
		deepEqual(answers[i - 1]!.properties?.correlationData, new Uint8Array([i]), `answer ${i}: its correlation data`);
	equal(r.device.client.pending, 0, "all acknowledged");
});

add("MQTT 5.0: an answer that cannot go to its Response Topic (a wildcard, or too large with it) goes to responses/<name>, and is traced", () => {
	const r = rig5();
	r.broker.inject(cmd("ping"), "", { qos: 1, properties: { responseTopic: "ui/+/answers", correlationData: new Uint8Array([5]) } });
	r.time.settle();
	equal(r.published(resp("ping")).length, 1, "a wildcard: answered on responses/ping");
	deepEqual(r.published(resp("ping"))[0]!.properties?.correlationData, new Uint8Array([5]), "with the correlation data");
	ok(r.host.system.traces.some((t) => t.includes("no answer on its response topic") && t.includes("wildcard")), `traced: ${show(r.host.system.traces.slice(-3))}`);
	// A topic that fits the 1024-byte receive buffer in the command, but not the answer in the transmit buffer.
	const long = `ui/${"x".repeat(940)}`;
	r.broker.inject(cmd("ping"), "", { qos: 1, properties: { responseTopic: long } });
	r.time.settle();
	equal(r.published(long).length, 0, "nothing on the long topic");
	equal(r.published(resp("ping")).length, 2, "answered on responses/ping");
	ok(r.host.system.traces.some((t) => t.includes("PACKET_TOO_LARGE")), `traced: ${show(r.host.system.traces.slice(-3))}`);
	ok(r.device.client.connected, "connected throughout");
});

add("MQTT 5.0: an answer the broker refuses (PUBACK 0x87 Not authorized) is traced", () => {
	const r = rig5();
	r.broker.ackReason = (p) => (p.topic === ANSWERS ? 0x87 : 0);
	r.broker.inject(cmd("ping"), "", { qos: 1, properties: { responseTopic: ANSWERS } });
	r.time.settle();
	equal(r.published(ANSWERS).length, 1, "sent");
	ok(r.host.system.traces.some((t) => t.includes("refused") && t.includes("0x87")), `traced: ${show(r.host.system.traces.slice(-3))}`);
	equal(r.device.client.pending, 0, "done with it");
});

add("MQTT 5.0: status online and offline carry no properties, retained, QoS 1; shutdown as with 3.1.1", () => {
	const r = rig5();
	r.time.advance(5_000);
	let done = 0;
	r.device.shutdown(() => { done++; });
	r.time.settle();
	const status = r.published(STATUS);
	deepEqual(status.map((l) => payloadText((l.packet as PublishPacket).payload)), ["online", "offline"], "online, then offline");
	for (const l of status) {
		deepEqual(l.properties, {}, "no properties");
		equal((l.packet as PublishPacket).qos, 1, "QoS");
		equal((l.packet as PublishPacket).retain, true, "retained");
	}
	equal(r.broker.received.at(-1)!.packet.type, DISCONNECT, "DISCONNECT last");
	equal(done, 1, "shut down");
	equal(r.broker.wills.length, 0, "the will is discarded");
});

add("MQTT 5.0: on a new connection the telemetry topic goes whole again (aliases start over); a broker with no aliases gets it whole each time", () => {
	const r = rig5();
	r.time.advance(10_000);
	r.broker.cut();
	r.time.advance(1_000);
	ok(r.device.client.connected, "reconnected");
	r.time.advance(10_000);
	const second = r.published(TELEMETRY).filter((l) => l.connection === 1);
	ok(second.length >= 2, `readings on the new connection: ${second.length}`);
	equal(second[0]!.asAlias, undefined, "the first with its topic");
	equal(second[0]!.properties?.topicAlias, 1, "setting the alias again");
	equal(second[1]!.asAlias, true, "then the alias");
	deepEqual(r.broker.errors, [], "the broker saw no alias it did not know");
	const time = new TimeBase();
	const broker = new FakeBroker(time);
	broker.connackProperties = {};
	const plain = rig5({}, { broker });
	plain.time.advance(15_000);
	const logs = plain.published(TELEMETRY);
	equal(logs.length, 3, "three readings");
	for (const l of logs) {
		equal(l.asAlias, undefined, "whole topic");
		equal(l.properties?.topicAlias, undefined, "no alias");
		equal(l.properties?.messageExpiryInterval, 10, "still expiring");
	}
});

// ---- Home Assistant MQTT discovery ---------------------------------------------------------------

const LED_STATE = "devices/d1/led";
/** What appears in Home Assistant: "<component>/<object>" and the fields that say what it is. */
const ENTITIES: Record<string, Body> = {
	"sensor/temperature": { state_topic: TELEMETRY, device_class: "temperature", unit_of_measurement: "°C", state_class: "measurement" },
	"sensor/humidity": { state_topic: TELEMETRY, device_class: "humidity", unit_of_measurement: "%", state_class: "measurement" },
	"switch/led": { command_topic: cmd("led"), state_topic: LED_STATE },
	"binary_sensor/sensor_problem": { state_topic: TELEMETRY, device_class: "problem" },
};

interface Config { topic: string; component: string; object: string; body: Body; retain: boolean; qos: number }

/** The config messages the device published under `prefix` (node id d1), parsed; the empty ones (a forget) as {}. */
function configs(r: Rig, prefix = "homeassistant"): Config[] {
	const out: Config[] = [];
	for (const l of r.broker.received) {
		if (l.connection < r.firstConnection || l.packet.type !== PUBLISH) continue;
		const p = l.packet;
		const m = new RegExp(`^${prefix}/([a-z_]+)/d1/([a-z_]+)/config$`).exec(p.topic);
		if (!m) continue;
		const text = payloadText(p.payload);
		out.push({ topic: p.topic, component: m[1]!, object: m[2]!, body: text === "" ? {} : json(p), retain: p.retain, qos: p.qos });
	}
	return out;
}

/** Checks one config against the table of fields; returns its `device` block. */
function checkConfig(c: Config): Body {
	const what = `${c.component}/${c.object}`;
	const missing = missingFields(c.component, c.body);
	if (missing.length > 0) fail(`${what}: required fields missing: ${missing.join(", ")} in ${show(c.body)}`);
	for (const [field, value] of Object.entries(ENTITIES[what] ?? fail(`${what}: not an entity of this device`)))
		equal(c.body[field], value, `${what}: ${field}`);
	equal(c.body.availability_topic, STATUS, `${what}: availability is the status topic`);
	equal(c.body.payload_available, "online", `${what}: payload_available`);
	equal(c.body.payload_not_available, "offline", `${what}: payload_not_available`);
	equal(c.body.unique_id, `d1_${c.object}`, `${what}: unique_id`);
	equal(c.retain, true, `${what}: retained`);
	equal(c.qos, 1, `${what}: QoS 1`);
	const device = c.body.device as Body;
	ok(Array.isArray(device.identifiers) && (device.identifiers as unknown[]).includes("d1"), `${what}: device.identifiers lists the device id`);
	return device;
}

add("Home Assistant discovery: on connect, one retained config per entity under homeassistant/<component>/<deviceId>/<object>/config, each with the fields its component requires and one shared device block", () => {
	const r = new Rig();
	const list = configs(r);
	deepEqual(list.map((c) => `${c.component}/${c.object}`), Object.keys(ENTITIES), "temperature, humidity, the LED switch, the sensor problem");
	const devices = list.map(checkConfig);
	for (const d of devices) deepEqual(d, devices[0], "one device block shared by all");
	deepEqual(devices[0], { identifiers: ["d1"], name: "d1", model: "MQTT sensor node (fake-sht)", sw_version: FIRMWARE_VERSION, manufacturer: "xs-mqtt" }, "the device block");
	equal(new Set(list.map((c) => c.body.unique_id)).size, list.length, "unique ids differ");
	for (const c of list) if (c.body.expire_after !== undefined) equal(c.body.expire_after, (EXPIRE_INTERVALS * 5_000) / 1000, `${c.object}: expire_after is ${EXPIRE_INTERVALS} missed intervals`);
	for (const c of list) equal(r.broker.retained.get(c.topic)?.payload, JSON.stringify(c.body), `${c.topic}: held by the broker`);
	// The switch's state is there from the start.
	equal(r.broker.retained.get(LED_STATE)?.payload, "OFF", "the LED state, retained");
});

add("Home Assistant discovery: the value templates read fields the telemetry has; the problem sensor reads the error field a failed read sets", () => {
	const r = new Rig();
	const byObject = new Map(configs(r).map((c) => [c.object, c.body]));
	r.time.advance(5_000);
	const good = r.telemetry()[0]!;
	for (const object of ["temperature", "humidity"]) {
		const fields = templateFields(byObject.get(object)!.value_template);
		deepEqual(fields, [object], `${object}: the template reads value_json.${object}`);
		equal(typeof good[object], "number", `${object}: telemetry has it as a number`);
	}
	deepEqual(templateFields(byObject.get("sensor_problem")!.value_template), ["error"], "the problem sensor reads value_json.error");
	equal(good.error, undefined, "no error on a good reading");
	r.host.sensor.failWith = "no ACK";
	r.time.advance(5_000);
	equal(typeof r.telemetry()[1]!.error, "string", "a failed read sets error");
});

add("Home Assistant discovery: the switch's payload_on/payload_off on its command topic turn the LED on and off, and its retained state topic follows", () => {
	const r = new Rig();
	const sw = configs(r).find((c) => c.component === "switch")!.body;
	for (const [payload, on] of [[sw.payload_on, true], [sw.payload_off, false], [sw.payload_on, true]] as Array<[string, boolean]>) {
		// Home Assistant publishes with the switch's qos, not retained.
		r.broker.inject(String(sw.command_topic), payload, { qos: sw.qos as QoS });
		r.time.settle();
		equal(r.host.led.calls[r.host.led.calls.length - 1], on, `${payload}: the LED`);
		equal(r.broker.retained.get(String(sw.state_topic))?.payload, on ? sw.state_on : sw.state_off, `${payload}: the state topic`);
	}
	deepEqual(r.published(LED_STATE).map((l) => payloadText((l.packet as PublishPacket).payload)), ["OFF", "ON", "OFF", "ON"], "on connect, then on each change");
	// A reconnection publishes the state again (with the configs).
	const before = configs(r).length;
	r.broker.cut();
	r.time.advance(1_000);
	ok(r.device.client.connected, "reconnected");
	equal(configs(r).length, before + 4, "the configs again");
	equal(payloadText((r.published(LED_STATE).pop()!.packet as PublishPacket).payload), "ON", "the state again");
});

add("Home Assistant discovery: an interval command publishes the configs again with expire_after following the new interval", () => {
	const r = new Rig();
	equal(r.ask("interval", "20000").ok, true, "interval");
	const list = configs(r);
	equal(list.length, 8, "four configs, then four again");
	for (const c of list.slice(4)) checkConfig(c);
	for (const c of list.slice(4)) if (c.component !== "switch") equal(c.body.expire_after, EXPIRE_INTERVALS * 20, `${c.object}: expire_after`);
});

add("forget: clears every config (empty retained payloads), answers with their topics, and no config goes out again until the next boot", () => {
	const r = new Rig();
	const topics = configs(r).map((c) => c.topic);
	const body = r.ask("forget", "");
	equal(body.ok, true, "ok");
	deepEqual(body.forgotten, topics, "names the topics it cleared");
	const after = configs(r).slice(topics.length);
	deepEqual(after.map((c) => c.topic), topics, "one empty message per config topic");
	for (const c of after) {
		deepEqual(c.body, {}, `${c.topic}: empty`);
		equal(c.retain, true, `${c.topic}: retained`);
		equal(r.broker.retained.has(c.topic), false, `${c.topic}: the broker holds nothing`);
	}
	// Neither an interval change nor a reconnection announces it again.
	r.ask("interval", "7000");
	r.broker.cut();
	r.time.advance(1_000);
	ok(r.device.client.connected, "reconnected");
	equal(configs(r).length, topics.length * 2, "nothing more");
	// The device itself still works.
	equal(r.ask("led", "ON").ok, true, "the LED still answers");
	// The next boot announces it again.
	const rebooted = new Rig({ broker: r.broker, storage: r.storage });
	equal(configs(rebooted).length, topics.length, "announced again after a boot");
});

add("discoveryPrefix: another prefix is used as given; \"\" publishes no config and forget says discovery is off; a bad one is refused, naming it", () => {
	const r = new Rig({ config: { discoveryPrefix: "ha/test" } });
	const list = configs(r, "ha/test");
	equal(list.length, 4, "four configs under ha/test");
	list.forEach(checkConfig);
	equal(configs(r).length, 0, "none under homeassistant");

	const off = new Rig({ config: { discoveryPrefix: "" } });
	equal(off.broker.publishes().filter((p) => p.topic.endsWith("/config")).length, 0, "no config with discovery off");
	expectError(off.ask("forget", ""), "discovery is off", "forget");
	equal(off.statusTexts()[0], "online", "the device runs as before");

	equal(parseDiscoveryPrefix(undefined), "homeassistant", "default");
	equal(parseDiscoveryPrefix(""), "", "off");
	for (const bad of ["a/#", "ha/+", "ha/", 7])
		try {
			parseDiscoveryPrefix(bad, "DISCOVERY_PREFIX");
			fail(`accepted ${show(bad)}`);
		}
		catch (error) {
			ok(String((error as Error).message).includes("DISCOVERY_PREFIX must be"), `${show(bad)}: ${(error as Error).message}`);
		}
});

// ---- settings that survive a restart: config, interval, saved settings at boot ----------------

/** The settings the fake flash holds, parsed (undefined: none). */
function savedSettings(r: Rig): Body | undefined {
	return r.storage.settings === undefined ? undefined : JSON.parse(r.storage.settings) as Body;
}

add("config {\"telemetryInterval\":…}: checked, applied at once (the next reading one interval later), saved, answered with the settings", () => {
	const r = new Rig();
	r.time.advance(3_000);
	const at = r.time.now();
	const body = r.ask("config", "{\"telemetryInterval\":2000}");
	equal(body.ok, true, `ok: ${show(body)}`);
	equal(body.saved, true, "saved");
	deepEqual(body.settings, { telemetryInterval: 2_000 }, "the resulting settings");
	equal(r.device.interval, 2_000, "applied");
	deepEqual(savedSettings(r), { telemetryInterval: 2_000 }, "in the settings store");
	r.time.advance(4_500);
	deepEqual(r.telemetryTimes(), [at + 2_000, at + 4_000], "telemetry every 2 s from the command on");
	// `{}` changes nothing and saves nothing: it answers the settings.
	const writes = r.storage.settingsWrites.length;
	deepEqual(r.ask("config", "{}").settings, { telemetryInterval: 2_000 }, "{} answers the settings");
	equal(r.storage.settingsWrites.length, writes, "{} saves nothing");
});

add("interval saves the new interval too: the answer says saved, the store holds it", () => {
	const r = new Rig();
	deepEqual(r.ask("interval", "7000"), { ok: true, interval: 7_000, saved: true }, "answer");
	deepEqual(savedSettings(r), { telemetryInterval: 7_000 }, "saved");
	// A refused one saves nothing.
	expectError(r.ask("interval", "5"), "1000..3600000", "refused");
	deepEqual(r.storage.settingsWrites.map((w) => JSON.parse(w) as Body), [{ telemetryInterval: 7_000 }], "one write");
});

add("a boot with saved settings uses them over the configuration's (after config, after interval, after a restart command)", () => {
	const r = new Rig({ config: { telemetryInterval: 5_000 } });
	equal(r.ask("config", "{\"telemetryInterval\":3000}").ok, true, "config");
	equal(restartNow(r).restarting, true, "restart ordered");
	r.time.settle();
	equal(r.restarts.length, 1, "restarted");
	const rebooted = new Rig({ broker: r.broker, storage: r.storage, config: { telemetryInterval: 5_000 } });
	equal(rebooted.device.interval, 3_000, "the saved interval, not the configured 5000");
	equal(rebooted.device.settingsError, undefined, "no problem reported");
	rebooted.time.advance(6_500);
	deepEqual(rebooted.telemetryTimes(), [rebooted.boot + 3_000, rebooted.boot + 6_000], "telemetry every 3 s after the boot");
	ok(rebooted.host.system.traces[0]!.includes("telemetry every 3000 ms"), `the boot line: ${rebooted.host.system.traces[0]}`);
	deepEqual(rebooted.ask("config", "").settings, { telemetryInterval: 3_000 }, "config answers it");
	// interval saves as well: the next boot has its value.
	equal(rebooted.ask("interval", "9000").ok, true, "interval");
	equal(new Rig({ storage: r.storage }).device.interval, 9_000, "the interval command's value after the next boot");
});

add("bad saved settings are ignored and reported (trace, info, config answer), never a crash; the configuration's interval is used", () => {
	const cases: Array<[string | undefined, string, string | undefined]> = [
		["not json", "settings are a JSON object", undefined],
		["", "settings are a JSON object", undefined],
		["null", "settings are a JSON object", undefined],
		["[3000]", "settings are a JSON object", undefined],
		["{\"telemetryInterval\":5}", "telemetryInterval must be 1000..3600000 ms, not 5", undefined],
		["{\"telemetryInterval\":\"3000\"}", "telemetryInterval takes an integer", undefined],
		["{\"telemetryInterval\":3000,\"mqttHost\":\"evil\"}", "\"mqttHost\"", undefined],
		[undefined, "could not be read: flash error", "flash error"],
	];
	for (const [text, fragment, loadFails] of cases) {
		const storage = new FakeStorage();
		storage.settings = text;
		storage.settingsLoadFails = loadFails;
		const what = show(text ?? loadFails);
		const r = new Rig({ storage, config: { telemetryInterval: 4_000 } });
		equal(r.device.interval, 4_000, `${what}: the configured interval`);
		ok(typeof r.device.settingsError === "string" && r.device.settingsError.includes(fragment), `${what}: the reason names ${show(fragment)}: ${show(r.device.settingsError)}`);
		ok(r.host.system.traces.some((t) => t.startsWith("saved settings ignored") && t.includes(fragment)), `${what}: traced: ${show(r.host.system.traces)}`);
		const info = r.broker.retained.get(INFO);
		ok(info !== undefined && (JSON.parse(info.payload) as Body).settingsError === r.device.settingsError, `${what}: info reports it: ${show(info)}`);
		const answer = r.ask("config", "");
		equal(answer.settingsError, r.device.settingsError, `${what}: config reports it`);
		r.time.advance(4_000);
		equal(r.telemetry().length, 1, `${what}: telemetry as configured`);
		equal(storage.settingsWrites.length, 0, `${what}: nothing written over them by the boot`);
	}
});

add("config refuses unknown keys, keys not changeable at run time and bad values, naming them; nothing changes and nothing is saved", () => {
	const r = new Rig();
	const bad: Array<[Payload, string]> = [
		["{\"telemetryInterval\":5}", "telemetryInterval must be 1000..3600000 ms, not 5"],
		["{\"telemetryInterval\":3600001}", "telemetryInterval must be 1000..3600000"],
		["{\"telemetryInterval\":2500.5}", "telemetryInterval takes an integer"],
		["{\"telemetryInterval\":\"2000\"}", "telemetryInterval takes an integer"],
		["{\"telemetryInterval\":null}", "telemetryInterval takes an integer"],
		["{\"telemetryInterval\":2000,\"bogus\":1}", "\"bogus\""],
		["{\"discoveryPrefix\":\"x\"}", "\"discoveryPrefix\""],
		["{\"mqttPassword\":\"x\",\"mqttHost\":\"y\"}", "\"mqttPassword\", \"mqttHost\""],
		["[2000]", "JSON object"],
		["2000", "JSON object"],
		["{\"telemetryInterval\":2000", "config takes a JSON object"],
		[new Uint8Array([0xFF, 0xFE, 0x00]), "config takes a JSON object"],
	];
	for (const [payload, fragment] of bad) expectError(r.ask("config", payload), fragment, `config ${show(payload)}`);
	equal(r.device.interval, 5_000, "unchanged");
	equal(r.storage.settingsWrites.length, 0, "nothing saved");
	r.time.advance(5_000);
	equal(r.telemetry().length, 1, "telemetry as before");
});

add("config with no payload answers the settings and the configuration, never the user name or the password", () => {
	const r = new Rig({ config: { mqttUser: "alice-login", mqttPassword: "hunter2-secret", discoveryPrefix: "ha" } });
	const before = r.storage.settingsWrites.length;
	for (const payload of ["", " "]) {
		const body = r.ask("config", payload);
		equal(body.ok, true, "ok");
		deepEqual(body.settings, { telemetryInterval: 5_000 }, "the settings");
		const config = body.config as Body;
		equal(config.deviceId, "d1", "device id");
		equal(config.mqttHost, "broker.test", "broker");
		equal(config.mqttLogin, true, "that there is a login");
		equal(config.discoveryPrefix, "ha", "discovery prefix");
		const text = JSON.stringify(body);
		ok(!text.includes("hunter2-secret") && !text.includes("alice-login"), `no secrets: ${text}`);
		ok(!("mqttPassword" in config) && !("mqttUser" in config), "no login fields");
	}
	equal(r.storage.settingsWrites.length, before, "asking saves nothing");
});

add("a settings store that fails to save: the change still applies, the answer says saved: false, a trace says why", () => {
	const r = new Rig();
	r.storage.settingsSaveFails = "flash full";
	const body = r.ask("config", "{\"telemetryInterval\":1500}");
	equal(body.ok, true, "applied");
	equal(body.saved, false, "not saved");
	equal(r.device.interval, 1_500, "interval");
	ok(r.host.system.traces.some((t) => t.includes("not saved: flash full")), "traced");
	// Without any settings store (a host that has none): the same.
	const bare = new Rig({ settle: false });
	bare.host.settings = undefined;
	bare.time.settle();
	equal(bare.ask("interval", "2000").saved, false, "no store: saved false");
});

// ---- info ----------------------------------------------------------------------------------

add("info: on every connect a retained QoS 1 message on <prefix>/<id>/info with firmware, platform, IP, RSSI, free memory and reset reason", () => {
	const r = new Rig();
	const first = r.published(INFO);
	equal(first.length, 1, "one info message on connect");
	const p = first[0]!.packet as PublishPacket;
	equal(p.qos, 1, "QoS 1");
	equal(p.retain, true, "retained");
	const body = json(p);
	equal(body.firmware, FIRMWARE_VERSION, "firmware version (the one discovery reports)");
	equal(body.platform, "fake platform 1.0", "platform");
	equal(body.ip, "192.0.2.7", "IP address");
	equal(body.rssi, -61, "Wi-Fi RSSI");
	equal(body.freeMemory, 123_456, "free memory");
	equal(body.heapUsed, 65_432, "heap used");
	equal(body.resetReason, "power on", "reset reason");
	equal(body.deviceId, "d1", "device id");
	deepEqual(body.settings, { telemetryInterval: 5_000 }, "settings");
	ok(!JSON.stringify(body).includes("settingsError"), "no settings problem");
	ok(r.broker.retained.has(INFO), "the broker keeps it");
	// Every connect: after a lost connection, again, with what is true now.
	r.ask("interval", "2000");
	r.host.system.memoryFree = 99_000;
	r.broker.cut();
	r.time.advance(30_000);
	ok(r.device.client.connected, "reconnected");
	const all = r.published(INFO);
	ok(all.length >= 2, `info again on the reconnection: ${all.length}`);
	const latest = json(all[all.length - 1]!.packet as PublishPacket);
	equal(latest.freeMemory, 99_000, "memory now");
	deepEqual(latest.settings, { telemetryInterval: 2_000 }, "settings now");
});

add("info carries only what the host tells: no IP, RSSI or reset reason without them; a failing info() leaves platform unknown", () => {
	const storage = new FakeStorage();
	const r = new Rig({ settle: false, storage });
	r.host.system.hostInfo = { platform: "XS engine" };
	r.time.settle();
	const body = json(r.published(INFO)[0]!.packet as PublishPacket);
	equal(body.platform, "XS engine", "platform");
	for (const field of ["ip", "rssi", "resetReason"]) ok(!(field in body), `no ${field}`);
	const failing = new Rig({ settle: false });
	failing.host.system.hostInfo = undefined;
	failing.time.settle();
	equal(json(failing.published(INFO)[0]!.packet as PublishPacket).platform, "unknown", "platform unknown");
	ok(failing.host.system.traces.some((t) => t.startsWith("no platform info")), "traced");
	equal(failing.statusTexts()[0], "online", "the device runs on");
});
