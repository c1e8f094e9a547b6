// Lab parameters (`params:`): deterministic draws, network filters, templates in every text of a lab
// (lab.yaml values, startup scripts, files placed in machines, Netkit folders), diagnostics at
// file:line:col, solutions, and renderVariant's concrete folder.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadLab } from '../../src/main/lab/index.ts';
import { drawParams, readSeedFile, renderVariant, seedFor, SEED_FILE, SubnetValue, variantValues, type ParamSpec } from '../../src/main/lab/variants.ts';
import { NETWORK_FILTERS, parseCidr, renderTemplate } from '../../src/main/lab/params.ts';
import { byCode, cleanupTempLabs, errorsOf, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

const SPECS: ParamSpec[] = [
  { kind: 'subnet', name: 'lan_a', pool: parseCidr('10.0.0.0/8')!, prefix: 24, distinctFrom: [] },
  { kind: 'subnet', name: 'lan_b', pool: parseCidr('10.0.0.0/8')!, prefix: 24, distinctFrom: ['lan_a'] },
  { kind: 'range', name: 'asn', min: 64512, max: 65534, distinctFrom: [] },
  { kind: 'choice', name: 'city', options: ['rome', 'paris', 'oslo'], distinctFrom: [] },
];

const LAB = `lab:
  name: pv
  description: |
    # Variant
    Your LAN is {{ lan_a }}; the router answers at {{ lan_a | host: 1 }}. AS {{ asn }}.
params:
  lan_a: {subnet: 10.0.0.0/8, prefix: 24}
  lan_b: {subnet: 10.0.0.0/8, prefix: 24, distinct_from: [lan_a]}
  asn: {range: [64512, 65534]}
  mem: {choice: [64, 96]}
machines:
  pc1:
    image: tiny
    memory: "{{ mem }}"
    interfaces:
      - {domain: a, ipv4: "{{ lan_a | address: 10 }}"}
    startup: |
      echo pc1 in {{ lan_a }}
  r1:
    image: tiny
    interfaces:
      - {domain: a, ipv4: "{{ lan_a | host: 1 }}/{{ lan_a.prefix }}"}
      - {domain: b, ipv4: "{{ lan_b | address: -1 }}"}
    files:
      - {path: /etc/motd, source: motd.txt}
      - {path: /etc/r1, source: r1}
  pc2:
    image: tiny
    interfaces:
      - {domain: b, ipv4: "{{ lan_b | address: 10 }}"}
checks:
  - id: pc1-reaches-pc2
    kind: reach
    from: pc1
    to: "{{ lan_b | host: 10 }}"
  - id: secret
    kind: route
    on: r1
    prefix: "{{ lan_b }}"
    hidden: true
solution:
  machines:
    pc1:
      startup: "ip route add default via {{ lan_a | host: 1 }}"
      files:
        - {path: /etc/answer, source: solution/answer.txt}
`;

function paramsLab(extra: Record<string, string> = {}): string {
  return tempLab({
    'lab.yaml': LAB,
    'motd.txt': 'Welcome to {{ lan_b | network }} / {{ lan_b | netmask }}\n',
    'r1/plain.conf': 'no template here\n',
    'r1/frr.conf': 'router bgp {{ asn }}\n network {{ lan_a }}\n',
    'solution/answer.txt': 'gateway {{ lan_a | host: 1 }}\n',
    ...extra,
  });
}

describe('drawing parameters', () => {
  it('the same seed gives the same values; other seeds give others', () => {
    const a = drawParams(SPECS, 'alice');
    expect(drawParams(SPECS, 'alice')).toEqual(a);
    expect(String(a.lan_a)).toMatch(/^10\.\d+\.\d+\.0\/24$/);
    const seen = new Set(Array.from({ length: 20 }, (_, i) => String(drawParams(SPECS, i).lan_a)));
    expect(seen.size).toBeGreaterThan(15);
  });

  it('a seed gives the same values whatever other parameters the lab gains', () => {
    const more: ParamSpec[] = [{ kind: 'range', name: 'vlan', min: 2, max: 4000, distinctFrom: [] }, ...SPECS];
    const before = drawParams(SPECS, 's');
    const after = drawParams(more, 's');
    for (const k of Object.keys(before)) expect(String(after[k])).toBe(String(before[k]));
  });

  it('distinct_from keeps subnets apart, even in a pool with room for only two', () => {
    for (let seed = 0; seed < 200; seed++) {
      const v = drawParams(SPECS, seed);
      expect(String(v.lan_a)).not.toBe(String(v.lan_b));
      expect(Number(v.asn)).toBeGreaterThanOrEqual(64512);
      expect(Number(v.asn)).toBeLessThanOrEqual(65534);
    }
    const tight: ParamSpec[] = [
      { kind: 'subnet', name: 'a', pool: parseCidr('192.168.0.0/23')!, prefix: 24, distinctFrom: [] },
      { kind: 'subnet', name: 'b', pool: parseCidr('192.168.0.0/23')!, prefix: 24, distinctFrom: ['a'] },
    ];
    for (let seed = 0; seed < 50; seed++) {
      const v = drawParams(tight, seed);
      expect(new Set([String(v.a), String(v.b)])).toEqual(new Set(['192.168.0.0/24', '192.168.1.0/24']));
    }
    const overlapping: ParamSpec[] = [
      { kind: 'subnet', name: 'big', pool: parseCidr('10.0.0.0/16')!, prefix: 17, distinctFrom: [] },
      { kind: 'subnet', name: 'small', pool: parseCidr('10.0.0.0/16')!, prefix: 24, distinctFrom: ['big'] },
    ];
    for (let seed = 0; seed < 50; seed++) {
      const v = drawParams(overlapping, seed);
      const big = (v.big as SubnetValue).subnet;
      const small = (v.small as SubnetValue).subnet;
      expect(small.network >= big.network && small.network < big.network + (1n << 15n)).toBe(false);
    }
  });

  it('IPv6 pools draw IPv6 subnets', () => {
    const v = drawParams([{ kind: 'subnet', name: 'v6', pool: parseCidr('2001:db8::/32')!, prefix: 64, distinctFrom: [] }], 'x');
    expect(String(v.v6)).toMatch(/^2001:db8:[0-9a-f:]+\/64$/);
    expect(NETWORK_FILTERS.host!(v.v6, 1)).toMatch(/^2001:db8:.*::1$/);
  });

  it('seedFor is an HMAC: stable, per student and lab, and depends on the secret', () => {
    const s = seedFor('class secret', 's0123456789', 'ospf-exam');
    expect(s).toMatch(/^[0-9a-f]{16}$/);
    expect(seedFor('class secret', 's0123456789', 'ospf-exam')).toBe(s);
    expect(seedFor('class secret', 's0123456788', 'ospf-exam')).not.toBe(s);
    expect(seedFor('class secret', 's0123456789', 'other')).not.toBe(s);
    expect(seedFor('other secret', 's0123456789', 'ospf-exam')).not.toBe(s);
  });
});

describe('network filters', () => {
  const lan = new SubnetValue(parseCidr('10.1.2.0/24')!);
  const render = (t: string) => {
    const out = renderTemplate(t, { lan, n: 7 });
    return 'text' in out ? out.text : `ERR ${out.problem.code}: ${out.problem.message}`;
  };
  it('prints subnets, hosts, masks and carved subnets', () => {
    expect(render('{{ lan }} {{ lan.prefix }} {{ lan.network }} {{ lan.netmask }} {{ lan.broadcast }} {{ lan.wildcard }}')).toBe('10.1.2.0/24 24 10.1.2.0 255.255.255.0 10.1.2.255 0.0.0.255');
    expect(render('{{ lan | host: 1 }} {{ lan | host: -1 }} {{ lan | address: 10 }} {{ lan | netmask }} {{ lan | prefix }}')).toBe('10.1.2.1 10.1.2.254 10.1.2.10/24 255.255.255.0 24');
    expect(render('{{ lan | subnet: 30, 1 }} {{ lan | subnet: 30, 1 | host: 2 }} {{ "192.168.7.9/16" | network }}')).toBe('10.1.2.4/30 10.1.2.6 192.168.0.0');
    expect(render('{{ n | plus: 1 }}')).toBe('8');
  });
  it('refuses what cannot be, and never runs code or reads files', () => {
    expect(render('{{ lan | host: 255 }}')).toMatch(/ERR template-error: host: 10.1.2.0\/24 has no host 255/);
    expect(render('{{ n | host: 1 }}')).toMatch(/is not a subnet/);
    expect(render('{{ nope }}')).toMatch(/ERR unknown-param: unknown parameter 'nope'/);
    expect(render('{{ lan | frob }}')).toMatch(/ERR unknown-filter/);
    expect(render('{% include "/etc/passwd" %}')).toMatch(/ERR template-syntax/);
    expect(render('{% render "x" %}')).toMatch(/ERR template-syntax/);
    expect(render('{{ lan.constructor }}')).toMatch(/^ERR/);
    expect(render('{% for i in (1..100000000) %}x{% endfor %}')).toMatch(/^ERR/);
    expect(render('{% raw %}{{ kept }}{% endraw %}')).toBe('{{ kept }}');
  });
});

describe('a lab with params', () => {
  it('renders every text of the lab: addresses, instructions, startup, files, checks, memory', async () => {
    const dir = paramsLab();
    const { model, diagnostics, variant } = await loadLab(dir);
    expect(errorsOf(diagnostics)).toEqual([]);
    const v = drawParams(variant!.specs, '0');
    const lanA = v.lan_a as SubnetValue;
    const lanB = v.lan_b as SubnetValue;
    expect(model!.variant).toEqual({ seed: '0', params: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)])) });
    expect(model!.meta.description).toContain(`Your LAN is ${lanA.cidr}; the router answers at ${lanA.network.replace(/0$/, '1')}`);
    const [pc1, r1, pc2] = model!.machines;
    expect(pc1!.memoryMiB).toBe(Number(v.mem));
    expect(pc1!.interfaces[0]!.ipv4).toEqual([`${lanA.network.replace(/0$/, '10')}/24`]);
    expect(pc1!.startup!.text).toBe(`echo pc1 in ${lanA.cidr}\n`);
    expect(r1!.interfaces.map((i) => i.ipv4[0])).toEqual([`${lanA.network.replace(/0$/, '1')}/24`, `${lanB.network.replace(/0$/, '254')}/24`]);
    expect(pc2!.interfaces[0]!.ipv4[0]).toBe(`${lanB.network.replace(/0$/, '10')}/24`);
    // The templated file became its rendered text; the folder keeps its entry and gains an override for its one template.
    expect(r1!.files).toEqual([
      expect.objectContaining({ kind: 'inline', guestPath: '/etc/motd', content: `Welcome to ${lanB.network} / 255.255.255.0\n` }),
      expect.objectContaining({ kind: 'dir', guestPath: '/etc/r1', labPath: 'r1' }),
      expect.objectContaining({ kind: 'inline', guestPath: '/etc/r1/frr.conf', content: `router bgp ${String(v.asn)}\n network ${lanA.cidr}\n` }),
    ]);
    expect(model!.checks.map((c) => ('to' in c ? c.to : 'prefix' in c ? c.prefix : ''))).toEqual([lanB.network.replace(/0$/, '10'), lanB.cidr]);
    // The solution is not applied unless asked.
    expect(pc1!.files).toEqual([]);
  });

  it('another seed is another variant; the same seed is the same one', async () => {
    const dir = paramsLab();
    const a = await loadLab(dir, { seed: 'alice' });
    const b = await loadLab(dir, { seed: 'bob' });
    const again = await loadLab(dir, { seed: 'alice' });
    expect(a.model!.variant!.params).toEqual(again.model!.variant!.params);
    expect(a.model!.variant!.params.lan_a).not.toBe(b.model!.variant!.params.lan_a);
    expect(a.model!.machines[0]!.interfaces[0]!.ipv4).not.toEqual(b.model!.machines[0]!.interfaces[0]!.ipv4);
    expect(await variantValues(dir, 'alice')).toEqual(a.model!.variant!.params);
  });

  it('withSolution appends the solution startup and files, rendered for the seed', async () => {
    const dir = paramsLab();
    const { model, diagnostics, variant } = await loadLab(dir, { seed: '5', withSolution: true });
    expect(errorsOf(diagnostics)).toEqual([]);
    const gw = NETWORK_FILTERS.host!(variant!.values.lan_a, 1) as string;
    const pc1 = model!.machines[0]!;
    expect(pc1.startup!.text).toBe(`echo pc1 in ${String(variant!.values.lan_a)}\nip route add default via ${gw}`);
    expect(pc1.files).toEqual([expect.objectContaining({ kind: 'inline', guestPath: '/etc/answer', content: `gateway ${gw}\n` })]);
  });

  it('reports template and parameter mistakes at file:line:col', async () => {
    const dir = tempLab({
      'lab.yaml': `lab:
  name: bad
  description: |
    Fine line
    uses {{ lan_c }} here
params:
  lan_a: {subnet: 10.0.0.0/8, prefix: 24}
  x-y: {range: [1, 2]}
  z: {range: [5, 1]}
  w: {subnet: 10.0.0.1/8, prefix: 24}
  q: {subnet: 10.0.0.0/8}
machines:
  pc1:
    image: tiny
    interfaces:
      - {domain: a, ipv4: "{{ lan_a | host(1) }}/24"}
      - {domain: a, ipv4: "{{ lan_a | hots: 1 }}/24"}
    startup: "ip r a {{ lan_a | host: 300 }}"
    files:
      - {path: /etc/x, source: x.conf}
  pc2:
    image: tiny
    interfaces: [a]
solution:
  machines:
    pc9: {startup: echo}
    pc1:
      files:
        - {path: /etc/y, source: y.conf}
`,
      'x.conf': 'line one\nline {{ two }}\n',
      'y.conf': 'answer\n',
    });
    const { diagnostics } = await loadLab(dir);
    const at = (code: string) => byCode(diagnostics, code).map((d) => `${d.file}:${d.line}:${d.column} ${d.message}`);
    expect(at('unknown-param')).toEqual(["lab.yaml:5:13 unknown parameter 'lan_c'", "x.conf:2:9 unknown parameter 'two'"]);
    expect(at('template-syntax')).toEqual(['lab.yaml:16:43 template syntax: expected ":" after filter name']);
    expect(byCode(diagnostics, 'template-syntax')[0]!.hint).toMatch(/host: 1 }}, not host\(1\)/);
    expect(at('unknown-filter')).toEqual(["lab.yaml:17:28 unknown filter 'hots'"]);
    expect(at('template-error')).toEqual(['lab.yaml:18:22 host: 10.191.180.0/24 has no host 300 (its hosts are 1…254, or -1 for the last)']);
    expect(at('invalid-param').map((s) => s.replace(/ parameter.*|'.*/, ''))).toEqual(['lab.yaml:8:3 ', 'lab.yaml:9:14', 'lab.yaml:10:15', 'lab.yaml:11:6']);
    expect(at('unknown-machine')).toEqual(["lab.yaml:26:5 the solution names machine 'pc9', which is not a machine of this lab"]);
    expect(at('solution-outside-folder')).toEqual(["lab.yaml:29:11 the solution's file 'y.conf' is not in the solution/ folder"]);
  });

  it('a Netkit folder takes params from vnetlab.yaml into its startup files and machine folders', async () => {
    const dir = tempLab({
      'lab.conf': 'pc1[0]=A\nr1[0]=A\n',
      'vnetlab.yaml': 'params:\n  lan: {subnet: 172.16.0.0/12, prefix: 24}\nlab:\n  starting_score: 1\n  description: |\n    Use {{ lan }}.\nchecks:\n  - {id: c, kind: reach, from: pc1, to: "{{ lan | host: 1 }}"}\nsolution:\n  machines:\n    pc1: {startup: "echo solved"}\n',
      'pc1.startup': 'ip address add {{ lan | address: 10 }} dev eth0\n',
      'r1.startup': 'ip address add {{ lan | address: 1 }} dev eth0\n{{ oops }}\n',
      'r1/etc/hello': 'net {{ lan.network }}\n',
    });
    const { model, diagnostics, variant } = await loadLab(dir, { seed: 'k' });
    expect(at(diagnostics)).toEqual(["r1.startup:2:4 unknown parameter 'oops'"]);
    const lan = variant!.values.lan as SubnetValue;
    expect(model!.meta.description).toBe(`Use ${lan.cidr}.\n`);
    expect(model!.meta.startingScore).toBe(1);
    expect(model!.machines.find((m) => m.name === 'pc1')!.startup!.text).toBe(`ip address add ${NETWORK_FILTERS.address!(lan, 10) as string} dev eth0\n`);
    expect(model!.machines.find((m) => m.name === 'r1')!.files.at(-1)).toMatchObject({ kind: 'inline', guestPath: '/etc/hello', content: `net ${lan.network}\n` });
    expect(model!.checks[0]).toMatchObject({ to: NETWORK_FILTERS.host!(lan, 1) });
    function at(list: typeof diagnostics) {
      return errorsOf(list).map((d) => `${d.file}:${d.line}:${d.column} ${d.message}`);
    }
  });
});

describe('renderVariant', () => {
  it('writes a plain lab.yaml folder with rendered files and .vnetlab-seed, and no solution', async () => {
    const dir = paramsLab();
    const out = join(tempLab(), 'variant');
    const rendered = await renderVariant(dir, 'carol', out);
    const text = readFileSync(join(out, 'lab.yaml'), 'utf8');
    expect(text).not.toMatch(/\{\{|params:|solution/);
    expect(text).toContain(rendered.values.lan_a!);
    expect(await readSeedFile(out)).toBe('carol');
    expect(readFileSync(join(out, SEED_FILE), 'utf8')).toBe('carol\n');
    expect(readFileSync(join(out, 'motd.txt'), 'utf8')).toMatch(/^Welcome to 10\.\d+\.\d+\.0 \/ 255\.255\.255\.0\n$/);
    expect(readFileSync(join(out, 'r1/frr.conf'), 'utf8')).toContain(`network ${rendered.values.lan_a}`);
    expect(readFileSync(join(out, 'r1/plain.conf'), 'utf8')).toBe('no template here\n');
    expect(existsSync(join(out, 'solution'))).toBe(false);
    // It is a lab like any other: it loads with no error, no params, the same values.
    const again = await loadLab(out);
    expect(errorsOf(again.diagnostics)).toEqual([]);
    expect(again.model!.variant).toBeUndefined();
    const original = await loadLab(dir, { seed: 'carol' });
    expect(again.model!.machines.map((m) => m.interfaces)).toEqual(original.model!.machines.map((m) => m.interfaces).map((l) => l.map((i) => ({ ...i, source: expect.anything() }))));
    expect(again.model!.checks.map((c) => c.id)).toEqual(['pc1-reaches-pc2', 'secret']);
  });

  it('forStudent leaves hidden checks out; withSolution puts the solution in; a non-empty folder is refused', async () => {
    const dir = paramsLab();
    const student = join(tempLab(), 's');
    await renderVariant(dir, 1, student, { forStudent: true });
    expect((await loadLab(student)).model!.checks.map((c) => c.id)).toEqual(['pc1-reaches-pc2']);
    const solved = join(tempLab(), 'x');
    await renderVariant(dir, 1, solved, { withSolution: true });
    const model = (await loadLab(solved)).model!;
    expect(model.machines[0]!.startup!.text).toMatch(/ip route add default via 10\./);
    expect(statSync(join(solved, 'solution/answer.txt')).isFile()).toBe(true);
    await expect(renderVariant(dir, 2, solved)).rejects.toThrow(/already exists and is not empty/);
  });

  it('a lab with errors is refused with file:line:col', async () => {
    const dir = tempLab({ 'lab.yaml': 'lab: {name: x}\nparams: {a: {range: [1, 3]}}\nmachines:\n  pc1: {image: tiny, startup: "echo {{ b }}"}\n' });
    await expect(renderVariant(dir, 0, join(tempLab(), 'o'))).rejects.toThrow(/lab\.yaml:4:\d+: error: unknown parameter 'b'/);
  });
});

describe('saving over a template', () => {
  it('is refused: the model read from a params lab is one variant, saving it would lose the templates', async () => {
    const { saveLabYaml, writeNetkitLab } = await import('../../src/main/lab/index.ts');
    const dir = paramsLab();
    const { model } = await loadLab(dir);
    await expect(saveLabYaml(join(dir, 'lab.yaml'), model!)).rejects.toThrow(/declares params: — it is a template/);
    expect(readFileSync(join(dir, 'lab.yaml'), 'utf8')).toContain('params:');
    // Elsewhere it is a plain lab like any other.
    const elsewhere = tempLab();
    await saveLabYaml(join(elsewhere, 'lab.yaml'), { ...model!, root: elsewhere });
    const nk = tempLab({ 'vnetlab.yaml': 'params:\n  a: {range: [1, 2]}\n' });
    await expect(writeNetkitLab(model!, nk)).rejects.toThrow(/vnetlab.yaml declares params:/);
  });
});
