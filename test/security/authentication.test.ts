// Authentication against mosquitto with a password file and allow_anonymous false: the right
// credentials connect; wrong or missing ones get the CONNACK refusal, named, and attempts back off.

import * as assert from "node:assert/strict";
import { connackReturnCode, passwordBroker } from "../lib/credentials.js";
import { codeOf, now, Ours, Peer, track, unique } from "../lib/peers.js";
import { Proxy } from "../lib/proxy.js";
import { sleep } from "../lib/signal.js";

const USER = "thermo-1";
const PASSWORD = "s3cr3t-PASSWORD-123";
const WATCHER = "watcher";
const WATCHER_PASSWORD = "w4tcher-pass-789";

/** What mosquitto 2 answers a refused MQTT 3.1.1 CONNECT with (checked on the wire below). */
const REFUSED_CODE = 5;
const REFUSED_NAME = "NOT_AUTHORIZED";

/** Gaps between consecutive times, rounded, for messages. */
function gapsOf(times: number[]): number[] {
	return times.slice(1).map((t, i) => t - times[i]!);
}

describe("security: authentication (mosquitto password_file, allow_anonymous false)", function () {
	this.timeout(10_000);
	const broker = passwordBroker("authentication tests", { [USER]: PASSWORD, [WATCHER]: WATCHER_PASSWORD });

	it(`on the wire, mosquitto answers CONNACK 0 to the right credentials and ${REFUSED_CODE} (${REFUSED_NAME}) to wrong or missing ones`, async () => {
		const codes = {
			right: await connackReturnCode(broker().port, { username: USER, password: PASSWORD }),
			wrongPassword: await connackReturnCode(broker().port, { username: USER, password: "not-the-password" }),
			unknownUser: await connackReturnCode(broker().port, { username: "mallory", password: PASSWORD }),
			userWithoutPassword: await connackReturnCode(broker().port, { username: USER }),
			anonymous: await connackReturnCode(broker().port, {}),
		};
		process.stdout.write(`    ${broker().version} CONNACK return codes: ${JSON.stringify(codes)}\n`);
		assert.deepEqual(codes, { right: 0, wrongPassword: REFUSED_CODE, unknownUser: REFUSED_CODE, userWithoutPassword: REFUSED_CODE, anonymous: REFUSED_CODE });
	});

	it("the right user name and password connect, and messages flow (another authenticated client sees them)", async () => {
		const topic = unique("auth");
		const peer = await Peer.connect(broker().port, { username: WATCHER, password: WATCHER_PASSWORD });
		await peer.subscribe(topic, 1);
		const ours = new Ours({ port: broker().port, username: USER, password: PASSWORD, reconnect: false });
		await ours.connected();
		assert.ok(ours.client.publish(topic, "authenticated", 1) > 0);
		await peer.until(() => peer.on(topic).length === 1, 3000, "the message at the watcher");
		assert.equal(peer.on(topic)[0]!.payload.toString(), "authenticated");
		assert.deepEqual(ours.errors, []);
	});

	it("the password as bytes works the same (Uint8Array)", async () => {
		const ours = new Ours({ port: broker().port, username: USER, password: new TextEncoder().encode(PASSWORD), reconnect: false });
		await ours.connected();
		assert.deepEqual(ours.errors, []);
	});

	it(`a wrong password: onError ${REFUSED_NAME} on every attempt, the gaps between attempts double, and no retry storm`, async () => {
		const proxy = track(await Proxy.start(broker().port));
		const delays = [100, 200, 400, 800];
		const ours = new Ours({
			port: proxy.port, username: USER, password: "wrong-password",
			reconnect: { initialDelay: 100, factor: 2, maxDelay: 1600, jitter: 0 },
		});
		const started = now();
		// Attempts start at about 0, 100, 300, 700 and 1500 ms; the next would be at 3100.
		const window = 2500;
		await sleep(window); // time passes on purpose: the attempts of the window are counted
		ours.client.close();
		const errors = ours.errors.slice();
		const attempts = proxy.accepted;
		const codes = errors.map((e) => codeOf(e.error));
		const gaps = gapsOf(errors.map((e) => e.at));
		process.stdout.write(`    wrong password: ${attempts} attempts in ${window} ms, gaps ${gaps.map(Math.round).join(", ")} ms\n`);

		assert.deepEqual(codes, Array(errors.length).fill(REFUSED_NAME), `each attempt refused by name: ${codes.join(", ")}`);
		assert.match(errors[0]!.error.message, new RegExp(`CONNACK return code ${REFUSED_CODE}`));
		assert.equal(attempts, errors.length, "one TCP connection per attempt, each reported once");
		assert.ok(attempts >= 4 && attempts <= 5, `${attempts} attempts in ${window} ms (expected 5: at 0, 100, 300, 700, 1500 ms)`);
		assert.ok(errors[0]!.at - started < 500, "the first attempt is refused at once");
		for (let i = 0; i < gaps.length; i++)
			assert.ok(gaps[i]! >= delays[i]! - 2 && gaps[i]! < delays[i]! + 150, `gap ${i} is ${Math.round(gaps[i]!)} ms, expected about ${delays[i]} (gaps ${gaps.map(Math.round).join(", ")})`);
		assert.equal(ours.connects.length, 0);
		assert.equal(ours.closes.length, 0, "never connected, so no onClose");
	});

	it("with the default backoff (1 s, ×2, jitter 0.5) a refused client makes at most 3 attempts in 3.3 s", async function () {
		const proxy = track(await Proxy.start(broker().port));
		// reconnect: {} is the client's own defaults (peers.ts otherwise speeds them up for tests).
		const ours = new Ours({ port: proxy.port, username: USER, password: "wrong-password", reconnect: {} });
		const window = 3300;
		await sleep(window); // time passes on purpose: the attempts of the window are counted
		ours.client.close();
		const gaps = gapsOf(ours.errors.map((e) => e.at));
		process.stdout.write(`    default backoff: ${proxy.accepted} attempts in ${window} ms, gaps ${gaps.map(Math.round).join(", ")} ms\n`);
		assert.ok(proxy.accepted >= 2 && proxy.accepted <= 3, `${proxy.accepted} attempts (the delays are 500..1000 ms, then 1000..2000 ms)`);
		assert.equal(ours.errors.length, proxy.accepted);
		assert.ok(ours.errors.every((e) => codeOf(e.error) === REFUSED_NAME));
		assert.ok(gaps[0]! >= 495 && gaps[0]! <= 1150, `first delay ${Math.round(gaps[0]!)} ms`);
		if (gaps.length > 1) assert.ok(gaps[1]! >= 995 && gaps[1]! <= 2150, `second delay ${Math.round(gaps[1]!)} ms`);
	});

	it(`no user name at all: onError ${REFUSED_NAME}, and the attempts back off`, async () => {
		const ours = new Ours({ port: broker().port, reconnect: { initialDelay: 100, factor: 2, maxDelay: 1600, jitter: 0 } });
		await ours.until(() => ours.errors.length >= 3, 3000, "three refused attempts");
		ours.client.close();
		const gaps = gapsOf(ours.errors.slice(0, 3).map((e) => e.at));
		assert.deepEqual(ours.errors.slice(0, 3).map((e) => codeOf(e.error)), [REFUSED_NAME, REFUSED_NAME, REFUSED_NAME]);
		assert.ok(gaps[0]! >= 98 && gaps[1]! >= 198 && gaps[1]! > gaps[0]!, `gaps ${gaps.map(Math.round).join(", ")} ms`);
		assert.equal(ours.connects.length, 0);
	});

	it(`an unknown user, and a known user without a password: onError ${REFUSED_NAME}`, async () => {
		const unknown = new Ours({ port: broker().port, username: "mallory", password: PASSWORD, reconnect: false });
		const noPassword = new Ours({ port: broker().port, username: USER, reconnect: false });
		for (const ours of [unknown, noPassword]) {
			await ours.until(() => ours.errors.length >= 1, 3000, "the refusal");
			assert.equal(codeOf(ours.errors[0]!.error), REFUSED_NAME, ours.errors[0]!.error.message);
		}
		await sleep(100); // a window for what must not come: a second attempt
		assert.equal(unknown.errors.length + noPassword.errors.length, 2, "reconnect: false: one attempt each");
		assert.equal(unknown.connects.length + noPassword.connects.length, 0);
	});
});
