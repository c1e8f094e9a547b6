// Whether the tests that need the `debian` guest image run. They run when the image is built and up to
// date; when it is missing or stale they skip themselves and say why (building it takes minutes, root or
// mmdebstrap, and the network) — unless VNETLAB_TEST_DEBIAN=1 says the image is required: then they run,
// and `start`/`check` build or rebuild it first (one build at a time, under the image's build lock).
// `npm run test:kernels` sets it: there a skipped corpus test would hide a kernel that breaks it (the
// guest files changing during a run make the image stale, and a stale image must not turn into a skip).
import { imageStatus } from '../../src/main/images/build.ts';

export interface DebianForTests {
  run: boolean;
  /** ' (skipped: …)' to append to the test's name when it does not run, else ''. */
  skipNote: string;
}

export function debianForTests(env: NodeJS.ProcessEnv = process.env): DebianForTests {
  const status = imageStatus('debian', { env });
  if (!status.staleReason || env.VNETLAB_TEST_DEBIAN === '1') return { run: true, skipNote: '' };
  return {
    run: false,
    skipNote: ` (skipped: the debian image is ${status.staleReason}; build it with: sudo npx vnetlab image build debian, or set VNETLAB_TEST_DEBIAN=1 to build it in the test run)`,
  };
}
