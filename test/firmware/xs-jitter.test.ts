// Reconnect jitter on the XS engine host: two devices that fail together must not retry together.
// XS's Math.random is rand() never seeded wherever the platform has no hardware source (the XS engine
// from npm, the Moddable simulator, the Pico): every run, every device, draws the same numbers. The
// hosts give the client a random() seeded per device and per boot instead. A broker that closes every
// connection as soon as its CONNECT arrives; each device's attempts timed by its client id.

import * as assert from "node:assert/strict";
import * as net from "node:net";
import { parser } from "mqtt-packet";
import { XsDevice } from "../../hosts/xs/device-runner.js";
import { RECONNECT_DEFAULTS } from "../../modules/mqtt/client.js";
import { HOST } from "../lib/broker.js";
import { sleep, waitFor } from "../lib/signal.js";

describe("reconnect jitter on the XS engine", function () {
	this.timeout(30_000);

	it("two devices refused together retry at different times (each draws its own jitter)", async () => {
		const attempts = new Map<string, number[]>();
		const server = net.createServer((socket) => {
			const p = parser({ protocolVersion: 4 });
			p.on("packet", (packet) => {
				if (packet.cmd !== "connect") return;
				const list = attempts.get(packet.clientId) ?? [];
				list.push(performance.now());
				attempts.set(packet.clientId, list);
				socket.destroy();
			});
			p.on("error", () => socket.destroy());
			socket.on("data", (data) => p.parse(data));
			socket.on("error", () => undefined);
		});
		await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
		const port = (server.address() as net.AddressInfo).port;
		const ids = [`jitter-a-${process.pid}`, `jitter-b-${process.pid}`];
		const devices = ids.map((deviceId) => new XsDevice({
			config: { deviceId, topicPrefix: "devices", mqttHost: HOST, mqttPort: port, mqttTls: false, telemetryInterval: 60_000, keepAlive: 30, discoveryPrefix: "" },
		}));
		try {
			await Promise.all(devices.map((d) => d.start()));
			// The first attempt and three retries each: 1 s, 2 s and 4 s, up to half of each taken off.
			await waitFor(() => ids.every((id) => (attempts.get(id)?.length ?? 0) >= 4), 20_000, "four attempts from each device");
			// A fixed window from each device's first attempt: the backoff allows attempts at 0 and no
			// sooner than 0.5, 1.5 and 3.5 s, the next at 7.5 s at the soonest: at most 4 in 7 s.
			const WINDOW = 7000;
			const firsts = ids.map((id) => attempts.get(id)![0]!);
			const rest = Math.max(...firsts) + WINDOW - performance.now();
			if (rest > 0) await sleep(rest);
			for (let k = 0; k < ids.length; k++) {
				const inWindow = attempts.get(ids[k]!)!.filter((t) => t < firsts[k]! + WINDOW).length;
				assert.ok(inWindow <= 4, `${ids[k]} made ${inWindow} connections in ${WINDOW} ms; its backoff allows 4`);
			}
			const gaps = ids.map((id) => {
				const times = attempts.get(id)!;
				return [1, 2, 3].map((i) => times[i]! - times[i - 1]!);
			});
			const shown = gaps.map((g) => g.map(Math.round).join(", ")).join(" / ");
			for (const g of gaps)
				for (let i = 0; i < 3; i++) {
					const full = RECONNECT_DEFAULTS.initialDelay * RECONNECT_DEFAULTS.factor ** i;
					assert.ok(g[i]! >= full * 0.5 - 50 && g[i]! <= full + 250, `gaps ${shown} ms: each within its backoff (${full / 2}..${full} ms)`);
				}
			// The same draws would give the same gaps, to a few milliseconds of scheduling.
			const apart = [0, 1, 2].map((i) => Math.abs(gaps[0]![i]! - gaps[1]![i]!));
			assert.ok(apart.some((d) => d > 60), `the two devices retried in step (gaps ${shown} ms): their jitter is not their own`);
		}
		finally {
			await Promise.all(devices.map((d) => d.kill()));
			server.close();
		}
	});
});
