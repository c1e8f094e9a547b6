// How long variants take (issue 19): generates a 20-machine lab with params: (10 LAN subnets, 9
// transit /30s, an AS number range, a choice) whose addresses, startup scripts, a templated file per
// router, instructions and 40 checks are templates, then renders 200 variants (seeds 0…199) of it:
//   - renderVariant: load + draw + render + write each variant as a plain lab folder (what `vnetlab
//     variant -o` and a classroom do per student), one call per seed;
//   - renderVariants: the same 200 folders (byte-identical) in one call — target ≤ 2 s for the 200;
//   - loadLab with a seed: the same in memory (what start/check/validate do), no folder written.
// Baseline in the same run: loadLab of one rendered variant (the same lab as plain text, no params),
// 200 times, so the ratio is what templates add to reading a lab.
// Run: npx tsx bench/variants.ts [--variants N] [--runs N]
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadLab } from '../src/main/lab/index.ts';
import { renderVariant, renderVariants } from '../src/main/lab/variants.ts';
import { hasErrors } from '../src/shared/diagnostics.ts';
import { runBench } from './harness.ts';

const TARGET_MS = 2000;
const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const VARIANTS = flag('--variants', 200);
const RUNS = flag('--runs', 3);
const ROUTERS = 10;

/** A chain of 10 routers, each with a LAN and one PC on it: 20 machines. */
function labYaml(): string {
  const lines: string[] = ['lab:', '  name: bench-variants', '  description: |', '    # Routing chain', ''];
  for (let i = 0; i < ROUTERS; i++) lines.push(`    - r${i}: LAN {{ lan${i} }}, gateway {{ lan${i} | host: 1 }}, pc${i} at {{ lan${i} | host: 10 }}`);
  lines.push('params:');
  for (let i = 0; i < ROUTERS; i++) lines.push(`  lan${i}: {subnet: 10.0.0.0/8, prefix: 24${i ? `, distinct_from: [${Array.from({ length: i }, (_, k) => `lan${k}`).join(', ')}]` : ''}}`);
  for (let i = 0; i < ROUTERS - 1; i++) lines.push(`  link${i}: {subnet: 172.16.0.0/12, prefix: 30${i ? `, distinct_from: [${Array.from({ length: i }, (_, k) => `link${k}`).join(', ')}]` : ''}}`);
  lines.push('  asn: {range: [64512, 65534]}', '  area: {choice: [0, 1, 2]}', 'machines:');
  for (let i = 0; i < ROUTERS; i++) {
    const ifaces = [`      - {domain: lan${i}, ipv4: "{{ lan${i} | address: 1 }}"}`];
    if (i > 0) ifaces.push(`      - {domain: link${i - 1}, ipv4: "{{ link${i - 1} | address: 2 }}"}`);
    if (i < ROUTERS - 1) ifaces.push(`      - {domain: link${i}, ipv4: "{{ link${i} | address: 1 }}"}`);
    lines.push(`  r${i}:`, '    image: tiny', '    memory: 64', '    interfaces:', ...ifaces, '    startup: |', `      ip route add 10.0.0.0/8 via {{ link${Math.min(i, ROUTERS - 2)} | host: ${i < ROUTERS - 1 ? 2 : 1} }} || true`, `      echo router {{ asn }} area {{ area }}`);
    lines.push('    files:', `      - {path: /etc/frr/frr.conf, source: frr/r${i}.conf}`);
    lines.push(`  pc${i}:`, '    image: tiny', '    memory: 64', '    interfaces:', `      - {domain: lan${i}, ipv4: "{{ lan${i} | address: 10 }}"}`, '    startup: |', `      ip route add default via {{ lan${i} | host: 1 }}`);
  }
  lines.push('checks:');
  for (let i = 0; i < ROUTERS; i++) {
    lines.push(`  - {id: pc${i}-reach, kind: reach, from: pc${i}, to: "{{ lan${(i + 1) % ROUTERS} | host: 10 }}", description: "pc${i} reaches {{ lan${(i + 1) % ROUTERS} | host: 10 }}"}`);
    lines.push(`  - {id: pc${i}-default, kind: route, on: pc${i}, prefix: default, via: "{{ lan${i} | host: 1 }}"}`);
    lines.push(`  - {id: r${i}-lan, kind: route, on: r${i}, prefix: "{{ lan${i} }}"}`);
    lines.push(`  - {id: r${i}-addr, kind: interface, on: r${i}, name: eth0, address: "{{ lan${i} | address: 1 }}"}`);
  }
  lines.push('solution:', '  machines:', '    r0: {startup: "echo {{ asn }}"}');
  return `${lines.join('\n')}\n`;
}

function frrConf(i: number): string {
  return `hostname r${i}\n!\nrouter bgp {{ asn }}\n network {{ lan${i} }}\n!\nrouter ospf\n network {{ lan${i} }} area {{ area }}\n`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(base: string): Promise<void> {
  const lab = join(base, 'lab');
  mkdirSync(join(lab, 'frr'), { recursive: true });
  writeFileSync(join(lab, 'lab.yaml'), labYaml());
  for (let i = 0; i < ROUTERS; i++) writeFileSync(join(lab, 'frr', `r${i}.conf`), frrConf(i));
  const first = await loadLab(lab);
  if (!first.model || hasErrors(first.diagnostics)) throw new Error(`the generated lab has errors: ${JSON.stringify(first.diagnostics.slice(0, 3))}`);
  console.log(`lab: ${first.model.machines.length} machines, ${first.variant!.specs.length} params, ${first.model.checks.length} checks; ${VARIANTS} variants, median of ${RUNS} runs after a warm-up`);
  console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  const plain = join(base, 'plain');
  await renderVariant(lab, 'baseline', plain);
  const timeIt = async (what: (run: number) => Promise<void>) => {
    await what(-1); // warm-up
    const times: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const t0 = performance.now();
      await what(run);
      times.push(performance.now() - t0);
    }
    return median(times);
  };
  const rendered = await timeIt(async (run) => {
    for (let s = 0; s < VARIANTS; s++) await renderVariant(lab, s, join(base, `out-${run + 1}`, String(s)));
  });
  const batch = await timeIt(async (run) => {
    await renderVariants(lab, Array.from({ length: VARIANTS }, (_, s) => s), (s) => join(base, `batch-${run + 1}`, s));
  });
  const inMemory = await timeIt(async () => {
    for (let s = 0; s < VARIANTS; s++) {
      const r = await loadLab(lab, { seed: String(s) });
      if (hasErrors(r.diagnostics)) throw new Error(`seed ${s} has errors`);
    }
  });
  const baseline = await timeIt(async () => {
    for (let s = 0; s < VARIANTS; s++) await loadLab(plain);
  });
  const row = (name: string, ms: number) => console.log(`${name.padEnd(46)} ${(ms / 1000).toFixed(2)} s  (${(ms / VARIANTS).toFixed(1)} ms each)`);
  row(`renderVariant × ${VARIANTS} (written as folders)`, rendered);
  row(`renderVariants of ${VARIANTS} seeds (the same folders)`, batch);
  row(`loadLab with a seed × ${VARIANTS} (in memory)`, inMemory);
  row(`baseline: loadLab of a plain variant × ${VARIANTS}`, baseline);
  console.log(`renderVariants: ${(batch / TARGET_MS).toFixed(2)}× the ${TARGET_MS / 1000} s target (one renderVariant per seed: ${(rendered / TARGET_MS).toFixed(2)}×); templates add ${(inMemory / baseline).toFixed(2)}× to reading the lab`);
  if (batch > TARGET_MS) process.exitCode = 1;
}

const base = mkdtempSync(join(tmpdir(), 'vnetlab-bench-variants-'));
runBench(() => main(base), process.env, base);
