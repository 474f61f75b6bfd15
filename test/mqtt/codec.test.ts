// Runs the platform-free codec suite under mocha (test/xs runs the same suite inside XS).

import { codecCases } from "../suites/codec.js";

describe("codec (Node)", () => {
	for (const c of codecCases) it(c.name, c.run);
});
