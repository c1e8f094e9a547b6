// Kathará's lab.ext: collision domains bridged to an interface of the host (`<domain> <host interface>[.<vlan>]`
// per line). vnetlab never touches the host's network, so each line becomes a warning that says so and what
// to use instead. A folder with lab.ext is a Kathará lab (Netkit had no such file).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { LabModel, SourceRef } from '../../shared/lab-model.ts';
import { error, warning } from './diag.ts';
import { MAX_LAB_FILE_BYTES } from './limits.ts';

export const LAB_EXT = 'lab.ext';

export interface LabExt {
  diagnostics: Diagnostic[];
  /** The collision domains lab.ext names (their one-machine warning, which would suggest host_nat as if it were the same thing, is left out). */
  domains: string[];
}

/** Reads `<root>/lab.ext` when there is one (undefined otherwise). */
export async function readLabExt(root: string, model: Pick<LabModel, 'domains'>): Promise<LabExt | undefined> {
  const path = join(root, LAB_EXT);
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  const out: LabExt = { diagnostics: [], domains: [] };
  if (info.size > MAX_LAB_FILE_BYTES) {
    out.diagnostics.push(error('file-too-large', `${LAB_EXT} is larger than ${MAX_LAB_FILE_BYTES / 1024 / 1024} MiB; it is not read`, { file: LAB_EXT, line: 0, column: 0 }));
    return out;
  }
  const text = await readFile(path, 'utf8').catch(() => '');
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.replace(/\r$/, '');
    if (/^\s*(#.*)?$/.test(line)) continue;
    const at: SourceRef = { file: LAB_EXT, line: n + 1, column: line.search(/\S/) + 1 };
    const m = /^\s*(\S+)\s+([A-Za-z0-9_:@-]+)(?:\.(\d+))?\s*$/.exec(line);
    if (!m) {
      out.diagnostics.push(error('lab-ext-syntax', `cannot read this line of lab.ext: '${line.trim().slice(0, 60)}'`, at, { hint: 'lines look like A enp3s0 (collision domain A bridged to the host interface enp3s0) or A enp3s0.10 (on VLAN 10)' }));
      continue;
    }
    const [, domain, hostIf, vlan] = m as unknown as [string, string, string, string | undefined];
    const known = model.domains.some((d) => d.name === domain);
    out.domains.push(domain);
    out.diagnostics.push(
      warning(
        'host-interface-not-bridged',
        `lab.ext bridges collision domain '${domain}' to the host interface ${hostIf}${vlan ? ` (VLAN ${vlan})` : ''}; vnetlab does not bridge host interfaces (nothing in a lab touches the host's network), so '${domain}' stays a virtual LAN${known ? '' : ' (and no machine of lab.conf is attached to it)'}`,
        at,
        {
          target: `domain:${domain}`,
          hint: `for traffic out to the Internet, give '${domain}' host NAT in vnetlab.yaml (domains: {${domain}: {host_nat: true}}: outbound NAT through 10.0.2.2, no inbound, the host itself unreachable); to watch its frames on the host, vnetlab capture; to reach a machine, vnetlab connect or vnetlab exec`,
        },
      ),
    );
  }
  return out;
}
