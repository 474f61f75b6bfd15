// Runs the platform-free client suite (fake transport and clock) under mocha, speaking MQTT 3.1.1 and
// MQTT 5.0; test/xs runs both in XS.

import { client5Cases, clientCases } from "../suites/client.js";

describe("client (Node, fake transport)", () => {
	for (const c of clientCases) it(c.name, c.run);
});

describe("client, MQTT 5.0 (Node, fake transport)", () => {
	for (const c of client5Cases) it(c.name, c.run);
});
