// `vnetlab image build|list|kernel`: guest images and the kernel they are built for.
import type { Command } from '../command.ts';
import { EXIT, UserError } from '../exit-codes.ts';
import { buildImage, listImages } from '../../images/build.ts';
import { findKernel } from '../../images/kernel.ts';
import { availableImages } from '../../images/manifest.ts';
import { exportImage, importImage } from '../../images/transfer.ts';
import { resolve } from 'node:path';

const command: Command = {
  name: 'image',
  summary: 'build, list, export and import guest images, show the UML kernel',
  usage: 'image build <name> [--force]\n       vnetlab image list [--json]\n       vnetlab image kernel [--json]\n       vnetlab image export <name> -o FILE\n       vnetlab image import FILE',
  description: `
Guest images live in the image cache (~/.cache/vnetlab/images, or $VNETLAB_IMAGE_DIR).
  build NAME   build an image if it is missing or stale (--force: rebuild anyway).
               'tiny' (busybox) builds in seconds; 'debian' (Debian bookworm with FRR,
               bind9, apache2, squid, exim4, dovecot…) takes a few minutes the first time
               (as root, or without root through mmdebstrap). An image of your own is a
               recipe, ~/.config/vnetlab/images/NAME.yaml: 'name: NAME', 'extends: debian',
               'packages: [...]' (docs/lab-format.md); build it with: vnetlab image build NAME.
  list         every image: size, manifest version, kernel, and whether it must be rebuilt.
  kernel       the UML kernel vnetlab uses ($VNETLAB_KERNEL or /usr/bin/linux.uml) and its version.
  export NAME -o FILE
               write a built, up-to-date image to one compressed, checksummed file carrying
               its manifest and the kernel version it was built for (publish it next to the labs).
  import FILE  check such a file and install its image into the image cache. Refused, with
               nothing left behind, when the file is truncated or changed, was built for another
               kernel, or comes from another vnetlab version's guest files.
Examples:
  vnetlab image build tiny
  sudo vnetlab image build debian
  vnetlab image export debian -o debian.vnlimg
  vnetlab image import debian.vnlimg`,
  flags: {
    force: { type: 'boolean', description: 'rebuild even when the image is up to date' },
    json: { type: 'boolean', description: 'print JSON' },
    out: { type: 'string', short: 'o', valueName: 'FILE', description: 'export: the file to write' },
  },
  async run(args, io) {
    const [sub, ...more] = args.positionals;
    const json = args.flags.json === true;
    if (sub === 'kernel') {
      noMore(more);
      const kernel = findKernel({ env: io.env });
      if (json) io.stdout.write(`${JSON.stringify(kernel, null, 2)}\n`);
      else {
        io.stdout.write(`${kernel.binary}\nversion ${kernel.version}\nmodules ${kernel.modulesDir ?? '(none: bridges, VLANs, netem and NAT will not work in guests)'}\n`);
        const transports = [kernel.networking.legacyVde && 'ethN=vde (UML\'s old transport)', kernel.networking.vectorVde && 'vecN:transport=vde (vector driver)'].filter(Boolean);
        io.stdout.write(`network ${transports.join(', ') || 'no VDE transport: guests will have no network'}; NICs given as ${kernel.nicSyntax === 'legacy' ? 'ethN=vde' : 'vecN:transport=vde, renamed ethN in the guest'}\n`);
        if (kernel.path !== kernel.binary) io.stdout.write(`launched through ${kernel.path} (no address randomisation; with the AMX fix on CPUs that have AMX)\n`);
      }
      return EXIT.ok;
    }
    if (sub === 'list') {
      noMore(more);
      const images = listImages({ env: io.env });
      if (json) {
        io.stdout.write(`${JSON.stringify(images.map((i) => ({ name: i.name, path: i.path, built: i.built, stale: i.staleReason ?? null, ...i.record })), null, 2)}\n`);
        return EXIT.ok;
      }
      const rows = [['NAME', 'SIZE', 'ON DISK', 'VERSION', 'KERNEL', 'BUILT', 'STATE']];
      for (const i of images) {
        rows.push([
          i.name,
          i.record ? mib(i.record.sizeBytes) : '-',
          i.record ? mib(i.record.diskBytes) : '-',
          String(i.record?.manifestVersion ?? i.manifest.version),
          i.record?.kernelVersion ?? '-',
          i.record?.builtAt.slice(0, 16).replace('T', ' ') ?? '-',
          i.staleReason ? `stale: ${i.staleReason}` : 'ok',
        ]);
      }
      const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
      for (const r of rows) io.stdout.write(`${r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')}\n`);
      return EXIT.ok;
    }
    if (sub === 'build') {
      const [name, ...extra] = more;
      if (!name) throw new UserError('which image? vnetlab image build <name>', EXIT.badInput, `images: ${availableImages().join(', ')}`);
      noMore(extra);
      const started = Date.now();
      const status = await buildImage(name, {
        env: io.env,
        force: args.flags.force === true,
        progress: (message) => io.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}\n`),
      });
      if (json) io.stdout.write(`${JSON.stringify({ name, path: status.path, ...status.record }, null, 2)}\n`);
      else io.stdout.write(`${status.path}\n`);
      return EXIT.ok;
    }
    const started = Date.now();
    const progress = (message: string) => io.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}\n`);
    if (sub === 'export') {
      const [name, ...extra] = more;
      if (!name) throw new UserError('which image? vnetlab image export <name> -o FILE', EXIT.badInput, `images: ${availableImages().join(', ')}`);
      noMore(extra);
      const out = args.flags.out;
      if (typeof out !== 'string' || !out) throw new UserError('where to? vnetlab image export <name> -o FILE', EXIT.badInput);
      const result = await exportImage(name, resolve(io.cwd, out), { env: io.env, progress });
      if (json) io.stdout.write(`${JSON.stringify({ file: result.file, bytes: result.fileBytes, seconds: result.seconds, ...result.header, manifest: undefined }, null, 2)}\n`);
      else io.stdout.write(`${result.file}\n`);
      return EXIT.ok;
    }
    if (sub === 'import') {
      const [file, ...extra] = more;
      if (!file) throw new UserError('which file? vnetlab image import FILE', EXIT.badInput);
      noMore(extra);
      const result = await importImage(resolve(io.cwd, file), { env: io.env, progress });
      if (json) io.stdout.write(`${JSON.stringify({ name: result.name, path: result.path, seconds: result.seconds, kernelVersion: result.header.kernelVersion, builtAt: result.header.record.builtAt }, null, 2)}\n`);
      else io.stdout.write(`${result.path}\n`);
      return EXIT.ok;
    }
    throw new UserError(sub ? `unknown image command '${sub}'` : 'missing image command', EXIT.badInput, 'use: vnetlab image build <name> | list | kernel | export <name> -o FILE | import FILE');
  },
};

function noMore(extra: string[]): void {
  if (extra.length) throw new UserError(`unexpected argument '${extra[0]}'`, EXIT.badInput, 'run vnetlab image --help');
}

function mib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)}G` : `${Math.round(bytes / 2 ** 20)}M`;
}

export default command;
