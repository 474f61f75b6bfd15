// The benchmarks still run: a quick pass of `npm run bench` into a scratch file. A check that
// the harness works, not a timed assertion (the figures live in bench/RESULTS.md).

import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

describe("benchmarks", function () {
	this.timeout(300_000);
	it("run to completion and write their results file (quick counts)", () => {
		const dir = mkdtempSync(path.join(os.tmpdir(), "xs-mqtt-bench-"));
		try {
			const out = path.join(dir, "RESULTS.md");
			const run = spawnSync(process.execPath, [path.join(here, "../bench/run.js"), "--quick", "--out", out], { encoding: "utf8" });
			assert.equal(run.status, 0, `bench failed:\n${run.stdout}\n${run.stderr}`);
			const text = readFileSync(out, "utf8");
			assert.match(text, /## Codec and client in the XS engine/);
			assert.match(text, /\| encode a QoS 0 PUBLISH \| \d+/);
			assert.match(text, /## A fleet: the broker killed and restarted/);
			assert.match(text, /\| 50 \| ours, defaults \(jitter 0\.5\) \| \d+/);
			assert.match(text, /\| 5\.0, topic alias \| \d+ \| \*\*\d+\*\* \|/);
			assert.match(text, /## A clustered broker: the device moves between RabbitMQ nodes\n\n(Not measured: RabbitMQ|RabbitMQ [\d.]+ nodes clustered)/);
		}
		finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});
