// The tests' brokers are the local brokers of the Node host (hosts/node/broker.ts), which
// `npm start` and the benchmarks use too.

export * from "../../hosts/node/broker.js";
