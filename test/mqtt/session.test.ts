// Runs the platform-free session suite under mocha (test/xs runs the same suite inside XS).

import { sessionCases } from "../suites/session.js";

describe("session (Node)", () => {
	for (const c of sessionCases) it(c.name, c.run);
});
