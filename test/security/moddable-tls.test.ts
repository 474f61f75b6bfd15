// TLS in the Moddable SDK's simulator: the firmware built with mqttTls and the test CA as a DER resource
// comes online over TLS, and an untrusted certificate or another name gives TLS_ERROR (and no XS abort).

import * as assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, HOST, startBroker } from "../lib/broker.js";
import type { Broker } from "../lib/broker.js";
import { makeCertificates, missingForTls } from "../lib/certificates.js";
import type { Certificates, ServerCertificate } from "../lib/certificates.js";
import { buildForSimulator, findSimulator, runInSimulator } from "../lib/mcsim.js";
import type { Group } from "../lib/mcsim.js";
import { ROOT } from "../lib/moddable.js";
import { reportSkip } from "../lib/output.js";
import { Peer } from "../lib/peers.js";
import { Signal, TimeoutError } from "../lib/signal.js";

const BUILD_TIMEOUT = 150_000;
const DEVICE_ID = `mtls-${process.pid}-${Date.now().toString(36)}`;
const BASE = `devices/${DEVICE_ID}`;

function tail(text: string, lines = 30): string {
	return text.trimEnd().split("\n").slice(-lines).join("\n");
}

describe("security: TLS on the Moddable simulator (mcsim, CA as a resource)", function () {
	this.timeout(30_000);
	let certs: Certificates | undefined;
	let dir: string | undefined;
	let library: string | undefined;
	let port = 0;
	let broker: Broker | undefined;
	let watcher: Peer | undefined;
	let sim: Group | undefined;
	const signal = new Signal();

	before(async function () {
		const why = missingForTls() ?? findSimulator().reason;
		if (why) {
			reportSkip("TLS on the Moddable simulator", why);
			return this.skip();
		}
		this.timeout(BUILD_TIMEOUT + 30_000);
		certs = makeCertificates();
		dir = mkdtempSync(join(tmpdir(), "xs-mqtt-mcsim-tls-"));
		// README "Building for Moddable": the CA in DER as a resource, named by mqttCa.
		copyFileSync(certs.ca.der, join(dir, "mqtt-ca.der"));
		const manifest = join(dir, "manifest.json");
		writeFileSync(manifest, JSON.stringify({ include: [join(ROOT, "manifest.json")], resources: { "*": "./mqtt-ca" } }, null, "\t"));
		port = await freePort();
		const started = performance.now();
		library = await buildForSimulator(findSimulator().simulator!, dir, manifest, {
			mqttHost: HOST, mqttPort: port, mqttTls: true, mqttCa: "mqtt-ca.der",
			deviceId: DEVICE_ID, topicPrefix: "devices", telemetryInterval: 1000, keepAlive: 5,
		}, BUILD_TIMEOUT);
		process.stdout.write(`    mcconfig -m -p lin with mqttTls=true mqttCa=mqtt-ca.der: built in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
	});

	/** mosquitto on the port the firmware was built for, with `cert`; a watcher that trusts it; then the simulator. */
	async function start(cert: ServerCertificate, serverName?: string): Promise<void> {
		broker = await startBroker({ kind: "mosquitto", port, tls: { certfile: cert.certfile, keyfile: cert.keyfile, cafile: cert.issuer.file } });
		watcher = await Peer.connect(port, { protocol: "mqtts", ca: cert.issuer.pem, servername: serverName, rejectUnauthorized: true });
		await watcher.subscribe(`${BASE}/#`, 1);
		sim = runInSimulator(findSimulator().simulator!, library!, dir!);
		sim.onOutput = () => signal.notify();
	}

	function output(): string {
		return sim?.output() ?? "";
	}

	/** Waits on the simulator's output; a timeout shows it. */
	async function until(condition: () => boolean, timeout: number, what: string): Promise<void> {
		try {
			await signal.until(condition, timeout, what);
		}
		catch (error) {
			if (error instanceof TimeoutError) throw new TimeoutError(`${error.message}\n--- simulator output ---\n${tail(output())}`);
			throw error;
		}
	}

	afterEach(async function () {
		this.timeout(20_000);
		if (this.currentTest?.state === "failed" && sim) process.stdout.write(`--- simulator output ---\n${tail(output())}\n---\n`);
		await sim?.end(["mcsim"]);
		sim = undefined;
		await watcher?.close();
		watcher = undefined;
		await broker?.stop();
		broker = undefined;
	});

	after(async function () {
		this.timeout(20_000);
		await sim?.end(["mcsim"]);
		await watcher?.close();
		await broker?.stop();
		if (dir) rmSync(dir, { recursive: true, force: true });
		certs?.remove();
	});

	it("trusting the CA resource, it comes online over TLS (127.0.0.1 is in the certificate) and publishes telemetry", async () => {
		await start(certs!.server);
		const peer = watcher!;
		const status = (): string[] => peer.on(`${BASE}/status`).map((m) => m.payload.toString());
		try {
			await peer.until(() => status().includes("online"), 20_000, `"online" over TLS`);
			await peer.until(() => peer.on(`${BASE}/telemetry`).length >= 2, 5000, "telemetry over TLS");
		}
		catch (error) {
			throw new Error(`${(error as Error).message}\n--- simulator output ---\n${tail(output())}`);
		}
		assert.match(output(), new RegExp(`connected to ${HOST.replace(/\./g, "\\.")}:${port}`));
		assert.doesNotMatch(output(), /TLS_ERROR|XS abort/);
	});

	for (const c of [
		{ what: "a certificate from a CA it does not trust", cert: (p: Certificates) => p.rogueServer, serverName: undefined as string | undefined },
		{ what: "a certificate from its CA for another name (wrong.example)", cert: (p: Certificates) => p.otherName, serverName: "wrong.example" },
	]) {
		it(`${c.what}: TLS_ERROR traced, attempt after attempt, and XS keeps running`, async () => {
			await start(c.cert(certs!), c.serverName);
			const refusals = (): number => output().split("\n").filter((l) => l.startsWith("error: TLS_ERROR")).length;
			const aborted = (): boolean => /XS abort|Segmentation fault/.test(output());
			await until(() => refusals() >= 2 || aborted() || !sim!.running, 10_000, "two traced TLS_ERROR refusals");
			assert.ok(!aborted() && sim!.running, `the firmware died instead of reporting the refusal:\n${tail(output())}`);
			const line = output().split("\n").find((l) => l.startsWith("error: TLS_ERROR"))!;
			assert.match(line, /certificate was refused/, line);
			assert.doesNotMatch(output(), /connected to /);
			assert.deepEqual(watcher!.on(`${BASE}/status`), [], "no status from a device that never connected");
		});
	}
});
