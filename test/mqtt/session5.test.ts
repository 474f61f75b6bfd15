// Runs the platform-free MQTT 5.0 session suite under mocha (test/xs runs the same suite inside XS).

import { session5Cases } from "../suites/session5.js";

describe("session, MQTT 5.0 (Node)", () => {
	for (const c of session5Cases) it(c.name, c.run);
});
