// Image names as labs write them → the images vnetlab builds. Kathará labs name Docker images; all
// of those run here on the Debian guest image, which carries FRR, bind9, apache2 and the usual tools.

/** Images vnetlab builds (kernels/images/<name>.yaml). */
export const KNOWN_IMAGES = ['tiny', 'debian'] as const;
export const DEFAULT_IMAGE = 'debian';

/** Kathará images whose tools the Debian image provides. */
const KATHARA_ON_DEBIAN = new Set(['kathara/base', 'kathara/frr', 'kathara/quagga', 'kathara/bind', 'kathara/bird', 'kathara/openbgpd', 'kathara/scion', 'kathara/sdn', 'kathara/pox', 'kathara/p4', 'kathara/ryu']);

export interface ImageMapping {
  image: string;
  /** The name as written, when it was mapped. */
  alias?: string;
  /** Set when we guessed: the lab asked for an image we do not know. */
  unknown?: boolean;
}

export function mapImageName(written: string): ImageMapping {
  const name = written.trim();
  if ((KNOWN_IMAGES as readonly string[]).includes(name)) return { image: name };
  const withoutTag = name.replace(/:[^/:]*$/, '').replace(/^docker\.io\//, '');
  if (KATHARA_ON_DEBIAN.has(withoutTag)) return { image: DEFAULT_IMAGE, alias: name };
  return { image: DEFAULT_IMAGE, alias: name, unknown: true };
}
