// The bench's hashing worker (`download_fetch_hash_in_worker`): hashes the chunks the page posts
// to it with Porthole's wasm hasher, on the machine's other core, and answers the digest when
// told "end". Diagnostic only: it measures whether a worker would lift the verified download.
import init, { Sha256Stream } from "/pkg/porthole_bench.js";

const ready = init();
let hasher;
onmessage = async ({ data }) => {
  await ready;
  if (data === "start") hasher = new Sha256Stream();
  else if (data === "end") postMessage(hasher.finish());
  else hasher.update(data);
};
