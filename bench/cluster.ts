// A clustered broker: the firmware on the XS engine moves between RabbitMQ nodes (the scenario of
// test/lib/cluster-failover.ts, which test/integration/cluster.test.ts asserts). Here it is run a few
// times on two and on three nodes and its figures written down: how long the device takes to reach
// another node after its node is killed, what became of the commands sent meanwhile, and what happens
// when the killed node is started again.
//
//   node build/bench/cluster.js [--quick] [--write]

import { fileURLToPath } from "node:url";
import { clusterFailover, FIRST_DELAYS } from "../test/lib/cluster-failover.js";
import type { CommandCount, FailoverFigures } from "../test/lib/cluster-failover.js";
import { erlangBrokerVersion, missingRabbitMq } from "../test/lib/erlang-brokers.js";
import { writeSection } from "./results-file.js";

/** Two attempts at most (the killed node again, refused; then the next), each at most its full backoff, and the connection. */
const MOVE_TARGET = FIRST_DELAYS[0]! + FIRST_DELAYS[1]! + 1500;
const BACK_WITHIN = 30_000;

const ms = (v: number | undefined) => v === undefined || !Number.isFinite(v) ? "—" : Math.round(v).toLocaleString("en");
const count = (c: CommandCount) => `${c.sent} / ${c.answered} / **${c.lost}** / ${c.duplicates}`;

function row(f: FailoverFigures, run: number, within: number): string {
	const yes = (ok: boolean) => ok ? "met" : "**missed**";
	const moved = f.movedTo === 1 && f.moved < MOVE_TARGET;
	const back = f.nodeBack === undefined ? `not within ${within / 1000} s` : `${(f.nodeBack / 1000).toFixed(1)} s`;
	return `| ${f.nodes} | ${run} | ${ms(f.moved)} (${yes(moved)}) | ${f.sessionResumed ? "yes" : "**no**"} | ${ms(f.firstAnswer)} / ${ms(f.lastAnswer)} | ${count(f.during)} (${yes(f.during.lost === 0)}) | ${ms(f.telemetryResumed)} | ${f.telemetryMissing} | ${back} | ${count(f.afterReturn)} (${yes(f.afterReturn.lost === 0)}) | ${f.lostAfterMove} |`;
}

export async function clusterSection(quick: boolean): Promise<{ lines: string[]; failures: string[] }> {
	const head = [
		"## A clustered broker: the device moves between RabbitMQ nodes",
		"",
	];
	const missing = missingRabbitMq();
	if (missing) return { lines: [...head, `Not measured: ${missing}.`], failures: [] };
	const runs: [number, number][] = quick ? [[2, 1]] : [[2, 1], [2, 2], [2, 3], [3, 1], [3, 2], [3, 3]];
	// A quick run (npm test's check of the harness) gives the two-node restart less time.
	const within = quick ? 8_000 : BACK_WITHIN;
	const results: Array<{ f: FailoverFigures; run: number }> = [];
	const failures: string[] = [];
	for (const [nodes, run] of runs) {
		const f = await clusterFailover({ nodes, restartWithin: within });
		results.push({ f, run });
		process.stderr.write(`cluster: ${nodes} nodes, run ${run}: moved ${ms(f.moved)} ms, lost ${f.during.lost}, duplicates ${f.during.duplicates}, A back ${ms(f.nodeBack)} ms\n`);
		const name = `${nodes}-node cluster, run ${run}`;
		if (!(f.movedTo === 1 && f.moved < MOVE_TARGET)) failures.push(`${name}: moved to node ${f.movedTo} after ${ms(f.moved)} ms (target: B within ${MOVE_TARGET} ms)`);
		if (f.during.lost + f.afterReturn.lost > 0) failures.push(`${name}: ${f.during.lost} commands lost during the switch, ${f.afterReturn.lost} while A came back (target 0)`);
		if (f.lostAfterMove > 0) failures.push(`${name}: the device lost its connection ${f.lostAfterMove} times while A came back (target 0)`);
		if (nodes > 2 && f.nodeBack === undefined) failures.push(`${name}: A did not start again within ${BACK_WITHIN / 1000} s`);
	}
	const two = results.filter((r) => r.f.nodes === 2);
	const error = two.find((r) => r.f.nodeBackError)?.f.nodeBackError?.split("\n")[0]?.replace(/:$/, "");
	const lines = [
		...head,
		`${erlangBrokerVersion("rabbitmq") ?? "RabbitMQ"} nodes clustered on loopback (one epmd, one cookie, Erlang distribution on 127.0.0.1),`,
		"each with its MQTT plugin; a policy mirrors the queues of persistent sessions on every node (ha-mode all).",
		"The firmware runs on the XS engine with `mqttHost` naming every node, A first, and its defaults",
		"(persistent session, reconnect backoff 1 s doubling with jitter 0.5, keepalive 5 s here). A dashboard",
		"(MQTT.js) on the last node sends `interval` commands, QoS 1, each with a value of its own so that its",
		"answer is known: 20, 150 ms apart, from the moment A is killed (SIGKILL), then 13 while A is started",
		"again and after. Times are from the kill. Commands: sent (acknowledged by the broker) / answered / lost /",
		"duplicate answers. Telemetry is QoS 0; readings the device took while it had no connection are not sent",
		"(missing `seq`), and each `interval` command starts its schedule again, so the first reading on B comes",
		"one interval after the last command.",
		`**Targets: B reached within ${MOVE_TARGET.toLocaleString("en")} ms (two attempts of the backoff), no command lost, the device's connection to B`,
		"kept while A comes back; with three nodes, A back within 30 s.**",
		"",
		"| Nodes | Run | Moved to B, ms | Session found on B | First / last answer, ms | Commands during the switch | Telemetry again, ms | Readings not sent | A started again | Commands while A comes back | Connections lost after the move |",
		"| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
		...results.map((r) => row(r.f, r.run, within)),
	];
	if (two.length && two.every((r) => r.f.nodeBack === undefined))
		lines.push("", `With two nodes, A does not finish starting again while B runs (${error ?? "it did not start"}): RabbitMQ 3.10's`,
			"MQTT plugin rejoins its Raft cluster of client ids (mqtt_node) before it restarts its own member, and that",
			"cluster has no leader without A's member, a majority of two. The device, on B, is not touched by it. A third",
			"node keeps the majority: then A is back within seconds.");
	return { lines, failures };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
	const section = await clusterSection(process.argv.includes("--quick"));
	process.stdout.write(section.lines.join("\n") + "\n");
	// `--write`: this section of bench/RESULTS.md replaced (or added), the others left as they are.
	if (process.argv.includes("--write")) writeSection(section.lines);
	if (section.failures.length) process.stdout.write(`targets missed:\n  ${section.failures.join("\n  ")}\n`);
	process.exit(0);
}
