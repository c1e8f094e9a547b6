// The lab corpus: real Netkit and Kathará teaching labs written by others, kept OUTSIDE the repository
// (they are not the project's to ship). Tests whose point is the corpus itself — every one of its labs
// loads, compiles, round-trips, starts, or grades against the signatures real Netkit recorded — find it
// through this file, and skip when it is absent, saying where to get it. What vnetlab must do with
// Netkit and Kathará labs is proven on the hand-written labs of test/fixtures/ (test/support/fixtures.ts),
// which every clone has.
//
// Where: $VNETLAB_CORPUS (relative to the repository when relative), else ../shared/corpus beside the
// repository, where CI keeps it. Set explicitly, it must be a corpus: a wrong path fails the tests that
// import this file instead of letting them skip.
//
// Layout (the corpus's own SOURCES.md says the same, with the licenses):
//   kathara-labs/<name>  github.com/KatharaFramework/Kathara-Labs @ f24b7d85421a762436a40d9cb9d490bf3d2a79e1, main-labs/…
//     two-computers, static-routing, arp, basic-ipv4   basic-topics/<name>/kathara-lab_<name>
//     web-server, dns                                  application-level/<name>/kathara-lab_<name>
//     one-bridge                                       switching/one-bridge/kathara-lab_one-bridge
//     rip-frr                                          intradomain-routing/frr/rip/kathara-lab_rip
//     ospf-frr-singlearea                              intradomain-routing/frr/ospf/kathara-lab_ospf/kathara-lab_ospf_frr-singlearea
//     quagga-introduction                              intradomain-routing/quagga/quagga-introduction/kathara-lab_quagga
//     packet-loss                                      (not under main-labs/) tutorials/traffic-control/packet-loss/lab
//   netkit-labs/<name>   github.com/redesunlu/netkit-labs @ d030e388cd444bb5e3205394faebf44b398559c8, <name>
//     netkit-lab_arp, netkit-lab_rip
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
const GROUPS = ['kathara-labs', 'netkit-labs'] as const;

/** The corpus folder, whether or not it exists. */
export const corpusDir = resolve(REPO, process.env.VNETLAB_CORPUS || '../shared/corpus');

/** True when the corpus is there (both of its lab groups). */
export const hasCorpus = GROUPS.every((group) => existsSync(join(corpusDir, group)));

if (process.env.VNETLAB_CORPUS && !hasCorpus) {
  throw new Error(`VNETLAB_CORPUS=${process.env.VNETLAB_CORPUS} is not a lab corpus: ${corpusDir} lacks ${GROUPS.map((g) => `${g}/`).join(' or ')} (unset it to skip the corpus tests)`);
}

/** Why the corpus tests do not run here ('' when they do). */
export const corpusSkipReason = hasCorpus
  ? ''
  : `skipped: no lab corpus at ${corpusDir}; it is not in the repository: put the project's shared/corpus folder beside the clone, ` +
    'or fetch its labs (github.com/KatharaFramework/Kathara-Labs, github.com/redesunlu/netkit-labs, laid out as test/support/corpus.ts lists) ' +
    'and run with VNETLAB_CORPUS=/path/to/corpus';

/** ' (skipped: …)' to append to a test's name when the corpus is absent, else ''. */
export const corpusSkipNote = hasCorpus ? '' : ` (${corpusSkipReason})`;

/** A lab of the corpus, e.g. corpusLab('netkit-labs/netkit-lab_arp'). */
export function corpusLab(path: string): string {
  return join(corpusDir, path);
}

/** Every lab folder of the corpus (none when it is absent). */
export function corpusLabs(): string[] {
  if (!hasCorpus) return [];
  return GROUPS.flatMap((group) =>
    readdirSync(join(corpusDir, group), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(corpusDir, group, entry.name))
      .sort(),
  );
}

/** A describe that runs only with the corpus, and otherwise says in its name why it was skipped. */
export function describeWithCorpus(name: string, body: () => void): void {
  describe.skipIf(!hasCorpus)(`${name}${corpusSkipNote}`, body);
}

/**
 * One test per lab of the corpus, named by `name` with %s its path in the corpus (e.g. netkit-labs/netkit-lab_arp).
 * Without the corpus: one skipped test, %s being 'each lab of the corpus', so that the skip shows in the report.
 */
export function itEachCorpusLab(name: string, test: (dir: string) => Promise<void>): void {
  if (!hasCorpus) {
    it.skip(name.replace('%s', 'each lab of the corpus'), () => {});
    return;
  }
  it.each(corpusLabs().map((dir) => [relative(corpusDir, dir), dir]))(name, (_path, dir) => test(dir));
}
