// TLS against mosquitto with throwaway certificates: the Node client and the firmware on the XS engine
// connect when they trust the CA and the name matches, and refuse other certificates with TLS_ERROR.

import * as assert from "node:assert/strict";
import { XsDevice } from "../../hosts/xs/device-runner.js";
import { HOST, startBroker } from "../lib/broker.js";
import type { Broker } from "../lib/broker.js";
import { makeCertificates, missingForTls } from "../lib/certificates.js";
import type { Certificates, ServerCertificate } from "../lib/certificates.js";
import { reportSkip } from "../lib/output.js";
import { closeAll, codeOf, Ours, Peer, unique } from "../lib/peers.js";
import { Signal, sleep } from "../lib/signal.js";

/** mosquitto's TLS listener settings for a certificate (cafile: the CA that signed it). */
function listener(cert: ServerCertificate): { certfile: string; keyfile: string; cafile: string } {
	return { certfile: cert.certfile, keyfile: cert.keyfile, cafile: cert.issuer.file };
}

/** The one failure a client that must not connect reports: waits for it and checks nothing else happened. */
async function refusal(ours: Ours): Promise<Error> {
	await ours.until(() => ours.errors.length >= 1, 5000, "onError");
	await sleep(100); // a window for what must not come: a connection, another attempt
	assert.equal(ours.connects.length, 0, "never connected");
	assert.equal(ours.closes.length, 0, "no onClose: no connection was established");
	assert.equal(ours.errors.length, 1, "reconnect: false makes one attempt");
	return ours.errors[0]!.error;
}

describe("security: TLS (mosquitto, throwaway CA)", function () {
	this.timeout(15_000);
	let certs: Certificates | undefined;
	let broker: Broker | undefined;
	let rogue: Broker | undefined;
	let otherName: Broker | undefined;

	before(async function () {
		const why = missingForTls();
		if (why) {
			reportSkip("TLS tests", why);
			return this.skip();
		}
		this.timeout(30_000);
		certs = makeCertificates();
		// broker and rogue: the same names (localhost, 127.0.0.1), another signer. otherName: our CA, another name.
		broker = await startBroker({ kind: "mosquitto", tls: listener(certs.server) });
		rogue = await startBroker({ kind: "mosquitto", tls: listener(certs.rogueServer) });
		otherName = await startBroker({ kind: "mosquitto", tls: listener(certs.otherName) });
	});
	afterEach(closeAll);
	after(async () => {
		await closeAll();
		await broker?.stop();
		await rogue?.stop();
		await otherName?.stop();
		certs?.remove();
	});

	describe("the Node client", () => {
		it("connects to 127.0.0.1 when it trusts the CA (the IP address is in the certificate) and messages flow", async () => {
			const topic = unique("tls");
			const ours = new Ours({ port: broker!.port, tls: { ca: certs!.ca.pem } });
			await ours.connected();
			assert.equal(await ours.subscribe(topic, 1, ours.handler("sub")), 1);
			assert.ok(ours.client.publish(topic, "over TLS", 1) > 0);
			await ours.until(() => ours.on(topic).length === 1, 3000, "our own message back over TLS");
			assert.equal(new TextDecoder().decode(ours.on(topic)[0]!.payload), "over TLS");
			assert.deepEqual(ours.errors, []);
		});

		it("connects by the name localhost, and to 127.0.0.1 with serverName localhost", async () => {
			const byName = new Ours({ host: "localhost", port: broker!.port, tls: { ca: certs!.ca.pem }, reconnect: false });
			const byServerName = new Ours({ port: broker!.port, tls: { ca: certs!.ca.pem, serverName: "localhost" }, reconnect: false });
			await byName.connected();
			await byServerName.connected();
			assert.deepEqual([...byName.errors, ...byServerName.errors], []);
		});

		it("refuses a certificate signed by a CA it does not trust: TLS_ERROR saying the certificate is not trusted", async () => {
			// It trusts our CA; the broker shows the rogue CA's certificate, with the right names.
			const trustsOther = new Ours({ port: rogue!.port, tls: { ca: certs!.ca.pem }, reconnect: false });
			// No CA given: Node's own roots, which know neither test CA.
			const systemRoots = new Ours({ port: broker!.port, tls: true, reconnect: false });
			for (const ours of [trustsOther, systemRoots]) {
				const error = await refusal(ours);
				assert.equal(codeOf(error), "TLS_ERROR", error.message);
				assert.match(error.message, /certificate is not trusted/, error.message);
				assert.ok(error.message.includes(`${HOST}:`), `names the broker: ${error.message}`);
			}
		});

		it("refuses a name the certificate does not carry: TLS_ERROR saying the name does not match", async () => {
			const wrongName = new Ours({ port: broker!.port, tls: { ca: certs!.ca.pem, serverName: "wrong.example" }, reconnect: false });
			const error = await refusal(wrongName);
			assert.equal(codeOf(error), "TLS_ERROR", error.message);
			assert.match(error.message, /does not match the name "wrong\.example"/, error.message);
		});

		it("refuses a certificate from the trusted CA made out to another name, whether it connects by address or by name", async () => {
			const byAddress = new Ours({ port: otherName!.port, tls: { ca: certs!.ca.pem }, reconnect: false });
			const byName = new Ours({ host: "localhost", port: otherName!.port, tls: { ca: certs!.ca.pem }, reconnect: false });
			for (const [ours, name] of [[byAddress, HOST], [byName, "localhost"]] as const) {
				const error = await refusal(ours);
				assert.equal(codeOf(error), "TLS_ERROR", error.message);
				assert.ok(error.message.includes(`does not match the name "${name}"`), error.message);
			}
		});

		it("keeps refusing with backoff, and never reaches MQTT (no onConnect, no onClose)", async () => {
			const ours = new Ours({ port: rogue!.port, tls: { ca: certs!.ca.pem }, reconnect: { initialDelay: 50, factor: 2, maxDelay: 400, jitter: 0 } });
			await ours.until(() => ours.errors.length >= 4, 5000, "four refused attempts");
			assert.deepEqual(ours.errors.map((e) => codeOf(e.error)), Array(ours.errors.length).fill("TLS_ERROR"));
			const at = ours.errors.map((e) => e.at);
			const gaps = at.slice(1).map((t, i) => t - at[i]!);
			for (let i = 1; i < gaps.length; i++) assert.ok(gaps[i]! > gaps[i - 1]!, `gaps grow: ${gaps.map(Math.round).join(", ")} ms`);
			assert.equal(ours.connects.length + ours.closes.length, 0);
		});

		it("with insecure: true connects anyway (tests only): the untrusted certificate, and the wrong name", async () => {
			const untrusted = new Ours({ port: rogue!.port, tls: { insecure: true }, reconnect: false });
			const wrongName = new Ours({ port: broker!.port, tls: { ca: certs!.ca.pem, serverName: "wrong.example", insecure: true }, reconnect: false });
			await untrusted.connected();
			await wrongName.connected();
			assert.deepEqual([...untrusted.errors, ...wrongName.errors], []);
		});
	});

	describe("the firmware on the XS engine (mqttTls, mqttCa as PEM text)", () => {
		const devices: XsDevice[] = [];
		afterEach(async function () {
			this.timeout(20_000);
			for (const device of devices.splice(0)) await device.kill();
		});

		/** A device id no other test or run uses. */
		function newDeviceId(): string {
			return `tls-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
		}

		/** Starts the firmware for the TLS broker on `port`, trusting `ca`; its trace lines (and error output) go to `lines`. */
		async function firmware(deviceId: string, port: number, ca: string, lines: string[], signal: Signal): Promise<XsDevice> {
			const record = (line: string): void => {
				lines.push(line);
				signal.notify();
			};
			const device = new XsDevice({
				config: {
					deviceId, topicPrefix: "devices", mqttHost: HOST, mqttPort: port,
					mqttTls: true, mqttCa: ca, telemetryInterval: 1000, keepAlive: 10,
				},
				onTrace: record,
				onError: (text) => record(`[error] ${text}`),
			});
			devices.push(device);
			try {
				await device.start();
			}
			catch (error) {
				throw new Error(`${(error as Error).message}\n--- firmware output ---\n${lines.join("\n")}`);
			}
			return device;
		}

		it("comes online over TLS, trusting the CA by PEM text: status online, telemetry, a command answered", async function () {
			this.timeout(40_000);
			const lines: string[] = [];
			const deviceId = newDeviceId();
			const base = `devices/${deviceId}`;
			const watcher = await Peer.connect(broker!.port, { protocol: "mqtts", ca: certs!.ca.pem, rejectUnauthorized: true });
			await watcher.subscribe(`${base}/#`, 1);
			const text = (topic: string): string[] => watcher.on(topic).map((m) => m.payload.toString());
			const started = performance.now();
			const device = await firmware(deviceId, broker!.port, certs!.ca.pem, lines, new Signal());
			try {
				await watcher.until(() => text(`${base}/status`).includes("online"), 20_000, `"online" on ${base}/status`);
				process.stdout.write(`    firmware online over TLS ${Math.round(performance.now() - started)} ms after start()\n`);
				await watcher.until(() => watcher.on(`${base}/telemetry`).length >= 1, 5000, "telemetry over TLS");
				await watcher.publish(`${base}/commands/ping`, "", { qos: 1 });
				await watcher.until(() => watcher.on(`${base}/responses/ping`).length >= 1, 5000, "the answer to ping");
			}
			catch (error) {
				throw new Error(`${(error as Error).message}\n--- firmware trace ---\n${lines.join("\n")}`);
			}
			assert.equal((JSON.parse(text(`${base}/responses/ping`)[0]!) as { ok: boolean }).ok, true);
			assert.ok(lines.some((l) => l.startsWith(`connected to ${HOST}:${broker!.port}`)), lines.join("\n"));
			assert.ok(!lines.some((l) => /TLS_ERROR|\[error\]/.test(l)), lines.join("\n"));
			await device.stop();
			devices.splice(devices.indexOf(device), 1);
			await watcher.until(() => text(`${base}/status`).includes("offline"), 5000, `"offline" after a graceful stop`);
		});

		it("refuses the untrusted certificate and the one for another name: never online, TLS_ERROR traced with the reason", async function () {
			this.timeout(30_000);
			const cases = [
				{ what: "trusting another CA", port: broker!.port, ca: certs!.rogueCa.pem, serverName: undefined, reason: /^error: TLS_ERROR: .*certificate is not trusted/ },
				{ what: "a certificate for wrong.example", port: otherName!.port, ca: certs!.ca.pem, serverName: "wrong.example", reason: /^error: TLS_ERROR: .*does not match the name "127\.0\.0\.1"/ },
			];
			for (const c of cases) {
				const lines: string[] = [];
				const signal = new Signal();
				const deviceId = newDeviceId();
				const base = `devices/${deviceId}`;
				// On the broker the firmware tries, as a client that trusts that broker's certificate.
				const watcher = await Peer.connect(c.port, { protocol: "mqtts", ca: certs!.ca.pem, servername: c.serverName, rejectUnauthorized: true });
				await watcher.subscribe(`${base}/#`, 1);
				await firmware(deviceId, c.port, c.ca, lines, signal);
				await signal.until(() => lines.some((l) => l.includes("TLS_ERROR")), 15_000, `${c.what}: a TLS_ERROR in the firmware's trace`);
				const traced = lines.find((l) => l.includes("TLS_ERROR"))!;
				assert.match(traced, c.reason, `${c.what}: ${traced}`);
				assert.ok(!lines.some((l) => l.startsWith("connected to")), lines.join("\n"));
				assert.deepEqual(watcher.on(`${base}/status`), [], "no status from a device that never connected");
			}
		});
	});
});
