// Cheap checks for things that silently break older Netkit/Kathará labs on the Debian bookworm
// image (see shared/corpus/SOURCES.md): each warning says what happens and what vnetlab does.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { LabModel, Machine, Script, SourceRef } from '../../shared/lab-model.ts';
import { info, warning } from './diag.ts';
import { isInside, labPathProblem } from './lab-paths.ts';

/** BIND options that named 9.18 (bookworm) rejects: it refuses to start while they are in named.conf*. */
const REMOVED_BIND_OPTIONS = ['dnssec-enable', 'dnssec-lookaside', 'filter-aaaa-on-v4', 'min-roots'];
const NAMED_CONF = /^\/etc\/bind\/named\.conf[^/]*$/;
const WEB_ROOT = '/var/www';
/** FRR daemon configs that FRR ignores while /etc/frr/frr.conf (the integrated config) exists. */
const FRR_DAEMON_CONF = /^\/etc\/frr\/(zebra|ospfd|ospf6d|ripd|ripngd|bgpd|isisd|staticd)\.conf$/;
const BGP_CONF = /^\/etc\/(frr\/(frr|bgpd)|quagga\/bgpd|zebra\/bgpd)\.conf$/;
/** Guest folders these checks look into; only these are listed in machine folders. */
const SCANNED_FOLDERS = ['/etc/bind', WEB_ROOT, '/etc/frr', '/etc/quagga', '/etc/zebra'];
/** Bigger files are not read for these checks; named.conf files are small. */
const MAX_SCANNED_BYTES = 1024 * 1024;

export async function legacyDiagnostics(model: LabModel): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  for (const m of model.machines) {
    const placed = await placedFiles(model.root, m);
    for (const file of placed) {
      if (NAMED_CONF.test(file.guestPath)) {
        const text = file.content ?? (await readSmall(file.hostPath));
        if (text !== undefined) out.push(...bindDiagnostics(m, file.guestPath, text, file.at, file.shown));
      }
      if (BGP_CONF.test(file.guestPath)) {
        const text = file.content ?? (await readSmall(file.hostPath));
        if (text !== undefined) out.push(...bgpDiagnostics(m, file, text));
      }
      const parent = posix.dirname(file.guestPath);
      if (parent === WEB_ROOT && /\.(html?|php|css|js|txt)$/i.test(file.guestPath)) {
        out.push(warning('legacy-web-root', `${file.shown} puts a web page in ${WEB_ROOT} of ${m.name}, but apache2 in the debian image serves ${WEB_ROOT}/html: that page will not be found`, file.at, { target: `machine:${m.name}`, hint: `vnetlab places the file as written; move it to ${m.name}/var/www/html/ (or set DocumentRoot ${WEB_ROOT} in the apache config)` }));
      }
    }
    if (m.startup) out.push(...startupWebRoot(m.name, m.startup));
    const integrated = placed.find((f) => f.guestPath === '/etc/frr/frr.conf');
    const ignored = placed.filter((f) => FRR_DAEMON_CONF.test(f.guestPath));
    if (integrated && ignored.length > 0) {
      out.push(warning('frr-ignored-config', `${m.name} gets both /etc/frr/frr.conf and ${ignored.map((f) => posix.basename(f.guestPath)).join(', ')}: while frr.conf exists, FRR reads only it and ignores the per-daemon files`, ignored[0]!.at, { target: `machine:${m.name}`, hint: 'put the whole configuration in frr.conf, or remove frr.conf to use the per-daemon files' }));
    }
  }
  if (model.sharedStartup) out.push(...startupWebRoot('every machine', model.sharedStartup));
  return out;
}

/** Pages a startup script writes directly into /var/www (`echo … > /var/www/index.html`, `cp page.html /var/www/`). */
function startupWebRoot(machine: string, script: Script): Diagnostic[] {
  const lines = script.text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/(^|\s)#.*$/, '');
    const page = /\/var\/www\/([^/\s'";|&<>()]+\.(?:html?|php|css|js|txt))(?![\w/])/i.exec(line);
    const copy = /\b(?:cp|mv|install|ln)\b[^;&|]*\s\/var\/www\/?(?=\s*(?:$|[;&|]))/.exec(line);
    const hit = page ?? copy;
    if (!hit) continue;
    const at: SourceRef = { file: script.source.file, line: script.source.line + i, column: hit.index + 1 };
    const what = page ? `writes the web page ${WEB_ROOT}/${page[1]}` : `copies files into ${WEB_ROOT}`;
    return [warning('legacy-web-root', `${script.source.file} ${what} on ${machine}, but apache2 in the debian image serves ${WEB_ROOT}/html: that page will not be found`, at, { ...(machine === 'every machine' ? {} : { target: `machine:${machine}` }), hint: `write it to ${WEB_ROOT}/html/ instead (or set DocumentRoot ${WEB_ROOT} in the apache config)` })];
  }
  return [];
}

function bindDiagnostics(m: Machine, guestPath: string, text: string, at: SourceRef, shown: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const lines = text.split('\n');
  for (const option of REMOVED_BIND_OPTIONS) {
    const lineIndex = lines.findIndex((l) => new RegExp(`^\\s*${option}\\b`).test(l.replace(/\/\/.*$|#.*$/, '')));
    if (lineIndex < 0) continue;
    // Point at the line inside the named.conf file when we have it on disk; otherwise at the file entry.
    const where: SourceRef = at.line === 0 ? { file: at.file, line: lineIndex + 1, column: lines[lineIndex]!.indexOf(option) + 1 } : at;
    out.push(warning('legacy-bind-option', `${shown}${at.line === 0 ? '' : ` (${guestPath})`} uses '${option}', which BIND 9.18 in the debian image no longer accepts: when bind9 starts on ${m.name}, vnetlab comments that line out (marked '// vnetlab:') so named still starts`, where, { target: `machine:${m.name}`, hint: `the option has had no effect since BIND 9.16; delete the '${option}' line to silence this warning` }));
  }
  // A root zone of the lab's own (a root server, or resolvers whose hints name one): BIND 9.18 would
  // validate against the real root's key and answer SERVFAIL; the debian image's bind9 turns validation off.
  const plain = text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).split('\n').map((l) => l.replace(/(\/\/|#).*$/, '')).join('\n');
  const root = /\bzone\s+"\."\s*(?:IN\s+)?\{([^}]*)\}/.exec(plain);
  const kind = root ? /\btype\s+(\w+)/.exec(root[1]!)?.[1]?.toLowerCase() : undefined;
  const hints = root ? /\bfile\s+"([^"]+)"/.exec(root[1]!)?.[1] : undefined;
  if (root && kind && (['master', 'primary', 'slave', 'secondary', 'mirror'].includes(kind) || (kind === 'hint' && hints !== '/usr/share/dns/root.hints'))) {
    const line = plain.slice(0, root.index).split('\n').length;
    const where: SourceRef = at.line === 0 ? { file: at.file, line, column: 1 } : at;
    out.push(info('bind-private-root', `${shown}${at.line === 0 ? '' : ` (${guestPath})`} declares the lab's own root zone (zone "." type ${kind}): when bind9 starts on ${m.name}, vnetlab turns DNSSEC validation off (dnssec-validation no;) and says so in the startup log, since BIND 9.18 would expect the real root's signatures and answer SERVFAIL`, where, { target: `machine:${m.name}` }));
  }
  return out;
}

/**
 * FRR ≥ 7.4 exchanges no routes with an eBGP peer that has no policy (`bgp ebgp-requires-policy`),
 * which Quagga-era configs never set. The debian image fixes configs started as Quagga; FRR's own
 * configs are the teacher's to fix.
 */
function bgpDiagnostics(m: Machine, file: PlacedFile, text: string): Diagnostic[] {
  const lines = text.split('\n').map((l) => l.replace(/[!#].*$/, ''));
  const routerLine = lines.findIndex((l) => /^\s*router bgp\s+\d+/.test(l));
  if (routerLine < 0) return [];
  const ownAs = /router bgp\s+(\d+)/.exec(lines[routerLine]!)![1];
  const ebgp = lines.some((l) => {
    const peer = /^\s*neighbor\s+\S+\s+remote-as\s+(\S+)/.exec(l);
    return peer !== null && peer[1] !== ownAs && peer[1] !== 'internal';
  });
  const hasPolicy = lines.some((l) => /ebgp-requires-policy|^\s*neighbor\s+\S+\s+route-map\s/.test(l));
  if (!ebgp || hasPolicy) return [];
  const where: SourceRef = file.at.line === 0 ? { file: file.at.file, line: routerLine + 1, column: 1 } : file.at;
  if (file.guestPath.startsWith('/etc/frr/')) {
    return [warning('frr-ebgp-policy', `${file.shown}: eBGP neighbours without route-maps exchange no routes on FRR ≥ 7.4 (bgp ebgp-requires-policy is on by default)`, where, { target: `machine:${m.name}`, hint: "add 'no bgp ebgp-requires-policy' under 'router bgp', or route-maps for each eBGP neighbour" })];
  }
  return [info('quagga-bgp-on-frr', `${file.shown} is a Quagga BGP config: the debian image runs it on FRR and turns off 'bgp ebgp-requires-policy' and 'bgp network import-check' so it behaves as under Quagga`, where, { target: `machine:${m.name}` })];
}

interface PlacedFile {
  guestPath: string;
  /** Where on the host, for files from the lab folder. */
  hostPath: string;
  content?: string;
  /** Name shown in messages: a lab path, or the guest path of inline content. */
  shown: string;
  at: SourceRef;
}

/** The files a machine's entries place in the guest, limited to the folders these checks look at. */
async function placedFiles(root: string, m: Machine): Promise<PlacedFile[]> {
  const out: PlacedFile[] = [];
  for (const f of m.files) {
    if (f.kind === 'inline') {
      out.push({ guestPath: f.guestPath, hostPath: '', content: f.content, shown: `${m.name}: ${f.guestPath}`, at: f.source });
      continue;
    }
    if (labPathProblem(f.labPath)) continue;
    const hostPath = join(root, f.labPath);
    if (!isInside(root, hostPath)) continue;
    const isDir = f.kind === 'dir' || (await stat(hostPath).then((s) => s.isDirectory(), () => false));
    if (!isDir) {
      out.push({ guestPath: f.guestPath, hostPath, shown: f.labPath, at: f.source });
      continue;
    }
    for (const guestFolder of SCANNED_FOLDERS) {
      // Only the two folders that matter, so a large machine folder costs nothing.
      const relative = posix.relative(f.guestPath, guestFolder);
      if (relative.startsWith('..')) continue;
      const entries = await readdir(join(hostPath, relative), { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (!e.isFile()) continue;
        const labFile = posix.join(f.labPath, relative, e.name);
        out.push({ guestPath: posix.join(guestFolder, e.name), hostPath: join(root, labFile), shown: labFile, at: { file: labFile, line: 0, column: 0 } });
      }
    }
  }
  return out;
}

async function readSmall(path: string): Promise<string | undefined> {
  try {
    const info = await stat(path);
    return info.size > MAX_SCANNED_BYTES ? undefined : await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}
