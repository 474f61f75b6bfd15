// Runs the platform-free MQTT 5.0 client suite under mocha (test/xs runs the same suite inside XS).

import { mqtt5ClientCases } from "../suites/client5.js";

describe("client, MQTT 5.0 wiring (Node)", () => {
	for (const c of mqtt5ClientCases) it(c.name, c.run);
});
