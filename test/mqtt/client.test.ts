// Runs the platform-free client suite (fake transport and clock) under mocha; test/xs runs it in XS.

import { clientCases } from "../suites/client.js";

describe("client (Node, fake transport)", () => {
	for (const c of clientCases) it(c.name, c.run);
});
