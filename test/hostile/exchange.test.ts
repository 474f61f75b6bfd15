// A broker that breaks the exchange rather than the framing: a bad CONNACK, acknowledgements for
// nothing, a SUBACK with too many return codes, or silence after accepting the TCP connection.

import * as assert from "node:assert/strict";
import { ErrorCode } from "../../modules/mqtt/errors.js";
import { SUBSCRIBE } from "../../modules/mqtt/packet.js";
import type { SubscribePacket } from "../../modules/mqtt/packet.js";
import { lastSubscribeId, send } from "../lib/scripted-broker.js";
import { assertRecovered, CrashGuard, hooks, run } from "./harness.js";
import type { Scenario } from "./harness.js";
import { CONNACK_LENGTH_3, PUBACK_UNKNOWN, writeSubackTwoCodes } from "./scripts.js";

describe("hostile broker: broken exchanges", function () {
	this.timeout(10_000);
	const guard = new CrashGuard();
	hooks(guard);

	it("a CONNACK of remaining length 3: LENGTH_MISMATCH (onError: the attempt never connected)", async () => {
		const s: Scenario = { phase: "connecting", code: ErrorCode.LENGTH_MISMATCH, hostile: [send(CONNACK_LENGTH_3)] };
		const o = await run(s);
		assertRecovered(s, o, guard);
	});

	it("a PUBACK for an identifier with no exchange in progress: UNKNOWN_PACKET_ID", async () => {
		const s: Scenario = { phase: "connected", code: ErrorCode.UNKNOWN_PACKET_ID, hostile: [send(PUBACK_UNKNOWN)] };
		const o = await run(s);
		assert.ok(!o.ids.includes(0x7F7F));
		assertRecovered(s, o, guard);
	});

	it("a SUBACK with two return codes for one filter: SUBACK_COUNT_MISMATCH; the SUBSCRIBE is sent again and then granted", async () => {
		const filter = "hostile/commands/+";
		const s: Scenario = {
			phase: "connected", code: ErrorCode.SUBACK_COUNT_MISMATCH, subscribe: filter,
			hostile: [send((c) => {
				const b = new Uint8Array(6);
				writeSubackTwoCodes(b, lastSubscribeId(c));
				return b;
			})],
		};
		const o = await run(s);
		assertRecovered(s, o, guard);
		// The malformed SUBACK acknowledged nothing: the request goes out again on the resumed session.
		await o.ours.until(() => o.ours.subacks.length >= 1, 2000, "onSubscribe after the reconnect");
		assert.deepEqual(o.ours.subacks, [{ filter, code: 1 }]);
		const again = o.resumed.ofType(SUBSCRIBE).map((x) => (x.packet as SubscribePacket).subscriptions);
		assert.deepEqual(again, [[{ filter, qos: 1 }]]);
		assert.equal(o.ours.client.session.subscriptions.entries[0]!.granted, 1);
	});

	it("nothing at all after the TCP accept: CONNECT_TIMEOUT after connectTimeout (onError)", async () => {
		const s: Scenario = { phase: "connecting", code: ErrorCode.CONNECT_TIMEOUT, connectTimeout: 300, hostile: [] };
		const o = await run(s);
		assertRecovered(s, o, guard);
		assert.equal(o.hostile.bytesSent, 0, "the broker sent nothing");
		// The attempt began at the reconnect, 100 ms after the first connection closed; it ends 300 ms later.
		const sinceClose = o.errorAt - o.ours.closes[0]!.at;
		assert.ok(sinceClose >= 100 + 300 - 2, `gave up ${Math.round(sinceClose)} ms after the previous close (backoff 100 ms + connectTimeout 300 ms)`);
		const sinceAccept = o.errorAt - o.hostile.acceptedAt;
		assert.ok(sinceAccept < 800, `gave up ${Math.round(sinceAccept)} ms after the accept`);
	});
});
