// A lab.conf machine option (`pc1[mem]=128`, `r1[image]=kathara/frr`, `pc1[ipv6]=false`…) applied to
// the machine it names; options that only make sense for Docker or for Netkit's own host set-up are
// accepted and ignored, with a note that says why.
import type { Diagnostic } from '../../shared/diagnostics.ts';
import { MIN_MEMORY_MIB, type Machine, type SourceRef } from '../../shared/lab-model.ts';
import { didYouMean, info, warning, error } from './diag.ts';
import { DEFAULT_IMAGE, KNOWN_IMAGES, mapImageName } from './images.ts';
import { KATHARA_OPTIONS, NETKIT_OPTIONS } from './lab-conf.ts';
/** Options that only make sense for Docker or for Netkit's own host setup; accepted and ignored. */
const IGNORED_OPTIONS: Record<string, string> = {
  port: 'vnetlab does not forward host ports into guests; reach services from another machine of the lab (or a host_nat domain)',
  shell: 'consoles open the guest\'s login shell',
  entrypoint: 'vnetlab guests boot their own init',
  privileged: 'UML guests are always "privileged" inside and never on the host',
  ulimit: 'not applicable to UML guests',
  hostname: 'the guest\'s host name is the machine name',
  con0: 'vnetlab opens consoles itself',
  con1: 'vnetlab opens consoles itself',
  kernel: 'vnetlab uses its own UML kernel; nothing in a lab runs on the host',
  filesystem: 'vnetlab uses its own images; set image: instead',
  'model-fs': 'vnetlab uses its own images; set image: instead',
  append: 'kernel command lines come from vnetlab',
  modules: 'kernel modules come with vnetlab\'s images',
  hostlab: 'the lab folder is always at /hostlab',
};

/** The sysctls every Netkit/Kathará machine gets unless lab.conf sets them (writeNetkitLab leaves them out again). */
export function forwardingDefaults(machine: Pick<Machine, 'ipv6'>): Record<string, string> {
  return machine.ipv6 ? { 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1' } : { 'net.ipv4.ip_forward': '1' };
}

export function applyOption(machine: Machine, key: string, value: string, at: SourceRef, diagnostics: Diagnostic[]): void {
  const target = `machine:${machine.name}`;
  const bad = (what: string, hint?: string) => diagnostics.push(error('invalid-option', `${machine.name}[${key}]: ${what}`, at, { target, hint }));
  switch (key) {
    case 'mem':
    case 'M': {
      const mib = parseMemory(value);
      if (mib === undefined) return void bad(`'${value}' is not an amount of memory`, 'write it in MiB, e.g. 128 or 128m');
      if (mib < MIN_MEMORY_MIB) {
        diagnostics.push(warning('memory-raised', `${machine.name} asks for ${mib} MiB; a 6.1 UML kernel does not boot reliably with less than ${MIN_MEMORY_MIB}, so vnetlab gives it ${MIN_MEMORY_MIB} MiB`, at, { target }));
        machine.memoryMiB = MIN_MEMORY_MIB;
      } else machine.memoryMiB = mib;
      return;
    }
    case 'image': {
      const mapped = mapImageName(value);
      machine.image = mapped.image;
      if (mapped.alias) machine.imageAlias = mapped.alias;
      if (mapped.unknown) {
        diagnostics.push(warning('unknown-image', `${machine.name} asks for image '${value}', which vnetlab does not have; it runs on '${DEFAULT_IMAGE}' instead`, at, { target, hint: `known images: ${KNOWN_IMAGES.join(', ')} (Kathará's kathara/* images map to debian)` }));
      }
      return;
    }
    case 'exec':
      machine.exec = value;
      return;
    case 'cpus': {
      const cpus = Number(value);
      if (!Number.isFinite(cpus) || cpus <= 0) return void bad(`'${value}' is not a number of CPUs`);
      machine.cpus = cpus;
      // Kept in the model (it goes back into lab.conf), but a UML guest runs on one CPU: say so.
      diagnostics.push(warning('option-ignored', `${machine.name}[cpus] is ignored: a UML guest always runs on one CPU`, at, { target, hint: 'remove it, or keep it for Kathará; vnetlab runs the lab the same either way' }));
      return;
    }
    case 'bridged':
    case 'ipv6': {
      const flag = parseBool(value);
      if (flag === undefined) return void bad(`'${value}' is not true or false`);
      machine[key] = flag;
      return;
    }
    case 'num_terms': {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) return void bad(`'${value}' is not a number of terminals`);
      machine.consoles = n;
      return;
    }
    case 'sysctl':
    case 'env': {
      const eq = value.indexOf('=');
      if (eq <= 0) return void bad(`'${value}' should look like ${key === 'sysctl' ? 'net.ipv4.ip_forward=1' : 'NAME=value'}`);
      (key === 'sysctl' ? machine.sysctls : machine.env)[value.slice(0, eq).trim()] = value.slice(eq + 1).trim();
      return;
    }
    default: {
      const why = IGNORED_OPTIONS[key];
      if (why) {
        diagnostics.push((key === 'port' || key === 'kernel' || key === 'filesystem' || key === 'model-fs' ? warning : info)('option-ignored', `${machine.name}[${key}] is ignored: ${why}`, at, { target }));
        return;
      }
      const close = didYouMean(key, [...KATHARA_OPTIONS, ...NETKIT_OPTIONS]);
      diagnostics.push(warning('unknown-option', `${machine.name}[${key}] is not an option vnetlab knows; it is ignored${close ? ` (did you mean '${close}'?)` : ''}`, at, { target }));
    }
  }
}

/** Netkit: plain MiB; Kathará (Docker): 512m, 1g, 262144k, with an optional trailing b. */
function parseMemory(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  return Math.round(unit === 'g' ? n * 1024 : unit === 'k' ? n / 1024 : n);
}

function parseBool(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (['true', 'yes', '1', 'on'].includes(v)) return true;
  if (['false', 'no', '0', 'off'].includes(v)) return false;
  return undefined;
}
