// `node bin/run-bundle.mjs <bundle.cjs> <use> [args…]`: runs a CommonJS bundle of ours (the supervisor's,
// the warm pool's) with V8's code cache for `use` (bin/bundle-cache.mjs requireWithCodeCache), as if it
// had been started as `node <bundle.cjs> [args…]`: a process that boots a lab compiled its code anew
// every time, ~30 ms of a core while the lab's first guests wait for it.
import { requireWithCodeCache } from './bundle-cache.mjs';

const [, , bundle, use, ...args] = process.argv;
process.argv = [process.argv[0], bundle, ...args];
requireWithCodeCache(bundle, use);
