// A clustered broker: the firmware on the XS engine against RabbitMQ clusters started here on loopback
// (test/lib/cluster-failover.ts). Connected to node A with every node in mqttHost, A is killed while a
// dashboard on the last node sends QoS 1 commands: the device reaches B within its backoff, finds its
// session there (its subscription and the commands queued meanwhile: the cluster mirrors session
// queues), answers every command and publishes telemetry again. A is then started again while the
// commands go on: nothing breaks on the device.

import * as assert from "node:assert/strict";
import { clusterFailover, FIRST_DELAYS } from "../lib/cluster-failover.js";
import type { FailoverFigures } from "../lib/cluster-failover.js";
import { missingRabbitMq } from "../lib/erlang-brokers.js";
import { reportSkip } from "../lib/output.js";

/** Two attempts at most (A again, refused; then B), each at most its full backoff, and the connection itself. */
const MOVE_WITHIN = FIRST_DELAYS[0]! + FIRST_DELAYS[1]! + 1500;

function show(f: FailoverFigures): string {
	const { output, ...figures } = f;
	return `${JSON.stringify(figures, null, 1)}\n--- firmware output ---\n${output.trimEnd().split("\n").slice(-25).join("\n")}`;
}

/** What must hold whatever the cluster's size. */
function assertFailover(f: FailoverFigures): void {
	const why = show(f);
	assert.equal(f.movedTo, 1, `the device moved to B (the next in mqttHost): ${why}`);
	assert.ok(f.moved < MOVE_WITHIN, `moved after ${Math.round(f.moved)} ms, not within its backoff (${MOVE_WITHIN} ms): ${why}`);
	assert.ok(f.sessionResumed, `B had the device's session (session present): ${why}`);
	assert.equal(f.during.notAccepted, 0, `the broker took every command sent during the switch: ${why}`);
	assert.ok(f.during.sent >= 20, why);
	assert.equal(f.during.lost, 0, `every command sent during the switch answered (QoS 1, none lost): ${why}`);
	assert.ok(Number.isFinite(f.telemetryResumed), `telemetry resumed on B: ${why}`);
	assert.equal(f.afterReturn.lost, 0, `every command sent while A came back answered: ${why}`);
	assert.equal(f.afterReturn.notAccepted, 0, why);
	assert.ok(f.telemetryAfterReturn >= 2, `telemetry went on while A came back: ${why}`);
	assert.equal(f.lostAfterMove, 0, `the device kept its connection to B while A came back: ${why}`);
}

describe("integration: a RabbitMQ cluster, the firmware on the XS engine", function () {
	this.timeout(150_000);
	before(function () {
		const missing = missingRabbitMq();
		if (missing) {
			reportSkip("RabbitMQ cluster", missing);
			this.skip();
		}
	});

	it("two nodes: A killed, the device reaches B within its backoff with its session, answers every command sent during the switch, telemetry resumes; A started again: the device, on B, goes on", async () => {
		// RabbitMQ 3.10.8 does not finish starting A again here: its MQTT plugin waits to rejoin a Raft
		// cluster that has no leader without A (the README's Fleets section). Not asserted either way:
		// the device's side is.
		const f = await clusterFailover({ nodes: 2, restartWithin: 12_000 });
		assertFailover(f);
	});

	it("three nodes: the same, and A comes back into the cluster while the device, on B, goes on", async () => {
		const f = await clusterFailover({ nodes: 3, restartWithin: 30_000 });
		assertFailover(f);
		assert.ok(f.nodeBack !== undefined, `A started again: ${f.nodeBackError ?? ""}\n${show(f)}`);
	});
});
