// The project's mocha reporter: one tree, then one summary.
// - The tree is mocha's spec tree: suites, "✔" passed, "N)" failed, "-" skipped. Why a suite or test
//   is skipped is said once, under its suite (test/lib/output.ts reportSkip, which the tests call).
// - After the tree: the failures in full, the brokers the tests started (test/lib/output.ts
//   reportBroker: one line for all of them, not one per start), and last the one plain line CI reads:
//   "N passed, N failed, N skipped".
"use strict";
const Mocha = require("mocha");
const { Base } = Mocha.reporters;
const {
	EVENT_RUN_BEGIN, EVENT_RUN_END, EVENT_SUITE_BEGIN, EVENT_SUITE_END,
	EVENT_TEST_FAIL, EVENT_TEST_PASS, EVENT_TEST_PENDING,
} = Mocha.Runner.constants;

// The events of test/lib/output.ts.
const SKIP_EVENT = "xs-mqtt:skip";
const BROKER_EVENT = "xs-mqtt:broker";

const color = Base.color;
let blank = false;
const write = (line) => {
	if (line === "" && blank) return;
	blank = line === "";
	process.stdout.write(`${line}\n`);
};

function times(n) {
	return n === 1 ? "once" : n === 2 ? "twice" : `${n} times`;
}

class ProjectReporter extends Base {
	constructor(runner, options) {
		super(runner, options);
		let depth = 0;
		let failed = 0;
		const indent = () => "  ".repeat(Math.max(depth - 1, 0));
		/** "mosquitto 2.0.11" (or with why it is the broker, "aedes 1.2.0 (mosquitto not installed)") → starts. */
		const brokers = new Map();

		const onSkip = ({ what, reason }) => write(`${indent()}  ${color("pending", `[skipped] ${what}: ${reason}`)}`);
		const onBroker = ({ version, note }) => {
			const key = note ? `${version} (${note})` : version;
			brokers.set(key, (brokers.get(key) ?? 0) + 1);
		};
		process.on(SKIP_EVENT, onSkip);
		process.on(BROKER_EVENT, onBroker);

		runner.on(EVENT_RUN_BEGIN, () => write(""));
		runner.on(EVENT_SUITE_BEGIN, (suite) => {
			++depth;
			if (suite.title) write(color("suite", `${indent()}${suite.title}`));
		});
		runner.on(EVENT_SUITE_END, () => {
			--depth;
			if (depth === 1) write("");
		});
		runner.on(EVENT_TEST_PENDING, (test) => write(`${indent()}${color("pending", `  - ${test.title}`)}`));
		runner.on(EVENT_TEST_PASS, (test) => {
			const time = test.speed === "fast" ? "" : color(test.speed, ` (${test.duration}ms)`);
			write(`${indent()}${color("checkmark", `  ${Base.symbols.ok}`)}${color("pass", ` ${test.title}`)}${time}`);
		});
		runner.on(EVENT_TEST_FAIL, (test) => write(`${indent()}${color("fail", `  ${++failed}) ${test.title}`)}`));

		runner.once(EVENT_RUN_END, () => {
			process.off(SKIP_EVENT, onSkip);
			process.off(BROKER_EVENT, onBroker);
			const s = this.stats;
			write("");
			if (this.failures.length > 0) {
				Base.list(this.failures);
				write("");
			}
			const seconds = ((s.duration ?? 0) / 1000).toFixed(1);
			const served = [...brokers].map(([name, n]) => `${name} ${times(n)}`).join(", ");
			write(`time: ${seconds} s; brokers started: ${served || "none"}`);
			write(`${s.passes || 0} passed, ${s.failures || 0} failed, ${s.pending || 0} skipped`);
		});
	}
}
module.exports = ProjectReporter;
