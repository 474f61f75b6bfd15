// Runs the platform-free device firmware suite (scripted broker, fake host, one time line) under
// mocha; test/xs runs the same suite inside the XS engine.

import { deviceCases } from "../suites/device.js";

describe("device (Node, fake broker and host)", () => {
	for (const c of deviceCases) it(c.name, c.run);
});
