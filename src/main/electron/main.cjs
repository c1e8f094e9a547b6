// Electron entry (package.json "main"): Electron loads CommonJS here, registers tsx so the TypeScript
// sources run as they are (like bin/vnetlab.mjs), then loads the real main process module.
const { register } = require('tsx/esm/api');

register();
import('./main.ts').catch((err) => {
  process.stderr.write(`vnetlab: the app failed to start: ${err && err.message}\n`);
  process.exit(70);
});
