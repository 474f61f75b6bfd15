// For the authentication tests: mosquitto with a password file (mosquitto_passwd, in a temp dir) for a suite,
// and a raw CONNECT that reads mosquitto's CONNACK return code off the wire (mqtt-packet, not our decoder).

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generate, parser } from "mqtt-packet";
import { findMosquitto, findTool, HOST, startBroker } from "./broker.js";
import type { Broker } from "./broker.js";
import { reportSkip } from "./output.js";
import { closeAll } from "./peers.js";

export interface PasswordFile {
	file: string;
	/** Removes the temp dir. */
	remove(): void;
}

/** Why a test with a password-protected mosquitto cannot run here, or undefined. */
export function missingForPasswords(): string | undefined {
	if (process.env.MQTT_TEST_BROKER === "aedes") return "MQTT_TEST_BROKER=aedes, and the password file is mosquitto's";
	if (!findMosquitto()) return "mosquitto is not installed (the aedes fallback has no password file)";
	if (!findTool("mosquitto_passwd")) return "mosquitto_passwd is not installed";
	return undefined;
}

/** A password_file with `users` (name to password), hashed by `mosquitto_passwd -b`. */
export function makePasswordFile(users: Record<string, string>): PasswordFile {
	const tool = findTool("mosquitto_passwd");
	if (!tool) throw new Error("mosquitto_passwd is not installed");
	const dir = mkdtempSync(join(tmpdir(), "mqtt-security-passwd-"));
	const file = join(dir, "passwords");
	try {
		let first = true;
		for (const [name, password] of Object.entries(users)) {
			const r = spawnSync(tool, first ? ["-b", "-c", file, name, password] : ["-b", file, name, password], { encoding: "utf8", timeout: 10_000 });
			// Its messages may quote the command line: never the password in our errors.
			if (r.error || r.status !== 0) throw new Error(`mosquitto_passwd failed for user ${name} (exit ${r.status ?? r.error?.message})`);
			first = false;
		}
	}
	catch (error) {
		rmSync(dir, { recursive: true, force: true });
		throw error;
	}
	return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Registers, in the calling describe(), the hooks of a suite against mosquitto with a password file for
 * `users` and allow_anonymous false: before() skips (saying why, for `what`) when missingForPasswords()
 * gives a reason, else starts it; afterEach() closes what a test opened (closeAll); after() ends it all.
 * Returns the running broker.
 */
export function passwordBroker(what: string, users: Record<string, string>): () => Broker {
	let passwords: PasswordFile | undefined;
	let broker: Broker | undefined;
	before(async function () {
		const why = missingForPasswords();
		if (why) {
			reportSkip(what, why);
			return this.skip();
		}
		passwords = makePasswordFile(users);
		broker = await startBroker({ kind: "mosquitto", passwordFile: passwords.file });
	});
	afterEach(closeAll);
	after(async () => {
		await closeAll();
		await broker?.stop();
		passwords?.remove();
	});
	return () => {
		if (!broker) throw new Error("the password-protected broker is not running");
		return broker;
	};
}

/**
 * Sends one MQTT 3.1.1 CONNECT to 127.0.0.1:`port` and resolves with the CONNACK return code the
 * broker answers (rejects if none comes within `timeout` ms).
 */
export function connackReturnCode(port: number, credentials: { username?: string; password?: string }, timeout = 3000): Promise<number> {
	return new Promise((resolve, reject) => {
		const socket = net.connect({ host: HOST, port });
		const decoder = parser({ protocolVersion: 4 });
		const timer = setTimeout(() => finish(new Error(`no CONNACK within ${timeout} ms`)), timeout);
		let done = false;
		const finish = (result: number | Error): void => {
			if (done) return;
			done = true;
			clearTimeout(timer);
			socket.destroy();
			if (typeof result === "number") resolve(result);
			else reject(result);
		};
		decoder.on("packet", (packet) => {
			if (packet.cmd === "connack") finish(packet.returnCode ?? -1);
			else finish(new Error(`expected CONNACK, got ${packet.cmd}`));
		});
		decoder.on("error", (error) => finish(error));
		socket.on("data", (chunk) => decoder.parse(chunk));
		socket.on("error", (error) => finish(error));
		socket.on("close", () => finish(new Error("the broker closed the connection without CONNACK")));
		socket.on("connect", () => {
			socket.write(generate({
				cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 10,
				clientId: `probe-${process.pid}-${Math.floor(Math.random() * 1e9).toString(36)}`,
				username: credentials.username,
				password: credentials.password === undefined ? undefined : Buffer.from(credentials.password),
			}));
		});
	});
}
