// Runs the platform-free MQTT 5.0 client suite under mocha (test/xs runs the same suite inside XS).

import { client5Cases } from "../suites/client5.js";

describe("client, MQTT 5.0 (Node)", () => {
	for (const c of client5Cases) it(c.name, c.run);
});
