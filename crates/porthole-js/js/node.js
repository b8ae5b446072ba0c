// Porthole's entry for Node (the "node" condition of the package's exports): it loads the
// WebAssembly module from the package folder at import time, so `init()` is not needed (calling
// it anyway does nothing). Node 20+ has the global fetch, Blob and ReadableStream it uses.
import { readFileSync } from "node:fs";
import init, { initSync } from "./porthole.js";

initSync({ module: readFileSync(new URL("./porthole_bg.wasm", import.meta.url)) });

export * from "./porthole.js";
export default init;
