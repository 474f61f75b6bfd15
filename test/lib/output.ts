// What a test tells the reader besides pass and fail: why it skipped, and which broker served it. Both go
// to the project reporter (test/lib/reporter.cjs), which puts a skip reason in the tree, once, under
// its suite, and collects the brokers into one line above the summary. With another reporter (nobody
// listening), they are printed as they happen.

const events: NodeJS.EventEmitter = process;

/** The events test/lib/reporter.cjs listens for on `process`. */
export const SKIP_EVENT = "xs-mqtt:skip";
export const BROKER_EVENT = "xs-mqtt:broker";

/** Says why a suite or test is skipped (call it right before `this.skip()`); mocha marks the tests with "-". */
export function reportSkip(what: string, reason: string): void {
	if (!events.emit(SKIP_EVENT, { what, reason }))
		process.stdout.write(`    [skipped] ${what}: ${reason}\n`);
}

/** Says which broker a test started: `version` as "mosquitto 2.0.11", `note` why it is this one, if it is not the usual. */
export function reportBroker(version: string, host: string, port: number, note = ""): void {
	if (!events.emit(BROKER_EVENT, { version, host, port, note }))
		process.stdout.write(`broker: ${version} on ${host}:${port}${note ? ` (${note})` : ""}\n`);
}
