// deploy/k8s: every manifest parses, kustomize builds it (when kubectl is installed: offline), and
// every pod is unprivileged — runAsNonRoot, no privilege escalation, all capabilities dropped, no
// host namespaces, paths or devices — with a front door Deployment + Service and a worker
// StatefulSet with volumes; the ConfigMap's classroom.yaml is a valid config whose capacity fits the workers.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseClassroomConfig } from '../../src/main/classroom/config.ts';
import { REPO } from './helpers.ts';

const DIR = join(REPO, 'deploy', 'k8s');
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function manifests(): Obj[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => {
        expect(d.errors, f).toEqual([]);
        return d.toJS() as Obj;
      }),
    );
}

const memGi = (q: string) => (q.endsWith('Gi') ? Number(q.slice(0, -2)) * 1024 : q.endsWith('Mi') ? Number(q.slice(0, -2)) : NaN);

describe('deploy/k8s', () => {
  const all = manifests();
  const kind = (k: string) => all.filter((o) => o.kind === k);

  it('has the pieces: front door Deployment + Service + Ingress, worker StatefulSet with PVCs + headless Service', () => {
    for (const o of all) {
      expect(typeof o.apiVersion, JSON.stringify(o).slice(0, 80)).toBe('string');
      expect(o.metadata?.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    expect(kind('Deployment').map((d) => d.metadata.name)).toEqual(['vnetlab-frontdoor']);
    const sts = kind('StatefulSet');
    expect(sts).toHaveLength(1);
    expect(sts[0]!.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    expect(kind('Service').map((s) => s.metadata.name).sort()).toEqual(['vnetlab-frontdoor', 'vnetlab-worker']);
    expect(kind('Service').find((s) => s.metadata.name === 'vnetlab-worker')!.spec.clusterIP).toBe('None');
    expect(kind('Ingress')[0]!.spec.tls).toBeTruthy();
    // Selectors match their templates.
    for (const w of [...kind('Deployment'), ...sts]) expect(w.spec.template.metadata.labels).toMatchObject(w.spec.selector.matchLabels);
  });

  it('every pod is unprivileged: non-root, no escalation, no capabilities, no host access or devices', () => {
    for (const w of [...kind('Deployment'), ...kind('StatefulSet')]) {
      const pod = w.spec.template.spec;
      const name = w.metadata.name;
      expect(pod.securityContext.runAsNonRoot, name).toBe(true);
      expect(pod.securityContext.runAsUser, name).toBeGreaterThan(0);
      expect(pod.securityContext.seccompProfile.type, name).toBe('RuntimeDefault');
      for (const key of ['hostNetwork', 'hostPID', 'hostIPC']) expect(pod[key], `${name} ${key}`).toBeFalsy();
      expect(pod.automountServiceAccountToken, name).toBe(false);
      for (const v of pod.volumes ?? []) expect(v.hostPath, `${name} volume ${v.name}`).toBeUndefined();
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
        const sc = c.securityContext;
        expect(sc.privileged, c.name).toBe(false);
        expect(sc.allowPrivilegeEscalation, c.name).toBe(false);
        expect(sc.capabilities.drop, c.name).toEqual(['ALL']);
        expect(sc.capabilities.add, c.name).toBeUndefined();
        expect(sc.runAsUser ?? pod.securityContext.runAsUser, c.name).not.toBe(0);
        // No device plugins (/dev/kvm and friends): only cpu, memory and storage are asked for.
        for (const part of ['requests', 'limits']) for (const r of Object.keys(c.resources?.[part] ?? {})) expect(['cpu', 'memory', 'ephemeral-storage'], `${c.name} ${r}`).toContain(r);
        expect(c.resources.requests.memory, c.name).toBeTruthy();
        expect(JSON.stringify(c)).not.toMatch(/\/dev\/(kvm|net\/tun)/);
      }
    }
    expect(kind('Namespace')[0]!.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('the ConfigMap holds a valid classroom.yaml whose capacity fits the workers and names each of them', () => {
    const text = kind('ConfigMap')[0]!.data['classroom.yaml'] as string;
    // The lab paths are the image's (/opt/vnetlab/labs); here, the repository's labs.
    const config = parseClassroomConfig(text.replaceAll('/opt/vnetlab/labs', join(REPO, 'labs')), '/etc/vnetlab/config/classroom.yaml');
    expect(config.behindProxy).toBe(true);
    expect(config.publicUrl).toMatch(/^https:/);
    const sts = kind('StatefulSet')[0]!;
    expect(config.workers.urls).toHaveLength(sts.spec.replicas);
    config.workers.urls.forEach((u, i) => expect(u).toContain(`vnetlab-worker-${i}.vnetlab-worker`));
    const perWorker = memGi(sts.spec.template.spec.containers[0].resources.limits.memory);
    expect(config.capacity.memoryMb).toBeLessThanOrEqual(perWorker * sts.spec.replicas);
    expect(config.quota.memoryMb).toBeLessThanOrEqual(perWorker);
  });

  it.skipIf(spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status !== 0)('kubectl kustomize builds it (offline)', () => {
    const r = spawnSync('kubectl', ['kustomize', DIR], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const built = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj);
    expect(built.filter((o) => o.metadata.namespace !== 'vnetlab' && o.kind !== 'Namespace')).toEqual([]);
    expect(built.length).toBe(all.length);
  });
});
