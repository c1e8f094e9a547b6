// The pool's Unix-socket protocol: one JSON request per line, answered by id (as the supervisor's).

/** What `vnetlab pool up` asks for: keep `size` guests booted like machines of this image and memory. */
export interface PoolTarget {
  image: string;
  imagePath: string;
  memoryMiB: number;
  /** splitPoolArgs(…).shared of a machine of this image: what a pooled guest boots with. */
  shared: string[];
  size: number;
}

/** A guest handed to a lab: everything the lab's supervisor needs to take it over. */
export interface PooledGuest {
  id: string;
  pid: number;
  pgid: number;
  argv: string[];
  /** `<uml_dir>/<umid>`: the folder of its mconsole socket. */
  umidDir: string;
  cow: string;
  fifos: { toGuest: string; fromGuest: string; consoleIn: string; consoleOut: string };
  /** Its memory folder (/dev/shm/vnetlab-<uid>/<umid>): the lab that takes it removes it with the guest. */
  memoryDir: string;
}

export interface PoolImageStatus {
  image: string;
  key: string;
  memoryMiB: number;
  /** How many the pool keeps. */
  size: number;
  /** Booted and waiting to be claimed. */
  ready: number;
  booting: number;
  /** Resident memory of this image's pooled guests, counted once per address space. */
  rssBytes: number;
}

export interface PoolStatus {
  pid: number;
  images: PoolImageStatus[];
  rssBytes: number;
  /** Guests handed out since the pool started. */
  claimed: number;
}

export interface PoolMethods {
  /** Keep these kinds at these sizes; `only`: and no other kind (the app's pool follows the open lab). */
  up: { params: { targets: PoolTarget[]; only?: boolean }; result: PoolStatus };
  status: { params: Record<string, never>; result: PoolStatus };
  /** A ready guest of that key, now reserved for this connection; null when there is none. */
  claim: { params: { key: string }; result: PooledGuest | null };
  /** The lab holds the guest's FIFOs now: the pool lets go of it (and boots a replacement). */
  taken: { params: { id: string }; result: null };
  /** The lab could not take the guest: the pool ends it. */
  release: { params: { id: string }; result: null };
  down: { params: Record<string, never>; result: null };
}

export type PoolMethod = keyof PoolMethods;
export interface PoolRequest<M extends PoolMethod = PoolMethod> {
  id: number;
  method: M;
  params: PoolMethods[M]['params'];
}
export type PoolResponse = { id: number; result: unknown } | { id: number; error: { message: string } };
